"""Closed-form tanh RNN (Rangamani et al. 2025 architecture): accuracy, exact parts, the error
bound, Rangamani Table II, trained's own forward, invalid inputs."""

import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from closedform import custom_task, get_task, load_model_dir
from closedform import strategies as mst
from closedform._analytic_rnn import AnalyticRNN, analytic_rnn

RANGAMANI_K = [3, 4, 24, 37, 39, 51, 56]
INVERTIBLE = ("add", "sub", "affine", "square_sum", "mul", "div")


def _pairs(p):
    g = np.arange(p)
    return np.repeat(g, p), np.tile(g, p)


def _oracle_check(net, logits):
    """argmax against the brute-force table; returns the smallest correct-minus-best-wrong gap."""
    t = net.task.table.ravel()
    ok = t >= 0
    L = np.array(logits, dtype=np.float64)[ok]
    t = t[ok]
    r = np.arange(len(t))
    correct = L[r, t].copy()
    L[r, t] = -np.inf
    return float((correct - L.max(axis=1)).min())


@pytest.fixture(scope="module")
def add113():
    return analytic_rnn(get_task("add", 113), RANGAMANI_K)


CASES = {
    "add113-7freq": (("add", 113), RANGAMANI_K),
    "add97-1freq": (("add", 97), [5]),
    "sub113": (("sub", 113), None),
    "mul113": (("mul", 113), None),
}


@pytest.fixture(scope="module", params=list(CASES), ids=list(CASES))
def case_net(request):
    (name, p), ks = CASES[request.param]
    return analytic_rnn(get_task(name, p), ks)


# ------------------------------------------------------------------------ accuracy, numpy
def test_required_cases_are_exact_in_numpy(case_net):
    ev = case_net.evaluate()
    assert ev.accuracy == 1.0 and ev.margin > 0
    assert _oracle_check(case_net, case_net.logits()) > 0


def test_required_cases_are_exact_in_float32_numpy(case_net):
    ev = case_net.evaluate(np.float32)
    assert ev.accuracy == 1.0 and ev.margin > 0


def test_required_cases_fit_rangamani_sizes(case_net):
    W = case_net.weights
    assert W["W_hh"].shape[0] <= 256 and W["W_E"].shape[1] <= 256
    assert case_net.certificate()["certified"]


# ------------------------------------------------------------- trained's forward (torch)
def test_trained_load_model_agrees(case_net, tmp_path):
    pytest.importorskip("torch")
    import trained

    case_net.save(tmp_path / "m")
    loaded = trained.load_model(tmp_path / "m")
    L = loaded.logits()
    np.testing.assert_allclose(L, case_net.logits(), rtol=0, atol=1e-12)
    assert _oracle_check(case_net, L) > 0


def test_trained_forward_float32_agrees(case_net):
    torch = pytest.importorskip("torch")
    from trained._load import _spec_from_config
    from trained._models import forward

    spec = _spec_from_config(case_net.config())
    W = {k: torch.tensor(v, dtype=torch.float32) for k, v in case_net.weights.items()}
    n, m = _pairs(case_net.task.p)
    with torch.no_grad():
        L32 = forward(spec, W, {"n": torch.as_tensor(n), "m": torch.as_tensor(m)}).numpy()
    assert L32.dtype == np.float32
    np.testing.assert_array_equal(L32.argmax(1), case_net.logits().argmax(1))
    assert _oracle_check(case_net, L32) > 0


def test_weights_have_trained_names_and_shapes(add113):
    pytest.importorskip("torch")
    from trained._load import _spec_from_config
    from trained._models import weight_shapes

    expected = weight_shapes(_spec_from_config(add113.config()), 113)
    assert {k: v.shape for k, v in add113.weights.items()} == expected
    assert all(v.dtype == np.float64 for v in add113.weights.values())


# ----------------------------------------------------------- hypothesis: random tasks/sets
@st.composite
def _task_and_frequencies(draw):
    task = draw(mst.tasks(names=INVERTIBLE, min_p=3, max_p=150))
    ks = draw(mst.frequencies(task.M, coprime=True, max_size=10))
    return task, ks


