"""Optimizers (full-batch GD, momentum, Adam, AdamW) and Grokfast gradient filters.

The filters follow Lee et al. 2024 ("Grokfast", grokfast.py) as small functions with explicit
state: they take the gradients and the previous state and return the filtered gradients and
the new state, without touching ``.grad`` or ``.data``.
"""

from __future__ import annotations

import math

import torch

__all__ = ["grokfast_ema", "grokfast_ma", "make_optimizer", "optimizer_state", "load_optimizer"]


def grokfast_ema(grads: dict, state: dict | None, alpha: float = 0.98, lamb: float = 2.0):
    """Grokfast-EMA: amplify the slow component of the gradients (Lee et al. 2024, Alg. 2).

    ``e_t = alpha e_{t-1} + (1 - alpha) g_t`` (``e_0 = g_0``), filtered ``g_t + lamb e_t``.
    Syrkis 2024 eq. 13 uses it with alpha = 0.98.

    Parameters
    ----------
    grads : dict of str -> Tensor
        Raw gradients of this step.
    state : dict of str -> Tensor or None
        The EMA ``e_{t-1}`` (None on the first step).
    alpha, lamb : float

    Returns
    -------
    filtered : dict of str -> Tensor
    state : dict of str -> Tensor

    Examples
    --------
    >>> g = {"w": torch.tensor([1.0])}
    >>> f, s = grokfast_ema(g, None, alpha=0.5, lamb=1.0)
    >>> f["w"].item(), s["w"].item()
    (2.0, 1.0)
    >>> f, s = grokfast_ema({"w": torch.tensor([3.0])}, s, alpha=0.5, lamb=1.0)
    >>> f["w"].item(), s["w"].item()
    (5.0, 2.0)
    """
    if state is None:
        new = {k: g.detach().clone() for k, g in grads.items()}
    else:
        new = {k: state[k] * alpha + grads[k].detach() * (1 - alpha) for k in grads}
    return {k: grads[k] + new[k] * lamb for k in grads}, new


def grokfast_ma(grads: dict, state: dict | None, window: int = 100, lamb: float = 5.0):
    """Grokfast-MA: add ``lamb`` x the mean of the last ``window`` gradients (Lee et al., Alg. 1).

    As in grokfast.py (``warmup=True``) the filter is active only once the window is full.
    The state is a ring buffer ``buf`` (window, ...) per weight, a running ``sum`` and a count.

    Examples
    --------
    >>> s = None
    >>> for x in (1.0, 2.0, 3.0):
    ...     f, s = grokfast_ma({"w": torch.tensor([x])}, s, window=2, lamb=1.0)
    >>> f["w"].item()   # 3 + mean(2, 3)
    5.5
    """
    if state is None:
        state = {"count": torch.zeros((), dtype=torch.int64)}
        for k, g in grads.items():
            state[f"buf/{k}"] = torch.zeros((window, *g.shape), dtype=g.dtype, device=g.device)
            state[f"sum/{k}"] = torch.zeros_like(g)
    count = int(state["count"])
    slot = count % window
    new = {"count": torch.tensor(count + 1, dtype=torch.int64)}
    out = {}
    for k, g in grads.items():
        buf, total = state[f"buf/{k}"].clone(), state[f"sum/{k}"]
        total = total - buf[slot] + g.detach() if count >= window else total + g.detach()
        buf[slot] = g.detach()
        new[f"buf/{k}"], new[f"sum/{k}"] = buf, total
        out[k] = g + total * (lamb / window) if count + 1 >= window else g
    return out, new


def make_optimizer(cfg, params: list[torch.Tensor]) -> torch.optim.Optimizer:
    """The torch optimizer of a resolved config (weight decay: coupled L2 for gd/momentum/adam,
    decoupled for adamw)."""
    wd = cfg.weight_decay
    if cfg.optimizer == "gd":
        return torch.optim.SGD(params, lr=cfg.lr, weight_decay=wd)
    if cfg.optimizer == "momentum":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum or 0.9, weight_decay=wd)
    if cfg.optimizer == "adam":
        return torch.optim.Adam(params, lr=cfg.lr, betas=cfg.betas, eps=cfg.eps, weight_decay=wd)
    return torch.optim.AdamW(params, lr=cfg.lr, betas=cfg.betas, eps=cfg.eps, weight_decay=wd)


def optimizer_state(opt: torch.optim.Optimizer, names: list[str]) -> dict[str, torch.Tensor]:
    """Flatten an optimizer's per-weight state to ``"opt/<weight>/<key>"`` tensors."""
    out = {}
    params = opt.param_groups[0]["params"]
    for name, p in zip(names, params, strict=True):
        for key, value in opt.state.get(p, {}).items():
            t = value if torch.is_tensor(value) else torch.tensor(value)
            out[f"opt/{name}/{key}"] = t.detach().reshape(t.shape)
    return out


def load_optimizer(opt: torch.optim.Optimizer, names: list[str], tensors: dict) -> None:
    """Inverse of :func:`optimizer_state` (tensors copied to the weights' device)."""
    params = opt.param_groups[0]["params"]
    for name, p in zip(names, params, strict=True):
        prefix = f"opt/{name}/"
        entries = {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}
        if not entries:
            continue
        state = {}
        for key, v in entries.items():
            t = torch.as_tensor(v)
            # Adam's `step` lives on the CPU as a float32 scalar unless capturable/fused.
            state[key] = t.clone() if key == "step" else t.to(p.device).clone()
        opt.state[p] = state


