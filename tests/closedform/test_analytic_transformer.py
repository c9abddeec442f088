"""Closed-form one-layer transformer: accuracy, the logit formula, the alias bound, the trained
model's own forward, shapes, config and invalid input."""

import math
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from closedform import TASK_NAMES, custom_task, get_task, load_model_dir
from closedform import strategies as mst
from closedform._analytic_transformer import (
    AnalyticTransformer,
    alias_bound,
    analytic_transformer,
    default_frequencies,
    min_neurons_per_frequency,
)

NANDA = [35, 33, 9, 48, 25]  # Nanda et al. (2023)'s key frequencies at p = 113
INVERTIBLE = tuple(n for n in TASK_NAMES if n != "square_of_sum")
SHAPES = {
    "W_E": (128, 114),
    "W_pos": (3, 128),
    "W_Q": (4, 32, 128),
    "W_K": (4, 32, 128),
    "W_V": (4, 32, 128),
    "W_O": (128, 128),
    "W_in": (512, 128),
    "W_out": (128, 512),
    "W_U": (128, 113),
}
A1 = 4 / (3 * math.pi)


def all_pairs(p):
    g = np.arange(p)
    return np.repeat(g, p), np.tile(g, p)


def logits_oracle(task, k, J, scale, zero_logit):
    """The logits from the task's maps alone: Σ_k ½ Σ_j R_qj |u_j| with
    u_j = scale² Re(e^{iφ_j} w_k), w_k = e^{iω f1(n)} + e^{iω (f2(m) + τ)},
    R_qj = scale² cos(2φ_j + ω (F⁻¹(q) + τ)), plus the zero direction for mul/div."""
    p, M = task.p, task.M
    tau = 0.5 if M % 2 == 0 else 0.0
    n, m = all_pairs(p)
    phi = np.pi * np.arange(J) / J
    out = np.zeros((p * p, p))
    r = np.arange(M)
    for kk in k:
        om = 2 * np.pi * kk / M
        w = np.where(task.f1[n] >= 0, np.exp(1j * om * task.f1[n]), 0) + np.where(
            task.f2[m] >= 0, np.exp(1j * om * (task.f2[m] + tau)), 0
        )
        u = np.abs((np.exp(1j * phi)[None, :] * w[:, None]).real)  # (B, J)
        R = np.cos(2 * phi[None, :] + om * (r[:, None] + tau))  # (M, J)
        out[:, task.F] += 0.5 * scale**4 * u @ R.T
    if task.in_log_domain:
        out[:, 0] += zero_logit * ((n == 0).astype(float) + (m == 0))
    return out


def read_model_dir(path):
    """config and weights through the public reader (a ModelDir, or a (config, weights) pair)."""
    md = load_model_dir(path)
    return (md.config, md.weights) if hasattr(md, "config") else md


# -- accuracy -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, frequencies",
    [("add", NANDA), ("add", [1]), ("add", [48]), ("sub", NANDA), ("sub", [1]), ("mul", NANDA)],
    ids=["add-nanda", "add-k1", "add-k48", "sub-nanda", "sub-k1", "mul-nanda"],
)
def test_nanda_shapes_are_exact(name, frequencies):
    net = analytic_transformer(get_task(name, 113), frequencies)
    assert {k: v.shape for k, v in net.weights.items()} == SHAPES
    ev = net.evaluate()
    assert ev.accuracy == 1.0 and ev.n_correct == ev.n_pairs == 113 * 113 and ev.margin > 0


def test_nanda_frequencies_use_the_approximate_scheme():
    net = analytic_transformer(get_task("add", 113), NANDA)
    assert net.neurons_per_frequency == 101 and net.scheme == "approximate"
    assert net.attention == "uniform" and net.linear_half == "phases"
    assert 0 < net.alias_error < A1 * (1 - math.cos(2 * math.pi / 113)) / 2


def test_single_frequency_uses_the_exact_scheme():
    net = analytic_transformer(get_task("add", 113), [1])
    assert net.neurons_per_frequency == 3 * 113 and net.scheme == "exact"  # odd: see below
    assert net.alias_error == 0.0


def test_even_modulus_exact_scheme_cancels_through_the_unembedding():
    net = analytic_transformer(get_task("mul", 113), [1])
    assert net.neurons_per_frequency == 4 * 112 and net.scheme == "exact"
    assert net.linear_half == "unembedding"
    assert np.abs(net.weights["W_U"][net.layout["sum"]]).max() > 1


