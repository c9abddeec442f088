import subprocess
import sys

import numpy as np
import pytest

import closedform
import compare


def accuracy_fn(task):
    return lambda w: closedform.evaluate_mlp(w["W1"], w["W2"], task).accuracy


def test_energy_share_and_truncation():
    rng = np.random.default_rng(0)
    W = rng.standard_normal((8, 5))
    s = compare.singular_values(W)
    assert compare.energy_share(s)[-1] == pytest.approx(1.0)
    assert np.allclose(compare.truncate_rank(W, 5), W)
    assert np.allclose(compare.truncate_rank(W, 2) + compare.truncate_rank(W, 2, True), W)
    assert np.linalg.matrix_rank(compare.truncate_rank(W, 2)) == 2


def test_minimal_rank_of_analytic_readout_is_two_per_frequency():
    task = closedform.get_task("add", 17)
    net = closedform.analytic_mlp(task, frequencies=[2, 5, 7], phases="exact")
    res = compare.minimal_rank({"W1": net.W1, "W2": net.W2}, "W2", accuracy_fn(task))
    assert res["max_rank"] == 17
    assert res["rank"] <= 6 and res["accuracy_low_rank"] == 1.0
    assert res["accuracy_complement"] <= 2 / 17


def test_singular_vector_pairs_match_frequencies():
    task = closedform.get_task("add", 23)
    net = closedform.analytic_mlp(task, frequencies=[3, 8], phases="exact")
    W2 = net.W2.copy()
    W2[:, :6] *= 2.0  # distinct singular values for the two frequencies
    res = compare.singular_vector_frequencies(W2, axis=0)
    assert res["pairs"] == [(0, 1, 3), (2, 3, 8)]
    assert np.allclose(res["purity"], 1.0)


def test_svd_ticks():
    W = np.diag([3.0, 2.0, 1.0, 1.0])  # variance 9, 4, 1, 1 of 15
    assert compare.svd_ticks(W) == {0.5: 1, 0.9: 3}


def test_remove_frequencies_is_a_projection():
    rng = np.random.default_rng(0)
    W = rng.standard_normal((4, 15))
    once = compare.remove_frequencies(W, [2, 5])
    assert np.allclose(compare.remove_frequencies(once, [2, 5]), once)
    norms = compare.frequency_norms(once)
    assert norms[2] < 1e-12 and norms[5] < 1e-12
    assert np.allclose(norms[[0, 1, 3, 4, 6, 7]], compare.frequency_norms(W)[[0, 1, 3, 4, 6, 7]])


def test_removing_every_frequency_drops_analytic_accuracy_to_chance():
    task = closedform.get_task("add", 19)
    net = closedform.analytic_mlp(task, phases="exact")
    ks = list(range(1, 10))
    res = compare.mlp_frequency_ablation(net.W1, net.W2, task, ks)
    assert res["baseline"] == 1.0
    assert all(row["accuracy"] == 1.0 for row in res["single"])  # no frequency is essential
    assert res["cumulative"][-1]["accuracy"] <= res["chance"]
    accs = [row["accuracy"] for row in res["cumulative"]]
    assert accs[-2] >= accs[-1]


def test_ablation_on_mul_keeps_the_zero_neuron():
    task = closedform.get_task("mul", 11)
    net = closedform.analytic_mlp(task, frequencies=[1, 2], phases="exact")
    res = compare.mlp_frequency_ablation(net.W1, net.W2, task, [1, 2])
    assert res["cumulative"][-1]["accuracy"] < 0.5


def test_restricted_and_excluded_loss_of_analytic_network():
    task = closedform.get_task("add", 13)
    net = closedform.analytic_mlp(task, frequencies=[3, 4], phases="exact")
    n, m = np.divmod(np.arange(13 * 13), 13)
    logits = 20 * closedform.mlp_logits(net.W1, net.W2, n, m)
    res = compare.restricted_excluded_loss(logits, task, [3, 4])
    assert res["restricted_loss"] <= res["loss"] + 1e-9
    assert res["excluded_loss"] > np.log(13) - 0.5


def test_positional_correlation_and_active_frequencies():
    W_pos = np.array([[1.0, -1.0, 2.0, 0.5], [1.1, -0.9, 2.1, 0.4], [0.0, 1.0, 0.0, 1.0]])
    assert compare.positional_correlation(W_pos) > 0.99
    n = np.arange(53)
    rng = np.random.default_rng(0)
    W_E = np.stack([np.cos(2 * np.pi * 7 * n / 53), np.sin(2 * np.pi * 19 * n / 53)], 1)
    W_E = np.vstack([W_E + 0.1 * rng.standard_normal(W_E.shape), [[5.0, 5.0]]])  # "=" token
    res = compare.active_frequencies(W_E, p=53)
    assert sorted(res["frequencies"].tolist()) == [7, 19]
    shuffled = rng.standard_normal((53, 2))
    res_b = compare.active_frequencies(W_E, p=53, baseline=shuffled)
    assert sorted(res_b["frequencies"].tolist()) == [7, 19]


