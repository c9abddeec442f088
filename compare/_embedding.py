"""Transformer embedding measures of Syrkis & Sogaard (2024): positions, token-embedding FFT."""

from __future__ import annotations

import numpy as np

from ._spectra import frequency_norms
from ._validate import as_real_array, check_number

__all__ = ["positional_correlation", "active_frequencies"]


def positional_correlation(W_pos, i: int = 0, j: int = 1) -> float:
    """Pearson correlation of the positional embeddings of positions ``i`` and ``j``.

    Parameters
    ----------
    W_pos : array_like, shape (n_ctx, d_model)
    i, j : int
        Positions of the two operands (0 and 1 for Nanda's ``a b =``).

    Returns
    -------
    float
        Syrkis Fig. 7: 0.95 for a commutative task (the positions are interchangeable), -0.64
        for their non-commutative one.

    Examples
    --------
    >>> round(positional_correlation(np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 7.0]])), 4)
    0.9934
    """
    from scipy import stats

    W_pos = as_real_array("W_pos", W_pos, (2,))
    n_ctx = W_pos.shape[0]
    i = check_number("i", i, 0, n_ctx - 1, integer=True)
    j = check_number("j", j, 0, n_ctx - 1, integer=True)
    if W_pos.shape[1] < 2:
        raise ValueError(f"`W_pos` must have d_model >= 2; got shape {W_pos.shape}")
    a, b = W_pos[i], W_pos[j]
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        raise ValueError("a constant positional embedding has no correlation")
    return float(stats.pearsonr(a, b).statistic)


def active_frequencies(
    W_E, p: int | None = None, baseline=None, n_shuffles: int = 200, quantile=0.99, seed=0
) -> dict:
    """Frequencies of the token embedding that stand out of a shuffled baseline (Syrkis Fig. 11-13).

    Parameters
    ----------
    W_E : array_like, shape (n_tokens, d_model)
        Token embedding; rows 0..p-1 are the numbers (extra rows such as "=" are dropped).
    p : int, optional
        Number of number tokens (default all rows).
    baseline : array_like, shape (p, d_model), optional
        The embedding of a model trained on shuffled labels (Syrkis's T_basis). Its largest
        frequency norm is the threshold. Without it, the null is the same embedding with its
        token rows permuted at random (periodicity destroyed, energy kept).
    n_shuffles : int
        Permutations for the null.
    quantile : float in (0, 1)
        Threshold = this quantile of the null's largest per-frequency norm.
    seed : int
        Seeds the permutations (numpy Generator).

    Returns
    -------
    dict
        ``frequencies`` (active k, by decreasing norm), ``norms`` (per k = 0..floor(p/2), from
        :func:`compare.frequency_norms` along tokens), ``threshold``.

    Examples
    --------
    >>> n = np.arange(31)
    >>> W_E = np.stack([np.cos(2*np.pi*5*n/31), np.sin(2*np.pi*5*n/31)], axis=1)
    >>> active_frequencies(W_E)["frequencies"].tolist()
    [5]
    """
    W_E = as_real_array("W_E", W_E, (2,))
    if p is None:
        p = W_E.shape[0]
    p = check_number("p", p, 3, W_E.shape[0], integer=True)
    W = W_E[:p]
    norms = frequency_norms(W, axis=0)
    if baseline is not None:
        base = as_real_array("baseline", baseline, (2,))
        if base.shape[0] < p:
            raise ValueError(f"`baseline` must have at least p = {p} rows; got {base.shape}")
        threshold = float(frequency_norms(base[:p], axis=0)[1:].max())
    else:
        n_shuffles = check_number("n_shuffles", n_shuffles, 1, integer=True)
        quantile = check_number("quantile", quantile, 0.0, 1.0)
        rng = np.random.default_rng(seed)
        null = [frequency_norms(W[rng.permutation(p)], axis=0)[1:].max() for _ in range(n_shuffles)]
        threshold = float(np.quantile(null, quantile))
    above = np.flatnonzero(norms[1:] > threshold) + 1
    order = np.argsort(-norms[above], kind="stable")
    return {"frequencies": above[order], "norms": norms, "threshold": threshold}
