import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import closedform
import compare


def angle_close(a, b, atol):
    return np.all(np.abs(compare.wrap(np.asarray(a) - np.asarray(b))) < atol)


def random_network(task, rng, N=40, aligned=True):
    # k = M/2 (M even) is a Nyquist wave cos(phi) (-1)^n: its phase is only 0 or pi
    ks = rng.integers(1, (task.M - 1) // 2 + 1, size=N)
    phi = rng.uniform(-np.pi, np.pi, size=(N, 3))
    if aligned:
        phi[:, 2] = compare.wrap(phi[:, 0] + phi[:, 1])
    return ks, phi


@pytest.mark.parametrize("name", ["add", "sub", "affine", "mul", "div"])
def test_recovers_frequencies_and_phases_with_noise(make_mlp, name):
    params = {"A": 3, "B": 5, "C": 2} if name == "affine" else {}
    task = closedform.get_task(name, 31, **params)
    rng = np.random.default_rng(1)
    ks, phi = random_network(task, rng)
    W1, W2 = make_mlp(task, ks, phi, noise=0.05, seed=2)
    ph = compare.neuron_phases(W1, W2, task)
    assert (ph.k1 == ks).all() and (ph.k2 == ks).all() and (ph.k3 == ks).all()
    assert ph.agree.all()
    for est, true in ((ph.phi1, phi[:, 0]), (ph.phi2, phi[:, 1]), (ph.phi3, phi[:, 2])):
        assert angle_close(est, true, 0.1)
    assert np.allclose(ph.A1, 1.0, atol=0.1)


def test_aliased_frequencies_fold_with_negated_phase(make_mlp):
    task = closedform.get_task("add", 29)
    ks = np.array([20, 27, 15])  # all > 29/2
    phi = np.array([[0.3, 1.0, 1.3], [-2.0, 0.5, -1.5], [1.0, 1.0, 2.0]])
    ph = compare.neuron_phases(*make_mlp(task, ks, phi, noise=0.02), task)
    assert ph.k1.tolist() == (29 - ks).tolist()
    assert angle_close(ph.phi1, -phi[:, 0], 0.05) and angle_close(ph.phi3, -phi[:, 2], 0.05)
    assert compare.phase_residual(ph).R == pytest.approx(1.0, abs=1e-3)


def test_sign_flip_of_a_W1_row_leaves_residual(make_mlp):
    task = closedform.get_task("add", 23)
    rng = np.random.default_rng(3)
    ks, phi = random_network(task, rng, N=10)
    W1, W2 = make_mlp(task, ks, phi)
    before = compare.phase_residual(compare.neuron_phases(W1, W2, task)).delta
    W1[::2] *= -1
    ph = compare.neuron_phases(W1, W2, task)
    assert angle_close(ph.phi1[::2], phi[::2, 0] + np.pi, 1e-6)
    assert angle_close(compare.phase_residual(ph).delta, before, 1e-6)


def test_mul_phases_are_read_in_log_domain(make_mlp):
    task = closedform.get_task("mul", 37)
    net = closedform.analytic_mlp(task, frequencies=[5, 11], phases="exact")
    ph = compare.neuron_phases(net.W1, net.W2, task)
    real = net.frequencies >= 0
    assert set(ph.k1[real].tolist()) == {5, 11} and ph.agree[real].all()
    assert angle_close(ph.phi1[real], net.phases[real, 0], 1e-8)
    res = compare.phase_residual(ph)
    assert res.R == pytest.approx(1.0) and res.n == real.sum()


def test_residual_uniform_phases_gives_small_R():
    rng = np.random.default_rng(0)
    phi = rng.uniform(-np.pi, np.pi, size=(3, 4000))
    res = compare.phase_residual(*phi)
    assert res.R < 0.05 and res.rayleigh_p > 0.01


def test_residual_aligned_phases_gives_R_one_and_tiny_p():
    rng = np.random.default_rng(0)
    p1, p2 = rng.uniform(-np.pi, np.pi, size=(2, 200))
    res = compare.phase_residual(p1, p2, p1 + p2 + 0.4)
    assert res.R == pytest.approx(1.0)
    assert res.circular_mean == pytest.approx(-0.4)
    assert res.rayleigh_p < 1e-50


def test_rayleigh_p_matches_monte_carlo():
    # p-value of an observed R against simulated uniform samples of the same size
    rng = np.random.default_rng(5)
    n, R_obs = 20, 0.4
    sims = np.abs(np.exp(1j * rng.uniform(0, 2 * np.pi, size=(20000, n))).mean(axis=1))
    mc = (sims >= R_obs).mean()
    from compare._phases import _rayleigh_p

    assert _rayleigh_p(n, R_obs) == pytest.approx(mc, abs=0.01)


def test_wrap_range():
    x = np.linspace(-20, 20, 1001)
    w = compare.wrap(x)
    assert (w > -np.pi).all() and (w <= np.pi).all()
    assert np.allclose(np.exp(1j * w), np.exp(1j * x))


def test_share_agree_counts_disagreeing_neurons(make_mlp):
    task = closedform.get_task("add", 17)
    W1, W2 = make_mlp(task, [1, 2, 3], np.zeros((3, 3)))
    W2[:, 0] = np.cos(2 * np.pi * 5 * np.arange(17) / 17)  # readout of neuron 0 disagrees
    ph = compare.neuron_phases(W1, W2, task)
    res = compare.phase_residual(ph)
    assert ph.agree.tolist() == [False, True, True]
    assert res.n == 2 and res.share_agree == pytest.approx(2 / 3)


@pytest.mark.parametrize("name", ["square_sum", "square_of_sum"])
def test_neuron_phases_rejects_non_bijective_task(name):
    task = closedform.get_task(name, 7)
    with pytest.raises(ValueError, match="bijection"):
        compare.neuron_phases(np.ones((2, 14)), np.ones((7, 2)), task)


@pytest.mark.parametrize(
    "args, kwargs, exc",
    [
        ((np.ones((2, 14)), np.ones((7, 2)), "add"), {}, TypeError),
        ((np.ones((2, 12)), np.ones((6, 2)), closedform.get_task("add", 7)), {}, ValueError),
        ((np.ones((2, 14)), np.ones((7, 3)), closedform.get_task("add", 7)), {}, ValueError),
    ],
    ids=["task-not-Task", "wrong-p", "width-mismatch"],
)
def test_neuron_phases_invalid(args, kwargs, exc):
    with pytest.raises(exc):
        compare.neuron_phases(*args, **kwargs)


@pytest.mark.parametrize(
    "args, kwargs, exc",
    [
        ((np.zeros(3),), {}, TypeError),
        ((np.zeros(3), np.zeros(3), np.zeros(4)), {}, ValueError),
        ((np.zeros(3), np.zeros(3), np.zeros(3)), {"mask": [1, 0, 1]}, ValueError),
    ],
    ids=["missing-phi2", "shape-mismatch", "non-bool-mask"],
)
def test_phase_residual_invalid(args, kwargs, exc):
    with pytest.raises(exc):
        compare.phase_residual(*args, **kwargs)


@given(
    p=st.sampled_from([5, 7, 11, 13, 29]),
    k_raw=st.integers(1, 1000),
    phis=st.tuples(*[st.floats(-3.0, 3.0)] * 2),
    amp=st.floats(0.1, 10.0),
)
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_single_neuron_recovery_property(make_mlp, p, k_raw, phis, amp):
    """Any frequency (aliases included), phase pair and amplitude is recovered exactly."""
    task = closedform.get_task("add", p)
    k = k_raw % p or 1
    phi = [phis[0], phis[1], phis[0] + phis[1]]
    W1, W2 = make_mlp(task, [k], [phi], amps=[[amp] * 3])
    ph = compare.neuron_phases(W1, W2, task)
    folded = min(k, p - k)
    sign = 1 if k == folded else -1
    assert ph.k1[0] == ph.k2[0] == ph.k3[0] == folded
    assert angle_close(ph.phi1, sign * phi[0], 1e-8) and angle_close(ph.phi2, sign * phi[1], 1e-8)
    assert ph.A1[0] == pytest.approx(amp)
    assert compare.phase_residual(ph).R == pytest.approx(1.0)