def test_odd_phases_leave_the_unembedding_off_the_attention_output():
    net = analytic_transformer(get_task("add", 113), NANDA)
    assert not net.weights["W_U"][net.layout["sum"]].any()


@pytest.mark.parametrize("p, J", [(31, 62), (31, 93), (31, 40), (31, 41), (3, 3), (3, 9)])
def test_both_ways_of_removing_the_linear_half(p, J):
    task = get_task("add", p)
    net = analytic_transformer(task, [1], neurons_per_frequency=J)
    assert net.linear_half == ("phases" if J % 2 and J >= 5 else "unembedding")
    expected = logits_oracle(task, [1], J, 1.0, 0.0)
    np.testing.assert_allclose(net.logits(), expected, atol=1e-10 * np.abs(expected).max())
    assert net.accuracy() == 1.0


def test_argmax_matches_the_table_directly():
    task = get_task("sub", 113)
    L = analytic_transformer(task, NANDA).logits()
    n, m = all_pairs(113)
    np.testing.assert_array_equal(L.argmax(1), (n - m) % 113)


@settings(deadline=None, max_examples=12)
@given(mst.tasks(names=INVERTIBLE, max_p=150), st.data())
def test_random_tasks_and_frequencies_are_exact(task, data):
    k = data.draw(mst.frequencies(task.M, coprime=True, max_size=4))
    net = analytic_transformer(task, k)
    target = task.table.ravel()  # the oracle: f(n, m) computed from the task's definition
    ok = target >= 0
    L = net.logits()[ok]
    t = target[ok]
    correct = L[np.arange(len(t)), t].copy()
    L[np.arange(len(t)), t] = -np.inf
    assert (correct - L.max(1)).min() > 0  # every pair right, by a positive margin


@settings(deadline=None, max_examples=10)
@given(mst.moduli(min_p=2, max_p=60), st.sampled_from(["add", "sub"]))
def test_composite_p_default_is_exact(p, name):
    ev = analytic_transformer(get_task(name, p), d_mlp=256).evaluate()
    assert ev.accuracy == 1.0 and ev.margin > 0


@pytest.mark.parametrize("name", ["mul", "div"])
def test_zero_factor_pairs(name):
    task = get_task(name, 31)
    net = analytic_transformer(task)
    L = net.logits().reshape(31, 31, 31)
    assert (L[0, 1:].argmax(-1) == 0).all()
    if name == "mul":
        assert (L[1:, 0].argmax(-1) == 0).all() and L[0, 0].argmax() == 0
    ev = net.evaluate()
    assert ev.n_pairs == (31 * 31 if name == "mul" else 31 * 30) and ev.accuracy == 1.0


def test_custom_task_with_its_own_second_map():
    task = custom_task(lambda n: 3 * n % 17, lambda m: 5 * m % 17, lambda s: (s + 2) % 17, 17, 17)
    net = analytic_transformer(task, [2, 7])
    assert net.attention == "positional" and net.accuracy() == 1.0


# -- the formula ----------------------------------------------------------------------------


@settings(deadline=None, max_examples=10)
@given(mst.tasks(names=INVERTIBLE, max_p=40), st.data())
def test_logits_equal_the_formula(task, data):
    k = data.draw(mst.frequencies(task.M, coprime=True, max_size=3))
    scale = data.draw(st.floats(0.2, 2.0))
    net = analytic_transformer(task, k, d_mlp=400, scale=scale)
    expected = logits_oracle(
        task, net.frequencies, net.neurons_per_frequency, scale, net.zero_logit
    )
    np.testing.assert_allclose(net.logits(), expected, atol=1e-9 * np.abs(expected).max())


@settings(deadline=None, max_examples=10)
@given(mst.tasks(names=INVERTIBLE, max_p=60), st.data())
def test_exact_scheme_depends_only_on_s_minus_r(task, data):
    """M | J: logit(F(r)) = scale⁴ Σ_k |cos δ_k| C cos(ω_k (s − r)), C the same for all pairs."""
    k = data.draw(mst.frequencies(task.M, coprime=True, max_size=2))
    net = analytic_transformer(task, k, d_mlp=2 * task.M * 3 + 3)
    assert net.scheme == "exact"
    M, tau = task.M, net.shift
    dec = task.decomposed.ravel()
    n, m = all_pairs(task.p)
    n, m = n[dec], m[dec]
    s = task.f1[n] + task.f2[m]
    L = net.logits(n, m)[:, task.F]  # (B, M): column r is class F(r)
    J = net.neurons_per_frequency
    phi = np.pi * np.arange(J) / J
    expected = np.zeros((len(n), M))
    for kk in net.frequencies:
        om = 2 * np.pi * kk / M
        # the constant: the readout at s = r = 0, where θ = ω τ / 2
        C = np.sum(np.cos(2 * phi + om * tau) * np.abs(np.cos(phi + om * tau / 2)))
        assert C > 0
        cos_delta = np.abs(np.cos(om * (task.f1[n] - task.f2[m] - tau) / 2))
        expected += C * cos_delta[:, None] * np.cos(om * np.subtract.outer(s, np.arange(M)))
    np.testing.assert_allclose(L, expected, atol=1e-9 * np.abs(L).max())