@settings(deadline=None, max_examples=10)
@given(_task_and_frequencies())
def test_random_frequency_sets_are_exact(task_ks):
    task, ks = task_ks
    net = analytic_rnn(task, ks)
    assert _oracle_check(net, net.logits()) > 0 and net.certificate()["certified"]
    assert net.evaluate(np.float32).accuracy == 1.0


@settings(deadline=None, max_examples=10)
@given(mst.tasks(names=INVERTIBLE, min_p=3, max_p=150))
def test_default_frequency_sets_are_exact(task):
    net = analytic_rnn(task)
    ev = net.evaluate()
    assert ev.accuracy == 1.0 and ev.margin > 0 and net.certificate()["certified"]


# ----------------------------------------------------------- what is exact by construction
def test_block_a_of_h1_is_exactly_rho_cos_sin(add113):
    h1 = add113.hidden()["h1"][::113]  # one row per n
    a0 = add113.layout["A"][0]
    x = 2 * np.pi * 3 * np.arange(113) / 113
    np.testing.assert_allclose(h1[:, a0], 0.5 * np.cos(x), rtol=0, atol=1e-14)
    np.testing.assert_allclose(h1[:, a0 + 1], 0.5 * np.sin(x), rtol=0, atol=1e-14)


def test_h3_block_b_saturates_to_exactly_one_and_block_a_to_zero(add113):
    h3 = add113.hidden()["h3"]
    assert (h3[:, slice(*add113.layout["B"])] == 1.0).all()
    assert (h3[:, slice(*add113.layout["A"])] == 0.0).all()


def test_recurrence_routes_leaks_away_from_the_readout(add113):
    W, lay = add113.weights, add113.layout
    A, B, C = (slice(*lay[k]) for k in "ABC")
    assert not W["W_hh"][A].any() and not W["W_hh"][:, C].any()  # nothing enters A, C is read
    assert not W["W_hh"][B][:, B].any() and not W["W_hh"][C][:, A].any()
    readout = np.abs(W["W_fc"]).sum(axis=0) > 0
    assert readout[C].all() and readout.sum() == lay["C"][1] - lay["C"][0]
    assert not W["b_fc"].any()


def test_zero_unit_is_exactly_plus_or_minus_one_for_mul():
    net = analytic_rnn(get_task("mul", 23))
    z = net.hidden()["h3"][:, net.layout["zero"][0]].reshape(23, 23)
    zero_pair = np.zeros((23, 23), dtype=bool)
    zero_pair[0, :] = zero_pair[:, 0] = True
    assert (z[zero_pair] == 1.0).all() and (z[~zero_pair] == -1.0).all()


# ---------------------------------------------------------------- the approximation bound
@pytest.mark.parametrize("alpha", [0.05, 0.3, 1.0])
def test_logits_stay_within_the_certified_bound_of_the_ideal_waves(alpha):
    task = get_task("add", 31)
    net = analytic_rnn(task, [2, 9, 14], alpha=alpha)
    cert = net.certificate()
    h3 = net.hidden()["h3"]
    raw = net.logits() * np.linalg.norm(h3, axis=1, keepdims=True)  # undo the L2 norm
    s = task.inner_sum.ravel()
    d = 2 * np.pi * np.subtract.outer(s, np.arange(31))[..., None] * net.frequencies / 31
    ideal = np.cos(d) @ net.amplitudes * net.n_phases * cert["c11"]
    worst = np.abs(raw - ideal).max() / (net.n_phases * cert["c11"] * net.amplitudes.sum())
    assert worst <= cert["error_bound"] * (1 + 1e-9) + 1e-12


def test_smaller_alpha_trades_margin_for_a_smaller_error_bound():
    task = get_task("add", 61)
    small, large = (analytic_rnn(task, [4, 17], alpha=a) for a in (0.05, 0.5))
    assert small.certificate()["error_bound"] < large.certificate()["error_bound"]
    assert small.evaluate().margin < large.evaluate().margin


def test_more_phases_raise_the_surviving_order():
    task = get_task("add", 61)
    orders = [analytic_rnn(task, [4], n_phases=J).certificate()["harmful_order"] for J in (8, 24)]
    assert orders[0] >= 3 and orders[1] > orders[0]


