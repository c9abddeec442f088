"""Tasks and number theory against brute force over small p."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from closedform import (
    TASK_NAMES,
    custom_task,
    discrete_log_table,
    get_task,
    is_prime,
    preimages,
    primitive_root,
    task_from_dict,
    task_to_dict,
)
from closedform import strategies as mst

BRUTE = {
    "add": lambda n, m, p: (n + m) % p,
    "sub": lambda n, m, p: (n - m) % p,
    "square_sum": lambda n, m, p: (n * n + m * m) % p,
    "square_of_sum": lambda n, m, p: (n + m) ** 2 % p,
    "mul": lambda n, m, p: n * m % p,
    "div": lambda n, m, p: n * pow(m, -1, p) % p if m else -1,
}


@pytest.mark.parametrize("name", sorted(BRUTE))
@pytest.mark.parametrize("p", [2, 3, 5, 7, 13, 31])
def test_table_matches_brute_force(name, p):
    task = get_task(name, p)
    expected = np.array([[BRUTE[name](n, m, p) for m in range(p)] for n in range(p)])
    np.testing.assert_array_equal(task.table, expected)


def test_affine_table_matches_brute_force():
    p, A, B, C = 11, 3, 7, 5
    task = get_task("affine", p, A=A, B=B, C=C)
    expected = [[(A * n + B * m + C) % p for m in range(p)] for n in range(p)]
    np.testing.assert_array_equal(task.table, expected)


@given(mst.tasks(max_p=60, composite=True))
def test_decomposition_reproduces_table(task):
    """F(f1(n) + f2(m) mod M) equals the independently computed table where decomposed."""
    d = task.decomposed & task.defined
    s = task.inner_sum
    np.testing.assert_array_equal(task.F[s[d]], task.table[d])


@pytest.mark.parametrize("name", ["mul", "div"])
def test_log_tasks_leave_only_zero_undecomposed(name):
    task = get_task(name, 13)
    assert not task.decomposed[0].any() and not task.decomposed[:, 0].any()
    assert task.decomposed[1:, 1:].all()
    assert task.M == 12 and task.in_log_domain and task.invertible


@given(mst.primes(max_p=200))
def test_discrete_log_inverts_powers(p):
    g = primitive_root(p)
    log = discrete_log_table(p)
    assert all(pow(g, int(log[n]), p) == n for n in range(1, p))
    assert log[0] == -1 and sorted(log[1:].tolist()) == list(range(p - 1))


@given(mst.primes(max_p=200))
def test_primitive_root_has_full_order(p):
    g = primitive_root(p)
    assert len({pow(g, e, p) for e in range(p - 1)}) == p - 1


@given(mst.tasks(max_p=60))
def test_branches_are_all_preimages(task):
    for q, rs in enumerate(task.branches):
        assert sorted(rs.tolist()) == [r for r in range(task.M) if task.F[r] == q]


def test_square_of_sum_has_two_branches_on_residues():
    task = get_task("square_of_sum", 11)
    sizes = {q: len(rs) for q, rs in enumerate(task.branches)}
    residues = {r * r % 11 for r in range(1, 11)}
    assert sizes[0] == 1 and all(sizes[q] == 2 for q in residues)
    assert all(sizes[q] == 0 for q in set(range(1, 11)) - residues)
    assert not task.invertible


def test_custom_task_from_callables_and_arrays():
    t1 = custom_task(lambda n: n, lambda m: (2 * m) % 7, lambda s: (s + 1) % 7, M=7, p=7)
    t2 = custom_task(np.arange(7), 2 * np.arange(7) % 7, (np.arange(7) + 1) % 7, M=7, p=7)
    expected = [[(n + 2 * m + 1) % 7 for m in range(7)] for n in range(7)]
    np.testing.assert_array_equal(t1.table, expected)
    np.testing.assert_array_equal(t2.table, expected)


def test_custom_task_none_is_undefined():
    t = custom_task(lambda n: None if n == 0 else n, lambda m: m, lambda s: s, M=5, p=5)
    assert (t.table[0] == -1).all() and (t.table[1:] >= 0).all()


@pytest.mark.parametrize("name", TASK_NAMES)
def test_task_dict_round_trip(name):
    task = get_task(name, 7)
    again = task_from_dict(task_to_dict(task), 7)
    np.testing.assert_array_equal(again.table, task.table)
    custom = custom_task(lambda n: n, lambda m: m, lambda s: s * s % 7, M=7, p=7, name="sq")
    np.testing.assert_array_equal(task_from_dict(task_to_dict(custom), 7).table, custom.table)


def test_task_arrays_are_read_only():
    task = get_task("add", 5)
    with pytest.raises(ValueError):
        task.table[0, 0] = 3


@given(st.integers(0, 400))
def test_is_prime_matches_trial_division(n):
    assert is_prime(n) == (n >= 2 and all(n % d for d in range(2, int(n**0.5) + 1)))


def test_preimages_of_identity_are_singletons():
    assert [r.tolist() for r in preimages(np.arange(4), 4)] == [[0], [1], [2], [3]]


INVALID = [
    ("unknown-name", lambda: get_task("pow", 7), ValueError, "`name`"),
    ("p-too-small", lambda: get_task("add", 1), ValueError, "`p`"),
    ("p-not-int", lambda: get_task("add", 7.0), TypeError, "`p`"),
    ("p-bool", lambda: get_task("add", True), TypeError, "`p`"),
    ("mul-composite", lambda: get_task("mul", 91), ValueError, "prime"),
    ("div-composite", lambda: get_task("div", 12), ValueError, "prime"),
    ("unknown-param", lambda: get_task("add", 7, A=2), ValueError, "unknown"),
    ("affine-float", lambda: get_task("affine", 7, A=1.5), TypeError, "`A`"),
    ("bad-root", lambda: get_task("mul", 7, g=2), ValueError, "primitive root"),
    ("root-composite", lambda: primitive_root(8), ValueError, "prime"),
    ("log-bad-root", lambda: discrete_log_table(7, g=2), ValueError, "primitive root"),
    (
        "custom-F-range",
        lambda: custom_task(np.arange(5), np.arange(5), np.arange(5) + 1, M=5, p=5),
        ValueError,
        "`F`",
    ),
    (
        "custom-f1-shape",
        lambda: custom_task(np.arange(4), np.arange(5), np.arange(5), M=5, p=5),
        ValueError,
        "`f1`",
    ),
    ("custom-M", lambda: custom_task(np.arange(5), np.arange(5), [0], M=1, p=5), ValueError, "`M`"),
    ("preimage-range", lambda: preimages(np.array([0, 5]), 3), ValueError, "`F`"),
]


@pytest.mark.parametrize("call, exc, words", [c[1:] for c in INVALID], ids=[c[0] for c in INVALID])
def test_invalid_input_is_rejected(call, exc, words):
    with pytest.raises(exc, match=words):
        call()
