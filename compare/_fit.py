"""Fit error of each neuron, the idealized network and the RNN hidden-state fit (Rangamani II)."""

from __future__ import annotations

import numpy as np

from ._network import check_task, evaluate_mlp, inner_index
from ._spectra import wave_fit
from ._validate import as_real_array, check_mlp, check_number

__all__ = ["mlp_fit_errors", "idealized_mlp", "idealized_accuracy", "hidden_state_fit"]


def _fit_block(w: np.ndarray, index: np.ndarray | None):
    """Fit rows of ``w`` (N, p) in the inner domain given by ``index``; returns (fit, error)."""
    if index is None:  # no bijection onto Z_M: fit over the raw token index
        f = wave_fit(w)
        return f.fitted, f.fit_error
    f = wave_fit(w[:, index])
    out = w.copy()  # entries outside the inner domain (mul's 0 row / column) are kept
    out[:, index] = f.fitted
    return out, f.fit_error


def _blocks_fit(W1, W2, task):
    p = task.p
    n_fit, n_err = _fit_block(W1[:, :p], inner_index(task, "n"))
    m_fit, m_err = _fit_block(W1[:, p:], inner_index(task, "m"))
    o_fit, o_err = _fit_block(W2.T, inner_index(task, "out"))
    return np.concatenate([n_fit, m_fit], axis=1), o_fit.T, np.stack([n_err, m_err, o_err], 1)


def mlp_fit_errors(W1, W2, task) -> np.ndarray:
    """Relative residual of the best single-frequency cosine fit of every neuron and block.

    Parameters
    ----------
    W1 : array_like, shape (N, 2p)
    W2 : array_like, shape (p, N)
    task : closedform.Task
        Blocks are fitted over the inner variables f1(n), f2(m), F^{-1}(q) where these maps are
        bijections (discrete logs for mul/div), over the raw token index otherwise.

    Returns
    -------
    ndarray, shape (N, 3)
        Columns n-block, m-block, readout: sqrt(1 - E_k* / E) with E_k* the energy at the
        dominant frequency (k and M - k together) and E the block's total energy
        (docs/conventions.md, "Fit error"); NaN for an all-zero block.

    Examples
    --------
    >>> import closedform
    >>> net = closedform.analytic_mlp(closedform.get_task("add", 7), phases="exact")
    >>> float(np.nanmax(mlp_fit_errors(net.W1, net.W2, net.task))) < 1e-7
    True
    """
    check_task(task)
    W1, W2 = check_mlp(W1, W2, task.p)
    return _blocks_fit(W1, W2, task)[2]


def idealized_mlp(W1, W2, task) -> tuple[np.ndarray, np.ndarray]:
    """The network in which every block of every neuron is replaced by its cosine fit.

    Parameters
    ----------
    W1 : array_like, shape (N, 2p)
    W2 : array_like, shape (p, N)
    task : closedform.Task

    Returns
    -------
    W1_fit : ndarray, shape (N, 2p)
    W2_fit : ndarray, shape (p, N)
        Each block projected on its own dominant frequency (its constant part dropped); entries
        outside the inner domain (the n = 0 / m = 0 columns and the q = 0 row of mul/div) kept.

    Examples
    --------
    >>> import closedform
    >>> net = closedform.analytic_mlp(closedform.get_task("add", 7), phases="exact")
    >>> W1, W2 = idealized_mlp(net.W1, net.W2, net.task)
    >>> bool(np.allclose(W1, net.W1) and np.allclose(W2, net.W2))
    True
    """
    check_task(task)
    W1, W2 = check_mlp(W1, W2, task.p)
    W1f, W2f, _ = _blocks_fit(W1, W2, task)
    return W1f, W2f


def idealized_accuracy(W1, W2, task, activation="quadratic", output_scale=None) -> float:
    """Accuracy of :func:`idealized_mlp` over every defined pair (``closedform.evaluate_mlp``).

    Parameters
    ----------
    W1 : array_like, shape (N, 2p)
    W2 : array_like, shape (p, N)
    task : closedform.Task
    activation : str
        The network's activation ("quadratic", "relu", "gelu", "tanh").
    output_scale : float, optional
        Logit scale; 2/N by default.

    Returns
    -------
    float

    Examples
    --------
    >>> import closedform
    >>> net = closedform.analytic_mlp(closedform.get_task("mul", 7), phases="exact")
    >>> idealized_accuracy(net.W1, net.W2, net.task)
    1.0
    """
    W1f, W2f = idealized_mlp(W1, W2, task)
    return float(evaluate_mlp(W1f, W2f, task, activation, output_scale).accuracy)


