"""Chunked evaluation of a two-layer network on every pair (n, m) of Z_p x Z_p.

Never builds the p x p x p logit tensor: rows of n are processed a chunk at a time, so
the peak extra memory is about ``chunk_bytes`` for the hidden activations plus as much for
the chunk's logits (docs/closedform.md gives measured peaks).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ._activations import activation_fn, check_activation
from ._tasks import Task

__all__ = ["Evaluation", "evaluate_mlp", "mlp_logits"]

DEFAULT_CHUNK_BYTES = 64 * 2**20
_TIE_ULPS = 64  # ties within 64 ulp of the largest possible logit count as wrong


@dataclass(frozen=True)
class Evaluation:
    """Accuracy and classification margin of a network over the whole table.

    Attributes
    ----------
    accuracy : float
        Share of defined pairs (``task.table >= 0``) whose correct logit beats every other.
    accuracy_decomposed : float
        The same over the pairs where f1(n), f2(m) are both defined (for mul/div: n, m != 0).
    margin : float
        min over defined pairs of (correct logit - best wrong logit), in output units
        (after ``output_scale``). Positive iff every pair is classified correctly.
    normalized_margin : float
        The same gap divided by that pair's logit range (max_q - min_q); in [-1, 1],
        invariant to rescaling the network.
    n_pairs, n_correct : int
        Defined pairs, and how many are correct.
    """

    accuracy: float
    accuracy_decomposed: float
    margin: float
    normalized_margin: float
    n_pairs: int
    n_correct: int

    def to_dict(self) -> dict:
        return asdict(self)


def _check_weights(W1, W2, p: int):
    W1 = np.asarray(W1)
    W2 = np.asarray(W2)
    for name, W in (("W1", W1), ("W2", W2)):
        if W.dtype == object or not np.issubdtype(W.dtype, np.number):
            raise TypeError(f"`{name}` must be a numeric array; got dtype {W.dtype}")
    if W1.ndim != 2 or W1.shape[1] != 2 * p:
        raise ValueError(f"`W1` must have shape (N, 2p) = (N, {2 * p}); got {W1.shape}")
    N = W1.shape[0]
    if N < 1:
        raise ValueError("`W1` must have at least one row (width N >= 1)")
    if W2.shape != (p, N):
        raise ValueError(f"`W2` must have shape (p, N) = ({p}, {N}); got {W2.shape}")
    if not (np.isfinite(W1).all() and np.isfinite(W2).all()):
        raise ValueError("`W1` and `W2` must be finite")
    return W1, W2


def _check_scale(output_scale, N: int) -> float:
    if output_scale is None:
        return 2.0 / N
    if not np.isscalar(output_scale) or not np.isfinite(output_scale) or output_scale <= 0:
        raise ValueError(f"`output_scale` must be a positive finite number; got {output_scale!r}")
    return float(output_scale)


def check_pairs(n, m, p: int, *, all_if_none: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Validate input pairs (n, m) of a task mod p: equal-length 1-D integer arrays (or
    scalars) in 0..p-1, returned as int64. With ``all_if_none``, n = m = None means all p^2
    pairs in row-major order (n major)."""
    if all_if_none and n is None and m is None:
        grid = np.arange(p)
        return np.repeat(grid, p), np.tile(grid, p)
    if all_if_none and (n is None or m is None):
        raise ValueError("give both `n` and `m`, or neither (all p^2 pairs)")
    n = np.atleast_1d(np.asarray(n))
    m = np.atleast_1d(np.asarray(m))
    for name, v in (("n", n), ("m", m)):
        if not np.issubdtype(v.dtype, np.integer) or v.ndim != 1:
            raise TypeError(f"`{name}` must be an integer or 1-D integer array")
        if v.size and (v.min() < 0 or v.max() >= p):
            raise ValueError(f"`{name}` must lie in 0..{p - 1}; got {v.min()}..{v.max()}")
    if n.shape != m.shape:
        raise ValueError(f"`n` and `m` must have the same length; got {n.shape} and {m.shape}")
    return n.astype(np.int64), m.astype(np.int64)


