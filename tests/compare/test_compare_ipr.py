import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import closedform
import compare

finite = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False)
rows = st.integers(3, 40).flatmap(lambda L: arrays(np.float64, L, elements=finite))


@pytest.mark.parametrize("L", [7, 12, 97])
@pytest.mark.parametrize("k_frac", [0.0, 0.3, 0.5, 0.8, 1.0])
def test_single_frequency_row_has_ipr_one(L, k_frac):
    k = max(1, int(round(k_frac * (L - 1))))  # includes aliases k > L/2
    n = np.arange(L)
    w = 2.5 * np.cos(2 * np.pi * k * n / L + 0.7)
    assert compare.ipr(w) == pytest.approx(1.0)


@pytest.mark.parametrize("r", [2, 3, 1.5])
def test_flat_spectrum_gives_lower_bound(r):
    L = 20
    K = L // 2 + 1
    assert compare.ipr(np.eye(L)[3], r=r) == pytest.approx(K ** (1 - r))


def test_ipr_r1_is_one():
    rng = np.random.default_rng(0)
    assert np.allclose(compare.ipr(rng.standard_normal((5, 13)), r=1), 1.0)


def test_zero_row_is_nan():
    out = compare.ipr(np.zeros((2, 9)))
    assert np.isnan(out).all()


@given(rows)
def test_ipr_within_bounds(w):
    if not np.abs(np.fft.rfft(w)).any() or np.abs(w).max() < 1e-6:
        return
    K = len(w) // 2 + 1
    v = float(compare.ipr(w))
    assert 1.0 / K - 1e-9 <= v <= 1.0 + 1e-9


@given(rows, st.floats(0.01, 100), st.integers(-50, 50))
def test_ipr_invariant_under_scaling_and_shift(w, c, shift):
    if np.abs(w).max() < 1e-3:
        return
    base = compare.ipr(w)
    assert compare.ipr(c * w) == pytest.approx(base, rel=1e-9, abs=1e-12)
    assert compare.ipr(np.roll(w, shift)) == pytest.approx(base, rel=1e-9, abs=1e-12)


def test_mlp_ipr_of_analytic_add_is_one():
    net = closedform.analytic_mlp(closedform.get_task("add", 13), phases="exact")
    res = compare.mlp_ipr(net.W1, net.W2, net.task)
    for block in ("n", "m", "out", "all"):
        assert res["mean"][block] == pytest.approx(1.0)


def test_mlp_ipr_reindexes_mul_to_log_domain():
    task = closedform.get_task("mul", 13)
    net = closedform.analytic_mlp(task, frequencies=[2], phases="exact")
    assert compare.mlp_ipr(net.W1, net.W2, task)["mean"]["n"] == pytest.approx(1.0)
    # in the raw token index the waves in log n are spread over many frequencies
    assert compare.mlp_ipr(net.W1, net.W2)["mean"]["n"] < 0.5


def test_ipr_reference_values():
    assert compare.ipr_reference(closedform.get_task("add", 11))["all"] == pytest.approx(1.0)
    sos = compare.ipr_reference(closedform.get_task("square_of_sum", 11))
    assert sos["n"] == pytest.approx(1.0) and sos["out"] < 1.0


def test_noise_lowers_layer_ipr(make_mlp):
    task = closedform.get_task("add", 31)
    ks = np.arange(1, 16)
    phases = np.zeros((15, 3))
    clean = compare.mlp_ipr(*make_mlp(task, ks, phases), task)["mean"]["all"]
    noisy = compare.mlp_ipr(*make_mlp(task, ks, phases, noise=0.5), task)["mean"]["all"]
    assert clean == pytest.approx(1.0) and noisy < 0.9


@pytest.mark.parametrize(
    "args, exc",
    [
        (("abc",), TypeError),
        ((np.array([1.0, np.nan]),), ValueError),
        ((np.array([1 + 1j, 2]),), TypeError),
        ((np.ones(5), 0.5), ValueError),
        ((np.ones(5), "2"), TypeError),
        ((np.float64(1.0),), ValueError),
    ],
    ids=["string", "nan", "complex", "r<1", "r-string", "scalar"],
)
def test_ipr_invalid_inputs(args, exc):
    with pytest.raises(exc):
        compare.ipr(*args)


@pytest.mark.parametrize(
    "W1, W2",
    [(np.ones((4, 7)), np.ones((3, 4))), (np.ones((4, 6)), np.ones((3, 5))), (np.ones(6), None)],
    ids=["odd-columns", "width-mismatch", "1d"],
)
def test_mlp_ipr_invalid_shapes(W1, W2):
    with pytest.raises((ValueError, TypeError)):
        compare.mlp_ipr(W1, W2)
