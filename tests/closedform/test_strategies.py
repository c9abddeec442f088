"""The public hypothesis strategies produce what they promise."""

import numpy as np
import pytest
from hypothesis import given

from closedform import is_prime
from closedform import strategies as mst


@given(mst.primes(min_p=3, max_p=100))
def test_primes_are_primes_in_range(p):
    assert is_prime(p) and 3 <= p <= 100


@given(mst.tasks(names=("mul", "div"), max_p=50))
def test_log_tasks_get_prime_p(task):
    assert is_prime(task.p) and task.M == task.p - 1


@given(mst.tasks(names=("affine",), max_p=50, composite=True))
def test_affine_coefficients_are_units(task):
    assert np.gcd(task.params["A"], task.p) == 1 and np.gcd(task.params["B"], task.p) == 1


@given(mst.frequencies(30, coprime=True))
def test_coprime_frequencies_contain_a_unit(ks):
    assert np.gcd(ks[0], 30) == 1 and all(1 <= k <= 15 for k in ks) and len(set(ks)) == len(ks)


@given(mst.phase_sets(exact=True))
def test_exact_phase_sets_keep_phi3(ph):
    assert ph.shape == (6, 2)
    np.testing.assert_allclose(
        np.exp(1j * ph.sum(1)), np.exp(1j * 2 * np.pi * 5 * np.arange(6) / 6), atol=1e-9
    )


@given(
    mst.analytic_networks(
        phases="exact",
        max_p=40,
        single_frequency=True,
        names=("add", "sub", "affine", "square_sum", "mul", "div"),
    )
)
def test_single_frequency_exact_networks_are_exact(net):
    assert net.accuracy() == 1.0


@pytest.mark.parametrize(
    "make",
    [lambda: mst.primes(10, 5), lambda: mst.primes(24, 28), lambda: mst.frequencies(1)],
    ids=["min>max", "no-prime", "M<2"],
)
def test_invalid_bounds_are_rejected(make):
    with pytest.raises(ValueError):
        make()