# --------------------------------------------------------------------- Rangamani Table II
def test_table_ii_fit_error_is_below_one_percent(add113):
    from compare import hidden_state_fit

    fits = hidden_state_fit(add113.hidden()["h3"], add113.weights["W_fc"], add113.task)
    assert len(fits) == 2 * len(RANGAMANI_K)
    assert sorted({f["frequency"] for f in fits}) == sorted(RANGAMANI_K)
    assert max(f["relative_error"] for f in fits) <= 1e-2


def test_table_ii_fit_on_the_wave_vectors_of_mul():
    from compare import hidden_state_fit

    net = analytic_rnn(get_task("mul", 97))
    K = len(net.frequencies)
    fits = hidden_state_fit(net.hidden()["h3"], net.weights["W_fc"], net.task, n_vectors=2 * K)
    assert max(f["relative_error"] for f in fits) <= 1e-2


def test_norm_of_h3_is_nearly_constant(add113):
    norms = np.linalg.norm(add113.hidden()["h3"], axis=1)
    assert norms.std() / norms.mean() < 1e-4


# ------------------------------------------------------------------- other tasks, options
def test_square_of_sum_sums_every_branch_with_the_full_set():
    net = analytic_rnn(get_task("square_of_sum", 13))
    assert net.frequencies.tolist() == [1, 2, 3, 4, 5, 6] and net.accuracy() == 1.0


def test_square_of_sum_too_wide_for_the_branch_readout_names_the_reason():
    with pytest.raises(ValueError, match="non-invertible F.*every frequency 1..48"):
        analytic_rnn(get_task("square_of_sum", 97))


def test_frequency_sharing_a_factor_with_m_ties_and_is_not_certified():
    net = analytic_rnn(get_task("mul", 7), [2])  # M = 6: s and s + 3 give the same wave
    assert not net.certificate()["certified"] and net.accuracy() < 1.0


def test_div_leaves_m_zero_undefined_and_is_exact():
    ev = analytic_rnn(get_task("div", 31)).evaluate()
    assert ev.n_pairs == 31 * 30 and ev.accuracy == 1.0


def test_custom_task_with_undefined_inputs():
    task = custom_task(
        lambda n: None if n == 4 else 3 * n % 11, lambda m: m, lambda s: s, M=11, p=11
    )
    net = analytic_rnn(task, [1, 5])
    assert net.evaluate().accuracy == 1.0


def test_hidden_norm_none_keeps_the_argmax(add113):
    raw = analytic_rnn(get_task("add", 113), RANGAMANI_K, hidden_norm="none")
    np.testing.assert_array_equal(raw.logits().argmax(1), add113.logits().argmax(1))


def test_logits_of_chosen_pairs_match_rows_of_all_pairs(add113):
    rows = add113.logits(np.array([0, 5, 112]), np.array([7, 0, 112]))
    # equal up to the rounding of a differently blocked matrix product
    want = add113.logits()[[7, 5 * 113, 112 * 113 + 112]]
    np.testing.assert_allclose(rows, want, rtol=1e-12, atol=1e-12 * np.abs(want).max())


def test_too_many_frequencies_name_the_largest_that_fits():
    with pytest.raises(ValueError, match="at most 7 fit"):
        analytic_rnn(get_task("add", 113), list(range(1, 9)), d_hidden=128)


def test_save_writes_a_config_trained_can_read(add113, tmp_path):
    add113.save(tmp_path / "m")
    saved = load_model_dir(tmp_path / "m")
    cfg = saved.config
    assert cfg["model"] == "rnn" and cfg["source"] == "analytic" and cfg["n_classes"] == [113]
    assert (cfg["d_hidden"], cfg["d_embed"], cfg["hidden_norm"]) == (256, 256, "l2")
    assert cfg["frequencies"] == RANGAMANI_K and cfg["task"]["name"] == "add"
    assert set(saved.weights) == {"W_E", "W_ih", "W_hh", "b_ih", "b_hh", "W_fc", "b_fc"}


def test_module_does_not_import_torch():
    code = "import sys, closedform._analytic_rnn; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_weights_are_read_only(add113):
    assert isinstance(add113, AnalyticRNN)
    with pytest.raises(ValueError):
        add113.weights["W_hh"][0, 0] = 1.0