def _wave_lstsq(z: np.ndarray, w: np.ndarray):
    """Least-squares alpha cos w + beta sin w of each column of z: (coef (2, c), residual)."""
    basis = np.stack([np.cos(w), np.sin(w)], axis=1)
    coef, *_ = np.linalg.lstsq(basis, z, rcond=None)
    return coef, z - basis @ coef


def hidden_state_fit(
    h,
    W_fc,
    task,
    normalize: bool = True,
    n_vectors: int | None = None,
    basis: str = "singular",
    frequencies=None,
):
    """Rangamani Table II: fit the readout's projections of the hidden state to cos/sin ω(a+b).

    Parameters
    ----------
    h : array_like, shape (p*p, d_h)
        Final hidden state for every pair, row = n * p + m.
    W_fc : array_like, shape (p, d_h)
        Readout (unembedding): logits = W_fc h.
    task : closedform.Task
        Gives the inner sum s = f1(n) + f2(m) mod M (n + m for add); only decomposed pairs are
        fitted.
    normalize : bool
        Divide each hidden state by its L2 norm first (what the readout of an RNN with
        ``hidden_norm="l2"`` reads).
    n_vectors : int, optional
        ``basis="singular"``: how many leading singular vectors to fit (default: those with
        sigma > 1e-6 sigma_1, at most 2 floor(M/2)).
    basis : {"singular", "frequency"}
        ``"singular"``: each right singular vector V_i of W_fc, at the dominant frequency of
        its left singular vector (Rangamani's procedure, one vector at a time).
        ``"frequency"``: for each frequency k, the plane of hidden directions the readout reads
        at k, span(W_fc^T c_k, W_fc^T s_k) with c_k, s_k = cos, sin omega_k r over the classes
        q = F(r); both coordinates of h in it are fitted together.
    frequencies : sequence of int, optional
        ``basis="frequency"``: the frequencies k (default the key frequencies of the readout
        over the classes, :func:`compare.key_frequencies`, by decreasing energy).

    Returns
    -------
    list of dict
        One record per singular vector (``basis="singular"``): ``index``, ``sigma``,
        ``frequency``, ``alpha``, ``beta`` and ``relative_error`` = ||z - alpha cos(w s) -
        beta sin(w s)|| / ||z||, z = h V_i, w = 2 pi k / M (least squares over the decomposed
        pairs). Per frequency (``basis="frequency"``): ``index``, ``frequency``, ``sigma`` (the
        readout's singular values in that plane), ``alpha``, ``beta`` (one per coordinate)
        and ``relative_error`` = ||Z - fit||_F / ||Z||_F over both coordinates.

    Notes
    -----
    With distinct singular values, the singular vectors of a Fourier readout come in cos/sin
    pairs, one pair per frequency, and both bases give the same planes and errors. With equal
    (or nearly equal) singular values of different frequencies, the SVD returns an arbitrary
    rotation of their joint eigenspace, which mixes frequencies: a single-frequency fit of such
    a vector fails even when the network is exactly Fourier (the exact RNN of
    ``closedform.analytic_rnn`` with equal readout amplitudes has per-vector errors 0.65-0.93
    and per-frequency errors below 2e-3; docs/compare.md). The frequency basis does not depend
    on how the spectrum is split and is the well-posed form of Rangamani's measure.

    Examples
    --------
    >>> import closedform
    >>> task = closedform.get_task("add", 7)
    >>> s = task.inner_sum.reshape(-1)
    >>> h = np.stack([np.cos(2*np.pi*2*s/7), np.sin(2*np.pi*2*s/7), 0*s], axis=1)
    >>> q = np.arange(7)
    >>> W_fc = np.stack([np.cos(2*np.pi*2*q/7), np.sin(2*np.pi*2*q/7), 0*q], axis=1)
    >>> [(d["frequency"], round(d["relative_error"], 6)) for d in hidden_state_fit(h, W_fc, task)]
    [(2, 0.0), (2, 0.0)]
    >>> [(d["frequency"], round(d["relative_error"], 6))
    ...  for d in hidden_state_fit(h, W_fc, task, basis="frequency")]
    [(2, 0.0)]
    """
    check_task(task)
    p, M = task.p, task.M
    h = as_real_array("h", h, (2,))
    W_fc = as_real_array("W_fc", W_fc, (2,))
    if h.shape[0] != p * p:
        raise ValueError(f"`h` must have p*p = {p * p} rows; got shape {h.shape}")
    if W_fc.shape != (p, h.shape[1]):
        raise ValueError(f"`W_fc` must have shape (p, d_h) = {(p, h.shape[1])}; got {W_fc.shape}")
    if basis not in ("singular", "frequency"):
        raise ValueError(f"`basis` must be 'singular' or 'frequency'; got {basis!r}")
    if normalize:
        norms = np.linalg.norm(h, axis=1, keepdims=True)
        h = h / np.where(norms > 0, norms, 1.0)
    s = task.inner_sum.reshape(-1)
    ok = s >= 0
    if basis == "frequency":
        return _frequency_fit(h[ok], s[ok], W_fc, task, frequencies)
    if frequencies is not None:
        raise ValueError("`frequencies` applies to basis='frequency' only")
    U, S, Vt = np.linalg.svd(W_fc, full_matrices=False)
    if n_vectors is None:
        n_vectors = int(min((S > 1e-6 * S[0]).sum() if S[0] > 0 else 0, 2 * (M // 2)))
    else:
        n_vectors = check_number("n_vectors", n_vectors, 1, len(S), integer=True)
    index = inner_index(task, "out")
    U_in = U.T if index is None else U.T[:, index]
    freqs = wave_fit(U_in[:n_vectors]).frequency if n_vectors else []
    results = []
    for i in range(n_vectors):
        z = h[ok] @ Vt[i]
        k = int(freqs[i])
        coef, resid = _wave_lstsq(z, 2 * np.pi * k * s[ok] / M)
        norm = np.linalg.norm(z)
        err = float(np.linalg.norm(resid) / norm) if norm > 0 else float("nan")
        results.append(
            {
                "index": i,
                "sigma": float(S[i]),
                "frequency": k,
                "alpha": float(coef[0]),
                "beta": float(coef[1]),
                "relative_error": err,
            }
        )
    return results


def _frequency_fit(h, s, W_fc, task, frequencies) -> list[dict]:
    from ._spectra import frequency_norms, key_frequencies

    M = task.M
    if frequencies is None:
        ks = key_frequencies(frequency_norms(W_fc, axis=0, task=task, block="out")).tolist()
    else:
        if isinstance(frequencies, (int, np.integer)):
            frequencies = [frequencies]
        ks = []
        for k in frequencies:
            if isinstance(k, (bool, np.bool_)) or not isinstance(k, (int, np.integer)):
                raise TypeError(f"`frequencies` must be ints; got {k!r}")
            if not 1 <= k <= M // 2:
                raise ValueError(f"`frequencies` must lie in 1..{M // 2}; got {k}")
            ks.append(int(k))
    r = np.arange(M)
    results = []
    for i, k in enumerate(ks):
        w = 2 * np.pi * k * r / M
        C = np.zeros((task.p, 2))  # cos, sin omega r at the class F(r), over every branch
        np.add.at(C, task.F, np.stack([np.cos(w), np.sin(w)], axis=1))
        C /= np.sqrt(M / 2)
        Ub, Sb, Vbt = np.linalg.svd(W_fc.T @ C, full_matrices=False)  # (d_h, 2)
        keep = Sb > 1e-12 * max(Sb[0], 1e-300)
        Z = h @ Ub[:, keep]
        coef, resid = _wave_lstsq(Z, 2 * np.pi * k * s / M)
        norm = np.linalg.norm(Z)
        err = float(np.linalg.norm(resid) / norm) if norm > 0 else float("nan")
        results.append(
            {
                "index": i,
                "frequency": k,
                "sigma": Sb[keep].tolist(),
                "alpha": np.atleast_1d(coef[0]).tolist(),
                "beta": np.atleast_1d(coef[1]).tolist(),
                "relative_error": err,
            }
        )
    return results
