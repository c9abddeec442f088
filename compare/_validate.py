"""Input validation shared by compare's public functions (messages name the argument)."""

from __future__ import annotations

import numbers

import numpy as np


def as_real_array(name: str, value, ndim: tuple[int, ...] | None = None) -> np.ndarray:
    """``value`` as a finite float64 array with one of the allowed ``ndim``."""
    if isinstance(value, (str, bytes, dict)) or value is None:
        raise TypeError(f"`{name}` must be a real array; got {type(value).__name__}")
    try:
        arr = np.asarray(value)
    except Exception as exc:  # ragged lists and the like
        raise TypeError(f"`{name}` must be a real array; got {type(value).__name__}") from exc
    if arr.dtype == object or not (
        np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.bool_)
    ):
        raise TypeError(f"`{name}` must be a real numeric array; got dtype {arr.dtype}")
    if np.iscomplexobj(arr):
        raise TypeError(f"`{name}` must be real; got complex dtype {arr.dtype}")
    if ndim is not None and arr.ndim not in ndim:
        raise ValueError(f"`{name}` must have ndim in {ndim}; got shape {arr.shape}")
    arr = arr.astype(np.float64)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"`{name}` must be finite; it holds NaN or inf")
    return arr


def check_number(name: str, value, low=None, high=None, integer=False) -> float:
    kind = numbers.Integral if integer else numbers.Real
    if isinstance(value, bool) or not isinstance(value, kind):
        what = "an integer" if integer else "a real number"
        raise TypeError(f"`{name}` must be {what}; got {type(value).__name__} {value!r}")
    if not np.isfinite(value):
        raise ValueError(f"`{name}` must be finite; got {value}")
    if (low is not None and value < low) or (high is not None and value > high):
        raise ValueError(f"`{name}` must be in [{low}, {high}]; got {value}")
    return int(value) if integer else float(value)


def check_mlp(W1, W2, p: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """W1 (N, 2p), W2 (p, N) as float64, shapes consistent with each other and with p."""
    W1 = as_real_array("W1", W1, (2,))
    W2 = as_real_array("W2", W2, (2,))
    N, two_p = W1.shape
    if two_p % 2 or two_p == 0:
        raise ValueError(f"`W1` must have shape (N, 2p); got {W1.shape}")
    if W2.shape != (two_p // 2, N):
        raise ValueError(f"`W2` must have shape (p, N) = {(two_p // 2, N)}; got {W2.shape}")
    if p is not None and two_p != 2 * p:
        raise ValueError(f"`W1` must have shape (N, 2p) with p = {p}; got {W1.shape}")
    return W1, W2
