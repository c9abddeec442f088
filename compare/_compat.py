"""compare's bridge to closedform: task checks, the inner-domain index, and closedform's own
evaluation and constructions (one implementation of each, in closedform)."""

from __future__ import annotations

import numpy as np

import closedform
from closedform import activation_fn, evaluate_mlp, mlp_logits, to_inner_domain

__all__ = [
    "activation_fn",
    "analytic_mlp",
    "check_task",
    "evaluate_mlp",
    "inner_index",
    "mlp_logits",
    "to_inner_domain",
]

_BLOCKS = ("n", "m", "out")


def check_task(task) -> closedform.Task:
    if not isinstance(task, closedform.Task):
        raise TypeError(f"`task` must be a closedform.Task; got {type(task).__name__}")
    return task


def inner_index(task, block: str) -> np.ndarray | None:
    """Raw positions read by each inner value r in Z_M for ``block``, or None (no bijection).

    ``to_inner_domain(w, task, block)[..., r] == w[..., index[r]]``.
    """
    if block not in _BLOCKS:
        raise ValueError(f"`block` must be one of {_BLOCKS}; got {block!r}")
    M = task.M
    if block == "out":
        index = np.asarray(task.F, dtype=np.int64)
        return index if len(np.unique(index)) == M else None
    f = task.f1 if block == "n" else task.f2
    defined = np.flatnonzero(f >= 0)
    values = f[defined]
    if len(values) != M or len(np.unique(values)) != M:
        return None
    index = np.empty(M, dtype=np.int64)
    index[values] = defined
    return index


def analytic_mlp(task, frequencies=None, phases="exact", width=None, seed=0):
    """closedform.analytic_mlp with compare's default: the exact scheme (the theory column)."""
    if frequencies is not None:
        frequencies = [int(k) for k in frequencies]
    return closedform.analytic_mlp(
        task, width=width, frequencies=frequencies, phases=phases, seed=seed
    )