def mlp_logits(W1, W2, n, m, activation: str = "quadratic", output_scale=None) -> np.ndarray:
    """Logits of the two-layer network for the pairs (n, m) (Gromov eq. 1-2).

    out = output_scale * W2 phi(W1 [onehot(n); onehot(m)]), output_scale = 2/N by default.
    For complex weights (Gromov App. A) the real part is returned.

    Parameters
    ----------
    W1 : array, shape (N, 2p)
    W2 : array, shape (p, N)
    n, m : int or int array, shape (B,)
    activation : str
        See :func:`closedform.activation_fn`.
    output_scale : float, optional

    Returns
    -------
    ndarray, shape (B, p)

    Examples
    --------
    >>> W1 = np.eye(2, 4)      # p = 2, N = 2: neuron i reads n = i
    >>> mlp_logits(W1, np.eye(2), [0, 1], [0, 0]).tolist()
    [[1.0, 0.0], [0.0, 1.0]]
    """
    W2 = np.asarray(W2)
    p = W2.shape[0] if W2.ndim == 2 else -1
    W1, W2 = _check_weights(W1, W2, p)
    scale = _check_scale(output_scale, W1.shape[0])
    phi = activation_fn(activation)
    n, m = check_pairs(n, m, p)
    h = W1[:, n] + W1[:, p + m]  # (N, B)
    out = scale * (W2 @ phi(h)).T  # (B, p)
    return out.real if np.iscomplexobj(out) else out


def _logit_bound(A, B, W2T, phi, scale) -> float:
    """Largest possible |logit|: ties closer than a few ulp of it are rounding, not signal."""
    H = np.abs(A).max(axis=0) + np.abs(B).max(axis=0)  # (N,) bound on |h_i|
    a = np.maximum(np.abs(phi(H)), np.abs(phi(-H)))
    if np.iscomplexobj(a):
        a = np.abs(a)
    return float(scale * (np.abs(W2T) * a[:, None]).sum(axis=0).max())


class _Tally:
    """Accuracy and margin over the defined pairs of a task, accumulated chunk by chunk.

    ``add(n0, n1, L)`` takes the logits of the pairs with n in [n0, n1) (row (n - n0) p + m),
    all of them or, with ``defined_only=True``, only those of the defined pairs in that order.
    A pair counts as correct when its logit beats every other by more than ``tol`` (ties and
    rounding-level gaps are wrong).
    """

    def __init__(self, task: Task, tol: float):
        self.task, self.tol = task, tol
        self.n_pairs = self.n_correct = self.n_dec = self.n_dec_correct = 0
        self.margin = self.norm_margin = np.inf

    def defined(self, n0: int, n1: int) -> np.ndarray:
        """Row indices of the defined pairs with n in [n0, n1)."""
        return np.flatnonzero(self.task.table[n0:n1].ravel() >= 0)

    def add(self, n0: int, n1: int, L: np.ndarray, defined_only: bool = False) -> None:
        idx = self.defined(n0, n1)
        if idx.size == 0:
            return
        if not defined_only and idx.size != L.shape[0]:
            L = L[idx]
        t = self.task.table[n0:n1].ravel()[idx]
        r = np.arange(idx.size)
        correct = L[r, t].copy()
        row_min = L.min(axis=1)
        L[r, t] = -np.inf
        best_wrong = L.max(axis=1)
        gap = correct - best_wrong
        good = gap > self.tol
        span = np.maximum(correct, best_wrong) - row_min
        with np.errstate(invalid="ignore", divide="ignore"):
            rel = np.where(span > 0, gap / span, 0.0)
        dec = self.task.decomposed[n0:n1].ravel()[idx]
        self.n_pairs += idx.size
        self.n_correct += int(good.sum())
        self.n_dec += int(dec.sum())
        self.n_dec_correct += int((good & dec).sum())
        self.margin = min(self.margin, float(gap.min()))
        self.norm_margin = min(self.norm_margin, float(rel.min()))

    def result(self, scale: float = 1.0) -> Evaluation:
        if self.n_pairs == 0:
            raise ValueError(f"task {self.task.name!r} has no defined pair to evaluate")
        return Evaluation(
            accuracy=self.n_correct / self.n_pairs,
            accuracy_decomposed=(self.n_dec_correct / self.n_dec) if self.n_dec else float("nan"),
            margin=self.margin * scale,
            normalized_margin=self.norm_margin,
            n_pairs=self.n_pairs,
            n_correct=self.n_correct,
        )


