"""Low-rank structure of weight matrices (Rangamani Fig. 3-4, Syrkis Fig. 8)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ._network import check_task, inner_index
from ._spectra import wave_fit
from ._validate import as_real_array, check_number

__all__ = [
    "singular_values",
    "energy_share",
    "truncate_rank",
    "minimal_rank",
    "predicted_ranks",
    "singular_vector_frequencies",
    "svd_ticks",
]

# singular values closer than this (relative to the largest) are one degenerate value: a
# truncation inside such a cluster keeps an arbitrary subspace of it (the SVD's rounding picks it)
GAP_RTOL = 1e-6
SEARCH_RULE = (
    "search: smallest rank r at a gap of the spectrum (sigma_r > sigma_(r+1) by more than "
    f"{GAP_RTOL:g} sigma_1) whose rank-r truncation keeps the full accuracy"
)


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


def _gap_cuts(S: np.ndarray, rtol: float) -> list[int]:
    """Ranks r at which a truncation is well defined: 0, len(S) and every r with a gap
    sigma_r - sigma_(r+1) > rtol sigma_1 (no degenerate cluster is cut in two)."""
    if len(S) == 0 or S[0] <= 0:
        return [0, len(S)] if len(S) else [0]
    gaps = S[:-1] - S[1:] > rtol * S[0]
    return [0] + [r for r in range(1, len(S)) if gaps[r - 1]] + [len(S)]


# singular values below this share of sigma_1 are rounding (an exact network's zero modes)
ZERO_RTOL = 1e-12


def _complement(U, S, Vt, r: int) -> np.ndarray:
    """The components r+1.. of an SVD, without its rounding-level modes: the complement of an
    exact low-rank matrix is exactly zero, not noise at 1e-16 that a logit comparison at the
    noise's own scale would read."""
    S = np.where(S > ZERO_RTOL * (S[0] if len(S) else 0.0), S, 0.0)
    return (U[:, r:] * S[r:]) @ Vt[r:]