@pytest.mark.parametrize("J", [57, 60, 80, 112])
def test_approximate_scheme_stays_within_the_alias_bound(J):
    task = get_task("add", 113)
    net = analytic_transformer(task, [1, 9], neurons_per_frequency=J)
    n, m = all_pairs(113)
    s = n + m
    main = np.zeros((len(n), 113))
    room = np.zeros(len(n))
    for kk in net.frequencies:
        om = 2 * np.pi * kk / 113
        w = np.abs(np.cos(om * (n - m) / 2)) * J / 2
        main += w[:, None] * A1 * np.cos(om * np.subtract.outer(s, np.arange(113)))
        room += w * alias_bound(J)
    err = np.abs(net.logits() - main)
    assert (err <= room[:, None] * (1 + 1e-9) + 1e-12).all()


def test_alias_bound_closed_form_matches_the_series():
    N = 400_000
    n = np.arange(2, N + 1)
    a = (4 / np.pi) / (4.0 * n * n - 1)
    tail = (4 / np.pi) / (2 * (2 * N + 1))  # Σ_{n > N} 1/(4n² − 1) telescopes
    for J in (3, 4, 7, 57, 102):
        series = a[(n % J == 1) | (n % J == J - 1)].sum()
        assert series * (1 - 1e-12) <= alias_bound(J) <= series + tail


@pytest.mark.parametrize("M", [5, 12, 97, 112, 113, 149])
def test_min_neurons_is_where_the_bound_starts_to_hold(M):
    J = min_neurons_per_frequency(M)
    gap = A1 * (1 - math.cos(2 * math.pi / M))
    assert gap > 2 * alias_bound(J) or J % M == 0
    if J - 1 >= 3 and (J - 1) % M:
        assert gap <= 2 * alias_bound(J - 1)


def test_uniform_and_positional_attention_give_the_same_logits():
    task = get_task("add", 61)
    a = analytic_transformer(task, [3, 17], attention="uniform").logits()
    b = analytic_transformer(task, [3, 17], attention="positional", attention_scale=1.5).logits()
    np.testing.assert_allclose(a, b, atol=1e-9 * np.abs(a).max())


@pytest.mark.parametrize("L", [0.5, 4.0, 12.0])
def test_attention_pattern_and_leak(L):
    net = analytic_transformer(get_task("sub", 23), [5], attention_scale=L)
    attn = net.hidden()["attn"]  # (B, heads, 3)
    hi, lo = math.exp(L) / (math.exp(L) + 2), 1 / (math.exp(L) + 2)
    np.testing.assert_allclose(attn[:, 0], np.broadcast_to([hi, lo, lo], attn[:, 0].shape))
    np.testing.assert_allclose(attn[:, 1], np.broadcast_to([lo, hi, lo], attn[:, 1].shape))
    assert 2 * lo <= 2 * math.exp(-L)
    assert net.accuracy() == 1.0


def test_uniform_attention_pattern():
    attn = analytic_transformer(get_task("add", 23), [5]).hidden()["attn"]
    np.testing.assert_allclose(attn, 1 / 3)


def test_logits_scale_as_scale_to_the_fourth():
    task = get_task("mul", 29)
    a = analytic_transformer(task, [1, 3]).logits()
    b = analytic_transformer(task, [1, 3], scale=0.3).logits()
    np.testing.assert_allclose(b, 0.3**4 * a, atol=1e-12 * np.abs(a).max())


def test_hidden_matches_the_logits():
    net = analytic_transformer(get_task("sub", 19), [2, 7])
    h = net.hidden([3, 4], [5, 0])
    assert h["attn"].shape == (2, 4, 3) and h["mlp_pre"].shape == (2, 512)
    np.testing.assert_array_equal(h["mlp_post"], np.maximum(h["mlp_pre"], 0))
    post = net.hidden()["mlp_post"]
    assert post.shape == (19 * 19, 512)


