"""Inverse participation ratio of Fourier-transformed weights (Gromov eq. 28-29, Fig. 6)."""

from __future__ import annotations

import numpy as np

from ._network import analytic_mlp, check_task, inner_index
from ._validate import as_real_array, check_mlp, check_number

__all__ = ["ipr", "mlp_ipr", "ipr_reference"]


def ipr(W, r: float = 2) -> np.ndarray:
    """IPR_r of every row of ``W`` from its rfft magnitudes (Gromov eq. 28).

    Parameters
    ----------
    W : array_like, shape (..., L)
        Rows over Z_L (one neuron's block: its n-weights, m-weights or readout column).
    r : float >= 1
        Exponent; Gromov uses r = 2.

    Returns
    -------
    ndarray, shape (...)
        IPR_r = sum_k a_k^{2r} with a = |rfft(w)| / ||rfft(w)||_2 over k = 0..floor(L/2).
        In [1 / K^{r-1}, 1] with K = floor(L/2) + 1: 1 for a single frequency, 1/K^{r-1} for a
        flat spectrum. NaN for an all-zero row.

    Raises
    ------
    TypeError, ValueError
        Non-numeric or non-finite ``W``; ``r`` < 1.

    Notes
    -----
    Per block with rfft magnitudes, as in the Gromov group's code (docs/conventions.md, "IPR").
    Invariant under scaling a row and circularly shifting it (shifts only change phases).

    Examples
    --------
    >>> n = np.arange(11)
    >>> float(ipr(np.cos(2 * np.pi * 3 * n / 11 + 1.0)))
    1.0
    >>> round(float(ipr(np.eye(11)[0])), 4)  # a delta has a flat spectrum: 1/6
    0.1667
    """
    W = as_real_array("W", W)
    if W.ndim == 0 or W.shape[-1] < 1:
        raise ValueError(f"`W` must have at least one entry per row; got shape {W.shape}")
    r = check_number("r", r, 1.0)
    a = np.abs(np.fft.rfft(W, axis=-1))
    norm = np.sqrt((a**2).sum(axis=-1, keepdims=True))
    with np.errstate(invalid="ignore", divide="ignore"):
        a_hat = a / norm
    out = (a_hat ** (2 * r)).sum(axis=-1)
    return np.where(norm[..., 0] > 0, out, np.nan)


def _blocks(W1, W2, task):
    """The three per-neuron blocks (N, L), reindexed to the inner variable when bijective."""
    p = W1.shape[1] // 2
    blocks = {"n": W1[:, :p], "m": W1[:, p:], "out": W2.T}
    if task is not None:
        for name, w in blocks.items():
            index = inner_index(task, name)
            if index is not None:
                blocks[name] = w[:, index]
    return blocks


def mlp_ipr(W1, W2, task=None, r: float = 2) -> dict:
    """Per-neuron IPR of each block of a two-layer MLP and the layer means (Gromov eq. 28-29).

    Parameters
    ----------
    W1 : array_like, shape (N, 2p)
        First layer; columns 0..p-1 read n, p..2p-1 read m.
    W2 : array_like, shape (p, N)
        Readout.
    task : closedform.Task, optional
        When given, each block is first reindexed to the task's inner variable where the map is
        a bijection (mul/div: discrete log; docs/conventions.md). For add it changes nothing.
    r : float >= 1

    Returns
    -------
    dict
        ``"n"``, ``"m"``, ``"out"``: ndarray (N,) per neuron (NaN for an all-zero block);
        ``"mean"``: dict of the layer means over neurons (eq. 29) per block and ``"all"``
        (mean of the three block means).

    Examples
    --------
    >>> import closedform
    >>> from compare._network import analytic_mlp
    >>> net = analytic_mlp(closedform.get_task("add", 7), frequencies=[2])
    >>> mlp_ipr(net.W1, net.W2)["mean"]["all"]
    1.0
    """
    W1, W2 = check_mlp(W1, W2)
    if task is not None:
        check_task(task)
        if W2.shape[0] != task.p:
            raise ValueError(f"`W2` must have p = {task.p} rows for task {task!r}; got {W2.shape}")
    out = {name: ipr(w, r) for name, w in _blocks(W1, W2, task).items()}
    means = {}
    for name in ("n", "m", "out"):
        v = out[name]
        means[name] = float(np.mean(v[np.isfinite(v)])) if np.isfinite(v).any() else float("nan")
    means["all"] = float(np.mean([means["n"], means["m"], means["out"]]))
    out["mean"] = means
    return out


def ipr_reference(task, r: float = 2, frequencies=None) -> dict:
    """Layer-mean IPR of the exact analytic network: the dashed line of Gromov Fig. 6.

    Parameters
    ----------
    task : closedform.Task
    r : float >= 1
    frequencies : sequence of int, optional
        Frequencies of the analytic network (default all of 1..floor(M/2)).

    Returns
    -------
    dict
        The ``"mean"`` dict of :func:`mlp_ipr` on ``analytic_mlp(task, phases="exact")``.
        For an invertible F every block is one wave, so every value is 1; for
        square_of_sum the readout sums two branches and its IPR is lower.

    Examples
    --------
    >>> import closedform
    >>> ipr_reference(closedform.get_task("add", 11))["all"]
    1.0
    """
    check_task(task)
    net = analytic_mlp(task, frequencies=frequencies, phases="exact")
    return mlp_ipr(net.W1, net.W2, task, r)["mean"]
