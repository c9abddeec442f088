import numpy as np
import pytest

import closedform
import compare


def test_frequency_norms_parseval():
    rng = np.random.default_rng(0)
    W = rng.standard_normal((13, 6))
    norms = compare.frequency_norms(W, axis=0)
    assert norms.shape == (7,)
    assert (norms**2).sum() == pytest.approx((W**2).sum())


def test_frequency_norms_match_real_fourier_basis():
    rng = np.random.default_rng(1)
    W = rng.standard_normal((11, 4))
    B = closedform.real_fourier_basis(11)  # rows: constant, cos 1, sin 1, ...
    coef = B @ W
    expected = [np.linalg.norm(coef[0])] + [
        np.linalg.norm(coef[2 * k - 1 : 2 * k + 1]) for k in range(1, 6)
    ]
    assert np.allclose(compare.frequency_norms(W, axis=0), expected)


def test_frequency_norms_reindex_mul():
    task = closedform.get_task("mul", 13)
    w = np.zeros(13)
    logs = task.f1[1:]
    w[1:] = np.cos(2 * np.pi * 4 * logs / 12)
    norms = compare.frequency_norms(w, task=task, block="n")
    assert compare.key_frequencies(norms).tolist() == [4]


def test_key_frequencies_rule():
    n = np.arange(41)
    W = np.stack(
        [np.cos(2 * np.pi * 3 * n / 41), 0.5 * np.sin(2 * np.pi * 17 * n / 41)], axis=1
    ) + 0.01 * np.random.default_rng(0).standard_normal((41, 2))
    assert compare.key_frequencies(compare.frequency_norms(W, axis=0)).tolist() == [3, 17]
    # 0.5 amplitude = 0.25 energy: excluded by a threshold of 0.3
    norms = compare.frequency_norms(W, axis=0)
    assert compare.key_frequencies(norms, threshold=0.3).tolist() == [3]


def test_spectrum_2d_layouts_agree():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((7, 7))
    assert np.allclose(
        compare.activation_spectrum_2d(a), compare.activation_spectrum_2d(a.reshape(-1))
    )
    stacked = compare.activation_spectrum_2d(np.stack([a.reshape(-1)] * 3, axis=1))
    assert stacked.shape == (3, 7, 7) and np.allclose(stacked[1], compare.activation_spectrum_2d(a))
    assert np.allclose(compare.activation_spectrum_2d(a), np.abs(closedform.spectrum_2d(a)))


def test_spectrum_2d_mul_in_log_domain():
    task = closedform.get_task("mul", 11)
    s = task.inner_sum
    a = np.where(s >= 0, np.cos(2 * np.pi * 3 * s / 10), 0.0)
    spec = compare.activation_spectrum_2d(a, task=task)
    assert spec.shape == (10, 10)
    peaks = {tuple(map(int, ix)) for ix in np.argwhere(spec > 0.9 * spec.max())}
    assert peaks == {(3, 3), (7, 7)}


def test_wave_fit_pure_and_noisy():
    n = np.arange(50)
    rng = np.random.default_rng(0)
    pure = 2 * np.cos(2 * np.pi * 9 * n / 50 - 1.0)
    f = compare.wave_fit(np.stack([pure, pure + 0.1 * rng.standard_normal(50)]))
    assert f.frequency.tolist() == [9, 9]
    assert f.fit_error[0] == pytest.approx(0, abs=1e-12)
    # the residual is the noise outside frequency 9: about 0.1 / sqrt(2) relative to 2 / sqrt(2)
    assert 0.02 < f.fit_error[1] < 0.09
    assert np.allclose(f.fitted[0], pure)


def test_fit_errors_of_exact_network_vanish():
    for name in ("add", "sub", "mul", "div"):
        net = closedform.analytic_mlp(closedform.get_task(name, 13), phases="exact")
        err = compare.mlp_fit_errors(net.W1, net.W2, net.task)
        assert np.nanmax(err) < 1e-8, name


def test_idealized_accuracy_of_exact_network_is_one():
    for name in ("add", "mul", "div", "affine"):
        task = closedform.get_task(name, 13)
        net = closedform.analytic_mlp(task, frequencies=[2, 5], phases="exact")
        assert compare.idealized_accuracy(net.W1, net.W2, task) == 1.0, name


def test_idealized_network_removes_noise(make_mlp):
    task = closedform.get_task("add", 23)
    net = closedform.analytic_mlp(task, frequencies=[3, 7], phases="exact")
    rng = np.random.default_rng(0)
    W1 = net.W1 + 0.3 * rng.standard_normal(net.W1.shape)
    W2 = net.W2 + 0.3 * rng.standard_normal(net.W2.shape)
    W1f, W2f = compare.idealized_mlp(W1, W2, task)
    assert np.linalg.norm(W1f - net.W1) < 0.5 * np.linalg.norm(W1 - net.W1)
    err = compare.mlp_fit_errors(W1, W2, task)
    assert 0.1 < np.median(err) < 0.9


