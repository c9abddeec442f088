"""The training loop's bookkeeping, written once for single runs and ensembles.

:class:`Schedule` decides at every epoch whether to evaluate, checkpoint or stop (evaluation
cadence, log-spaced checkpoints, target accuracy and patience, resume); :class:`RunWriter` is what
one run directory receives from training (config, metrics, checkpoints with their optimizer
state, final weights) through :mod:`closedform.rundir`, and how a killed run is picked up again.
:func:`trained.train` and :func:`trained.train_ensemble` differ only in their inner step.

Order of writes, so that no kill loses a record: a metrics record is appended *before* the
checkpoint of its epoch, and a resumed run keeps every record up to its checkpoint and
re-evaluates a scheduled epoch only if its record is missing.
"""

from __future__ import annotations

import signal
import threading
import warnings
from pathlib import Path

import numpy as np

from closedform import rundir

from ._config import TrainConfig

__all__ = [
    "RESUMABLE_CHANGES",
    "RunWriter",
    "Schedule",
    "StopRequest",
    "TrainingInterrupted",
    "checkpoint_epochs",
    "is_checkpoint_epoch",
    "target_accuracy",
]

#: Fields that may change when a run is resumed (they do not change the trajectory).
RESUMABLE_CHANGES = ("max_epochs", "target_acc", "patience", "eval_every", "device")


class TrainingInterrupted(Exception):
    """Training stopped on SIGINT/SIGTERM at an epoch boundary, after a checkpoint.

    Attributes
    ----------
    epoch : int
        The epoch whose weights were checkpointed (resume continues from there).
    run_dir : Path or None
    """

    def __init__(self, epoch: int, run_dir):
        self.epoch, self.run_dir = epoch, run_dir
        where = f"; checkpoint saved in {run_dir}, continue with resume" if run_dir else ""
        super().__init__(f"interrupted at epoch {epoch}{where}")


def checkpoint_epochs(max_epochs: int) -> list[int]:
    """Log-spaced checkpoint epochs 0, 1, 2, 4, 8, ... below ``max_epochs``, then ``max_epochs``.

    Examples
    --------
    >>> checkpoint_epochs(20)
    [0, 1, 2, 4, 8, 16, 20]
    """
    out, e = [0], 1
    while e < max_epochs:
        out.append(e)
        e *= 2
    return [*out, max_epochs]


def is_checkpoint_epoch(e: int) -> bool:
    return e == 0 or (e & (e - 1)) == 0


def target_accuracy(rec: dict) -> float:
    """The accuracy that early stopping and grokking refer to: ``test_acc``, or for a
    multitask (miiii) run the worst head's ``test_acc_min`` (Syrkis: every task groks)."""
    return float(rec.get("test_acc_min", rec["test_acc"]))


class Schedule:
    """When to evaluate, checkpoint and stop, for ``members`` runs that step together.

    Parameters
    ----------
    cfg : TrainConfig
        Resolved; ``eval_every``, ``max_epochs``, ``target_acc`` and ``patience`` are read.
    start : int
        The first epoch of this (possibly resumed) session.
    histories : list of list of dict
        Per member, the records kept so far (a resumed run's records up to ``start``).
    checkpointing : bool
        Whether checkpoints are written (a run directory and ``cfg.checkpoint``).
    have_start_checkpoint : bool
        A resumed session starts from a checkpoint of ``start`` (it is not written again).
    """

    def __init__(self, cfg, start: int, histories, checkpointing: bool, have_start_checkpoint):
        self.cfg = cfg
        self.start = start
        self.checkpointing = checkpointing
        self.have_start_checkpoint = have_start_checkpoint
        self.logged_at_start = [any(r["epoch"] == start for r in h) for h in histories]
        self.hits = [self._trailing_hits(h) for h in histories]

    def _trailing_hits(self, history) -> int:
        hits = 0
        for rec in history:
            if rec["epoch"] % self.cfg.eval_every:
                continue
            hits = hits + 1 if target_accuracy(rec) >= self.cfg.target_acc else 0
        return hits

    def regular(self, e: int) -> bool:
        return e % self.cfg.eval_every == 0

    def last(self, e: int) -> bool:
        return e >= self.cfg.max_epochs

    def checkpoint_due(self, e: int) -> bool:
        """A checkpoint at ``e``: log-spaced epochs and the last one, once."""
        if not self.checkpointing or (e == self.start and self.have_start_checkpoint):
            return False
        return is_checkpoint_epoch(e) or self.last(e)

    def evaluation_due(self, e: int, member: int = 0) -> bool:
        """An evaluation at ``e``: regular ones, checkpoints and the last epoch; not again for a
        record a resumed run already holds."""
        if e == self.start and self.logged_at_start[member]:
            return False
        due = self.regular(e) or self.last(e)
        return due or (self.checkpointing and is_checkpoint_epoch(e))

    def reached_target(self, member: int = 0) -> bool:
        """Whether ``member`` has met its target for ``patience`` regular evaluations (a run
        resumed after that point stops at once)."""
        return self.hits[member] >= self.cfg.patience

    def observe(self, e: int, rec: dict, member: int = 0) -> bool:
        """Count a new record towards the target; True when ``member`` should stop here."""
        if self.regular(e) and not self.last(e):
            ok = target_accuracy(rec) >= self.cfg.target_acc
            self.hits[member] = self.hits[member] + 1 if ok else 0
            return self.reached_target(member)
        return False