# ------------------------------------------------------------------------- invalid inputs
ADD = get_task("add", 13)
INVALID = [
    ("task-not-task", dict(task="add"), TypeError, "`task`"),
    ("freq-empty", dict(frequencies=[]), ValueError, "`frequencies`"),
    ("freq-float", dict(frequencies=[1.5]), ValueError, "`frequencies`"),
    ("freq-multiple-of-M", dict(frequencies=[13]), ValueError, "multiple of M"),
    ("freq-duplicate-sign", dict(frequencies=[2, 11]), ValueError, "distinct"),
    ("d_hidden-zero", dict(d_hidden=0), ValueError, "`d_hidden`"),
    ("d_hidden-float", dict(d_hidden=256.0), TypeError, "`d_hidden`"),
    ("d_embed-too-small", dict(d_embed=4), ValueError, "at most 0 fit"),
    ("n_phases-below-8", dict(n_phases=6), ValueError, "`n_phases`"),
    ("n_phases-too-wide", dict(n_phases=200), ValueError, "at most 0 fit"),
    ("alpha-zero", dict(alpha=0.0), ValueError, "`alpha`"),
    ("alpha-above-1", dict(alpha=1.5), ValueError, "`alpha`"),
    ("alpha-nan", dict(alpha=float("nan")), ValueError, "`alpha`"),
    ("alpha-str", dict(alpha="0.1"), TypeError, "`alpha`"),
    ("bias-zero", dict(bias=0.0), ValueError, "`bias`"),
    ("bias-huge", dict(bias=-9.0), ValueError, "`bias`"),
    ("gain-negative", dict(gain=-1.0), ValueError, "`gain`"),
    ("hidden_norm-unknown", dict(hidden_norm="l1"), ValueError, "`hidden_norm`"),
]


@pytest.mark.parametrize(
    "kwargs, error, match", [c[1:] for c in INVALID], ids=[c[0] for c in INVALID]
)
def test_invalid_inputs(kwargs, error, match):
    kwargs = dict(kwargs)
    task = kwargs.pop("task", ADD)
    with pytest.raises(error, match=match):
        analytic_rnn(task, **kwargs)


def test_task_with_m_one_has_no_wave():
    with pytest.raises(ValueError, match="M = 1"):
        analytic_rnn(get_task("mul", 2))


INVALID_PAIRS = [
    ("n-only", dict(n=[1]), ValueError, "both"),
    ("float-n", dict(n=[0.5], m=[1]), TypeError, "`n`"),
    ("out-of-range", dict(n=[13], m=[0]), ValueError, "0..12"),
    ("length-mismatch", dict(n=[1, 2], m=[1]), ValueError, "same length"),
]


@pytest.mark.parametrize(
    "kwargs, error, match", [c[1:] for c in INVALID_PAIRS], ids=[c[0] for c in INVALID_PAIRS]
)
def test_invalid_pairs(kwargs, error, match):
    net = analytic_rnn(ADD, [1])
    with pytest.raises(error, match=match):
        net.logits(**kwargs)


def test_invalid_evaluate_dtype():
    with pytest.raises(ValueError, match="`dtype`"):
        analytic_rnn(ADD, [1]).evaluate(np.int32)


def test_public_forwards_check_their_pairs():
    from closedform import analytic_transformer, rnn_forward, transformer_forward

    rnn = analytic_rnn(get_task("add", 7), [1], d_hidden=64, d_embed=16)
    with pytest.raises(ValueError, match="0..6"):
        rnn_forward(rnn.weights, 7, [7], [0])
    tr = analytic_transformer(get_task("add", 7), [1], d_model=32, heads=2, d_mlp=64)
    with pytest.raises(ValueError, match="same length"):
        transformer_forward(tr.weights, 7, 2, [1, 2], [3])
    with pytest.raises(TypeError, match="integer"):
        transformer_forward(tr.weights, 7, 2, [1.5], [3])
    assert int(transformer_forward(tr.weights, 7, 2, 3, 5).argmax()) == 1  # scalars are pairs
