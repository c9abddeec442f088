"""Number theory over Z_p: primitive roots, discrete logarithms, preimages of F.

Multiplication and division become addition in the exponent (Gromov App. D): with a
primitive root g of a prime p, n = g^{log_g n} for n in 1..p-1, and n*m = g^{log n + log m}.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from sympy import isprime
from sympy.ntheory import primitive_root as _sympy_primitive_root

__all__ = ["is_prime", "primitive_root", "discrete_log_table", "preimages"]


def _check_int(name: str, value, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"`{name}` must be an integer; got {type(value).__name__} {value!r}")
    if value < minimum:
        raise ValueError(f"`{name}` must be an integer >= {minimum}; got {value}")
    return int(value)


def is_prime(p: int) -> bool:
    """Whether ``p`` is prime (sympy's deterministic test).

    Examples
    --------
    >>> is_prime(97), is_prime(91)
    (True, False)
    """
    p = _check_int("p", p, 0)
    return bool(isprime(p))


@lru_cache(maxsize=256)
def primitive_root(p: int) -> int:
    """The smallest primitive root g of the prime ``p``: g generates Z_p^* (order p - 1).

    Parameters
    ----------
    p : int
        A prime >= 2.

    Raises
    ------
    ValueError
        If ``p`` is not a prime.

    Examples
    --------
    >>> primitive_root(7), primitive_root(97)
    (3, 5)
    """
    p = _check_int("p", p, 2)
    if not isprime(p):
        raise ValueError(f"`p` must be a prime for a primitive root; got {p}")
    return int(_sympy_primitive_root(p))


def discrete_log_table(p: int, g: int | None = None) -> np.ndarray:
    """Discrete logarithms base ``g``: ``log[n]`` solves g^log[n] = n (mod p).

    Parameters
    ----------
    p : int
        A prime.
    g : int, optional
        A primitive root of ``p``; the smallest one by default.

    Returns
    -------
    log : ndarray of int64, shape (p,)
        ``log[n]`` in 0..p-2 for n = 1..p-1, and ``log[0] = -1`` (undefined).

    Raises
    ------
    ValueError
        If ``p`` is not prime or ``g`` is not a primitive root of ``p``.

    Examples
    --------
    >>> discrete_log_table(7).tolist()   # 3^0=1, 3^1=3, 3^2=2, 3^3=6, 3^4=4, 3^5=5
    [-1, 0, 2, 1, 4, 5, 3]
    """
    p = _check_int("p", p, 2)
    if not isprime(p):
        raise ValueError(f"`p` must be a prime for discrete logarithms; got {p}")
    if g is None:
        g = primitive_root(p)
    g = _check_int("g", g, 1)
    log = np.full(p, -1, dtype=np.int64)
    x = 1
    for e in range(p - 1):
        if log[x] != -1:
            raise ValueError(f"`g` = {g} is not a primitive root of {p} (order {e})")
        log[x] = e
        x = (x * g) % p
    return log


def preimages(F: np.ndarray, p: int) -> list[np.ndarray]:
    """All branches of F^{-1}: ``preimages(F, p)[q]`` lists every r in Z_M with F(r) = q.

    Parameters
    ----------
    F : ndarray of int, shape (M,)
        The outer map F: Z_M -> Z_p of a task f(n, m) = F(f1(n) + f2(m) mod M).
    p : int
        Size of the output alphabet.

    Returns
    -------
    list of p int64 arrays (sorted); an empty array where q has no preimage.

    Examples
    --------
    >>> [r.tolist() for r in preimages(np.arange(5) ** 2 % 5, 5)]
    [[0], [1, 4], [], [], [2, 3]]
    """
    F = np.asarray(F)
    if F.ndim != 1 or not np.issubdtype(F.dtype, np.integer):
        raise ValueError(f"`F` must be a 1-D integer array; got shape {F.shape}, dtype {F.dtype}")
    if F.size and (F.min() < 0 or F.max() >= p):
        raise ValueError(f"`F` values must lie in 0..{p - 1}; got range {F.min()}..{F.max()}")
    order = np.argsort(F, kind="stable")
    bounds = np.searchsorted(F[order], np.arange(p + 1))
    return [order[bounds[q] : bounds[q + 1]].astype(np.int64) for q in range(p)]
