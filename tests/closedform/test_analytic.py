"""Closed-form networks: exactness, Gromov's random scheme, branches, App. A and B."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from closedform import (
    TASK_NAMES,
    analytic_complex_mlp,
    analytic_mlp,
    evaluate_mlp,
    get_task,
    load_model_dir,
)
from closedform import strategies as mst

INVERTIBLE = tuple(n for n in TASK_NAMES if n != "square_of_sum")


def exact_logits_oracle(task, K, n, m):
    """(2/N) sum_{r: F(r)=q} sum_k 3 cos(2 pi k (s - r) / M): eq. 11 after the exact
    scheme's cancellations, computed from the task's maps alone (no weights)."""
    N = 6 * len(K) + (1 if task.in_log_domain else 0)
    s = (task.f1[n] + task.f2[m]) % task.M
    r = np.arange(task.M)
    d = np.subtract.outer(s, r)[..., None] * np.asarray(K)  # (B, M, |K|)
    G = 3 * np.cos(2 * np.pi * d / task.M).sum(-1)  # (B, M)
    out = np.zeros((len(n), task.p))
    np.add.at(out.T, task.F, G.T)
    return 2 / N * out


@given(mst.tasks(max_p=200))
def test_exact_scheme_is_exact_on_every_task(task):
    ev = analytic_mlp(task, phases="exact").evaluate()
    assert ev.accuracy == 1.0 and ev.accuracy_decomposed == 1.0 and ev.margin > 0


@given(mst.tasks(max_p=200), st.data())
def test_exact_logits_depend_only_on_s_minus_r(task, data):
    K = np.arange(1, task.M // 2 + 1)
    net = analytic_mlp(task, phases="exact")
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    n, m = rng.integers(0, task.p, 300), rng.integers(0, task.p, 300)
    keep = task.decomposed[n, m]
    n, m = n[keep], m[keep]
    np.testing.assert_allclose(net.logits(n, m), exact_logits_oracle(task, K, n, m), atol=1e-9)


@given(mst.tasks(names=INVERTIBLE, max_p=200), st.data())
def test_single_coprime_frequency_is_exact(task, data):
    k = data.draw(mst.frequencies(task.M, coprime=True, max_size=1))[0]
    net = analytic_mlp(task, phases="exact", frequencies=[k])
    assert net.width == 6 + task.in_log_domain
    assert net.accuracy() == 1.0


@given(mst.moduli(min_p=2, max_p=120), st.sampled_from(["add", "sub"]))
def test_composite_p_all_frequencies_exact(p, name):
    assert analytic_mlp(get_task(name, p), phases="exact").accuracy() == 1.0


@pytest.mark.parametrize("p", [12, 15, 49])
def test_composite_single_frequency_exact_iff_coprime(p):
    """cos(2 pi k d / p) peaks only at d = 0 iff gcd(k, p) = 1; otherwise at d = p/gcd too."""
    task = get_task("add", p)
    for k in range(1, p // 2 + 1):
        acc = analytic_mlp(task, phases="exact", frequencies=[k]).accuracy()
        assert (acc == 1.0) == (np.gcd(k, p) == 1), k


def test_square_of_sum_single_frequency_is_not_enough():
    """With two branches the readout adds two cosines, which no single frequency makes a
    delta: the exact formula holds but the argmax fails (docs/closedform.md)."""
    task = get_task("square_of_sum", 13)
    net = analytic_mlp(task, phases="exact", frequencies=[1])
    n, m = np.meshgrid(np.arange(13), np.arange(13), indexing="ij")
    np.testing.assert_allclose(
        net.logits(n.ravel(), m.ravel()),
        exact_logits_oracle(task, [1], n.ravel(), m.ravel()),
        atol=1e-12,
    )
    assert net.accuracy() < 1.0
    assert analytic_mlp(task, phases="exact").accuracy() == 1.0


@pytest.mark.parametrize("p", [31, 97])
def test_square_of_sum_branches(p):
    task = get_task("square_of_sum", p)
    one = analytic_mlp(task, phases="exact", branches="one").accuracy()
    # correct exactly when s is the branch kept for s^2 (the smaller root) or s = 0
    expected = sum(1 for s in range(p) if s <= p - s or s == 0) / p
    assert one == pytest.approx(expected)
    assert abs(one - 0.5) < 0.02
    assert analytic_mlp(task, phases="exact", branches="all").accuracy() == 1.0


@pytest.mark.parametrize("name", ["mul", "div"])
def test_log_tasks_exact_on_whole_table(name):
    task = get_task(name, 31)
    net = analytic_mlp(task, phases="exact")
    n, m = np.meshgrid(np.arange(31), np.arange(31), indexing="ij")
    pred = net.logits(n.ravel(), m.ravel()).argmax(1).reshape(31, 31)
    defined = task.table >= 0
    np.testing.assert_array_equal(pred[defined], task.table[defined])
    assert net.frequencies[-1] == -1 and np.isnan(net.phases[-1]).all()


def test_log_tasks_without_zero_neuron_fail_only_on_zero():
    task = get_task("mul", 31)
    ev = analytic_mlp(task, phases="exact", zero_neuron=False).evaluate()
    assert ev.accuracy_decomposed == 1.0
    assert ev.accuracy == pytest.approx(30 * 30 / 31**2)


def test_random_scheme_is_gromov_claim_one():
    """k_i = i + 1, phi3 = phi1 + phi2, W1/W2 are the cosines of eq. 6-7."""
    task = get_task("add", 11)
    net = analytic_mlp(task, width=30, seed=3)
    k = net.frequencies
    np.testing.assert_array_equal(k, np.arange(1, 31) % 11)
    phi1, phi2, phi3 = net.phases.T
    np.testing.assert_allclose(phi3, phi1 + phi2)
    x = np.arange(11)
    np.testing.assert_allclose(
        net.W1[:, :11], np.cos(2 * np.pi * np.outer(k, x) / 11 + phi1[:, None])
    )
    np.testing.assert_allclose(
        net.W1[:, 11:], np.cos(2 * np.pi * np.outer(k, x) / 11 + phi2[:, None])
    )
    np.testing.assert_allclose(net.W2, np.cos(-2 * np.pi * np.outer(x, k) / 11 - phi3[None, :]))


def test_random_scheme_accuracy_rises_with_width():
    """Gromov Fig. 4b: random cancellation (eq. 15) improves with N."""
    task = get_task("add", 97)
    widths = [4, 8, 16, 32, 64]
    mean = [
        np.mean([analytic_mlp(task, width=w, seed=s).accuracy() for s in range(4)]) for w in widths
    ]
    assert all(a < b for a, b in zip(mean, mean[1:], strict=False)), mean


@pytest.mark.parametrize("seed", range(5))
def test_random_scheme_width_4p_is_perfect(seed):
    assert analytic_mlp(get_task("add", 97), width=4 * 97, seed=seed).accuracy() == 1.0


def test_random_scheme_seed_reproducible_and_generator_accepted():
    task = get_task("add", 13)
    a, b = analytic_mlp(task, seed=5), analytic_mlp(task, seed=5)
    np.testing.assert_array_equal(a.W1, b.W1)
    g = analytic_mlp(task, seed=np.random.default_rng(5))
    np.testing.assert_array_equal(g.W1, a.W1)


@given(mst.tasks(names=("add", "sub", "affine"), max_p=60), mst.phase_sets(exact=True))
def test_rotated_exact_phase_sets_stay_exact(task, phases):
    """Rotating (phi1, phi2) by (theta, -theta) keeps phi3 and every cancellation."""
    net = analytic_mlp(task, phases=phases, frequencies=[1] * 6)
    assert net.accuracy() == 1.0


def test_complex_network_app_a():
    task = get_task("add", 31)
    assert analytic_complex_mlp(task, phases="exact").accuracy() == 1.0
    assert analytic_complex_mlp(task, width=4 * 31, seed=0).accuracy() == 1.0
    net = analytic_complex_mlp(task, width=8, seed=0)
    assert np.iscomplexobj(net.W1) and np.allclose(np.abs(net.W1[:, :31]), 1)


@pytest.mark.parametrize("activation", ["relu", "gelu", "x^4"])
def test_other_activations_solve_add_at_large_width(activation):
    """App. B / Fig. 5: the same weights work with other activations given enough width."""
    task = get_task("add", 23)
    acc = [analytic_mlp(task, width=w, activation=activation, seed=0).accuracy() for w in (8, 2048)]
    assert acc[1] > 0.95 and acc[1] >= acc[0], acc


@pytest.mark.parametrize("activation", ["tanh", "x^3"])
def test_odd_activations_cannot_use_these_weights(activation):
    """An odd phi expands into products of an odd number of input waves, so alpha + beta is
    odd for every wave cos(alpha a + beta b + ...) and the n + m wave (1, 1) never forms:
    the output carries no information about n + m, at any width (docs/closedform.md)."""
    task = get_task("add", 23)
    net = analytic_mlp(task, width=2048, activation=activation, seed=0)
    n, m = np.meshgrid(np.arange(23), np.arange(23), indexing="ij")
    logits = net.logits(n.ravel(), m.ravel()).reshape(23, 23, 23)
    spec = np.abs(np.fft.fft2(logits, axes=(0, 1)))  # over (n, m), per q
    k1, k2 = np.meshgrid(np.arange(23), np.arange(23), indexing="ij")
    # waves (k1, k2) with k1 = k2 != 0 carry n + m. An odd polynomial of degree < p has
    # none; tanh's series only through terms of degree >= p, which alias (alpha - beta = p).
    bound = 1e-12 if activation == "x^3" else 1e-6
    assert spec[(k1 == k2) & (k1 != 0)].max() < bound * spec.max()
    assert net.accuracy() < 0.2


def test_save_writes_model_directory(tmp_path):
    net = analytic_mlp(get_task("div", 11), phases="exact")
    net.save(tmp_path / "m")
    saved = load_model_dir(tmp_path / "m")
    config, weights = saved.config, saved.weights
    assert config["model"] == "mlp" and config["source"] == "analytic" and config["p"] == 11
    assert config["task"] == {"name": "div", "params": {"g": 2}}
    np.testing.assert_array_equal(weights["W1"], net.W1)
    ev = evaluate_mlp(weights["W1"], weights["W2"], net.task, output_scale=config["output_scale"])
    assert ev.accuracy == 1.0


@settings(max_examples=10)
@given(mst.analytic_networks(phases="random", max_p=30))
def test_random_networks_have_finite_bounded_weights(net):
    assert np.abs(net.W1).max() <= 1 + 1e-12
    assert np.isfinite(net.W2).all()


_T7 = get_task("add", 7)
INVALID = [
    ("task-type", lambda: analytic_mlp("add"), TypeError, "`task`"),
    ("width-zero", lambda: analytic_mlp(_T7, width=0), ValueError, "`width`"),
    ("width-negative", lambda: analytic_mlp(_T7, width=-4), ValueError, "`width`"),
    ("freq-multiple-of-M", lambda: analytic_mlp(_T7, frequencies=[7]), ValueError, "`frequencies`"),
    (
        "freq-zero",
        lambda: analytic_mlp(_T7, phases="exact", frequencies=[0]),
        ValueError,
        "multiple",
    ),
    ("freq-float", lambda: analytic_mlp(_T7, frequencies=[1.5]), ValueError, "`frequencies`"),
    ("scheme", lambda: analytic_mlp(_T7, phases="gromov"), ValueError, "`phases`"),
    (
        "exact-width",
        lambda: analytic_mlp(_T7, phases="exact", width=7),
        ValueError,
        "multiple of 6",
    ),
    (
        "exact-width-freqs",
        lambda: analytic_mlp(_T7, phases="exact", frequencies=[1], width=12),
        ValueError,
        "6 x",
    ),
    ("branches", lambda: analytic_mlp(_T7, branches="two"), ValueError, "`branches`"),
    ("activation", lambda: analytic_mlp(_T7, activation="softmax"), ValueError, "`activation`"),
    ("seed-negative", lambda: analytic_mlp(_T7, seed=-1), ValueError, "`seed`"),
    ("seed-string", lambda: analytic_mlp(_T7, seed="0"), TypeError, "`seed`"),
    (
        "phase-shape",
        lambda: analytic_mlp(_T7, phases=np.zeros((3, 3)), frequencies=[1, 2, 3]),
        ValueError,
        "shape",
    ),
    (
        "phase-no-freqs",
        lambda: analytic_mlp(_T7, phases=np.zeros((3, 2))),
        ValueError,
        "`frequencies`",
    ),
    (
        "complex-activation",
        lambda: analytic_complex_mlp(_T7, activation="relu"),
        ValueError,
        "quadratic",
    ),
]


@pytest.mark.parametrize("call, exc, words", [c[1:] for c in INVALID], ids=[c[0] for c in INVALID])
def test_invalid_input_is_rejected(call, exc, words):
    with pytest.raises(exc, match=words):
        call()
