"""Batched ensembles: S members of the Gromov MLP trained as one model with an ensemble dimension.

Members share the architecture and the optimizer type, and may differ in their seed, split
(``data_seed``, ``alpha``), learning rate and weight decay (:data:`ENSEMBLE_FIELDS`). Weights
carry a leading dimension S (``W1`` (S, N, 2p), ``W2`` (S, p, N)). Training sets of different
sizes are padded to the largest; padded rows carry weight 0 and every real row of member s
weight 1/n_s, so the summed loss's gradient for member s is exactly its single-run gradient.
The optimizer (:class:`trained._optim.BatchedOptimizer`) and Grokfast act elementwise with
per-member lr and weight decay, so members do not interact. On the CPU the training step's
forward and backward are written out by hand into preallocated buffers
(:class:`_BatchedMLPGrad`), which is faster than autograd at these shapes; CUDA uses autograd.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from closedform import rundir

from ._config import ENSEMBLE_FIELDS, TrainConfig
from ._data import make_dataset
from ._loop import (
    RunWriter,
    Schedule,
    StopRequest,
    TrainingInterrupted,
    check_checkpoint,
)
from ._models import forward, init_weights, make_inputs, mlp_scale
from ._optim import BatchedOptimizer, apply_batched_step
from ._train import Run, resolve_device, run_config

__all__ = ["train_ensemble", "ENSEMBLE_FIELDS"]


def _member_configs(config, seeds, settings):
    if not isinstance(config, TrainConfig):
        raise TypeError(f"`config` must be a TrainConfig; got {type(config).__name__}")
    if config.model != "mlp":
        raise ValueError(f"`config.model` must be 'mlp' for an ensemble; got {config.model!r}")
    if (seeds is None) == (settings is None):
        raise ValueError("pass exactly one of `seeds` and `settings`")
    if seeds is not None:
        seeds = list(seeds)
        if not seeds or not all(isinstance(s, int) and s >= 0 for s in seeds):
            raise ValueError(f"`seeds` must be a non-empty list of ints >= 0; got {seeds!r}")
        if len(set(seeds)) != len(seeds):
            raise ValueError(f"`seeds` must be distinct; got {seeds!r}")
        settings = [{"seed": s} for s in seeds]
        names = [f"seed_{s}" for s in seeds]
    else:
        settings = list(settings)
        if not settings or not all(isinstance(d, dict) for d in settings):
            raise ValueError(f"`settings` must be a non-empty list of dicts; got {settings!r}")
        for d in settings:
            bad = sorted(set(d) - set(ENSEMBLE_FIELDS))
            if bad:
                raise ValueError(f"`settings` may only set {ENSEMBLE_FIELDS} per member; got {bad}")
        names = [f"member_{i}" for i in range(len(settings))]
    cfgs = [config.replace(**d).resolve() for d in settings]
    keys = [json.dumps(c.to_dict(), sort_keys=True) for c in cfgs]
    if len(set(keys)) != len(keys):
        raise ValueError(f"`settings` must give distinct members; got {settings!r}")
    if cfgs[0].dropout:
        raise ValueError("`dropout` is not supported by train_ensemble")
    return cfgs, settings, names


def train_ensemble(
    config: TrainConfig,
    seeds=None,
    out_dir=None,
    *,
    settings=None,
    member_dirs=None,
    resume: bool = False,
    progress=None,
) -> list[Run]:
    """Train S MLPs (seeds, or settings of lr / weight decay / α) as one batched model.

    Parameters
    ----------
    config : TrainConfig
        An MLP config shared by all members.
    seeds : sequence of int, optional
        Distinct seeds: member s is ``config.replace(seed=s)`` (``data_seed``, if set, is
        shared; if unset each member splits with its own seed, as a single run would).
    out_dir : path-like or None
        Parent folder; each member is written to its own run directory there:
        ``seed_<s>`` with ``seeds``, ``member_<i>`` with ``settings`` (config.json,
        weights.safetensors, metrics.jsonl, log-spaced weight checkpoints).
    settings : sequence of dict, optional
        Instead of ``seeds``: per-member overrides of :data:`ENSEMBLE_FIELDS` (``seed``,
        ``data_seed``, ``alpha``, ``lr``, ``weight_decay``); member i is
        ``config.replace(**settings[i])``. Members must be distinct.
    member_dirs : sequence of path-like, optional
        Instead of ``out_dir``: one run directory per member, in member order (sweeps put
        members of different points in their own folders).
    resume : bool
        Continue an interrupted ensemble from its member directories: members that already
        stopped (target reached, or failed) stay as they are; the others restart from the
        last checkpoint they all share, with their optimizer and Grokfast state. On the CPU
        the result is bitwise equal to an uninterrupted run (tested). Only ``max_epochs``,
        ``target_acc``, ``patience``, ``eval_every`` and ``device`` may change.
    progress : callable, optional
        Called after every evaluation with ``{member index: metrics record}`` of the members
        still training.

    Returns
    -------
    list of Run
        In the order of the members. Each member stops as its single run would: at
        ``max_epochs`` or once its test accuracy reached ``target_acc`` for ``patience``
        regular evaluations (its weights then stay frozen while the others train on).

    Raises
    ------
    ValueError
        Not an MLP, bad ``seeds``/``settings``, dropout, an existing member directory (without
        ``resume``), or on resume: changed hyper-parameters, a member directory of another
        ensemble, no checkpoint shared by the members still training.

    Notes
    -----
    A member whose loss becomes NaN/inf stops there with ``stopped == 'non_finite'`` (its
    directory's status is ``'failed'``); the others go on. A member's directory is completed
    (``weights.safetensors``, final ``config.json``) as soon as it stops. Checkpoints carry the
    member's optimizer and Grokfast state in a single run's format (``state/``), so a member
    directory also resumes alone with :func:`train`. Each member matches its single run
    (:func:`train`) up to floating-point rounding (tested).

    Examples
    --------
    >>> runs = train_ensemble(TrainConfig(model="mlp", p=7, width=8, max_epochs=2,
    ...                                   device="cpu"), seeds=[0, 1])
    >>> [r.config.seed for r in runs], runs[1].weights["W1"].shape
    ([0, 1], (8, 14))
    >>> runs = train_ensemble(TrainConfig(model="mlp", p=7, width=8, max_epochs=2, device="cpu"),
    ...                       settings=[{"lr": 0.1}, {"lr": 0.01, "alpha": 0.7}])
    >>> [(r.config.lr, r.config.alpha) for r in runs]
    [(0.1, 0.5), (0.01, 0.7)]
    """
    cfgs, settings, names_dir = _member_configs(config, seeds, settings)
    cfg = cfgs[0]
    device = resolve_device(cfg.device)
    S, p = len(cfgs), cfg.p
    dss = [make_dataset(c.task, c.p, c.alpha, c.data_seed, c.task_params) for c in cfgs]
    members = [init_weights(c, p, torch.Generator().manual_seed(c.seed)) for c in cfgs]
    W = {
        k: torch.stack([m[k] for m in members]).to(device).requires_grad_(True) for k in members[0]
    }
    names = list(W)
    params = [W[k] for k in names]
    opt = BatchedOptimizer(cfg, params, [c.lr for c in cfgs], [c.weight_decay for c in cfgs])

    # all members' datasets list the same samples in the same order; only the split differs
    inputs = torch.as_tensor(dss[0].inputs, device=device)
    labels = torch.as_tensor(dss[0].labels, device=device)

    def padded(split):  # (S, n_max) sample indices and weights 1/n_s (0 on padding)
        n_max = max(len(getattr(d, split)) for d in dss)
        idx = np.zeros((S, n_max), dtype=np.int64)
        wts = np.zeros((S, n_max), dtype=np.float64)
        for s, d in enumerate(dss):
            rows = getattr(d, split)
            idx[s, : len(rows)] = rows
            wts[s, : len(rows)] = 1.0 / len(rows)
        idx_t = torch.as_tensor(idx, device=device)
        batch = make_inputs(cfg, inputs[idx_t].reshape(-1, 2), device.type)
        batch = {k: v.reshape(S, n_max, *v.shape[1:]) for k, v in batch.items()}
        return batch, labels[idx_t], torch.as_tensor(wts, device=device)

    batch_tr, y_tr, wts64 = padded("train")
    wts_t = wts64.float()
    batch_te, y_te, wts_te = padded("test")

    def per_sample_loss(logits, y):  # (S, n, p), (S, n) -> (S, n)
        if cfg.loss == "cross_entropy":
            flat = F.cross_entropy(logits.reshape(-1, p), y.reshape(-1), reduction="none")
            return flat.reshape(y.shape)
        return ((logits - F.one_hot(y, p).to(logits.dtype)) ** 2).mean(-1)

    run_dirs = [None] * S
    if member_dirs is not None:
        if out_dir is not None:
            raise ValueError("pass `out_dir` or `member_dirs`, not both")
        run_dirs = [Path(d) for d in member_dirs]
        if len(run_dirs) != S or len({d.resolve() for d in run_dirs}) != S:
            raise ValueError(f"`member_dirs` must be {S} distinct paths, one per member")
    elif out_dir is not None:
        run_dirs = [Path(out_dir) / n for n in names_dir]
    if not isinstance(resume, bool):
        raise TypeError(f"`resume` must be a bool; got {resume!r}")
    if progress is not None and not callable(progress):
        raise TypeError(f"`progress` must be callable or None; got {type(progress).__name__}")
    if resume and run_dirs[0] is None:
        raise ValueError("`resume`=True needs `out_dir` or `member_dirs` to resume from")
    infos = [{"members": S, "index": i, "settings": settings[i]} for i in range(S)]
    writers = [
        RunWriter(d, {**run_config(c, ds, p), "ensemble": info})
        for d, c, ds, info in zip(run_dirs, cfgs, dss, infos, strict=True)
    ]
    histories = [[] for _ in range(S)]
    active = [True] * S
    stop_epoch = [cfg.max_epochs] * S
    stopped = ["max_epochs"] * S
    final_weights: list[dict | None] = [None] * S
    gf_state = None
    start, have_start = 0, False
    if resume:
        start, have_start, gf_state = _resume_members(
            writers, cfgs, infos, W, names, opt, histories, active, stop_epoch, stopped,
            final_weights,
        )  # fmt: skip
    elif run_dirs[0] is not None:
        for w in writers:
            if (w.run_dir / rundir.CONFIG_NAME).exists():
                raise rundir.DirectoryInUseError(
                    f"`out_dir` member {w.run_dir} already holds a run; pass resume=True or a "
                    "new folder"
                )
        for w in writers:
            w.create()
    checkpointing = run_dirs[0] is not None
    sched = Schedule(cfg, start, histories, checkpointing, have_start)

    def evaluate(e, grads, who, train_logits, train_loss):
        # train metrics from the step's own forward (same weights), one forward over the test
        # samples only, as single runs do
        with torch.no_grad():
            test_logits = forward(cfg, W, batch_te)  # (S, T, p)
            test_loss = per_sample_loss(test_logits, y_te)
            cols = []
            for lg, ps, y, w in (
                (train_logits, train_loss, y_tr, wts64),
                (test_logits, test_loss, y_te, wts_te),
            ):
                correct = (lg.argmax(-1) == y).double()
                cols += [(ps.double() * w).sum(1), (correct * w).sum(1)]
            cols.append(torch.sqrt(sum((g.double() ** 2).flatten(1).sum(1) for g in grads)))
            cols += [W[k].detach().flatten(1).norm(dim=1) for k in names]
            table = torch.stack([c.double() for c in cols], 1).cpu().numpy()
        keys = ["train_loss", "train_acc", "test_loss", "test_acc", "grad_norm"]
        keys += [f"norm_{k}" for k in names]
        records = {}
        for s in who:
            rec = {"epoch": e, **{k: float(v) for k, v in zip(keys, table[s], strict=True)}}
            histories[s].append(rec)
            records[s] = rec
            writers[s].log(rec)  # before the checkpoint of this epoch: no kill loses the record
        if progress is not None:
            progress(records)
        return records

    def checkpoint(s, e):
        member = {k: W[k][s] for k in names}
        writers[s].checkpoint(e, member, _member_state(opt, names, gf_state, s))

    def finish(s):  # complete member s's directory (weights, final config)
        status = "failed" if stopped[s] == "non_finite" else "done"
        writers[s].finish(final_weights[s], status=status, epochs=stop_epoch[s], stopped=stopped[s])

    def freeze(s, e, why):
        active[s] = False
        stop_epoch[s], stopped[s] = e, why
        final_weights[s] = _member_weights(W, s)
        finish(s)

    for s in range(S):  # resumed after meeting the target, before finishing
        if active[s] and sched.reached_target(s):
            freeze(s, start, "target")

    # names are ("W1", "W2") (init_weights), the order of the manual step's gradients
    manual = None
    if device.type == "cpu" and names == ["W1", "W2"]:
        manual = _BatchedMLPGrad(cfg, batch_tr, y_tr, wts_t)
    epoch = start
    with StopRequest(checkpointing) as stop:
        while any(active):
            if stop.requested:  # SIGINT/SIGTERM: checkpoints of this epoch, then stop
                if not (epoch == start and have_start):
                    for s in range(S):
                        if active[s]:
                            checkpoint(s, epoch)
                raise TrainingInterrupted(epoch, out_dir or run_dirs[0])
            if manual is not None:
                logits, sample_loss, grads = manual(W["W1"].detach(), W["W2"].detach())
                member_loss = (sample_loss * wts_t).sum(1)  # (S,)
            else:
                logits = forward(cfg, W, batch_tr)  # (S, B, p)
                sample_loss = per_sample_loss(logits, y_tr)
                member_loss = (sample_loss * wts_t).sum(1)
                grads = torch.autograd.grad(member_loss.sum(), params)
            finite = torch.isfinite(member_loss).tolist()
            for s in range(S):
                if active[s] and not finite[s]:
                    freeze(s, epoch, "non_finite")
            last = sched.last(epoch)
            due = [s for s in range(S) if active[s] and sched.evaluation_due(epoch, s)]
            if due:
                records = evaluate(epoch, grads, due, logits.detach(), sample_loss.detach())
                for s in due:
                    if sched.observe(epoch, records[s], s):
                        if checkpointing:
                            checkpoint(s, epoch)
                        freeze(s, epoch, "target")
            if sched.checkpoint_due(epoch):
                for s in range(S):
                    if active[s]:
                        checkpoint(s, epoch)
            if last or not any(active):
                break
            mask = None if all(active) else torch.as_tensor(active, device=device)
            gf_state = apply_batched_step(
                cfg, opt, names, dict(zip(names, grads, strict=True)), gf_state, epoch, mask
            )
            epoch += 1

    runs = []
    for s, c in enumerate(cfgs):
        if active[s]:  # trained to max_epochs
            final_weights[s] = _member_weights(W, s)
            finish(s)
        runs.append(Run(c, histories[s], final_weights[s], run_dirs[s], stop_epoch[s], stopped[s]))
    return runs


class _BatchedMLPGrad:
    """Training forward and hand-written backward of the batched Gromov MLP (Gromov eq. 1-2)
    for fixed training samples, into preallocated buffers.

    Autograd allocates several fresh (S, B, N) tensors per step; on the CPU at ensemble shapes
    (8 members, p = 23, N = 128: 1.7 MB each) fresh multi-MB buffers cost page faults (glibc
    returns them to the system), and the elementwise products of the activation's backward
    run as two multiplies and an add. This class computes the same quantities with one buffer
    of each kind, reused every step:

    ``h = W1 (e_n ⊕ e_m)`` (row gathers), ``a = act(h)``, ``z = scale · a W2ᵀ``,
    per-sample loss ``ℓ`` (cross-entropy, or MSE on one-hot targets averaged over classes) and,
    with per-sample weights ``w`` (1/n_s, 0 on padding), ``δ = w ∂ℓ/∂z``,
    ``∂W2 = scale · δᵀ a``, ``∂h = act'(h) ⊙ scale · δ W2``, ``∂W1ᵀ[n] += ∂h``,
    ``∂W1ᵀ[p + m] += ∂h``. Checked against autograd in tests/trained/test_trained_ensemble.py.
    """

    def __init__(self, cfg, batch: dict, y: torch.Tensor, wts: torch.Tensor):
        n, m = batch["n"], batch["m"]  # (S, B)
        S, B = n.shape
        p, width = cfg.p, cfg.width
        off = torch.arange(S, device=n.device)[:, None] * (2 * p)
        self.idx_n = (n + off).reshape(-1)
        self.idx_m = (m + p + off).reshape(-1)
        self.cfg, self.S, self.B, self.p = cfg, S, B, p
        self.scale = float(mlp_scale(cfg))
        self.y, self.wts = y, wts[..., None]  # (S, B), (S, B, 1)
        self.minus_one = torch.full_like(self.wts, -1.0)  # subtracts the one-hot target
        self.target = F.one_hot(y, p).float() if cfg.loss != "cross_entropy" else None
        empty = dict(dtype=torch.float32, device=n.device)
        self.h = torch.empty(S * B, width, **empty)
        self.tmp = torch.empty(S * B, width, **empty)
        self.a = torch.empty(S, B, width, **empty)
        self.dh = torch.empty(S, B, width, **empty)
        self.zT = torch.empty(S, p, B, **empty)  # W2 a^T: faster than a W2^T at these shapes
        self.gW1T = torch.empty(S * 2 * p, width, **empty)

    @torch.no_grad()
    def __call__(self, W1: torch.Tensor, W2: torch.Tensor):
        """Return ``(logits (S, B, p), per-sample loss (S, B), [∂W1, ∂W2])``."""
        S, B, p = self.S, self.B, self.p
        width = W1.shape[1]
        table = W1.mT.reshape(S * 2 * p, width)
        torch.index_select(table, 0, self.idx_n, out=self.h)
        torch.index_select(table, 0, self.idx_m, out=self.tmp)
        h = self.h.add_(self.tmp).view(S, B, width)
        act, a = self.cfg.activation, self.a
        if act == "quadratic":
            torch.mul(h, h, out=a)
        elif act == "relu":
            torch.clamp_min(h, 0.0, out=a)
        elif act == "tanh":
            torch.tanh(h, out=a)
        else:
            a.copy_(F.gelu(h))
        torch.bmm(W2, a.mT, out=self.zT)
        z = self.zT.mul_(self.scale).mT  # (S, B, p)
        if self.target is None:
            logp = torch.log_softmax(z, -1)
            loss = -logp.gather(-1, self.y[..., None])[..., 0]
            delta = logp.exp_()
            delta.scatter_add_(-1, self.y[..., None], self.minus_one)
        else:
            delta = z - self.target
            loss = (delta * delta).mean(-1)
            delta.mul_(2.0 / p)
        delta.mul_(self.wts)  # (S, B, p), weighted dloss/dz
        gW2 = torch.bmm(delta.mT, a).mul_(self.scale)
        dh = torch.bmm(delta, W2, out=self.dh).mul_(self.scale)  # dloss/da
        if act == "quadratic":
            dh.mul_(h).mul_(2.0)
        elif act == "relu":
            dh.mul_(h > 0)
        elif act == "tanh":
            dh.mul_(1.0 - a * a)
        else:  # exact GELU: Phi(h) + h phi(h)
            dh.mul_(
                0.5 * (1.0 + torch.erf(h / math.sqrt(2.0)))
                + h * torch.exp(-0.5 * h * h) / math.sqrt(2.0 * math.pi)
            )
        flat = dh.view(S * B, width)
        self.gW1T.zero_().index_add_(0, self.idx_n, flat).index_add_(0, self.idx_m, flat)
        gW1 = self.gW1T.view(S, 2 * p, width).mT.contiguous()
        return z, loss, [gW1, gW2]


def _member_weights(W: dict, s: int) -> dict:
    return {k: v[s].detach().cpu().numpy().copy() for k, v in W.items()}


def _member_state(opt: BatchedOptimizer, names, gf_state, s: int) -> dict:
    """Member ``s``'s optimizer and Grokfast state in a single run's sidecar format
    (``opt/<weight>/exp_avg``... as :func:`trained._optim.optimizer_state`, ``grokfast/...``)."""
    out = {}
    for name, st in zip(names, opt.state, strict=True):
        if "m" in st:  # Adam, AdamW
            out[f"opt/{name}/step"] = torch.tensor(float(opt.step_count))
            out[f"opt/{name}/exp_avg"] = st["m"][s]
            out[f"opt/{name}/exp_avg_sq"] = st["v"][s]
        elif "buf" in st:  # momentum
            out[f"opt/{name}/momentum_buffer"] = st["buf"][s]
    for k, v in (gf_state or {}).items():
        out[f"grokfast/{k}"] = v if k == "count" else v[:, s] if k.startswith("buf/") else v[s]
    if not out:  # safetensors needs at least one tensor
        out["empty"] = torch.zeros(1)
    return out


def _resume_members(
    writers, cfgs, infos, W, names, opt, histories, active, stop_epoch, stopped, final_weights
):
    """Load an interrupted ensemble from its member directories (see :func:`train_ensemble`).

    Fills the per-member lists in place and returns ``(start epoch, whether the members start
    from a checkpoint, Grokfast state)``. Members still training restart from the last
    checkpoint they all share, or from epoch 0 when they share none (killed before it).
    """
    live, common = [], None
    for s, (w, c) in enumerate(zip(writers, cfgs, strict=True)):
        saved = _saved_member_config(w, c, infos[s])
        if saved.get("status") in ("done", "failed") and saved.get("stopped") != "max_epochs":
            active[s] = False  # stopped at its target or failed: stays as it is
            stop_epoch[s], stopped[s] = int(saved["epochs"]), saved["stopped"]
            weights = rundir.load_weights(w.run_dir / rundir.WEIGHTS_NAME)
            final_weights[s] = {k: weights[k] for k in names}
            histories[s][:] = rundir.read_metrics(w.run_dir)
            with torch.no_grad():
                for k in names:
                    W[k][s].copy_(torch.from_numpy(weights[k]))
            continue
        rundir.refuse_pickles(w.run_dir)
        have = set(rundir.list_checkpoints(w.run_dir, with_state=True))
        common = have if common is None else common & have
        live.append(s)
    if not live:
        return max(stop_epoch), True, None
    start = max(common) if common else None
    states = {}
    for s in live:
        _, epoch, histories[s][:], ckpt = writers[s].open_resume(cfgs[s], start)
        if ckpt is None:
            continue
        weights, states[s] = ckpt
        check_checkpoint(writers[s].run_dir, epoch, weights, {k: W[k][s] for k in names})
        with torch.no_grad():
            for k in names:
                W[k][s].copy_(torch.from_numpy(weights[k]))
    if start is None:
        return 0, False, None
    return start, True, _restore_state(opt, names, states, len(writers), start)


def _saved_member_config(writer, cfg: TrainConfig, info: dict) -> dict:
    saved = writer.saved_config(cfg)
    got = saved.get("ensemble") or {}
    if (got.get("members"), got.get("index")) != (info["members"], info["index"]):
        raise rundir.RunDirError(
            f"cannot resume {writer.run_dir}: it was member {got.get('index')} of an ensemble of "
            f"{got.get('members')}; expected member {info['index']} of {info['members']}"
        )
    return saved


def _restore_state(opt: BatchedOptimizer, names, states: dict, S: int, epoch: int):
    """Inverse of :func:`_member_state` for the members in ``states`` (index -> tensors);
    the other members' slots stay zero (they are frozen). Returns the Grokfast state."""
    opt.step_count = epoch
    any_state = next(iter(states.values()))
    for i, (name, prm) in enumerate(zip(names, opt.params, strict=True)):
        st = opt.state[i]
        st.clear()
        pairs = (("m", "exp_avg"), ("v", "exp_avg_sq"), ("buf", "momentum_buffer"))
        for slot, key in pairs:
            full = f"opt/{name}/{key}"
            if full not in any_state:
                continue
            st[slot] = torch.zeros_like(prm)
            for s, tensors in states.items():
                st[slot][s].copy_(torch.from_numpy(tensors[full]))
        step_key = f"opt/{name}/step"
        steps = int(np.asarray(any_state.get(step_key, epoch)).reshape(-1)[0])
        if steps != epoch:
            raise ValueError(f"cannot resume: the optimizer state holds {steps} steps at {epoch}")
    gf_keys = [k[len("grokfast/") :] for k in any_state if k.startswith("grokfast/")]
    if not gf_keys:
        return None
    gf = {}
    dev = opt.params[0].device
    for k in gf_keys:
        first = torch.from_numpy(any_state[f"grokfast/{k}"])
        if k == "count":
            gf[k] = first.reshape(()).to(torch.int64)
            continue
        dim = 1 if k.startswith("buf/") else 0
        shape = list(first.shape)
        shape.insert(dim, S)
        full = torch.zeros(shape, dtype=first.dtype, device=dev)
        for s, tensors in states.items():
            full.select(dim, s).copy_(torch.from_numpy(tensors[f"grokfast/{k}"]))
        gf[k] = full
    return gf