def test_default_frequencies_are_units_starting_at_one():
    k = default_frequencies(112, 5)
    assert k[0] == 1 and len(set(k.tolist())) == 5
    assert all(math.gcd(int(x), 112) == 1 and x <= 56 for x in k)


def test_trained_hidden_agrees(tmp_path):
    pytest.importorskip("torch")
    import trained

    net = analytic_transformer(get_task("div", 23), [1, 4])
    net.save(tmp_path / "m")
    h, mine = trained.load_model(tmp_path / "m").hidden(), net.hidden()
    assert set(mine) == set(h)
    for key in mine:
        np.testing.assert_allclose(h[key], mine[key], atol=1e-12 * max(1, np.abs(mine[key]).max()))


# -- shapes, config, model directory --------------------------------------------------------


def test_config_names_the_trained_shapes(tmp_path):
    net = analytic_transformer(get_task("div", 13), [1, 5], d_model=64, heads=2, d_mlp=96)
    cfg = net.config()
    assert cfg["model"] == "transformer" and cfg["source"] == "analytic"
    assert (cfg["p"], cfg["d_model"], cfg["heads"], cfg["d_mlp"]) == (13, 64, 2, 96)
    assert cfg["attn_only"] is False and cfg["n_classes"] == [13]
    assert cfg["task"] == {"name": "div", "params": {"g": 2}}
    assert cfg["frequencies"] == [1, 5] and cfg["neurons_per_frequency"] == 48
    net.save(tmp_path / "m")
    config, weights = read_model_dir(tmp_path / "m")
    assert config["scheme"] == cfg["scheme"] and sorted(weights) == sorted(net.weights)
    for name, w in net.weights.items():
        assert w.dtype == np.float64
        np.testing.assert_array_equal(weights[name], w)


def test_too_many_frequencies_names_the_largest_that_fits():
    task = get_task("add", 113)
    with pytest.raises(ValueError, match="fit at most 8 frequencies"):
        analytic_transformer(task, list(range(1, 10)))
    assert analytic_transformer(task, list(range(1, 9))).accuracy() == 1.0


def test_residual_width_limits_the_frequencies():
    task = get_task("sub", 113)
    with pytest.raises(ValueError, match="fit at most 3 frequencies"):
        analytic_transformer(task, [1, 2, 3, 4], d_model=16, heads=2, d_mlp=4096)
    assert analytic_transformer(task, [1, 2, 3], d_model=16, heads=2, d_mlp=4096).accuracy() == 1


def test_frequencies_that_cannot_separate_are_refused():
    with pytest.raises(ValueError, match="cannot separate every class"):
        analytic_transformer(get_task("mul", 113), [2, 4])


def test_square_of_sum_is_refused():
    with pytest.raises(ValueError, match="non-invertible outer map"):
        analytic_transformer(get_task("square_of_sum", 13))


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        ({"task": "add"}, TypeError, "`task`"),
        ({"frequencies": [0]}, ValueError, "`frequencies`"),
        ({"frequencies": [13]}, ValueError, "`frequencies`"),
        ({"frequencies": [2, 11]}, ValueError, "`frequencies`"),
        ({"frequencies": [2, 2]}, ValueError, "`frequencies`"),
        ({"frequencies": []}, ValueError, "`frequencies`"),
        ({"frequencies": [1.5]}, TypeError, "`frequencies`"),
        ({"frequencies": "1"}, TypeError, "`frequencies`"),
        ({"frequencies": [[1, 2]]}, ValueError, "`frequencies`"),
        ({"d_model": 130}, ValueError, "`d_model`"),
        ({"d_model": 0}, ValueError, "`d_model`"),
        ({"d_model": 128.0}, TypeError, "`d_model`"),
        ({"heads": 0}, ValueError, "`heads`"),
        ({"heads": True}, TypeError, "`heads`"),
        ({"d_mlp": -1}, ValueError, "`d_mlp`"),
        ({"d_mlp": 6}, ValueError, "fit at most 0"),
        ({"activation": "gelu"}, ValueError, "`activation`"),
        ({"activation": None}, TypeError, "`activation`"),
        ({"attention": "causal"}, ValueError, "`attention`"),
        ({"attention": "uniform", "name": "sub"}, ValueError, "`attention`"),
        ({"heads": 1, "name": "sub"}, ValueError, "`heads`"),
        ({"attention_scale": 0.0}, ValueError, "`attention_scale`"),
        ({"attention_scale": float("inf")}, ValueError, "`attention_scale`"),
        ({"attention_scale": "4"}, TypeError, "`attention_scale`"),
        ({"scale": -1.0}, ValueError, "`scale`"),
        ({"scale": None}, TypeError, "`scale`"),
        ({"neurons_per_frequency": 2}, ValueError, "`neurons_per_frequency`"),
        ({"neurons_per_frequency": 6}, ValueError, "`neurons_per_frequency`"),
        ({"neurons_per_frequency": 7.0}, TypeError, "`neurons_per_frequency`"),
    ],
    ids=[
        "task-not-Task",
        "frequency-zero",
        "frequency-multiple-of-M",
        "frequency-duplicate-mod-minus",
        "frequency-duplicate",
        "frequencies-empty",
        "frequency-float",
        "frequencies-string",
        "frequencies-2d",
        "d_model-not-divisible",
        "d_model-zero",
        "d_model-float",
        "heads-zero",
        "heads-bool",
        "d_mlp-negative",
        "d_mlp-too-small",
        "activation-gelu",
        "activation-none",
        "attention-unknown",
        "uniform-for-sub",
        "one-head-for-sub",
        "attention_scale-zero",
        "attention_scale-inf",
        "attention_scale-string",
        "scale-negative",
        "scale-none",
        "J-below-three",
        "J-below-bound",
        "J-float",
    ],
)
def test_invalid_input(kwargs, exc, match):
    kwargs = dict(kwargs)
    task = get_task(kwargs.pop("name", "add"), 13)
    task = kwargs.pop("task", task)
    with pytest.raises(exc, match=match):
        analytic_transformer(task, **kwargs)


