"""Low-rank structure of weight matrices (Rangamani Fig. 3-4, Syrkis Fig. 8)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ._compat import check_task, inner_index
from ._spectra import wave_fit
from ._validate import as_real_array, check_number

__all__ = [
    "singular_values",
    "energy_share",
    "truncate_rank",
    "minimal_rank",
    "singular_vector_frequencies",
    "svd_ticks",
]


def singular_values(W) -> np.ndarray:
    """Singular values of a matrix, descending.

    Examples
    --------
    >>> singular_values(np.diag([1.0, 3.0])).tolist()
    [3.0, 1.0]
    """
    W = as_real_array("W", W, (2,))
    return np.linalg.svd(W, compute_uv=False)


def energy_share(sigma) -> np.ndarray:
    """Cumulative share sum_{i<=r} sigma_i / sum_j sigma_j for r = 1..len (Rangamani Sec. III-B).

    Examples
    --------
    >>> energy_share([3.0, 1.0]).tolist()
    [0.75, 1.0]
    """
    sigma = as_real_array("sigma", sigma, (1,))
    if np.any(sigma < 0):
        raise ValueError("`sigma` must be non-negative singular values")
    total = sigma.sum()
    return np.cumsum(sigma) / total if total > 0 else np.zeros_like(sigma)


def truncate_rank(W, r: int, complement: bool = False) -> np.ndarray:
    """The rank-r SVD truncation of ``W`` (or, with ``complement``, W minus it).

    Examples
    --------
    >>> W = np.diag([3.0, 1.0])
    >>> truncate_rank(W, 1).tolist(), truncate_rank(W, 1, complement=True).tolist()
    ([[3.0, 0.0], [0.0, 0.0]], [[0.0, 0.0], [0.0, 1.0]])
    """
    W = as_real_array("W", W, (2,))
    r = check_number("r", r, 0, min(W.shape), integer=True)
    U, S, Vt = np.linalg.svd(W, full_matrices=False)
    low = (U[:, :r] * S[:r]) @ Vt[:r]
    return W - low if complement else low


def minimal_rank(weights: dict, name: str, accuracy_fn: Callable[[dict], float], tol=0.0) -> dict:
    """Smallest rank of ``weights[name]`` that keeps the full accuracy (Rangamani Fig. 3).

    Parameters
    ----------
    weights : dict of str -> ndarray
        All weights of the model.
    name : str
        The 2-D weight matrix to truncate.
    accuracy_fn : callable
        ``accuracy_fn(weights) -> float`` evaluates the model on substituted weights.
    tol : float
        Accuracy may drop by at most ``tol`` below the full model's.

    Returns
    -------
    dict
        ``rank``, ``max_rank``, ``energy_share`` (sum of the kept sigma over all sigma),
        ``accuracy_full``, ``accuracy_low_rank``, ``accuracy_complement`` (only the components
        r+1.. kept; chance level in Rangamani).

    Notes
    -----
    Bisection over r, assuming accuracy does not decrease with rank (true of the papers'
    networks); the returned rank is verified to reach the target.

    Examples
    --------
    >>> import closedform
    >>> net = closedform.analytic_mlp(closedform.get_task("add", 11), frequencies=[3],
    ...                               phases="exact")
    >>> acc = lambda w: closedform.evaluate_mlp(w["W1"], w["W2"], net.task).accuracy
    >>> minimal_rank({"W1": net.W1, "W2": net.W2}, "W2", acc)["rank"]
    2
    """
    if not isinstance(weights, dict) or name not in weights:
        raise ValueError(f"`name` {name!r} must be a key of `weights`")
    if not callable(accuracy_fn):
        raise TypeError("`accuracy_fn` must be callable: weights dict -> accuracy")
    tol = check_number("tol", tol, 0.0, 1.0)
    W = as_real_array(name, weights[name], (2,))
    U, S, Vt = np.linalg.svd(W, full_matrices=False)

    def acc_at(r, complement=False):
        low = (U[:, :r] * S[:r]) @ Vt[:r]
        return float(accuracy_fn({**weights, name: W - low if complement else low}))

    full = float(accuracy_fn(weights))
    target = full - tol
    lo, hi = 0, len(S)  # acc(hi) = full >= target
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if acc_at(mid) >= target:
            hi = mid
        else:
            lo = mid
    r = hi
    share = energy_share(S)
    return {
        "rank": int(r),
        "max_rank": len(S),
        "energy_share": float(share[r - 1]) if r else 0.0,
        "accuracy_full": full,
        "accuracy_low_rank": acc_at(r),
        "accuracy_complement": acc_at(r, complement=True),
    }


def singular_vector_frequencies(W, axis: int = 0, task=None, block: str = "out", n_vectors=None):
    """Dominant frequency of each singular vector along a token axis (Rangamani Fig. 4).

    Parameters
    ----------
    W : array_like, 2-D
        A weight matrix with one axis over tokens (e.g. the readout W2 (p, N): ``axis=0``).
    axis : {0, 1}
        The token axis; its singular vectors (U for 0, V for 1) are transformed.
    task : closedform.Task, optional
        Reindex the token axis to the inner variable of ``block`` first (mul/div: discrete log).
    block : {"n", "m", "out"}
    n_vectors : int, optional
        How many leading vectors (default: all with sigma > 1e-6 sigma_1).

    Returns
    -------
    dict
        ``sigma`` (n_vectors,), ``frequency`` (n_vectors,) dominant k, ``purity`` (energy share at
        it), and ``pairs``: consecutive vectors (i, i + 1) sharing a frequency, as
        ``[(i, i + 1, k), ...]`` — a cos/sin pair per frequency in the Fourier solution.

    Examples
    --------
    >>> q = np.arange(11)
    >>> W = np.stack([np.cos(2*np.pi*4*q/11), 2*np.sin(2*np.pi*4*q/11)], axis=1)
    >>> singular_vector_frequencies(W)["pairs"]
    [(0, 1, 4)]
    """
    W = as_real_array("W", W, (2,))
    if axis not in (0, 1):
        raise ValueError(f"`axis` must be 0 or 1; got {axis!r}")
    U, S, Vt = np.linalg.svd(W, full_matrices=False)
    vectors = U.T if axis == 0 else Vt
    if n_vectors is None:
        n_vectors = int((S > 1e-6 * S[0]).sum()) if S[0] > 0 else 0
    else:
        n_vectors = check_number("n_vectors", n_vectors, 1, len(S), integer=True)
    vectors = vectors[:n_vectors]
    if task is not None:
        check_task(task)
        if vectors.shape[1] != task.p:
            raise ValueError(f"the token axis must have length p = {task.p}")
        index = inner_index(task, block)
        if index is not None:
            vectors = vectors[:, index]
    if n_vectors == 0:
        freq = np.zeros(0, np.int64)
        purity = np.zeros(0)
    else:
        fit = wave_fit(vectors)
        freq, purity = fit.frequency, fit.energy_share
    pairs = []
    i = 0
    while i + 1 < n_vectors:
        if freq[i] == freq[i + 1]:
            pairs.append((i, i + 1, int(freq[i])))
            i += 2
        else:
            i += 1
    return {"sigma": S[:n_vectors], "frequency": freq, "purity": purity, "pairs": pairs}


def svd_ticks(W, levels=(0.5, 0.9)) -> dict:
    """Number of singular values that account for each share of the variance (Syrkis Fig. 8).

    Parameters
    ----------
    W : array_like, 2-D
        E.g. the token embedding W_E (p, d_model).
    levels : sequence of float in (0, 1]

    Returns
    -------
    dict
        ``{level: r}`` with r the smallest count such that sum_{i<=r} sigma_i^2 / sum sigma^2
        >= level.

    Examples
    --------
    >>> svd_ticks(np.diag([2.0, 1.0, 1.0]))
    {0.5: 1, 0.9: 3}
    """
    W = as_real_array("W", W, (2,))
    S2 = np.linalg.svd(W, compute_uv=False) ** 2
    total = S2.sum()
    if total <= 0:
        raise ValueError("`W` is all zeros; its variance shares are undefined")
    cum = np.cumsum(S2) / total
    out = {}
    for level in levels:
        level = check_number("levels", level, 0.0, 1.0)
        if level == 0:
            raise ValueError("`levels` must be in (0, 1]; got 0")
        out[level] = int(np.searchsorted(cum, level - 1e-12) + 1)
    return out
