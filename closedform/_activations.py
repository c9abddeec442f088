"""Activation functions phi of the two-layer network (Gromov eq. 1, App. B), in numpy."""

from __future__ import annotations

import re

import numpy as np
from scipy.special import erf

__all__ = ["activation_fn", "ACTIVATIONS"]

ACTIVATIONS = ("quadratic", "relu", "gelu", "tanh", "x^k")
_POWER = re.compile(r"^x\^([1-9][0-9]*)$")
#: Largest power k of 'x^k': beyond it x^k of the construction's pre-activations (|h| <= 2)
#: leaves float64's range or drowns every wave but the largest in rounding.
MAX_POWER = 32


def _gelu(x):
    # exact GELU, x * Phi(x), as torch.nn.functional.gelu (approximate='none')
    return 0.5 * x * (1.0 + erf(x / np.sqrt(2.0)).astype(x.dtype, copy=False))


def activation_fn(name: str):
    """The numpy function phi named ``name``.

    Parameters
    ----------
    name : str
        ``'quadratic'`` (x^2, Gromov eq. 4, the default), ``'relu'``, ``'gelu'`` (exact, erf),
        ``'tanh'``, or ``'x^k'`` for an integer power 1 <= k <= 32 (e.g. ``'x^3'``; App. B).

    Returns
    -------
    callable ndarray -> ndarray (elementwise; works on complex input for powers).

    Raises
    ------
    ValueError
        If ``name`` is not one of these.

    Examples
    --------
    >>> activation_fn("x^3")(np.array([2.0])).tolist()
    [8.0]
    >>> activation_fn("relu")(np.array([-1.0, 2.0])).tolist()
    [0.0, 2.0]
    """
    if not isinstance(name, str):
        raise TypeError(f"`activation` must be a string; got {type(name).__name__}")
    if name in ("quadratic", "x^2"):
        return np.square
    match = _POWER.match(name)
    if match:
        k = int(match.group(1))
        if k > MAX_POWER:
            raise ValueError(
                f"`activation` 'x^k' takes 1 <= k <= {MAX_POWER} (larger powers overflow float64 "
                f"on the construction's pre-activations); got {name!r}"
            )
        return lambda x: x**k
    if name == "relu":
        return lambda x: np.maximum(x, 0)
    if name == "gelu":
        return _gelu
    if name == "tanh":
        return np.tanh
    raise ValueError(
        f"`activation` must be 'quadratic', 'relu', 'gelu', 'tanh' or 'x^k' (1 <= k <= "
        f"{MAX_POWER}); got {name!r}"
    )


def check_activation(name: str) -> str:
    """Validate ``name`` and return its canonical spelling ('x^2' -> 'quadratic')."""
    activation_fn(name)
    return "quadratic" if name == "x^2" else name