class StopRequest:
    """SIGINT/SIGTERM turned into a flag that the loop reads at epoch boundaries.

    Installed only in the main thread and only while a run directory is written (there is a
    checkpoint to stop at); restores the previous handlers on exit.
    """

    def __init__(self, active: bool):
        self.active = active and threading.current_thread() is threading.main_thread()
        self.requested = False
        self._previous = {}

    def _handler(self, signum, frame):
        if self.requested:  # a second signal: stop now, the usual way
            raise KeyboardInterrupt
        self.requested = True

    def __enter__(self):
        if self.active:
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self._handler)
        return self

    def __exit__(self, *exc):
        for sig, previous in self._previous.items():
            signal.signal(sig, previous)
        return False


class RunWriter:
    """What training writes into one run directory (nothing when ``run_dir`` is None).

    Parameters
    ----------
    run_dir : path-like or None
    config : dict
        The run's config.json content without status (``trained._train.run_config``).
    """

    def __init__(self, run_dir, config: dict):
        self.run_dir = None if run_dir is None else Path(run_dir)
        self.config = config

    @property
    def active(self) -> bool:
        return self.run_dir is not None

    def create(self) -> None:
        """Claim a new or empty directory and write the running config and empty metrics."""
        if self.run_dir is None:
            return
        if (self.run_dir / rundir.CONFIG_NAME).is_file():
            raise rundir.DirectoryInUseError(
                f"`out_dir` {self.run_dir} already holds a run; resume it (resume=True, "
                "`--resume`) or choose a new directory"
            )
        rundir.claim_new_dir(self.run_dir)
        rundir.write_config(self.run_dir, {**self.config, "status": "running"})
        rundir.write_metrics(self.run_dir, [])

    def log(self, rec: dict) -> None:
        if self.run_dir is not None:
            rundir.append_metrics(self.run_dir, [rec])

    def checkpoint(self, epoch: int, weights: dict, state: dict) -> None:
        """Weights and optimizer state (tensors) of ``epoch``; the state first."""
        rundir.save_checkpoint(
            self.run_dir,
            epoch,
            {k: v.detach().cpu().numpy() for k, v in weights.items()},
            {k: v.detach().cpu().numpy() for k, v in state.items()},
        )

    def finish(self, weights: dict, **final) -> None:
        """Final weights, then the final config (``status``, ``epochs``, ``stopped``, ...)."""
        if self.run_dir is not None:
            rundir.finish_run_dir(self.run_dir, {**self.config, **final}, weights)

    def fail(self, epoch: int, reason: str) -> None:
        """Mark the run failed (its checkpoints stay)."""
        if self.run_dir is not None:
            final = {"status": "failed", "epochs": epoch, "stopped": reason}
            rundir.write_config(self.run_dir, {**self.config, **final})

    def last_good_checkpoint(self) -> int | None:
        """The latest checkpoint whose weights are all finite (None if there is none)."""
        if self.run_dir is None:
            return None
        for epoch in reversed(rundir.list_checkpoints(self.run_dir)):
            try:
                weights = rundir.load_checkpoint(self.run_dir, epoch)
            except (OSError, ValueError):
                continue
            if all(np.all(np.isfinite(w)) for w in weights.values()):
                return epoch
        return None

    # -- resume ----------------------------------------------------------------------------

    def saved_config(self, cfg) -> dict:
        """The saved config.json of a run to resume with ``cfg``; RunDirError if it is missing,
        invalid, or differs from ``cfg`` outside :data:`RESUMABLE_CHANGES`."""
        run_dir = self.run_dir
        try:
            saved = rundir.read_config(run_dir)
            saved_hyper = TrainConfig.from_dict(saved["hyper"])
        except FileNotFoundError:
            raise rundir.RunDirError(f"cannot resume: {run_dir} has no config.json") from None
        except (rundir.RunDirError, KeyError, TypeError, ValueError) as exc:
            raise rundir.RunDirError(
                f"cannot resume: {run_dir / rundir.CONFIG_NAME} is not a training run's config "
                f"({type(exc).__name__}: {exc})"
            ) from None
        diff = [
            f.name
            for f in saved_hyper.__dataclass_fields__.values()
            if f.name not in RESUMABLE_CHANGES
            and getattr(saved_hyper, f.name) != getattr(cfg, f.name)
        ]
        if diff:
            raise rundir.RunDirError(
                f"cannot resume {run_dir}: `config` differs from the saved run in {diff} (only "
                f"{list(RESUMABLE_CHANGES)} may change)"
            )
        return saved

    def open_resume(self, cfg, epoch: int | str | None = "last"):
        """Prepare a resume: check the config, clean stale temp files, pick the checkpoint.

        Returns ``(saved config, start epoch, history up to it, checkpoint or None)`` where the
        checkpoint is ``(weights, state)`` numpy dicts of ``start``. ``epoch`` picks the
        checkpoint: ``"last"`` (the last one with its state), an epoch, or None to restart from
        epoch 0. A run killed before its first checkpoint restarts from epoch 0 (its initial
        weights come from the seed).
        """
        if self.run_dir is None:
            raise ValueError("`resume`=True needs an `out_dir` to resume from")
        saved = self.saved_config(cfg)
        rundir.refuse_pickles(self.run_dir)
        rundir.remove_stale_temp_files(self.run_dir)
        if epoch == "last":
            epochs = rundir.list_checkpoints(self.run_dir, with_state=True)
            epoch = epochs[-1] if epochs else None
        if epoch is None:
            rundir.write_config(self.run_dir, {**self.config, "status": "running"})
            rundir.write_metrics(self.run_dir, [])
            return saved, 0, [], None
        if epoch > cfg.max_epochs:
            raise rundir.RunDirError(
                f"cannot resume {self.run_dir}: its last checkpoint is epoch {epoch} > "
                f"`max_epochs` {cfg.max_epochs}"
            )
        weights, state = rundir.load_checkpoint(self.run_dir, epoch, state=True)
        with warnings.catch_warnings():
            # a torn last line is a record written after the checkpoint: recomputed anyway
            warnings.simplefilter("ignore", rundir.TornMetricsWarning)
            history = [r for r in rundir.read_metrics(self.run_dir) if r["epoch"] <= epoch]
        rundir.write_metrics(self.run_dir, history)
        return saved, epoch, history, (weights, state)


def check_checkpoint(run_dir, epoch: int, weights: dict, expected: dict) -> None:
    """RunDirError unless ``weights`` has exactly the names of ``expected`` (tensors), each with
    its shape, in float32."""
    if set(weights) != set(expected):
        raise rundir.RunDirError(
            f"checkpoint {epoch} of {run_dir} holds weights {sorted(weights)}; this model "
            f"expects {sorted(expected)}"
        )
    for k, v in weights.items():
        if tuple(v.shape) != tuple(expected[k].shape) or v.dtype != np.float32:
            raise rundir.RunDirError(
                f"checkpoint {epoch} of {run_dir}: weight {k!r} has shape {v.shape} dtype "
                f"{v.dtype}; expected {tuple(expected[k].shape)} float32"
            )


def record_to_json(rec: dict) -> dict:
    """A record with tensors turned into Python numbers (ints stay ints)."""
    return {k: (v if isinstance(v, int) else float(v)) for k, v in rec.items()}