def evaluate_mlp(
    W1,
    W2,
    task: Task,
    activation: str = "quadratic",
    output_scale=None,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
) -> Evaluation:
    """Accuracy and margin of a two-layer network over all p^2 pairs, chunked.

    Parameters
    ----------
    W1 : array, shape (N, 2p)
        Columns 0..p-1 read n, p..2p-1 read m. float32 weights are evaluated in float32.
    W2 : array, shape (p, N)
    task : closedform.Task
    activation : str
    output_scale : float, optional
        Positive; 2/N (Gromov's mean-field eq. 2) by default.
    chunk_bytes : int
        Bound on the hidden activations held at once; the chunk's logits take about as much.

    Returns
    -------
    Evaluation

    Notes
    -----
    A pair counts as correct when its correct logit exceeds every other by more than
    64 ulp of the largest logit the weights can produce, so exact ties (e.g. a single
    frequency k with gcd(k, M) > 1) are wrong whatever the rounding. Cost: 2 N p^3 flops
    for the readout matmul, which dominates (docs/benchmarks/bench_closedform.py).

    Examples
    --------
    >>> from closedform import get_task, analytic_mlp
    >>> net = analytic_mlp(get_task("add", 11), phases="exact")
    >>> ev = evaluate_mlp(net.W1, net.W2, net.task)
    >>> ev.accuracy, ev.n_pairs, ev.margin > 0
    (1.0, 121, True)
    """
    if not isinstance(task, Task):
        raise TypeError(f"`task` must be a closedform.Task; got {type(task).__name__}")
    p = task.p
    W1, W2 = _check_weights(W1, W2, p)
    N = W1.shape[0]
    scale = _check_scale(output_scale, N)
    phi = activation_fn(check_activation(activation))
    if isinstance(chunk_bytes, bool) or not isinstance(chunk_bytes, (int, np.integer)):
        raise TypeError(f"`chunk_bytes` must be an integer; got {chunk_bytes!r}")
    if chunk_bytes < 1:
        raise ValueError(f"`chunk_bytes` must be >= 1; got {chunk_bytes}")

    dtype = np.result_type(W1.dtype, W2.dtype, np.float32)
    A = np.ascontiguousarray(W1[:, :p].T, dtype=dtype)  # (p, N): n-block
    B = np.ascontiguousarray(W1[:, p:].T, dtype=dtype)  # (p, N): m-block
    W2T = np.ascontiguousarray(W2.T, dtype=dtype)  # (N, p)
    real_dtype = np.finfo(dtype).dtype
    tol = _TIE_ULPS * np.finfo(real_dtype).eps * _logit_bound(A, B, W2T, phi, scale) / scale

    rows = max(1, min(p, int(chunk_bytes) // max(1, p * N * np.dtype(dtype).itemsize)))
    tally = _Tally(task, tol)
    for n0 in range(0, p, rows):
        n1 = min(p, n0 + rows)
        H = (A[n0:n1, None, :] + B[None, :, :]).reshape(-1, N)  # ((n1-n0) p, N)
        Z = phi(H)
        L = Z @ W2T  # ((n1-n0) p, p), before output_scale
        del H, Z
        if np.iscomplexobj(L):
            L = np.ascontiguousarray(L.real)
        if not np.all(np.isfinite(L)):
            raise ValueError(
                f"the network's logits are not finite (NaN or inf) for n in [{n0}, {n1}): its "
                "weights or activation overflow; accuracy and margin are undefined"
            )
        tally.add(n0, n1, L)
    return tally.result(scale)
