"""Fourier conventions of the project (docs/conventions.md, "Fourier"), in one place.

For a vector w over Z_M, c_k = sum_n w_n e^{-2 pi i k n / M} (numpy.fft). A pure wave
A cos(2 pi k n / M + phi) has c_k = (M A / 2) e^{i phi} for 0 < k < M/2, so phi = arg c_k and
A = 2 |c_k| / M. Frequencies k and M - k are the same wave; we report k in 1..floor(M/2).
The real orthonormal basis of Nanda et al. and Rangamani et al. is offered too.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "dft",
    "fold_frequency",
    "wave_amplitude_phase",
    "dominant_frequency",
    "spectrum_1d",
    "spectrum_2d",
    "real_fourier_basis",
    "real_fourier_labels",
    "to_inner_domain",
]


def _as_float_array(w, name: str = "w") -> np.ndarray:
    arr = np.asarray(w)
    if arr.dtype == object or not np.issubdtype(arr.dtype, np.number):
        raise TypeError(f"`{name}` must be a numeric array; got dtype {arr.dtype}")
    if arr.ndim == 0:
        raise ValueError(f"`{name}` must have at least one axis; got a scalar")
    return arr


def dft(w, axis: int = -1) -> np.ndarray:
    """c_k = sum_n w_n e^{-2 pi i k n / M} along ``axis`` (numpy.fft.fft; no normalization).

    Examples
    --------
    >>> np.round(dft([1.0, 0.0, 0.0, 0.0]).real, 6).tolist()
    [1.0, 1.0, 1.0, 1.0]
    """
    return np.fft.fft(_as_float_array(w), axis=axis)


def fold_frequency(k, M: int):
    """Map a frequency k to its representative in 0..floor(M/2) (k and M - k are one wave).

    Examples
    --------
    >>> fold_frequency(95, 97), fold_frequency(-3, 97), fold_frequency(97, 97)
    (2, 3, 0)
    """
    if isinstance(M, bool) or not isinstance(M, (int, np.integer)) or M < 1:
        raise ValueError(f"`M` must be a positive integer; got {M!r}")
    k = np.mod(k, M)
    folded = np.minimum(k, M - k)
    return int(folded) if np.ndim(folded) == 0 else folded


def wave_amplitude_phase(w, k: int, axis: int = -1):
    """Amplitude and phase of frequency ``k`` in ``w``: the best A cos(2 pi k n / M + phi).

    Parameters
    ----------
    w : array_like, shape (..., M, ...)
        Real samples over Z_M along ``axis``.
    k : int
        Frequency; taken mod M. For 0 < k < M/2: A = 2 |c_k| / M, phi = arg c_k.
        For k = 0 or k = M/2 (a real wave): A = |c_k| / M and phi in {0, pi}.

    Returns
    -------
    A, phi : ndarrays (``axis`` removed); phi in (-pi, pi].

    Examples
    --------
    >>> n = np.arange(7)
    >>> A, phi = wave_amplitude_phase(3 * np.cos(2 * np.pi * 2 * n / 7 + 1.0), 2)
    >>> round(float(A), 6), round(float(phi), 6)
    (3.0, 1.0)
    >>> A, phi = wave_amplitude_phase(3 * np.cos(2 * np.pi * 5 * n / 7 + 1.0), 2)  # alias of 5
    >>> round(float(A), 6), round(float(phi), 6)
    (3.0, -1.0)
    """
    w = _as_float_array(w)
    M = w.shape[axis]
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise TypeError(f"`k` must be an integer; got {k!r}")
    k = int(k) % M
    c = np.take(np.fft.fft(w, axis=axis), k, axis=axis)
    real_wave = k == 0 or 2 * k == M
    A = np.abs(c) / M if real_wave else 2 * np.abs(c) / M
    phi = np.angle(c)
    phi = np.where(phi <= -np.pi, np.pi, phi)
    return A, phi


def spectrum_1d(w, axis: int = -1) -> np.ndarray:
    """|c_k| for k = 0..floor(M/2) along ``axis`` (numpy.fft.rfft magnitudes).

    Examples
    --------
    >>> np.round(spectrum_1d(np.cos(2 * np.pi * np.arange(8) / 8)), 6).tolist()
    [0.0, 4.0, 0.0, 0.0, 0.0]
    """
    w = _as_float_array(w)
    if np.iscomplexobj(w):
        raise TypeError("`w` must be real for spectrum_1d; use dft for complex input")
    return np.abs(np.fft.rfft(w, axis=axis))


def dominant_frequency(w, axis: int = -1) -> np.ndarray:
    """The frequency k in 1..floor(M/2) with the largest |c_k| (the constant k = 0 is excluded).

    Ties go to the smallest k.

    Examples
    --------
    >>> n = np.arange(11)
    >>> int(dominant_frequency(5 + np.cos(2 * np.pi * 8 * n / 11)))   # 8 aliases to 3
    3
    """
    w = _as_float_array(w)
    if w.shape[axis] < 2:
        raise ValueError(f"`w` needs at least 2 samples along axis {axis}; got {w.shape[axis]}")
    spec = spectrum_1d(w, axis=axis)
    return np.argmax(np.delete(spec, 0, axis=axis), axis=axis) + 1


def spectrum_2d(a) -> np.ndarray:
    """|2-D DFT| of an activation laid out over (n, m): shape (p, p) -> (p, p).

    Entry [k1, k2] is the magnitude of the wave e^{2 pi i (k1 n + k2 m) / p}; a function of
    n + m only lives on the diagonal k1 = k2 (Rangamani Fig. 2, Syrkis Fig. 4).

    Examples
    --------
    >>> n = np.arange(5)
    >>> S = spectrum_2d(np.cos(2 * np.pi * 2 * (n[:, None] + n[None, :]) / 5))
    >>> [tuple(int(i) for i in ij) for ij in np.argwhere(S > 1e-9)]
    [(2, 2), (3, 3)]
    """
    a = _as_float_array(a, "a")
    if a.ndim != 2:
        raise ValueError(f"`a` must be 2-D (n, m); got shape {a.shape}")
    return np.abs(np.fft.fft2(a))


def real_fourier_labels(M: int) -> list[str]:
    """Row labels of :func:`real_fourier_basis`: ``'const'``, ``'cos 1'``, ``'sin 1'``, ...

    Examples
    --------
    >>> real_fourier_labels(4)
    ['const', 'cos 1', 'sin 1', 'cos 2']
    """
    if isinstance(M, bool) or not isinstance(M, (int, np.integer)) or M < 1:
        raise ValueError(f"`M` must be a positive integer; got {M!r}")
    labels = ["const"]
    for k in range(1, (M - 1) // 2 + 1):
        labels += [f"cos {k}", f"sin {k}"]
    if M % 2 == 0:
        labels.append(f"cos {M // 2}")
    return labels


def real_fourier_basis(M: int) -> np.ndarray:
    """The real orthonormal Fourier basis of Nanda et al. and Rangamani et al.

    Rows: 1/sqrt(M); then sqrt(2/M) cos(2 pi k n / M), sqrt(2/M) sin(2 pi k n / M) for
    k = 1..(M-1)//2; and, for even M, the Nyquist row cos(pi n)/sqrt(M).

    Returns
    -------
    B : ndarray, shape (M, M), with B @ B.T = I. Coefficients of w are B @ w.

    Examples
    --------
    >>> B = real_fourier_basis(6)
    >>> bool(np.allclose(B @ B.T, np.eye(6)))
    True
    """
    labels = real_fourier_labels(M)
    n = np.arange(M)
    rows = [np.full(M, 1 / np.sqrt(M))]
    for k in range(1, (M - 1) // 2 + 1):
        rows.append(np.sqrt(2 / M) * np.cos(2 * np.pi * k * n / M))
        rows.append(np.sqrt(2 / M) * np.sin(2 * np.pi * k * n / M))
    if M % 2 == 0:
        rows.append(np.cos(np.pi * n) / np.sqrt(M))
    B = np.stack(rows)
    assert B.shape == (len(labels), M)  # internal invariant, not user input
    return B


def to_inner_domain(w, task, block: str) -> np.ndarray:
    """Reindex the last axis of ``w`` (length p) to the task's inner variable in Z_M.

    The closed-form weights are pure waves in f1(n), f2(m) and r = F^{-1}(q), not in n, m, q
    (docs/conventions.md: "weights of log-domain tasks are reindexed to the task's domain before
    any transform"). Reindexing makes their phases those of Gromov eq. 6-7 / Claim II.

    Parameters
    ----------
    w : array_like, shape (..., p)
    task : closedform.Task
    block : {'n', 'm', 'out'}
        ``'n'``: out[..., f1(x)] = w[..., x]; ``'m'``: with f2; ``'out'`` (a readout column
        over q): out[..., r] = w[..., F(r)].

    Returns
    -------
    ndarray, shape (..., M)

    Raises
    ------
    ValueError
        If the map is not a bijection from its defined inputs onto Z_M (e.g. n^2 for
        square_sum), so no reindexing exists; or ``block`` is unknown.

    Examples
    --------
    >>> from closedform import get_task
    >>> t = get_task("mul", 5)            # g = 2: log 1, 2, 3, 4 = 0, 1, 3, 2
    >>> to_inner_domain(np.array([9.0, 10, 20, 30, 40]), t, "n").tolist()
    [10.0, 20.0, 40.0, 30.0]
    """
    w = _as_float_array(w)
    p, M = task.p, task.M
    if w.shape[-1] != p:
        raise ValueError(f"`w` must have last axis of length p = {p}; got shape {w.shape}")
    if block == "out":
        return w[..., task.F]
    if block not in ("n", "m"):
        raise ValueError(f"`block` must be 'n', 'm' or 'out'; got {block!r}")
    f = task.f1 if block == "n" else task.f2
    defined = np.flatnonzero(f >= 0)
    image = f[defined]
    if len(image) != M or len(np.unique(image)) != M:
        raise ValueError(
            f"f{1 if block == 'n' else 2} of task {task.name!r} is not a bijection onto Z_{M}; "
            "its block cannot be reindexed to the inner domain"
        )
    out = np.empty(w.shape[:-1] + (M,), dtype=w.dtype)
    out[..., image] = w[..., defined]
    return out
