"""Full-batch training with log-spaced checkpoints that resume bitwise (on CPU).

The whole dataset lives on the device; one epoch is one full-batch step. Metrics are computed
every ``eval_every`` epochs (and at checkpoints); between evaluations the loop never reads a
device value on CUDA. A run directory holds ``config.json``, ``metrics.jsonl``,
``checkpoints/epoch_XXXXXXX.safetensors`` (weights), ``state/epoch_XXXXXXX.safetensors``
(optimizer, Grokfast and dropout-RNG state: the sidecar) and, at the end, ``weights.safetensors``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ._config import TrainConfig
from ._data import Dataset, make_dataset
from ._loop import (
    RunWriter,
    Schedule,
    StopRequest,
    TrainingInterrupted,
    check_checkpoint,
    checkpoint_epochs,
    record_to_json,
    target_accuracy,
)
from ._models import forward, init_weights, make_inputs, output_scale
from ._optim import apply_step, load_optimizer, make_optimizer, optimizer_state

__all__ = [
    "NonFiniteLossError",
    "Run",
    "TrainingInterrupted",
    "checkpoint_epochs",
    "run_config",
    "train",
]


class NonFiniteLossError(FloatingPointError):
    """The training loss became NaN or infinite; the last good checkpoint is kept."""


@dataclass
class Run:
    """Result of :func:`train`.

    Attributes
    ----------
    config : TrainConfig
        The resolved configuration (every field set).
    history : list of dict
        One metrics record per evaluation (keys as in ``metrics.jsonl``).
    weights : dict of str -> ndarray
        Final weights (float32), named as in the papers.
    run_dir : Path or None
    epochs : int
        Number of full-batch steps taken.
    stopped : str
        ``'max_epochs'`` or ``'target'`` (test accuracy reached ``target_acc``).
    """

    config: TrainConfig
    history: list = field(default_factory=list)
    weights: dict = field(default_factory=dict)
    run_dir: Path | None = None
    epochs: int = 0
    stopped: str = "max_epochs"

    def verdict(self, threshold: float | None = None) -> str:
        """One line on how the run ended: grokked at epoch E, memorized without generalizing,
        did not fit, or a dead / non-finite network (:func:`trained.verdict`)."""
        from ._verdict import verdict, verdict_threshold

        t = self.config.target_acc if threshold is None else threshold
        return verdict(self.history, verdict_threshold(t))

    def grok_epoch(self, threshold: float = 0.99) -> int | None:
        """First logged epoch with test accuracy >= ``threshold`` (None if never); for miiii,
        the accuracy of the worst head (``test_acc_min``): every task must have generalized."""
        for rec in self.history:
            if target_accuracy(rec) >= threshold:
                return rec["epoch"]
        return None


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("`device` 'cuda' requested but CUDA is not available")
    return torch.device(name)


def run_config(cfg: TrainConfig, ds: Dataset, n_out: int) -> dict:
    """The ``config.json`` content of a run (model, p, task, seed, hyper, split, ...); the format
    and library versions are added by :func:`closedform.rundir.write_config`."""
    out = {
        "model": cfg.model,
        "p": cfg.p,
        "task": {"name": cfg.task, "params": dict(cfg.task_params)},
        "seed": cfg.seed,
        "source": "trained",
        "hyper": cfg.to_dict(),
        "split": {"alpha": cfg.alpha, "seed": cfg.data_seed},
        "n_classes": list(ds.n_classes),
    }
    if cfg.model == "mlp":
        out.update(
            width=cfg.width,
            activation=cfg.activation,
            parametrization=cfg.parametrization,
            output_scale=output_scale(cfg),
        )
    elif cfg.model == "rnn":
        out.update(d_hidden=cfg.d_hidden, d_embed=cfg.d_embed, hidden_norm=cfg.hidden_norm)
    else:
        out.update(d_model=cfg.d_model, heads=cfg.heads, d_mlp=cfg.d_mlp, attn_only=cfg.attn_only)
    return out


# ---------------------------------------------------------------------------------------------
# losses and metrics


class _Objective:
    """Loss and accuracy of one dataset, with targets precomputed on the device."""

    def __init__(self, cfg, ds: Dataset, device):
        self.loss_name = cfg.loss
        self.n_classes = ds.n_classes
        self.multitask = ds.multitask
        labels = torch.as_tensor(ds.labels, device=device)
        self.labels = labels if self.multitask else labels[:, None]  # (n_samples, n_tasks)
        self.offsets = np.concatenate([[0], np.cumsum(ds.n_classes)]).tolist()
        # Syrkis eq. 12: each task's cross-entropy divided by its expected value ln q.
        self.weights = [1.0 / math.log(q) for q in ds.n_classes] if self.multitask else [1.0]

    def _heads(self, logits):
        for j, q in enumerate(self.n_classes):
            yield j, logits[..., self.offsets[j] : self.offsets[j] + q]

    def per_task_loss(self, logits, idx):
        """Loss of each head on samples ``idx`` (unweighted); list of scalars."""
        out = []
        y = self.labels[idx]
        for j, head in self._heads(logits):
            if self.loss_name == "cross_entropy":
                out.append(F.cross_entropy(head, y[:, j]))
            else:  # MSE on one-hot targets, mean over samples and classes (Gromov)
                target = F.one_hot(y[:, j], head.shape[-1]).to(head.dtype)
                out.append(F.mse_loss(head, target.expand_as(head)))
        return out

    def loss(self, logits, idx):
        parts = self.per_task_loss(logits, idx)
        if not self.multitask:
            return parts[0]
        return sum(w * part for w, part in zip(self.weights, parts, strict=True))

    def per_task_acc(self, logits, idx):
        y = self.labels[idx]
        return [(head.argmax(-1) == y[:, j]).float().mean() for j, head in self._heads(logits)]


# ---------------------------------------------------------------------------------------------
# training


def _check_train_args(config, out_dir, resume, progress):
    if not isinstance(config, TrainConfig):
        raise TypeError(f"`config` must be a TrainConfig; got {type(config).__name__}")
    if out_dir is not None and not isinstance(out_dir, (str, Path)):
        raise TypeError(f"`out_dir` must be a path or None; got {type(out_dir).__name__}")
    if not isinstance(resume, bool):
        raise TypeError(f"`resume` must be a bool; got {resume!r}")
    if resume and out_dir is None:
        raise ValueError("`resume`=True needs an `out_dir` to resume from")
    if progress is not None and not callable(progress):
        raise TypeError("`progress` must be a callable taking a metrics record, or None")


def train(config: TrainConfig, out_dir=None, resume: bool = False, progress=None) -> Run:
    """Train one model full batch, logging metrics and writing a run directory.

    Parameters
    ----------
    config : TrainConfig
        Unset fields come from the preset (:meth:`TrainConfig.resolve`).
    out_dir : path-like or None
        Run directory (created). ``None`` trains in memory only.
    resume : bool
        Continue from the last checkpoint in ``out_dir`` (its ``config.json`` must agree with
        ``config`` except for ``max_epochs``, ``target_acc``, ``patience``, ``eval_every``,
        ``device``). On CPU the result is bitwise equal to an uninterrupted run.
    progress : callable or None
        Called with each metrics record (a dict) as it is logged.

    Returns
    -------
    Run

    Raises
    ------
    ValueError
        Invalid config for the task (e.g. a non-prime p for 'mul'), an incompatible or tampered
        run directory on resume.
    NonFiniteLossError
        The loss became NaN/inf; checkpoints written so far are kept.

    Notes
    -----
    One epoch = one full-batch step on the training split (Gromov Sec. 2; Nanda; Rangamani).
    Metrics at epoch e describe the weights after e steps; ``grad_norm`` is the norm of the raw
    (unfiltered) full-batch gradient at those weights. Training stops after ``max_epochs``
    steps or once ``test_acc >= target_acc`` at ``patience`` consecutive regular evaluations
    (miiii: the worst head's ``test_acc_min``).

    Examples
    --------
    >>> run = train(TrainConfig(model="mlp", task="add", p=11, max_epochs=3, eval_every=1,
    ...                         device="cpu"))
    >>> [rec["epoch"] for rec in run.history], run.weights["W1"].shape
    ([0, 1, 2, 3], (128, 22))
    """
    _check_train_args(config, out_dir, resume, progress)
    cfg = config.resolve()
    device = resolve_device(cfg.device)
    ds = make_dataset(cfg.task, cfg.p, cfg.alpha, cfg.data_seed, cfg.task_params)
    n_out = int(sum(ds.n_classes))
    writer = RunWriter(out_dir, run_config(cfg, ds, n_out))

    W = {
        k: v.to(device).requires_grad_(True)
        for k, v in init_weights(cfg, n_out, torch.Generator().manual_seed(cfg.seed)).items()
    }
    names = list(W)
    params = [W[k] for k in names]
    opt = make_optimizer(cfg, params)
    drop_gen = None
    if cfg.dropout:
        drop_gen = torch.Generator(device=device).manual_seed(cfg.seed + 1)
    gf_state = None
    history: list[dict] = []
    start, checkpoint = 0, None

    if resume:
        _, start, history, checkpoint = writer.open_resume(cfg)
        if checkpoint is not None:
            gf_state = _restore(writer.run_dir, start, checkpoint, W, names, opt, drop_gen)
    else:
        writer.create()

    inputs = torch.as_tensor(ds.inputs, device=device)
    train_idx = torch.as_tensor(ds.train, device=device)
    batch_train = make_inputs(cfg, inputs[train_idx], device.type)
    y_train = torch.arange(len(ds.train), device=device)  # rows of the train batch
    obj_train = _Objective(cfg, _subset(ds, ds.train), device)
    on_cpu = device.type == "cpu"
    checkpointing = writer.active and cfg.checkpoint
    sched = Schedule(cfg, start, [history], checkpointing, checkpoint is not None)
    stopped = "target" if sched.reached_target() else "max_epochs"
    epoch = start
    bad = torch.zeros((), dtype=torch.bool, device=device)  # any non-finite loss since last sync

    # Per split: the samples' forward inputs and an objective over them. The train split's
    # metrics come from the training step's own forward when there is no dropout (same
    # weights), so an evaluation costs one forward over the held-out samples only.
    evals = {}
    for split, idx in (("train", ds.train), ("test", ds.test), ("valid", ds.valid)):
        if idx is None:
            continue
        rows = torch.arange(len(idx), device=device)
        batch = batch_train if split == "train" else make_inputs(cfg, inputs[idx], device.type)
        evals[split] = (batch, _Objective(cfg, _subset(ds, idx), device), rows)
    reuse_train = not cfg.dropout

    def evaluate(e, train_logits=None):
        with torch.no_grad():
            rec = {"epoch": e}
            for split, (batch, o, rows) in evals.items():
                if split == "train" and train_logits is not None:
                    lg = train_logits
                else:
                    lg = forward(cfg, W, batch)
                losses = o.per_task_loss(lg, rows)
                accs = o.per_task_acc(lg, rows)
                rec[f"{split}_loss"] = sum(w * lo for w, lo in zip(o.weights, losses, strict=True))
                rec[f"{split}_acc"] = torch.stack(accs).mean()
                if o.multitask:
                    rec[f"{split}_acc_min"] = torch.stack(accs).min()
                    for q, lo, ac in zip(ds.n_classes, losses, accs, strict=True):
                        rec[f"{split}_loss_q{q}"], rec[f"{split}_acc_q{q}"] = lo, ac
            for k in names:
                rec[f"norm_{k}"] = W[k].norm()
        return rec

    def gradients(dropout=True):
        logits = forward(cfg, W, batch_train, dropout_generator=drop_gen if dropout else None)
        loss = obj_train.loss(logits, y_train)
        grads = torch.autograd.grad(loss, params)
        return loss, dict(zip(names, grads, strict=True)), logits.detach()

    def log(rec, grads):
        gn = torch.sqrt(sum((g.double() ** 2).sum() for g in grads.values()))
        rec = record_to_json({**rec, "grad_norm": gn})
        history.append(rec)
        writer.log(rec)  # before the checkpoint of this epoch: no kill loses the record
        if progress is not None:
            progress(rec)
        return rec

    def save(e):
        writer.checkpoint(e, W, _state_tensors(opt, names, gf_state, drop_gen))

    def nonfinite(e, what):
        writer.fail(e, "non_finite")
        good = writer.last_good_checkpoint()
        where = "" if good is None else f"; last good checkpoint: epoch {good}"
        return NonFiniteLossError(
            f"training stopped: non-finite {what} at epoch {e} (lr={cfg.lr}, "
            f"optimizer={cfg.optimizer}){where}"
        )

    with StopRequest(checkpointing) as stop:
        while stopped != "target":
            if stop.requested:  # SIGINT/SIGTERM: a checkpoint of this epoch, then stop
                if checkpointing and not (epoch == start and checkpoint is not None):
                    save(epoch)
                raise TrainingInterrupted(epoch, writer.run_dir)
            last = sched.last(epoch)
            need_eval = sched.evaluation_due(epoch)
            at_ckpt = sched.checkpoint_due(epoch)
            if (need_eval or at_ckpt) and bool(bad):
                raise nonfinite(epoch - 1, "training loss")
            # the step's forward/backward at the weights of this epoch (applied further down)
            loss, grads, train_logits = gradients(dropout=not last)
            if on_cpu:
                if not last and not torch.isfinite(loss):
                    raise nonfinite(epoch, "training loss")
            else:  # no host sync in the hot loop: checked at the next evaluation
                bad |= ~torch.isfinite(loss)
            if need_eval:
                rec = evaluate(epoch, train_logits if (reuse_train or last) else None)
                if not all(math.isfinite(float(v)) for k, v in rec.items() if k != "epoch"):
                    raise nonfinite(epoch, "loss or weights")
                if last and cfg.dropout:  # the step's gradient used dropout; log the clean one
                    _, grads, _ = gradients(dropout=False)
                rec = log(rec, grads)
                if sched.observe(epoch, rec):
                    stopped, last = "target", True
                    at_ckpt = checkpointing
            if at_ckpt:
                save(epoch)
            if last:
                break

            # ---- apply the step (the hot loop: no host sync on CUDA) ----
            gf_state = apply_step(cfg, opt, names, params, grads, gf_state, epoch)
            epoch += 1

    weights = {k: v.detach().cpu().numpy().copy() for k, v in W.items()}
    writer.finish(weights, status="done", epochs=epoch, stopped=stopped)
    return Run(cfg, history, weights, writer.run_dir, epoch, stopped)


def _subset(ds: Dataset, idx: np.ndarray) -> Dataset:
    return Dataset(
        ds.p, ds.inputs[idx], ds.labels[idx], ds.pair_index[idx], idx, idx, None, ds.n_classes
    )


def _state_tensors(opt, names, gf_state, drop_gen) -> dict:
    state = optimizer_state(opt, names)
    if gf_state is not None:
        for k, v in gf_state.items():
            state[f"grokfast/{k}"] = v
    if drop_gen is not None:
        state["rng/dropout"] = drop_gen.get_state()
    if not state:  # safetensors needs at least one tensor
        state["empty"] = torch.zeros(1)
    return state


def _restore(run_dir, epoch, checkpoint, W, names, opt, drop_gen):
    """Load a checkpoint into W / opt / drop_gen; return the Grokfast state."""
    weights, state = checkpoint
    check_checkpoint(run_dir, epoch, weights, W)
    with torch.no_grad():
        for k in names:
            W[k].copy_(torch.from_numpy(weights[k]))
    load_optimizer(opt, names, {k: torch.from_numpy(v) for k, v in state.items()})
    gf = {k[len("grokfast/") :]: v for k, v in state.items() if k.startswith("grokfast/")}
    gf_state = None
    if gf:
        device = W[names[0]].device
        gf_state = {k: torch.from_numpy(v).to(device) for k, v in gf.items()}
        if "count" in gf_state:
            gf_state["count"] = gf_state["count"].cpu().reshape(())
    if drop_gen is not None:
        if "rng/dropout" not in state:
            raise ValueError(f"checkpoint {epoch} of {run_dir} lacks the dropout RNG state")
        drop_gen.set_state(torch.from_numpy(state["rng/dropout"]))
    return gf_state