@pytest.mark.parametrize(
    "n, m, exc",
    [
        ([0, 13], [1, 2], ValueError),
        ([0.5], [1], TypeError),
        ([1, 2], [1], ValueError),
        (1, None, ValueError),
    ],
    ids=["out-of-range", "float", "length-mismatch", "only-n"],
)
def test_invalid_pairs(n, m, exc):
    net = analytic_transformer(get_task("add", 13), [1])
    with pytest.raises(exc):
        net.logits(n, m)


def test_module_does_not_load_torch():
    code = "import sys, closedform._analytic_transformer; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_network_is_frozen():
    net = analytic_transformer(get_task("add", 13), [1])
    assert isinstance(net, AnalyticTransformer)
    with pytest.raises(AttributeError):
        net.scale = 2.0


# -- the trained model's own forward --------------------------------------------------------


@pytest.mark.parametrize(
    "name, frequencies",
    [("add", NANDA), ("add", [1]), ("sub", NANDA), ("sub", [1]), ("mul", NANDA), ("mul", [1])],
    ids=["add-nanda", "add-k1", "sub-nanda", "sub-k1", "mul-nanda", "mul-k1"],
)
def test_trained_forward_agrees(tmp_path, name, frequencies):
    torch = pytest.importorskip("torch")
    import trained
    from trained._load import _spec_from_config
    from trained._models import forward, make_inputs, weight_shapes

    torch.set_num_threads(1)
    task = get_task(name, 113)
    net = analytic_transformer(task, frequencies)
    net.save(tmp_path / "m")
    loaded = trained.load_model(tmp_path / "m")
    spec = _spec_from_config(loaded.config)
    assert weight_shapes(spec, 113) == {k: v.shape for k, v in net.weights.items()}
    L = net.logits()
    np.testing.assert_allclose(loaded.logits(), L, atol=1e-10 * np.abs(L).max())

    W = {k: torch.as_tensor(v, dtype=torch.float32) for k, v in net.weights.items()}
    n, m = all_pairs(113)
    pairs = torch.as_tensor(np.stack([n, m], 1))
    with torch.no_grad():
        L32 = forward(spec, W, make_inputs(spec, pairs, "cpu")).double().numpy()
    target = task.table.ravel()
    np.testing.assert_array_equal(L32.argmax(1), target)
    bound = np.abs(L).max()
    assert np.abs(L32 - L).max() < 1e-5 * bound  # float32: ~ 2^-24 of the logit size, summed


def test_repr_leaves_out_the_weights():
    text = repr(analytic_transformer(get_task("add", 13), [1]))
    assert "W_E" not in text and "neurons_per_frequency=507" in text  # 39 x 13, odd


def test_evaluation_does_not_depend_on_the_chunk_size():
    net = analytic_transformer(get_task("div", 17), [1, 3])
    assert net.evaluate(chunk_bytes=1) == net.evaluate()
    with pytest.raises(ValueError, match="`chunk_bytes`"):
        net.evaluate(chunk_bytes=0)
