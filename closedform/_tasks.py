"""Modular-arithmetic tasks and their decomposition f(n, m) = F(f1(n) + f2(m) mod M).

Every task carries two independent descriptions: ``table`` computed directly from its
definition (n + m, n * m, ...), and the decomposition (f1, f2, F, M) that the closed-form
networks are built from (docs/conventions.md, "Tasks"; Gromov Claim II and Corollary).
Tests check that the two agree.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ._numtheory import _check_int, discrete_log_table, is_prime, preimages, primitive_root

__all__ = ["Task", "get_task", "custom_task", "TASK_NAMES"]

TASK_NAMES = ("add", "sub", "affine", "square_sum", "square_of_sum", "mul", "div")
_LOG_TASKS = ("mul", "div")


def _readonly(a: np.ndarray) -> np.ndarray:
    a = np.ascontiguousarray(a)
    a.setflags(write=False)
    return a


@dataclass(frozen=True, eq=False)
class Task:
    """A bivariate function over Z_p with its Fourier decomposition.

    Attributes
    ----------
    name : str
        ``'add'``, ``'sub'``, ``'affine'``, ``'square_sum'``, ``'square_of_sum'``, ``'mul'``,
        ``'div'`` or a user's name for a custom task.
    p : int
        Inputs n, m and outputs lie in Z_p.
    M : int
        Modulus of the inner sum s = f1(n) + f2(m) mod M (p, or p - 1 for mul/div).
    f1, f2 : ndarray of int64, shape (p,)
        Inner maps Z_p -> Z_M; -1 where undefined (n = 0 for mul/div).
    F : ndarray of int64, shape (M,)
        Outer map Z_M -> Z_p.
    table : ndarray of int64, shape (p, p)
        ``table[n, m] = f(n, m)`` from the task's own definition, -1 where undefined.
    params : dict
        Parameters of the task (A, B, C for affine; g for mul/div).
    log_base : int or None
        The primitive root g whose discrete log reindexes mul/div; None otherwise.
    """

    name: str
    p: int
    M: int
    f1: np.ndarray
    f2: np.ndarray
    F: np.ndarray
    table: np.ndarray
    params: dict = field(default_factory=dict)
    log_base: int | None = None

    def __post_init__(self):
        # frozen freezes the attributes, not the buffers: store read-only int64 copies
        for attr in ("f1", "f2", "F", "table"):
            arr = np.array(getattr(self, attr), dtype=np.int64)
            object.__setattr__(self, attr, _readonly(arr))
        object.__setattr__(self, "params", dict(self.params))
        p, M = self.p, self.M
        for nm, arr, length in (("f1", self.f1, p), ("f2", self.f2, p), ("F", self.F, M)):
            if arr.shape != (length,):
                raise ValueError(f"`{nm}` must have shape ({length},); got {arr.shape}")
        if self.table.shape != (p, p):
            raise ValueError(f"`table` must have shape ({p}, {p}); got {self.table.shape}")

    # -- derived views -------------------------------------------------------------------
    @property
    def defined(self) -> np.ndarray:
        """Boolean (p, p): pairs where f(n, m) is defined (``table >= 0``)."""
        return self.table >= 0

    @property
    def decomposed(self) -> np.ndarray:
        """Boolean (p, p): pairs where f1(n) and f2(m) are both defined."""
        return (self.f1 >= 0)[:, None] & (self.f2 >= 0)[None, :]

    @property
    def inner_sum(self) -> np.ndarray:
        """int64 (p, p): s = f1(n) + f2(m) mod M, -1 where not decomposed."""
        s = (self.f1[:, None] + self.f2[None, :]) % self.M
        return np.where(self.decomposed, s, -1)

    @property
    def branches(self) -> list[np.ndarray]:
        """``branches[q]``: every r in Z_M with F(r) = q (all branches of F^{-1})."""
        return preimages(self.F, self.p)

    @property
    def invertible(self) -> bool:
        """Whether F is injective (one branch at most for every q)."""
        return len(np.unique(self.F)) == self.M

    @property
    def in_log_domain(self) -> bool:
        """Whether the inner variables are discrete logs (mul, div)."""
        return self.log_base is not None

    def __repr__(self) -> str:
        extra = "".join(f", {k}={v}" for k, v in self.params.items())
        return f"Task({self.name!r}, p={self.p}, M={self.M}{extra})"


#: Bytes the (p, p) tables of a task may take; beyond, ``get_task`` refuses up front.
MAX_TABLE_BYTES = 4 * 2**30


def _check_p(p, name: str) -> int:
    p = _check_int("p", p, 2)
    need = 2 * 8 * p * p  # the int64 table and the boolean/int work arrays built beside it
    if need > MAX_TABLE_BYTES:
        largest = int((MAX_TABLE_BYTES / 16) ** 0.5)
        raise ValueError(
            f"`p` = {p} needs {need / 2**30:.1f} GiB for the task's p x p tables (the limit is "
            f"{MAX_TABLE_BYTES / 2**30:.0f} GiB, p <= {largest}); every network here is "
            "evaluated on all p^2 pairs"
        )
    if name in _LOG_TASKS and not is_prime(p):
        raise ValueError(f"`p` must be a prime >= 2 for task {name!r}; got {p}")
    return p


def get_task(name: str, p: int, **params) -> Task:
    """Build one of the named tasks over Z_p.

    Parameters
    ----------
    name : str
        One of ``'add'`` (n + m), ``'sub'`` (n - m), ``'affine'`` (A n + B m + C),
        ``'square_sum'`` (n^2 + m^2), ``'square_of_sum'`` ((n + m)^2), ``'mul'`` (n m) and
        ``'div'`` (n m^{-1}); all mod p.
    p : int
        Modulus, >= 2; a prime for ``'mul'`` and ``'div'``.
    **params
        ``affine``: integers ``A``, ``B`` (default 1) and ``C`` (default 0).
        ``mul``/``div``: ``g``, a primitive root (default the smallest).

    Returns
    -------
    Task

    Raises
    ------
    ValueError
        Unknown ``name``, ``p`` < 2, ``p`` not prime for mul/div, unknown or invalid params.

    Notes
    -----
    Decompositions (docs/conventions.md; Gromov Claim II, Corollary and App. D):

    ============= ===== ========= ========== ============
    task          M     f1(n)     f2(m)      F(s)
    ============= ===== ========= ========== ============
    add           p     n         m          s
    sub           p     n         -m         s
    affine        p     A n       B m        s + C
    square_sum    p     n^2       m^2        s
    square_of_sum p     n         m          s^2
    mul           p-1   log_g n   log_g m    g^s
    div           p-1   log_g n   -log_g m   g^s
    ============= ===== ========= ========== ============

    For mul, pairs with a zero factor are defined (the product is 0) but not decomposed;
    for div, m = 0 is undefined (``table`` holds -1).

    Examples
    --------
    >>> t = get_task("mul", 7)
    >>> t.M, t.log_base, int(t.table[3, 5])
    (6, 3, 1)
    >>> get_task("affine", 5, A=2, B=3, C=1).table[1, 1]
    np.int64(1)
    """
    if not isinstance(name, str) or name not in TASK_NAMES:
        raise ValueError(f"`name` must be one of {TASK_NAMES}; got {name!r}")
    p = _check_p(p, name)
    allowed = {"affine": ("A", "B", "C"), "mul": ("g",), "div": ("g",)}.get(name, ())
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        raise ValueError(
            f"task {name!r} takes parameters {list(allowed) or 'none'}; got unknown {unknown}"
        )
    n = np.arange(p, dtype=np.int64)
    N, Mm = np.meshgrid(n, n, indexing="ij")
    ident = np.arange(p, dtype=np.int64)
    if name == "add":
        return Task(name, p, p, ident, ident, ident, (N + Mm) % p)
    if name == "sub":
        return Task(name, p, p, ident, (-n) % p, ident, (N - Mm) % p)
    if name == "affine":
        A, B, C = (params.get("A", 1), params.get("B", 1), params.get("C", 0))
        for nm, v in (("A", A), ("B", B), ("C", C)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
                raise TypeError(f"`{nm}` must be an integer; got {v!r}")
        A, B, C = int(A), int(B), int(C)
        return Task(
            name,
            p,
            p,
            (A * n) % p,
            (B * n) % p,
            (ident + C) % p,
            (A * N + B * Mm + C) % p,
            params={"A": A, "B": B, "C": C},
        )
    if name == "square_sum":
        return Task(name, p, p, n * n % p, n * n % p, ident, (N * N + Mm * Mm) % p)
    if name == "square_of_sum":
        return Task(name, p, p, ident, ident, n * n % p, (N + Mm) ** 2 % p)
    # mul / div: reindex by the discrete log
    g = params.get("g", None)
    if g is None:
        g = primitive_root(p)
    g = _check_int("g", g, 1)
    log = discrete_log_table(p, g)  # validates g
    M = p - 1
    powers = np.array([pow(g, int(s), p) for s in range(M)], dtype=np.int64)
    if name == "mul":
        table = N * Mm % p
        f2 = log
    else:
        inverse = np.array([pow(int(m), -1, p) if m else 0 for m in n], dtype=np.int64)
        table = np.where(Mm == 0, -1, N * inverse[Mm] % p)
        f2 = np.where(log >= 0, (-log) % M, -1)
    return Task(name, p, M, log, f2, powers, table, params={"g": g}, log_base=g)


def _as_map(fn, name: str, domain: int, codomain: int, allow_undefined: bool) -> np.ndarray:
    if callable(fn):
        values = []
        for x in range(domain):
            y = fn(x)
            values.append(-1 if y is None else y)
        arr = np.asarray(values)
    else:
        arr = np.asarray(fn)
    if arr.shape != (domain,) or not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(
            f"`{name}` must be a callable or an integer array of shape ({domain},); "
            f"got shape {arr.shape}, dtype {arr.dtype}"
        )
    arr = arr.astype(np.int64)
    undefined = arr == -1 if allow_undefined else np.zeros(domain, bool)
    bad = ~undefined & ((arr < 0) | (arr >= codomain))
    if bad.any():
        x = int(np.flatnonzero(bad)[0])
        allowed = f"0..{codomain - 1}" + (" or None/-1 (undefined)" if allow_undefined else "")
        raise ValueError(f"`{name}`({x}) must be in {allowed}; got {arr[x]}")
    return arr


def custom_task(
    f1: Callable[[int], int | None] | np.ndarray,
    f2: Callable[[int], int | None] | np.ndarray,
    F: Callable[[int], int] | np.ndarray,
    M: int,
    p: int,
    name: str = "custom",
) -> Task:
    """A task f(n, m) = F(f1(n) + f2(m) mod M) from the user's own maps.

    Parameters
    ----------
    f1, f2 : callable or int array of shape (p,)
        Maps Z_p -> Z_M; return None (or -1) where undefined.
    F : callable or int array of shape (M,)
        Map Z_M -> Z_p.
    M : int
        Modulus of the inner sum, >= 2.
    p : int
        Size of the input and output alphabet, >= 2.
    name : str
        A label for reports.

    Returns
    -------
    Task
        ``table`` is F(f1(n) + f2(m) mod M), -1 where f1 or f2 is undefined.

    Examples
    --------
    >>> t = custom_task(lambda n: 3 * n % 7, lambda m: m, lambda s: s, M=7, p=7)
    >>> int(t.table[2, 1])
    0
    """
    p = _check_int("p", p, 2)
    M = _check_int("M", M, 2)
    if not isinstance(name, str) or not name:
        raise ValueError(f"`name` must be a non-empty string; got {name!r}")
    f1a = _as_map(f1, "f1", p, M, allow_undefined=True)
    f2a = _as_map(f2, "f2", p, M, allow_undefined=True)
    Fa = _as_map(F, "F", M, p, allow_undefined=False)
    ok = (f1a >= 0)[:, None] & (f2a >= 0)[None, :]
    table = np.where(ok, Fa[(f1a[:, None] + f2a[None, :]) % M], -1)
    return Task(name, p, M, f1a, f2a, Fa, table)


def task_to_dict(task: Task) -> dict:
    """JSON form of a task: name and params, plus the maps for a custom task."""
    d = {"name": task.name, "params": dict(task.params)}
    if task.name not in TASK_NAMES:
        d.update(M=task.M, f1=task.f1.tolist(), f2=task.f2.tolist(), F=task.F.tolist())
    return d


def task_from_dict(d: dict, p: int) -> Task:
    """Rebuild a task from :func:`task_to_dict`'s output (as stored in config.json)."""
    if not isinstance(d, dict) or "name" not in d:
        raise ValueError(f"`task` must be a dict with a 'name'; got {d!r}")
    if d["name"] in TASK_NAMES:
        return get_task(d["name"], p, **d.get("params", {}))
    missing = [k for k in ("M", "f1", "f2", "F") if k not in d]
    if missing:
        raise ValueError(f"custom task {d['name']!r} needs {missing} in its config")
    return custom_task(
        np.asarray(d["f1"], dtype=np.int64),
        np.asarray(d["f2"], dtype=np.int64),
        np.asarray(d["F"], dtype=np.int64),
        M=d["M"],
        p=p,
        name=d["name"],
    )
