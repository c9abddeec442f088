"""Optimizers (full-batch GD, momentum, Adam, AdamW) and Grokfast gradient filters.

The filters follow Lee et al. 2024 ("Grokfast", grokfast.py) as small functions with explicit
state: they take the gradients and the previous state and return the filtered gradients and
the new state, without touching ``.grad`` or ``.data``.
"""

from __future__ import annotations

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


def apply_step(cfg, opt, names, params, grads: dict, gf_state, epoch: int):
    """One optimizer step from ``grads``: the Grokfast filter, Nanda's linear warmup
    (LambdaLR(lambda step: min(step / warmup, 1))), then ``opt.step()``.

    Shared by single runs and batched ensembles so both train identically. Returns the
    Grokfast state for the next step.
    """
    if cfg.grokfast == "ema":
        grads, gf_state = grokfast_ema(grads, gf_state, cfg.grokfast_alpha, cfg.grokfast_lamb)
    elif cfg.grokfast == "ma":
        grads, gf_state = grokfast_ma(grads, gf_state, cfg.grokfast_window, cfg.grokfast_lamb)
    for k, prm in zip(names, params, strict=True):
        prm.grad = grads[k]
    if cfg.warmup:
        for group in opt.param_groups:
            group["lr"] = cfg.lr * min(epoch / cfg.warmup, 1.0)
    opt.step()
    return gf_state
