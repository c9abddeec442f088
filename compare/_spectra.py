"""Fourier spectra of weights and activations, single-frequency wave fits and key frequencies.

Conventions of docs/conventions.md ("Fourier"): c_k = sum_n w_n exp(-2 pi i k n / M) (numpy.fft),
a wave A cos(2 pi k n / M + phi) has c_k = (M A / 2) e^{i phi}; k and M - k are one wave and are
reported as k in 1..floor(M/2).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._network import check_task, inner_index
from ._validate import as_real_array, check_number

__all__ = ["frequency_norms", "key_frequencies", "activation_spectrum_2d", "wave_fit", "WaveFit"]


def _pair_energy(c: np.ndarray) -> np.ndarray:
    """Energy |c_k|^2 + |c_{M-k}|^2 per k = 0..floor(M/2) (once for k = 0 and k = M/2)."""
    M = c.shape[-1]
    power = np.abs(c) ** 2
    K = M // 2
    energy = power[..., : K + 1].copy()
    k = np.arange(1, K + 1)
    mirror = (M - k) % M
    distinct = mirror != k
    energy[..., 1:][..., distinct] += power[..., mirror[distinct]]
    return energy


def frequency_norms(W, axis: int = -1, task=None, block: str | None = None) -> np.ndarray:
    """Norm of the part of ``W`` at each frequency along one axis (Rangamani Fig. 2, Nanda).

    Parameters
    ----------
    W : array_like, shape (..., M, ...)
        Real weights or activations; ``axis`` runs over a token (or inner variable) in Z_M.
    axis : int
        The token axis.
    task : closedform.Task, optional
        With ``block`` ("n", "m" or "out"): the axis has length p and is first reindexed to the
        task's inner variable (discrete log for mul/div) when that map is a bijection.
    block : str, optional
        Which map reindexes the axis; required with ``task``.

    Returns
    -------
    ndarray, shape (floor(M/2) + 1,)
        ``norms[k]`` = sqrt(sum over the other axes of (|c_k|^2 + |c_{M-k}|^2) / M); ``norms[0]``
        is the constant part. Parseval: ``sum(norms**2) == sum(W**2)``. These are the norms of
        the coefficients in the real orthonormal Fourier basis (constant, cos k, sin k).

    Raises
    ------
    TypeError, ValueError
        Non-array or non-finite ``W``, bad ``axis``, ``task`` without ``block``.

    Examples
    --------
    >>> n = np.arange(12)
    >>> np.round(frequency_norms(np.cos(2 * np.pi * 5 * n / 12)), 3)
    array([0.   , 0.   , 0.   , 0.   , 0.   , 2.449, 0.   ])
    """
    W = as_real_array("W", W)
    if W.ndim == 0:
        raise ValueError("`W` must have at least one axis")
    axis = check_number("axis", axis, -W.ndim, W.ndim - 1, integer=True)
    W = np.moveaxis(W, axis, -1)
    W = _reindex(W, task, block)
    M = W.shape[-1]
    c = np.fft.fft(W, axis=-1).reshape(-1, M)
    return np.sqrt(_pair_energy(c).sum(axis=0) / M)


def _reindex(W: np.ndarray, task, block):
    if task is None:
        if block is not None:
            raise ValueError("`block` needs `task`")
        return W
    check_task(task)
    if block not in ("n", "m", "out"):
        raise ValueError(f"`block` must be 'n', 'm' or 'out' with a task; got {block!r}")
    if W.shape[-1] != task.p:
        raise ValueError(f"the token axis must have length p = {task.p}; got {W.shape[-1]}")
    index = inner_index(task, block)
    return W if index is None else W[..., index]


def key_frequencies(norms, threshold: float = 0.1) -> np.ndarray:
    """Key frequencies of a spectrum: k >= 1 whose energy is at least ``threshold`` x the largest.

    Parameters
    ----------
    norms : array_like, shape (floor(M/2) + 1,)
        Per-frequency norms, e.g. from :func:`frequency_norms` (index 0 = constant, ignored).
    threshold : float in (0, 1]
        Relative energy cut-off: k is key when norms[k]^2 >= threshold * max_{k'>=1} norms[k']^2.
        The default 0.1 keeps waves with amplitude above ~32 % of the strongest.

    Returns
    -------
    ndarray of int
        Key frequencies sorted by decreasing energy (empty for an all-zero spectrum).

    Notes
    -----
    The documented rule replaces reading spectra by eye (Nanda's "key frequencies",
    Rangamani Fig. 2: six frequencies for p = 113).

    Examples
    --------
    >>> key_frequencies([5.0, 3.0, 0.1, 2.0, 0.5])
    array([1, 3])
    """
    norms = as_real_array("norms", norms, (1,))
    if len(norms) < 2:
        raise ValueError(f"`norms` must have length >= 2; got {len(norms)}")
    threshold = check_number("threshold", threshold, 0.0, 1.0)
    if threshold == 0.0:
        raise ValueError("`threshold` must be > 0; got 0.0")
    energy = norms[1:] ** 2
    top = energy.max()
    if top <= 0:
        return np.zeros(0, dtype=np.int64)
    keep = np.flatnonzero(energy >= threshold * top)
    order = np.argsort(-energy[keep], kind="stable")
    return (keep[order] + 1).astype(np.int64)


def activation_spectrum_2d(a, p: int | None = None, task=None) -> np.ndarray:
    """2-D Fourier magnitudes of activations over the input pair (n, m) (Rangamani Fig. 2).

    For activations laid out by pair (the run-directory order), one channel or many, optionally
    reindexed to the task's inner variables; :func:`closedform.spectrum_2d` is the same
    transform of one (p, p) grid.

    Parameters
    ----------
    a : array_like, shape (p, p), (p*p,) or (p*p, d)
        Activations indexed by pair, row = n * p + m (the run-directory order).
    p : int, optional
        Needed only to check the flat layouts; inferred from the length otherwise.
    task : closedform.Task, optional
        Reindex n and m to the inner variables first (mul/div: discrete logs), when bijective.

    Returns
    -------
    ndarray, shape (p, p) or (d, p, p)
        ``|fft2|`` of each channel; entry [k1, k2] is the wave exp(2 pi i (k1 n + k2 m) / M).

    Examples
    --------
    >>> n = np.arange(5)
    >>> a = np.cos(2 * np.pi * 2 * (n[:, None] + n[None, :]) / 5)
    >>> s = activation_spectrum_2d(a)
    >>> [tuple(map(int, ix)) for ix in np.argwhere(s > 1)]
    [(2, 2), (3, 3)]
    """
    a = as_real_array("a", a, (1, 2))
    if a.ndim == 2 and a.shape[0] == a.shape[1] and (p is None or a.shape[0] == p):
        grid = a[None]
        single = True
    else:
        length = a.shape[0]
        side = int(round(np.sqrt(length)))
        if side * side != length or (p is not None and side != p):
            raise ValueError(f"`a` must have p*p rows (row = n*p + m); got shape {a.shape}")
        flat = a.reshape(length, -1)
        grid = flat.T.reshape(-1, side, side)
        single = a.ndim == 1
    if task is not None:
        check_task(task)
        if grid.shape[-1] != task.p:
            raise ValueError(f"`a` must be over p = {task.p} tokens; got {grid.shape[-1]}")
        i_n, i_m = inner_index(task, "n"), inner_index(task, "m")
        if i_n is not None:
            grid = grid[:, i_n, :]
        if i_m is not None:
            grid = grid[:, :, i_m]
    spec = np.abs(np.fft.fft2(grid, axes=(-2, -1)))
    return spec[0] if single else spec


@dataclass(frozen=True)
class WaveFit:
    """Best single-frequency cosine fit of each row: w ~ A cos(2 pi k n / M + phi).

    Attributes
    ----------
    frequency : ndarray of int, shape (R,)
        Dominant k in 1..floor(M/2); -1 for an all-zero row.
    amplitude, phase : ndarray, shape (R,)
        A = 2 |c_k| / M (|c_k| / M at k = M/2) and phi = arg c_k in (-pi, pi]; NaN phase for a
        zero row.
    energy_share : ndarray, shape (R,)
        Energy at the dominant frequency over the total energy of the row (NaN for a zero row).
    fit_error : ndarray, shape (R,)
        sqrt(1 - energy_share): the relative residual of the fit (0 for a pure wave, NaN for a
        zero row).
    fitted : ndarray, shape (R, M)
        The fits themselves (the projection of each row on its dominant frequency).
    """

    frequency: np.ndarray
    amplitude: np.ndarray
    phase: np.ndarray
    energy_share: np.ndarray
    fit_error: np.ndarray
    fitted: np.ndarray


def wave_fit(W) -> WaveFit:
    """Fit every row of ``W`` by its dominant Fourier wave (docs/conventions.md, "Fit error").

    Parameters
    ----------
    W : array_like, shape (R, M) or (M,)
        Rows over Z_M (already in the inner domain).

    Returns
    -------
    WaveFit

    Examples
    --------
    >>> n = np.arange(10)
    >>> f = wave_fit(3.0 * np.cos(2 * np.pi * 7 * n / 10 + 0.5))
    >>> int(f.frequency[0]), round(float(f.amplitude[0]), 6), round(float(f.phase[0]), 6)
    (3, 3.0, -0.5)
    """
    W = as_real_array("W", W, (1, 2))
    W = np.atleast_2d(W)
    R, M = W.shape
    if M < 3:
        raise ValueError(f"rows must have length M >= 3; got {M}")
    c = np.fft.fft(W, axis=-1)
    energy = _pair_energy(c)
    total = (np.abs(c) ** 2).sum(axis=-1)
    k = np.argmax(energy[:, 1:], axis=1) + 1
    rows = np.arange(R)
    ck = c[rows, k]
    half = 2 * k == M
    amplitude = np.where(half, np.abs(ck) / M, 2 * np.abs(ck) / M)
    phase = np.angle(ck)
    phase = np.where(phase <= -np.pi, phase + 2 * np.pi, phase)
    zero = total <= 1e-300
    share = np.where(zero, np.nan, energy[rows, k] / np.where(zero, 1.0, total))
    share = np.clip(share, 0.0, 1.0)
    keep = np.zeros_like(c)
    keep[rows, k] = ck
    keep[rows, (M - k) % M] = c[rows, (M - k) % M]
    fitted = np.fft.ifft(keep, axis=-1).real
    return WaveFit(
        frequency=np.where(zero, -1, k).astype(np.int64),
        amplitude=np.where(zero, 0.0, amplitude),
        phase=np.where(zero, np.nan, phase),
        energy_share=share,
        fit_error=np.sqrt(1.0 - share),
        fitted=fitted,
    )
