"""Batched ensembles: S seeds of the Gromov MLP trained as one model with an ensemble dimension.

Weights carry a leading dimension S (``W1`` (S, N, 2p), ``W2`` (S, p, N)); the loss is the sum
of the members' own mean losses, so each member's gradient is exactly its single-run gradient,
and every optimizer here (and Grokfast) acts elementwise, so members do not interact.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from ._config import TrainConfig
from ._data import make_dataset
from ._models import forward, init_weights, make_inputs
from ._optim import apply_step, make_optimizer
from ._train import (
    METRICS_NAME,
    Run,
    _is_checkpoint_epoch,
    _Objective,
    _subset,
    _write_json,
    resolve_device,
    run_config,
)

__all__ = ["train_ensemble"]


def train_ensemble(config: TrainConfig, seeds, out_dir=None) -> list[Run]:
    """Train one MLP per seed as a single batched model; one run (directory) per seed.

    Parameters
    ----------
    config : TrainConfig
        An MLP config; its ``seed`` is replaced by each of ``seeds`` (``data_seed``, if set,
        is shared; if unset each member splits with its own seed, as a single run would).
    seeds : sequence of int
        Distinct seeds, at least one.
    out_dir : path-like or None
        Parent folder; member s is written to ``out_dir/seed_<s>`` (config.json,
        weights.safetensors, metrics.jsonl, log-spaced weight checkpoints).

    Returns
    -------
    list of Run
        In the order of ``seeds``. The ensemble stops when every member reached the target
        (or at ``max_epochs``); all members train for the same number of epochs.

    Notes
    -----
    Ensemble runs cannot be resumed (no optimizer sidecar is written).

    Examples
    --------
    >>> runs = train_ensemble(TrainConfig(model="mlp", p=7, width=8, max_epochs=2,
    ...                                   device="cpu"), seeds=[0, 1])
    >>> [r.config.seed for r in runs], runs[1].weights["W1"].shape
    ([0, 1], (8, 14))
    """
    if not isinstance(config, TrainConfig):
        raise TypeError(f"`config` must be a TrainConfig; got {type(config).__name__}")
    if config.model != "mlp":
        raise ValueError(f"`config.model` must be 'mlp' for an ensemble; got {config.model!r}")
    seeds = list(seeds)
    if not seeds or not all(isinstance(s, int) and s >= 0 for s in seeds):
        raise ValueError(f"`seeds` must be a non-empty list of ints >= 0; got {seeds!r}")
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"`seeds` must be distinct; got {seeds!r}")
    cfgs = [config.replace(seed=s).resolve() for s in seeds]
    cfg = cfgs[0]
    if cfg.dropout:
        raise ValueError("`dropout` is not supported by train_ensemble")
    device = resolve_device(cfg.device)
    S = len(seeds)
    dss = [make_dataset(c.task, c.p, c.alpha, c.data_seed, c.task_params) for c in cfgs]
    p = cfg.p
    members = [init_weights(c, p, torch.Generator().manual_seed(c.seed)) for c in cfgs]
    W = {
        k: torch.stack([m[k] for m in members]).to(device).requires_grad_(True) for k in members[0]
    }
    names = list(W)
    params = [W[k] for k in names]
    opt = make_optimizer(cfg, params)

    inputs = torch.as_tensor(dss[0].inputs, device=device)  # all splits share the sample order
    tr = torch.stack([torch.as_tensor(d.train, device=device) for d in dss])  # (S, B)
    pairs_tr = inputs[tr]  # (S, B, 2)
    batch_tr = make_inputs(cfg, pairs_tr.reshape(-1, 2), device.type)
    batch_tr = {k: v.reshape(S, -1, *v.shape[1:]) for k, v in batch_tr.items()}
    batch_all = make_inputs(cfg, inputs, device.type)
    objs = [_Objective(c, _subset(d, d.train), device) for c, d in zip(cfgs, dss, strict=True)]
    obj_all = _Objective(cfg, dss[0], device)
    rows = torch.arange(tr.shape[1], device=device)

    run_dirs = [None] * S
    if out_dir is not None:
        run_dirs = [Path(out_dir) / f"seed_{s}" for s in seeds]
        for d, c, ds in zip(run_dirs, cfgs, dss, strict=True):
            if (d / "config.json").exists():
                raise ValueError(f"`out_dir` member {d} already holds a run")
            d.mkdir(parents=True, exist_ok=True)
            _write_json(d / "config.json", {**run_config(c, ds, p), "status": "running"})
            (d / METRICS_NAME).write_text("")
    histories = [[] for _ in range(S)]
    hits = [0] * S
    gf_state = None

    def loss_and_grads():
        logits = forward(cfg, W, batch_tr)  # (S, B, p)
        losses = [objs[s].loss(logits[s], rows) for s in range(S)]
        total = torch.stack(losses).sum()
        return total, dict(zip(names, torch.autograd.grad(total, params), strict=True))

    def evaluate(e, grads):
        with torch.no_grad():
            logits = forward(cfg, W, batch_all)  # (S, n_samples, p)
        for s, ds in enumerate(dss):
            rec = {"epoch": e}
            for split, idx in (("train", ds.train), ("test", ds.test)):
                idx_t = torch.as_tensor(idx, device=device)
                lg = logits[s][idx_t]
                rec[f"{split}_loss"] = float(obj_all.loss(lg, idx_t))
                rec[f"{split}_acc"] = float(obj_all.per_task_acc(lg, idx_t)[0])
            gn = sum(float((g[s].double() ** 2).sum()) for g in grads.values()) ** 0.5
            rec["grad_norm"] = gn
            for k in names:
                rec[f"norm_{k}"] = float(W[k][s].detach().norm())
            histories[s].append(rec)
            if run_dirs[s] is not None:
                with open(run_dirs[s] / METRICS_NAME, "a") as fh:
                    fh.write(json.dumps(rec) + "\n")
                if _is_checkpoint_epoch(e) or e == cfg.max_epochs:
                    _save_member(run_dirs[s], e, W, s)

    epoch, stopped = 0, "max_epochs"
    while True:
        loss, grads = loss_and_grads()
        if not torch.isfinite(loss):
            from ._train import NonFiniteLossError

            raise NonFiniteLossError(f"training stopped: non-finite ensemble loss at epoch {epoch}")
        regular = epoch % cfg.eval_every == 0
        if (
            regular
            or epoch == cfg.max_epochs
            or (out_dir is not None and _is_checkpoint_epoch(epoch))
        ):
            evaluate(epoch, grads)
            if regular:
                for s in range(S):
                    ok = histories[s][-1]["test_acc"] >= cfg.target_acc
                    hits[s] = hits[s] + 1 if ok else 0
                if min(hits) >= cfg.patience and epoch < cfg.max_epochs:
                    stopped = "target"
                    if out_dir is not None and not _is_checkpoint_epoch(epoch):
                        for s in range(S):
                            _save_member(run_dirs[s], epoch, W, s)
                    break
        if epoch >= cfg.max_epochs:
            break
        gf_state = apply_step(cfg, opt, names, params, grads, gf_state, epoch)
        epoch += 1

    runs = []
    for s, c in enumerate(cfgs):
        weights = {k: W[k][s].detach().cpu().numpy().copy() for k in names}
        if run_dirs[s] is not None:
            from closedform import save_model_dir

            final = run_config(c, dss[s], p)
            final = {
                k: v for k, v in final.items() if k not in ("format_version", "library_version")
            }
            final.update(status="done", epochs=epoch, stopped=stopped, ensemble_seeds=seeds)
            save_model_dir(run_dirs[s], final, weights)
        runs.append(Run(c, histories[s], weights, run_dirs[s], epoch, stopped))
    return runs


def _save_member(run_dir: Path, epoch: int, W: dict, s: int) -> None:
    from closedform._modeldir import save_weights

    save_weights(
        run_dir / "checkpoints" / f"epoch_{epoch:07d}.safetensors",
        {k: v[s].detach().cpu().numpy() for k, v in W.items()},
        metadata={"epoch": epoch},
    )