def minimal_rank(
    weights: dict, name: str, accuracy_fn: Callable[[dict], float], tol=0.0, gap_rtol=GAP_RTOL
) -> dict:
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
    gap_rtol : float
        Singular values closer than ``gap_rtol * sigma_1`` count as one degenerate value;
        only ranks at a gap of the spectrum are tried.

    Returns
    -------
    dict
        ``rank``, ``max_rank``, ``energy_share`` (sum of the kept sigma over all sigma),
        ``accuracy_full``, ``accuracy_low_rank``, ``accuracy_complement`` (only the components
        r+1.. kept; chance level in Rangamani) and ``rank_rule`` (how the rank was found).

    Notes
    -----
    Bisection over the well-defined ranks, assuming accuracy does not decrease with rank (true
    of the papers' networks); the returned rank is verified to reach the target. A truncation
    inside a cluster of equal singular values keeps whichever vectors of that eigenspace the
    SVD returned, so its accuracy depends on rounding (an exact analytic network, whose
    singular values are all equal, gave 105 or 107 for the same matrix); such ranks are never
    returned. Trained networks have distinct singular values and every rank is tried.
    For an analytic network use :func:`predicted_ranks`.

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
    gap_rtol = check_number("gap_rtol", gap_rtol, 0.0, 1.0)
    W = as_real_array(name, weights[name], (2,))
    dtype = np.asarray(weights[name]).dtype
    U, S, Vt = np.linalg.svd(W, full_matrices=False)

    def acc_at(r, complement=False):
        w = _complement(U, S, Vt, r) if complement else (U[:, :r] * S[:r]) @ Vt[:r]
        return float(accuracy_fn({**weights, name: w.astype(dtype)}))  # the model's own dtype

    full = float(accuracy_fn(weights))
    target = full - tol
    cuts = _gap_cuts(S, gap_rtol)
    lo, hi = 0, len(cuts) - 1  # acc(cuts[hi]) = full >= target
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if acc_at(cuts[mid]) >= target:
            hi = mid
        else:
            lo = mid
    r = cuts[hi]
    if hi == 1 and acc_at(cuts[0]) >= target:
        r = cuts[0]
    share = energy_share(S)
    return {
        "rank": int(r),
        "max_rank": len(S),
        "energy_share": float(share[r - 1]) if r else 0.0,
        "accuracy_full": full,
        "accuracy_low_rank": acc_at(r),
        "accuracy_complement": acc_at(r, complement=True),
        "rank_rule": SEARCH_RULE,
    }


def _table_rank(columns: list[np.ndarray]) -> int:
    """Rank of a small table of the construction's token features (columns over tokens)."""
    if not columns:
        return 0
    T = np.stack(columns, axis=1)
    return int(np.linalg.matrix_rank(T, tol=1e-9 * max(1.0, float(np.abs(T).max()))))


def _waves(values: np.ndarray, ks, M: int, shift: float = 0.0) -> list[np.ndarray]:
    """cos and sin of 2 pi k (v + shift) / M for each k over tokens (0 where v < 0)."""
    ok = values >= 0
    out = []
    for k in ks:
        ang = 2 * np.pi * int(k) * (values + shift) / M
        out += [np.where(ok, np.cos(ang), 0.0), np.where(ok, np.sin(ang), 0.0)]
    return out


def _readout_waves(task, ks, shift: float = 0.0) -> list[np.ndarray]:
    """Per k, cos and sin of omega (r + shift) summed over the branches r of each class q."""
    out = []
    r = np.arange(task.M)
    for k in ks:
        ang = 2 * np.pi * int(k) * (r + shift) / task.M
        for wave in (np.cos(ang), np.sin(ang)):
            col = np.zeros(task.p)
            np.add.at(col, task.F, wave)
            out.append(col)
    return out


def _phase_rank(*angles: np.ndarray) -> int:
    """Rank of the phase matrix [cos a, -sin a, ...] over a frequency's units."""
    cols = [f(a) for a in angles for f in (np.cos, np.sin)]
    return int(np.linalg.matrix_rank(np.stack(cols, axis=1), tol=1e-9))


def predicted_ranks(net) -> dict:
    """The rank of each 2-D weight matrix of an analytic network, from its construction.

    Parameters
    ----------
    net : closedform.AnalyticMLP, AnalyticRNN or AnalyticTransformer

    Returns
    -------
    dict
        ``{name: {"rank": int, "rank_rule": str}}`` for every 2-D weight (the transformer's
        (heads, d_head, d) W_Q, W_K, W_V are left out). The rank is the number of independent
        token, class or unit patterns the construction writes into the matrix (the sum over
        key frequencies of a few per frequency, plus the special units); the rule says which.

    Notes
    -----
    The exact networks have degenerate singular values (every frequency at the same scale),
    so "the smallest rank that keeps 100 % accuracy" is not defined below the matrix rank
    (:func:`minimal_rank`); the construction's rank is. Per frequency k (omega = 2 pi k / M)
    with every map a bijection onto Z_M the counts are: MLP W1 4 (cos, sin of omega f1(n)
    and of omega f2(m), read by a full-rank 6 x 4 phase matrix), W2 2; RNN W_E 4 (block A's
    arctanh(rho cos), arctanh(rho sin) and block B's cos, sin) + 1 ('='), W_ih 4 + 1,
    W_hh J + 2 (the copy B -> C and A -> B), W_fc 2; transformer W_E 2 (4 with a second
    token wave), W_O, W_in, W_out, W_U 2, W_pos 3 (positional attention) or 0; mul/div add
    one for the zero neuron or unit. Where a map is not a bijection (square_sum,
    square_of_sum) the count is the rank of that map's wave table over tokens or classes.

    Examples
    --------
    >>> import closedform
    >>> net = closedform.analytic_mlp(closedform.get_task("add", 11), frequencies=[2, 3],
    ...                               phases="exact")
    >>> {k: v["rank"] for k, v in predicted_ranks(net).items()}
    {'W1': 8, 'W2': 4}
    """
    import closedform

    task = check_task(getattr(net, "task", None))
    M = task.M
    f1 = np.asarray(task.f1)
    f2 = np.asarray(task.f2)
    zero = bool(task.in_log_domain)
    z = int(zero)
    if isinstance(net, closedform.AnalyticMLP):
        ks = sorted({int(k) for k in net.frequencies if k >= 0})
        has_zero = bool((np.asarray(net.frequencies) < 0).any())
        zn = int(has_zero)
        per = [
            _phase_rank(net.phases[net.frequencies == k, 0], net.phases[net.frequencies == k, 1])
            for k in ks
        ]
        if net.scheme != "exact" or any(r != 4 for r in per):
            raise ValueError(
                f"`net` must use the exact phase scheme (six phase pairs per frequency); got "
                f"scheme {net.scheme!r}"
            )
        r1 = _table_rank(_waves(f1, ks, M)) + _table_rank(_waves(f2, ks, M))
        r2 = _table_rank(_readout_waves(task, ks))
        return {
            "W1": {
                "rank": r1 + zn,
                "rank_rule": "predicted by the construction: W1 = phases x waves; per key "
                "frequency the cos, sin of omega f1(n) and of omega f2(m) (2 + 2 when f1, f2 "
                "are bijections onto Z_M), read by the six phase pairs (a full-rank 6 x 4 "
                "matrix)" + (" + 1 zero neuron" if zn else ""),
            },
            "W2": {
                "rank": r2 + zn,
                "rank_rule": "predicted by the construction: W2 = readout waves x phases; per "
                "key frequency cos, sin of omega r summed over the branches r of each class "
                "(2 when F is a bijection), read by phi3 (rank 2)"
                + (" + 1 zero neuron" if zn else ""),
            },
        }
    if isinstance(net, closedform.AnalyticRNN):
        ks = [int(k) for k in net.frequencies]
        rho = 0.5  # closedform's block-A amplitude (docs/closedform.md, "Tanh RNN")
        feats = []
        for k in ks:
            ok = f1 >= 0
            ang = 2 * np.pi * k * np.where(ok, f1, 0) / M
            feats += [
                np.where(ok, np.arctanh(rho * np.cos(ang)) / rho, 0.0),
                np.where(ok, np.arctanh(rho * np.sin(ang)) / rho, 0.0),
            ]
            feats += _waves(f2, [k], M)
        r_tokens = _table_rank(feats)
        phi1, phi2 = net.phases[:, 0], net.phases[:, 1]
        rA = _phase_rank(phi1)
        rB = _phase_rank(phi2)
        K, J = len(ks), net.n_phases
        zero_text = " + 1 zero unit" if zero else ""
        return {
            "W_E": {
                "rank": r_tokens + 1 + z,
                "rank_rule": "predicted by the construction: per key frequency 4 token "
                "features, arctanh(rho cos omega f1(n)) / rho, arctanh(rho sin) (block A) "
                "and cos, sin omega f2(n) (block B), + 1 for '='" + zero_text,
            },
            "W_ih": {
                "rank": K * (2 + rB) + 1 + z,
                "rank_rule": "predicted by the construction: per key frequency 2 (block A "
                "reads its two features) + 2 (block B reads cos, sin omega f2 through "
                "cos phi2, sin phi2), + 1 for '=' (saturates B, centres C)" + zero_text,
            },
            "W_hh": {
                "rank": K * (J + rA) + z,
                "rank_rule": f"predicted by the construction: per key frequency J = {J} (the "
                "copy B -> C) + 2 (A -> B through cos phi1, sin phi1)" + zero_text,
            },
            "W_fc": {
                "rank": _table_rank(_readout_waves(task, ks)) + z,
                "rank_rule": "predicted by the construction: per key frequency cos, sin of "
                "omega r summed over the branches of each class (2 when F is a bijection), "
                "read through phi3" + zero_text,
            },
        }
    if isinstance(net, closedform.AnalyticTransformer):
        ks = [int(k) for k in net.frequencies]
        tau = float(net.shift)
        token_waves = _waves(f1, ks, M)
        second = len(net.layout.get("mlp_out", [])) and bool(
            np.any(np.asarray(net.weights["W_E"])[net.layout["mlp_out"]])
        )
        if second:
            token_waves += _waves(f2, ks, M)
        K = len(ks)
        zero_text = " + 1 zero direction" if zero else ""
        positional = net.attention == "positional"
        return {
            "W_E": {
                "rank": _table_rank(token_waves) + z,
                "rank_rule": "predicted by the construction: per key frequency cos, sin of "
                "omega f1(n)" + (" and of omega f2(n)" if second else "") + zero_text,
            },
            "W_pos": {
                "rank": 3 if positional else 0,
                "rank_rule": "predicted by the construction: "
                + (
                    "one coordinate per position (positional attention)"
                    if positional
                    else "no positional embedding (uniform attention)"
                ),
            },
            "W_O": {
                "rank": 2 * K + z,
                "rank_rule": "predicted by the construction: each head copies its two 'sum' "
                "coordinates per key frequency" + zero_text,
            },
            "W_in": {
                "rank": 2 * K,
                "rank_rule": "predicted by the construction: per key frequency the J neurons "
                "read the two 'sum' coordinates through cos phi_j, sin phi_j",
            },
            "W_out": {
                "rank": 2 * K,
                "rank_rule": "predicted by the construction: per key frequency the J neurons "
                "write two coordinates through cos 2 phi_j, sin 2 phi_j",
            },
            "W_U": {
                "rank": _table_rank(_readout_waves(task, ks, tau)) + z,
                "rank_rule": "predicted by the construction: per key frequency the classes "
                "read cos, sin of omega (r + tau)" + zero_text,
            },
        }
    raise TypeError(
        "`net` must be a closedform AnalyticMLP, AnalyticRNN or AnalyticTransformer; got "
        f"{type(net).__name__}"
    )


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
