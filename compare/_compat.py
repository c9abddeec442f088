"""Bridges to closedform: its public functions when they exist, numpy equivalents otherwise.

compare is written against closedform's documented API (to_inner_domain, evaluate_mlp,
mlp_logits, analytic_mlp); these private fallbacks follow shared/DESIGN.md exactly so that
compare works and is tested while closedform grows. Every caller goes through here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import closedform

_BLOCKS = ("n", "m", "out")


def _cf(name: str):
    """closedform's public attribute ``name`` (also looked up in closedform.fourier), or None."""
    obj = getattr(closedform, name, None)
    if obj is None:
        fourier = getattr(closedform, "fourier", None)
        obj = getattr(fourier, name, None) if fourier is not None else None
    return obj


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


def to_inner_domain(w: np.ndarray, task, block: str) -> np.ndarray:
    """Reindex the last axis (length p) of ``w`` to the inner variable in Z_M."""
    fn = _cf("to_inner_domain")
    if fn is not None:
        return np.asarray(fn(w, task, block))
    index = inner_index(task, block)
    if index is None:
        raise ValueError(
            f"block {block!r} of task {task.name!r} is not a bijection onto Z_{task.M}; "
            "it cannot be reindexed to the inner domain"
        )
    return np.asarray(w)[..., index]


def activation_fn(name: str):
    fn = _cf("activation_fn")
    if fn is not None:
        return fn(name)
    if name == "quadratic":
        return np.square
    if name == "relu":
        return lambda x: np.maximum(x, 0.0)
    if name == "tanh":
        return np.tanh
    if name == "gelu":
        from scipy.special import erf

        return lambda x: 0.5 * x * (1.0 + erf(x / np.sqrt(2.0)))
    raise ValueError(f"`activation` must be one of quadratic, relu, gelu, tanh; got {name!r}")


def mlp_logits(W1, W2, n, m, activation="quadratic", output_scale=None) -> np.ndarray:
    """Logits (len, p) = output_scale * W2 act(W1[:, n] + W1[:, p + m]) (Gromov eq. 1-2)."""
    fn = _cf("mlp_logits")
    if fn is not None:
        return np.asarray(fn(W1, W2, n, m, activation=activation, output_scale=output_scale))
    W1 = np.asarray(W1, dtype=np.float64)
    W2 = np.asarray(W2, dtype=np.float64)
    N = W1.shape[0]
    p = W1.shape[1] // 2
    scale = 2.0 / N if output_scale is None else float(output_scale)
    act = activation_fn(activation)
    n = np.asarray(n)
    m = np.asarray(m)
    out = np.empty((len(n), W2.shape[0]))
    chunk = 4096
    for start in range(0, len(n), chunk):
        sl = slice(start, start + chunk)
        h = W1[:, n[sl]] + W1[:, p + m[sl]]  # (N, chunk)
        out[sl] = scale * (W2 @ act(h)).T
    return out


@dataclass(frozen=True)
class _Evaluation:
    accuracy: float
    accuracy_decomposed: float
    margin: float
    normalized_margin: float
    n_pairs: int


def evaluate_mlp(W1, W2, task, activation="quadratic", output_scale=None):
    """Accuracy over every defined pair (closedform.evaluate_mlp when present)."""
    fn = _cf("evaluate_mlp")
    if fn is not None:
        return fn(W1, W2, task, activation=activation, output_scale=output_scale)
    n, m = np.nonzero(task.defined)
    logits = mlp_logits(W1, W2, n, m, activation=activation, output_scale=output_scale)
    target = task.table[n, m]
    correct = logits.argmax(axis=1) == target
    true = logits[np.arange(len(n)), target]
    others = logits.copy()
    others[np.arange(len(n)), target] = -np.inf
    margin = true - others.max(axis=1)
    scale = np.abs(logits).max() or 1.0
    dec = task.decomposed[n, m]
    return _Evaluation(
        accuracy=float(correct.mean()),
        accuracy_decomposed=float(correct[dec].mean()) if dec.any() else float("nan"),
        margin=float(margin.min()),
        normalized_margin=float(margin.min() / scale),
        n_pairs=int(len(n)),
    )


@dataclass(frozen=True)
class _AnalyticMLP:
    task: object
    W1: np.ndarray
    W2: np.ndarray
    frequencies: np.ndarray
    phases: np.ndarray
    activation: str = "quadratic"

    @property
    def output_scale(self) -> float:
        return 2.0 / self.W1.shape[0]

    def accuracy(self) -> float:
        return evaluate_mlp(self.W1, self.W2, self.task, self.activation).accuracy


def _exact_analytic(task, frequencies) -> _AnalyticMLP:
    """DESIGN 'exact' scheme: six neurons per frequency, (phi1, phi2) = (2 pi j/6, 2 pi 4j/6)."""
    p, M = task.p, task.M
    rows1, rows2, freqs, phases = [], [], [], []
    r = np.arange(M)
    for k in frequencies:
        for j in range(6):
            phi1, phi2 = 2 * np.pi * j / 6, 2 * np.pi * 4 * j / 6
            phi3 = phi1 + phi2
            w = np.zeros(2 * p)
            ok1, ok2 = task.f1 >= 0, task.f2 >= 0
            w[:p][ok1] = np.cos(2 * np.pi * k * task.f1[ok1] / M + phi1)
            w[p:][ok2] = np.cos(2 * np.pi * k * task.f2[ok2] / M + phi2)
            out = np.zeros(p)
            np.add.at(out, task.F, np.cos(2 * np.pi * k * r / M + phi3))
            rows1.append(w)
            rows2.append(out)
            freqs.append(k)
            phases.append((phi1, phi2, phi3))
    if task.in_log_domain:  # the zero neuron (DESIGN: mul/div)
        w = np.zeros(2 * p)
        w[0] = w[p] = 1.0
        out = np.zeros(p)
        out[0] = 4.0 * p * len(rows1)
        rows1.append(w)
        rows2.append(out)
        freqs.append(-1)
        phases.append((np.nan, np.nan, np.nan))
    return _AnalyticMLP(
        task, np.array(rows1), np.array(rows2).T, np.array(freqs), np.array(phases, dtype=float)
    )


def analytic_mlp(task, frequencies=None, phases="exact", width=None, seed=0):
    """closedform.analytic_mlp when present; else the DESIGN construction ('exact' only)."""
    fn = _cf("analytic_mlp")
    if frequencies is not None:
        frequencies = [int(k) for k in frequencies]
    if fn is not None:
        return fn(task, width=width, frequencies=frequencies, phases=phases, seed=seed)
    if phases != "exact":
        raise NotImplementedError("closedform.analytic_mlp is not available yet")
    if frequencies is None:
        frequencies = range(1, task.M // 2 + 1)
    return _exact_analytic(task, list(frequencies))
