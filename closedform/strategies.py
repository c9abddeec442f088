"""Hypothesis strategies for property-based tests of modular-arithmetic networks.

Use them in your own tests::

    from hypothesis import given
    from closedform import strategies as mst

    @given(mst.analytic_networks(phases="exact", max_p=31))
    def test_exact_networks_are_exact(net):
        assert net.accuracy() == 1.0
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from ._analytic import EXACT_PHASES, analytic_mlp
from ._numtheory import is_prime
from ._tasks import TASK_NAMES, get_task

__all__ = ["primes", "moduli", "tasks", "frequencies", "phase_sets", "analytic_networks"]


def _check_bounds(min_p: int, max_p: int) -> None:
    if not (isinstance(min_p, int) and isinstance(max_p, int)) or not 2 <= min_p <= max_p:
        raise ValueError(f"need integers 2 <= `min_p` <= `max_p`; got {min_p}, {max_p}")


def primes(min_p: int = 3, max_p: int = 200) -> st.SearchStrategy[int]:
    """Primes in [min_p, max_p].

    Examples
    --------
    >>> from hypothesis import given
    >>> @given(primes(max_p=50))
    ... def check(p):
    ...     assert is_prime(p) and p <= 50
    >>> check()
    """
    _check_bounds(min_p, max_p)
    values = [p for p in range(min_p, max_p + 1) if is_prime(p)]
    if not values:
        raise ValueError(f"no prime in [{min_p}, {max_p}]")
    return st.sampled_from(values)


def moduli(min_p: int = 2, max_p: int = 200) -> st.SearchStrategy[int]:
    """Any modulus p in [min_p, max_p], composite ones included (for add, sub, ...)."""
    _check_bounds(min_p, max_p)
    return st.integers(min_p, max_p)


@st.composite
def tasks(draw, names=TASK_NAMES, min_p: int = 3, max_p: int = 200, composite: bool = False):
    """Tasks of the analytic class: a name from ``names`` and a p (prime unless ``composite``,
    which allows composite p for the tasks that accept it); affine draws A, B, C."""
    _check_bounds(min_p, max_p)
    unknown = set(names) - set(TASK_NAMES)
    if unknown or not names:
        raise ValueError(f"`names` must be a non-empty subset of {TASK_NAMES}; got {names!r}")
    name = draw(st.sampled_from(list(names)))
    if composite and name not in ("mul", "div"):
        p = draw(moduli(min_p, max_p))
    else:
        p = draw(primes(min_p, max_p))
    params = {}
    if name == "affine":
        # A, B invertible mod p keep f1, f2 bijective (phases measurable in the inner domain)
        units = [a for a in range(1, p) if np.gcd(a, p) == 1]
        params = {
            "A": draw(st.sampled_from(units)),
            "B": draw(st.sampled_from(units)),
            "C": draw(st.integers(0, p - 1)),
        }
    return get_task(name, p, **params)


def frequencies(M: int, coprime: bool = False, max_size: int = 4) -> st.SearchStrategy:
    """Non-empty lists of frequencies k in 1..floor(M/2) (``coprime``: one with gcd(k, M) = 1
    is always included, which makes the exact scheme exact for an invertible F)."""
    if M < 2:
        raise ValueError(f"`M` must be >= 2; got {M}")
    ks = list(range(1, M // 2 + 1))
    units = [k for k in ks if np.gcd(k, M) == 1]
    base = st.lists(st.sampled_from(ks), min_size=1, max_size=max_size, unique=True)
    if not coprime:
        return base
    return st.tuples(st.sampled_from(units), base).map(
        lambda t: [t[0]] + [k for k in t[1] if k != t[0]]
    )


def phase_sets(size: int | None = None, exact: bool | None = None) -> st.SearchStrategy:
    """(N, 2) arrays of (phi1, phi2): uniform random phases, or the exact scheme's six pairs
    rotated by a random (theta, -theta) (which leaves phi1 + phi2 and exactness unchanged)."""

    def rotated(theta: float) -> np.ndarray:
        return EXACT_PHASES + np.array([theta, -theta])

    exact_sets = st.floats(0, 2 * np.pi, allow_nan=False).map(rotated)
    n = st.integers(1, 64) if size is None else st.just(size)
    random_sets = n.flatmap(
        lambda k: st.lists(
            st.tuples(st.floats(0, 2 * np.pi), st.floats(0, 2 * np.pi)), min_size=k, max_size=k
        ).map(lambda rows: np.array(rows, dtype=float).reshape(-1, 2))
    )
    if exact is True:
        return exact_sets
    if exact is False:
        return random_sets
    return st.one_of(exact_sets, random_sets)


@st.composite
def analytic_networks(
    draw,
    phases: str = "exact",
    names=TASK_NAMES,
    min_p: int = 3,
    max_p: int = 60,
    single_frequency: bool = False,
):
    """Closed-form networks on random tasks. ``single_frequency``: one frequency k coprime
    with M (exact for invertible F); otherwise the default frequency set."""
    if phases not in ("exact", "random"):
        raise ValueError(f"`phases` must be 'exact' or 'random'; got {phases!r}")
    task = draw(tasks(names=names, min_p=min_p, max_p=max_p))
    kw = {}
    if single_frequency:
        kw["frequencies"] = [draw(frequencies(task.M, coprime=True, max_size=1))[0]]
    if phases == "random":
        kw["seed"] = draw(st.integers(0, 2**31 - 1))
        kw["width"] = draw(st.integers(1, 8 * task.p))
    return analytic_mlp(task, phases=phases, **kw)