@pytest.mark.parametrize(
    "fn, args, exc",
    [
        (compare.truncate_rank, (np.ones((3, 3)), 4), ValueError),
        (compare.energy_share, (np.array([-1.0, 2.0]),), ValueError),
        (compare.svd_ticks, (np.zeros((3, 3)),), ValueError),
        (compare.remove_frequencies, (np.ones(8), [0]), ValueError),
        (compare.remove_frequencies, (np.ones(8), [5]), ValueError),
        (compare.remove_frequencies, (np.ones(8), ["a"]), ValueError),
        (compare.positional_correlation, (np.ones((2, 3)),), ValueError),
        (compare.positional_correlation, (np.eye(3), 0, 5), ValueError),
        (compare.minimal_rank, ({"W": np.eye(2)}, "V", len), ValueError),
        (compare.minimal_rank, ({"W": np.eye(2)}, "W", len, 0.0, -1.0), ValueError),
        (compare.singular_vector_frequencies, (np.eye(3), 2), ValueError),
    ],
    ids=[
        "rank-too-big",
        "negative-sigma",
        "zero-matrix",
        "k=0",
        "k>M/2",
        "k-string",
        "constant-embedding",
        "position-out-of-range",
        "unknown-name",
        "negative-gap-rtol",
        "bad-axis",
    ],
)
def test_invalid_inputs(fn, args, exc):
    with pytest.raises(exc):
        fn(*args)


def test_import_does_not_load_torch_or_matplotlib():
    code = (
        "import sys, compare, compare._cli; "
        "assert 'torch' not in sys.modules, 'torch'; "
        "assert 'trained' not in sys.modules, 'trained'; "
        "assert 'matplotlib' not in sys.modules, 'matplotlib'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# --- well-defined ranks -----------------------------------------------------------------------


def test_minimal_rank_never_cuts_a_degenerate_cluster():
    """Four equal singular values: a rank-2 truncation keeps an arbitrary half of the
    eigenspace, so only the ranks 0 and 4 are tried."""
    seen = []

    def acc(w):
        seen.append(int(np.linalg.matrix_rank(w["W"])))
        return 1.0 if seen[-1] >= 1 else 0.0  # any non-zero truncation would do

    res = compare.minimal_rank({"W": np.eye(4)}, "W", acc)
    assert res["rank"] == 4 and set(seen) <= {0, 4}
    assert res["rank_rule"].startswith("search")


def test_minimal_rank_of_the_exact_mlp_does_not_depend_on_rounding():
    task = closedform.get_task("add", 23)
    net = closedform.analytic_mlp(task, phases="exact")  # every frequency, all at one scale
    pred = compare.predicted_ranks(net)
    rng = np.random.default_rng(0)
    for noise in (0.0, 1e-15):
        W1 = net.W1 * (1 + noise * rng.standard_normal(net.W1.shape))
        weights = {"W1": W1, "W2": net.W2}
        res = compare.minimal_rank(weights, "W1", accuracy_fn(task))
        assert res["rank"] == pred["W1"]["rank"] == 4 * 11


@pytest.mark.parametrize(
    "name, params",
    [
        ("add", {}),
        ("sub", {}),
        ("mul", {}),
        ("div", {}),
        ("affine", {"A": 2, "B": 3, "C": 1}),
        ("square_sum", {}),
        ("square_of_sum", {}),
    ],
)
def test_predicted_ranks_are_the_constructions_numerical_ranks(name, params):
    task = closedform.get_task(name, 13, **params)
    ks = [1, 3] if task.invertible else None
    nets = [
        closedform.analytic_mlp(task, frequencies=ks, phases="exact"),
        closedform.analytic_rnn(task, ks, d_hidden=128, d_embed=32 if ks else 64),
    ]
    if task.invertible:
        nets.append(closedform.analytic_transformer(task, ks, d_model=32, heads=4, d_mlp=256))
    for net in nets:
        weights = net.weights if hasattr(net, "weights") else {"W1": net.W1, "W2": net.W2}
        for matrix, pred in compare.predicted_ranks(net).items():
            S = np.linalg.svd(np.asarray(weights[matrix]), compute_uv=False)
            numerical = int((S > 1e-9 * S[0]).sum()) if S[0] > 0 else 0
            assert pred["rank"] == numerical, (type(net).__name__, matrix)
            assert pred["rank_rule"].startswith("predicted by the construction")


@pytest.mark.parametrize(
    "net, exc",
    [
        (closedform.analytic_mlp(closedform.get_task("add", 7), width=8), ValueError),
        ({"W1": np.eye(2)}, TypeError),
    ],
    ids=["random-phases", "not-an-analytic-network"],
)
def test_predicted_ranks_invalid(net, exc):
    with pytest.raises(exc):
        compare.predicted_ranks(net)


def test_frequency_remover_takes_waves_from_embedding_and_readout():
    task = closedform.get_task("add", 13)
    net = closedform.analytic_rnn(task, [2, 5], d_hidden=64, d_embed=16)
    w = compare.frequency_remover("rnn", task)(net.weights, [2, 5])
    assert not np.any(w["W_fc"])
    norms = compare.frequency_norms(w["W_E"][:13], axis=0)
    assert norms[[2, 5]].max() < 1e-12 * norms.max()  # block A's harmonics 6, 4 (15, 10) stay
    np.testing.assert_array_equal(w["W_E"][13], net.weights["W_E"][13])  # '=' is no number
    with pytest.raises(ValueError, match="kind"):
        compare.frequency_remover("cnn", task)


def test_run_accuracy_fn_of_an_analytic_network_in_its_dtype():
    task = closedform.get_task("add", 13)
    net = closedform.analytic_transformer(task, [2, 5], d_model=32, heads=4, d_mlp=128)
    weights, acc = compare.run_accuracy_fn(net)
    assert acc(weights) == 1.0
    assert acc({k: v.astype(np.float32) for k, v in weights.items()}) == 1.0
    assert acc({**weights, "W_U": 0 * weights["W_U"]}) == 0.0  # all classes tie: all wrong