def test_hidden_state_fit_recovers_planted_signal():
    task = closedform.get_task("add", 17)
    s = task.inner_sum.reshape(-1)
    rng = np.random.default_rng(0)
    d_h = 12
    Q, _ = np.linalg.qr(rng.standard_normal((d_h, 4)))
    waves = np.stack(
        [np.cos(2 * np.pi * k * s / 17 + ph) for k in (2, 6) for ph in (0, np.pi / 2)], axis=1
    )
    h = waves @ Q.T + 1e-3 * rng.standard_normal((17 * 17, d_h))
    q = np.arange(17)
    U = np.stack(
        [np.cos(2 * np.pi * k * q / 17 + ph) for k in (2, 6) for ph in (0, np.pi / 2)], axis=1
    )
    W_fc = (U * np.array([4.0, 4.0, 2.0, 2.0])) @ Q.T
    res = compare.hidden_state_fit(h, W_fc, task, normalize=False)
    assert [d["frequency"] for d in res] == [2, 2, 6, 6]
    assert max(d["relative_error"] for d in res) < 1e-2


def planted_readout(amplitudes, seed=0):
    """h3 carrying cos, sin of 2 pi k s / 17 for k = 2, 6 on orthonormal directions Q, and a
    readout of those waves with the given amplitude per frequency."""
    task = closedform.get_task("add", 17)
    s = task.inner_sum.reshape(-1)
    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(rng.standard_normal((12, 4)))
    waves = [np.cos(2 * np.pi * k * s / 17 + ph) for k in (2, 6) for ph in (0, np.pi / 2)]
    h = np.stack(waves, axis=1) @ Q.T
    q = np.arange(17)
    U = np.stack(
        [np.cos(2 * np.pi * k * q / 17 + ph) for k in (2, 6) for ph in (0, np.pi / 2)], axis=1
    )
    W_fc = (U * np.repeat(amplitudes, 2)) @ Q.T
    return task, h, W_fc


def test_hidden_state_fit_per_frequency_matches_per_vector_for_distinct_amplitudes():
    task, h, W_fc = planted_readout([4.0, 2.0])
    per_vector = compare.hidden_state_fit(h, W_fc, task, normalize=False)
    per_freq = compare.hidden_state_fit(h, W_fc, task, normalize=False, basis="frequency")
    assert [d["frequency"] for d in per_freq] == [2, 6]
    assert max(d["relative_error"] for d in per_vector + per_freq) < 1e-12
    assert per_freq[0]["sigma"] == pytest.approx([per_vector[0]["sigma"]] * 2)


def test_hidden_state_fit_per_frequency_is_immune_to_degenerate_singular_values():
    """Equal amplitudes: W_fc's four singular values are equal, and a perturbation of 1e-9
    that couples cos 2 with cos 6 decides the singular vectors: the top one mixes the two
    frequencies half and half. The planes the readout reads per frequency barely move."""
    task, h, W_fc = planted_readout([3.0, 3.0])
    q = np.arange(17)
    u = np.cos(2 * np.pi * 2 * q / 17) + np.cos(2 * np.pi * 6 * q / 17)
    v = W_fc.T @ u / np.linalg.norm(W_fc.T @ u)
    W = W_fc + 1e-9 * np.outer(u, v)
    per_vector = compare.hidden_state_fit(h, W, task, normalize=False)
    per_freq = compare.hidden_state_fit(h, W, task, normalize=False, basis="frequency")
    assert per_vector[0]["relative_error"] > 0.5  # sqrt(1/2): half the signal is the other k
    assert max(d["relative_error"] for d in per_freq) < 1e-6


@pytest.mark.parametrize(
    "kwargs, exc",
    [
        ({"basis": "fourier"}, ValueError),
        ({"frequencies": [2]}, ValueError),
        ({"basis": "frequency", "frequencies": [9]}, ValueError),
        ({"basis": "frequency", "frequencies": [2.5]}, TypeError),
    ],
    ids=["unknown-basis", "frequencies-with-singular", "k-above-M/2", "k-not-int"],
)
def test_hidden_state_fit_invalid(kwargs, exc):
    task, h, W_fc = planted_readout([4.0, 2.0])
    with pytest.raises(exc):
        compare.hidden_state_fit(h, W_fc, task, **kwargs)


@pytest.mark.parametrize(
    "fn, args, exc",
    [
        (compare.frequency_norms, (np.ones(5), 3), ValueError),
        (compare.frequency_norms, (np.ones(5), -1, closedform.get_task("add", 7), "n"), ValueError),
        (compare.frequency_norms, (np.ones(7), -1, closedform.get_task("add", 7), "x"), ValueError),
        (compare.key_frequencies, (np.ones(5), 0.0), ValueError),
        (compare.key_frequencies, (np.ones(1),), ValueError),
        (compare.activation_spectrum_2d, (np.ones(10),), ValueError),
        (compare.wave_fit, (np.ones((2, 2)),), ValueError),
        (compare.mlp_fit_errors, (np.ones((2, 14)), np.ones((7, 2)), "add"), TypeError),
    ],
    ids=[
        "axis-out-of-range",
        "wrong-length-for-task",
        "bad-block",
        "zero-threshold",
        "too-short",
        "not-square",
        "M<3",
        "task-string",
    ],
)
def test_invalid_inputs(fn, args, exc):
    with pytest.raises(exc):
        fn(*args)