def filter_grads(cfg, grads: dict, gf_state):
    """The config's Grokfast filter (EMA, MA or none) applied to ``grads``: (grads, state)."""
    if cfg.grokfast == "ema":
        return grokfast_ema(grads, gf_state, cfg.grokfast_alpha, cfg.grokfast_lamb)
    if cfg.grokfast == "ma":
        return grokfast_ma(grads, gf_state, cfg.grokfast_window, cfg.grokfast_lamb)
    return grads, gf_state


def warmup_factor(cfg, epoch: int) -> float:
    """Nanda's linear warmup, LambdaLR(lambda step: min(step / warmup, 1)); 1 without warmup."""
    return min(epoch / cfg.warmup, 1.0) if cfg.warmup else 1.0


def apply_step(cfg, opt, names, params, grads: dict, gf_state, epoch: int):
    """One optimizer step from ``grads``: the Grokfast filter, Nanda's linear warmup
    (LambdaLR(lambda step: min(step / warmup, 1))), then ``opt.step()``.

    Batched ensembles use :func:`apply_batched_step`, with the same :func:`filter_grads` and
    :func:`warmup_factor`. Returns the Grokfast state for the next step.
    """
    grads, gf_state = filter_grads(cfg, grads, gf_state)
    for k, prm in zip(names, params, strict=True):
        prm.grad = grads[k]
    if cfg.warmup:
        for group in opt.param_groups:
            group["lr"] = cfg.lr * warmup_factor(cfg, epoch)
    opt.step()
    return gf_state


class BatchedOptimizer:
    """The optimizers of :func:`make_optimizer` for weights with a leading ensemble dimension
    S, with a learning rate and weight decay per member.

    The update of member s is PyTorch's update (``torch.optim.SGD``/``Adam``/``AdamW``,
    single-tensor formulas, dampening 0, no Nesterov, no amsgrad) with ``lr[s]`` and
    ``weight_decay[s]``, so a member trains as the single run with its settings would, up to
    floating-point rounding. Members whose ``active`` flag is False are left unchanged (their
    weights are frozen; their optimizer state is no longer meaningful).

    Parameters
    ----------
    cfg : TrainConfig
        Resolved; supplies ``optimizer``, ``betas``, ``eps``, ``momentum`` and ``warmup``.
    params : list of Tensor
        Each (S, ...).
    lr, weight_decay : sequence of float
        One value per member.
    """

    def __init__(self, cfg, params: list[torch.Tensor], lr, weight_decay):
        self.cfg = cfg
        self.params = params
        S = params[0].shape[0]
        dev = params[0].device
        self.lr = torch.as_tensor(list(lr), dtype=torch.float32, device=dev)
        self.wd = torch.as_tensor(list(weight_decay), dtype=torch.float32, device=dev)
        if self.lr.shape != (S,) or self.wd.shape != (S,):
            raise ValueError(f"`lr` and `weight_decay` need one value per member ({S})")
        self.any_wd = bool((self.wd != 0).any())
        self.step_count = 0
        self.state: list[dict] = [{} for _ in params]

    @staticmethod
    def _per_member(v: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        return v.reshape(-1, *([1] * (like.ndim - 1)))

    @torch.no_grad()
    def step(self, grads: list[torch.Tensor], epoch: int, active: torch.Tensor | None = None):
        """Apply one step from ``grads`` (same order as ``params``) at step index ``epoch``
        (Nanda's warmup factor ``min(epoch / warmup, 1)``, as :func:`apply_step`).

        ``active`` (S,) bool: members with False get learning rate 0, so their weights stay as
        they are as long as they are finite (a member that failed with NaN/inf is not read
        again by the ensemble).
        """
        cfg = self.cfg
        lr_all = self.lr * warmup_factor(cfg, epoch)
        if active is not None:
            lr_all = lr_all * active.to(lr_all.dtype)
        self.step_count += 1
        t = self.step_count
        for i, (prm, g) in enumerate(zip(self.params, grads, strict=True)):
            lr = self._per_member(lr_all, prm)
            wd = self._per_member(self.wd, prm)
            st = self.state[i]
            if cfg.optimizer == "adamw":
                prm.mul_(1 - lr * wd)
            elif self.any_wd:
                g = g + wd * prm
            if cfg.optimizer in ("adam", "adamw"):
                b1, b2 = cfg.betas
                if not st:
                    st["m"], st["v"] = torch.zeros_like(prm), torch.zeros_like(prm)
                st["m"].lerp_(g, 1 - b1)
                st["v"].mul_(b2).addcmul_(g, g, value=1 - b2)
                bc1, bc2 = 1 - b1**t, 1 - b2**t
                denom = (st["v"].sqrt() / math.sqrt(bc2)).add_(cfg.eps)
                prm.sub_(st["m"] / denom * (lr / bc1))
            elif cfg.optimizer == "momentum":
                mu = cfg.momentum or 0.9
                st["buf"] = g.clone() if "buf" not in st else st["buf"].mul_(mu).add_(g)
                prm.sub_(st["buf"] * lr)
            else:
                prm.sub_(g * lr)


def apply_batched_step(cfg, opt: BatchedOptimizer, names, grads: dict, gf_state, epoch, active):
    """:func:`apply_step` for a :class:`BatchedOptimizer` (Grokfast filter, then the step)."""
    grads, gf_state = filter_grads(cfg, grads, gf_state)
    opt.step([grads[k] for k in names], epoch, active)
    return gf_state
