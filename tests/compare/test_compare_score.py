import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import closedform
import compare


@pytest.mark.parametrize("name", ["add", "mul"])
def test_score_of_exact_analytic_network(tmp_path, name):
    task = closedform.get_task(name, 23)
    net = closedform.analytic_mlp(task, frequencies=[2, 5, 9], phases="exact")
    path = net.save(tmp_path / "net")
    card = compare.score(path)
    json.dumps(card)  # serializable
    assert card["accuracy"] == 1.0
    assert card["idealized_accuracy"] == 1.0
    assert card["phase"]["R"] == pytest.approx(1.0)
    assert card["phase"]["share_agree"] == pytest.approx(np.mean(net.frequencies >= 0))
    assert card["fit_error"]["all"] == pytest.approx(0.0, abs=1e-8)
    assert sorted(card["frequencies"]["key"]) == [2, 5, 9]
    assert card["ipr"]["all"] == pytest.approx(1.0)
    assert card["theory"]["accuracy"] == 1.0
    assert card["meta"]["source"] == "analytic"


def test_score_of_noisy_network_sits_below_theory(make_mlp):
    task = closedform.get_task("add", 31)
    net = closedform.analytic_mlp(task, frequencies=[4, 11], phases="exact")
    rng = np.random.default_rng(0)
    W1 = net.W1 + 0.2 * rng.standard_normal(net.W1.shape)
    W2 = net.W2 + 0.2 * rng.standard_normal(net.W2.shape)
    card = compare.score({"W1": W1, "W2": W2}, task, low_rank=False)
    assert card["ipr"]["all"] < card["theory"]["ipr"]["all"]
    assert card["fit_error"]["all"] > 0.05
    assert 0.8 < card["phase"]["R"] < 1.0
    assert "low_rank" not in card


def test_score_of_non_bijective_task_marks_phases_not_applicable():
    task = closedform.get_task("square_sum", 11)
    net = closedform.analytic_mlp(task, phases="exact")
    card = compare.score(net, low_rank=False, reference=False)
    assert "not_applicable" in card["phase"]
    assert card["accuracy"] == 1.0


@pytest.mark.parametrize(
    "model, task, exc",
    [
        (42, None, TypeError),
        ({"W1": np.ones((2, 14)), "W2": np.ones((7, 2))}, None, ValueError),
        ({"W1": np.ones((2, 14))}, closedform.get_task("add", 7), ValueError),
        ("/nonexistent/dir", None, FileNotFoundError),
    ],
    ids=["int", "dict-without-task", "missing-W2", "missing-dir"],
)
def test_score_invalid(model, task, exc):
    with pytest.raises(exc):
        compare.score(model, task)


def test_ipr_series_reads_checkpoints(tmp_path):
    from closedform.rundir import save_weights

    task = closedform.get_task("add", 13)
    net = closedform.analytic_mlp(task, frequencies=[3], phases="exact")
    path = net.save(tmp_path / "run")
    rng = np.random.default_rng(0)
    (tmp_path / "run" / "checkpoints").mkdir()
    for epoch, noise in ((0, 1.0), (10, 0.3), (100, 0.0)):
        w = {
            "W1": net.W1 + noise * rng.standard_normal(net.W1.shape),
            "W2": net.W2 + noise * rng.standard_normal(net.W2.shape),
        }
        save_weights(tmp_path / "run" / "checkpoints" / f"epoch_{epoch:07d}.safetensors", w)
    (tmp_path / "run" / "checkpoints" / "notes.txt").write_text("ignored")
    series = compare.ipr_series(path)
    assert series["epoch"] == [0, 10, 100]
    assert series["all"][0] < series["all"][1] < series["all"][2] == pytest.approx(1.0)
    assert series["reference"]["all"] == pytest.approx(1.0)


def test_phase_series_aligns_as_noise_falls(fake_run):
    series = compare.phase_series(fake_run)
    assert series["epoch"] == [0, 1, 2, 4, 8]
    assert series["share_agree"][-1] > series["share_agree"][0]
    assert series["R"][-1] > 0.9


# --- the analytic twin, one accuracy, health --------------------------------------------------

RNN = {"d_hidden": 96, "d_embed": 32}
TRANSFORMER = {"d_model": 32, "heads": 4, "d_mlp": 128}
TWIN_KEYS = {
    "model",
    "frequencies",
    "frequencies_rule",
    "accuracy",
    "logit_variance_explained",
    "energy_per_frequency",
}


def analytic(kind, task, ks):
    if kind == "mlp":
        return closedform.analytic_mlp(task, frequencies=ks, phases="exact")
    if kind == "rnn":
        return closedform.analytic_rnn(task, ks, **RNN)
    return closedform.analytic_transformer(task, ks, **TRANSFORMER)


@pytest.mark.parametrize("kind", ["mlp", "rnn", "transformer"])
def test_score_of_a_constructed_directory_has_its_twin(tmp_path, kind):
    task = closedform.get_task("add", 19)
    path = analytic(kind, task, [2, 7]).save(tmp_path / kind)
    card = compare.score(path, low_rank=False)
    json.dumps(card)
    assert card["meta"]["source"] == "analytic" and card["meta"]["model"] == kind
    assert card["accuracy"] == 1.0 and card["health"] == {"status": "ok", "detail": ""}
    assert card["accuracy_split"] == {"train": None, "test": None, "all": 1.0}
    assert set(card["twin"]) == TWIN_KEYS
    assert card["twin"]["model"] == kind and sorted(card["twin"]["frequencies"]) == [2, 7]
    assert card["twin"]["logit_variance_explained"] == pytest.approx(1.0, abs=1e-9)
    energy = card["twin"]["energy_per_frequency"]
    assert energy["frequency"] == list(range(1, 10))
    assert sum(energy["network"]) == pytest.approx(1.0) and sum(energy["twin"]) == pytest.approx(1)
    measures = set(card) - {"theory", "twin", "accuracy_split", "meta"}
    assert measures <= set(card["theory"])  # the twin's card has the same keys
    assert sorted(card["theory"]["frequencies_used"]) == [2, 7]
    assert all(
        "predicted by the construction" in v["rank_rule"]
        for v in card["theory"]["low_rank"].values()
    )


@pytest.mark.parametrize(
    "kind, name, ks",
    [
        ("mlp", "add", [2]),
        ("rnn", "add", [2]),
        ("transformer", "add", [2]),
        ("mlp", "mul", [2]),  # gcd(2, 12) = 2: s and s + 6 tie
        ("rnn", "mul", [2]),
        ("mlp", "mul", [3, 6]),
        ("rnn", "mul", [3, 6]),
    ],
    ids=["mlp", "rnn", "transformer", "mlp-tie", "rnn-tie", "mlp-ties", "rnn-ties"],
)
def test_accuracy_is_closedforms_and_trained_forwards(tmp_path, kind, name, ks):
    """One number: closedform's evaluate (ties wrong), the scorecard, and the same rule on the
    logits of trained's torch forward. (The transformer refuses frequency sets that tie.)"""
    import trained
    from compare._network import resolve_model

    task = closedform.get_task(name, 13)
    net = analytic(kind, task, ks)
    path = net.save(tmp_path / "m")
    card = compare.score(path, low_rank=False, reference=False)
    assert card["accuracy"] == net.evaluate().accuracy
    network, _, _ = resolve_model(path)
    correct, _ = network.correct(logits=trained.load_model(path).logits())
    assert correct[task.table.reshape(-1) >= 0].mean() == card["accuracy"]


def test_accuracy_split_uses_the_runs_own_split(tmp_path, make_mlp):
    from trained import make_dataset

    task = closedform.get_task("add", 17)
    W1, W2 = make_mlp(task, [3, 3, 3, 3, 3, 3], np.zeros((6, 3)), noise=0.6, seed=1)
    config = {
        "model": "mlp",
        "p": 17,
        "task": {"name": "add", "params": {}},
        "source": "trained",
        "activation": "quadratic",
        "width": 6,
        "split": {"alpha": 0.4, "seed": 5},
    }
    closedform.save_model_dir(tmp_path / "run", config, {"W1": W1, "W2": W2})
    card = compare.score(tmp_path / "run", low_rank=False, reference=False)
    logits = closedform.mlp_logits(W1, W2, *np.divmod(np.arange(17 * 17), 17))
    right = logits.argmax(axis=1) == task.table.reshape(-1)  # no ties in a noisy network
    ds = make_dataset("add", 17, 0.4, 5)
    split = card["accuracy_split"]
    assert split["train"] == pytest.approx(right[ds.pair_index[ds.train]].mean())
    assert split["test"] == pytest.approx(right[ds.pair_index[ds.test]].mean())
    assert split["all"] == card["accuracy"] == pytest.approx(right.mean())
    assert 0 < split["test"] < 1


@pytest.mark.parametrize("kind", ["mlp", "rnn", "transformer"])
def test_a_network_scaled_to_1e_45_is_collapsed_and_not_measured(tmp_path, kind):
    net = analytic(kind, closedform.get_task("add", 13), [2, 5])
    weights = (
        {"W1": net.W1, "W2": net.W2} if kind == "mlp" else dict(net.weights)
    )  # float32, as trained stores weights: 1e-45 is the smallest subnormal
    tiny = {k: (np.asarray(v, np.float32) * np.float32(1e-45)) for k, v in weights.items()}
    closedform.save_model_dir(tmp_path / "c", net.config(), tiny)
    card = compare.score(tmp_path / "c")
    assert card["health"]["status"] == "collapsed" and "1e-06" in card["health"]["detail"]
    assert card["accuracy"] <= 1 / 13
    for key in compare._score.MEASURES[kind]:
        assert card[key] is None, key
    assert "collapsed" in card["theory"]["not_applicable"]
    warning = compare.health_warning(card)
    assert warning.startswith("warning: the network is collapsed") and "\n" not in warning


def test_compare_cli_prints_the_health_warning(tmp_path, capsys):
    from modfourier.cli import main

    net = analytic("mlp", closedform.get_task("add", 13), [2, 5])
    closedform.save_model_dir(tmp_path / "zero", net.config(), {"W1": 0 * net.W1, "W2": 0 * net.W2})
    assert main(["compare", str(tmp_path / "zero"), "--no-low-rank"]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("warning: the network is collapsed")
    net.save(tmp_path / "exact")
    assert main(["compare", str(tmp_path / "exact"), "--no-low-rank"]) == 0
    assert capsys.readouterr().err == ""


def test_a_network_with_nan_weights_is_non_finite():
    task = closedform.get_task("add", 11)
    net = closedform.analytic_mlp(task, frequencies=[2], phases="exact")
    W1 = net.W1.copy()
    W1[0, 0] = np.nan
    card = compare.score({"W1": W1, "W2": net.W2}, task)
    assert card["health"]["status"] == "non_finite" and "W1" in card["health"]["detail"]
    assert card["accuracy"] < 1.0 and card["phase"] is None
    assert compare.health_warning(card).startswith("warning: the network is non-finite")


def test_logits_that_ignore_the_input_are_collapsed():
    task = closedform.get_task("add", 11)
    net = closedform.analytic_rnn(task, [2], **RNN)
    w = dict(net.weights)
    w["W_fc"] = np.zeros_like(w["W_fc"])
    w["b_fc"] = np.arange(11.0)  # a class bias only: every pair gets class 10
    card = compare.score(w, task)
    assert card["health"]["status"] == "collapsed" and "do not depend" in card["health"]["detail"]
    assert card["accuracy"] == pytest.approx(1 / 11)


def test_twin_takes_the_largest_prefix_of_key_frequencies_that_fits():
    """d_embed = 20 holds 4 frequencies (4 features each, and '='); a fifth wave written into
    the embedding's unused columns is a key frequency the shapes cannot hold."""
    task = closedform.get_task("add", 23)
    net = closedform.analytic_rnn(task, [1, 2, 4, 7], d_hidden=160, d_embed=20)
    w = {k: np.array(v) for k, v in net.weights.items()}
    n = np.arange(23)
    # two features of amplitude 2 against four of about 1: the strongest frequency
    w["W_E"][:23, 17] = 2 * np.cos(2 * np.pi * 9 * n / 23)
    w["W_E"][:23, 18] = 2 * np.sin(2 * np.pi * 9 * n / 23)
    card = compare.score(w, task, low_rank=False)
    assert card["accuracy"] == 1.0 and card["frequencies"]["key"][0] == 9
    assert len(card["frequencies"]["key"]) == 5
    assert len(card["twin"]["frequencies"]) == 4 and card["twin"]["frequencies"][0] == 9
    assert "4 strongest of the 5" in card["twin"]["frequencies_rule"]


def test_twin_not_applicable_where_the_construction_does_not_exist():
    task = closedform.get_task("square_of_sum", 11)
    rng = np.random.default_rng(0)
    shapes = {
        "W_E": (16, 12),
        "W_pos": (3, 16),
        "W_Q": (2, 8, 16),
        "W_K": (2, 8, 16),
        "W_V": (2, 8, 16),
        "W_O": (16, 16),
        "W_in": (32, 16),
        "W_out": (16, 32),
        "W_U": (16, 11),
    }
    w = {k: rng.standard_normal(s) for k, s in shapes.items()}
    card = compare.score(w, task, low_rank=False)
    assert "non-invertible" in card["theory"]["not_applicable"]
    assert card["twin"] == card["theory"]


@settings(max_examples=25, deadline=None)
@given(
    scale=st.floats(0.01, 100),
    shift=st.floats(-5, 5),
    seed=st.integers(0, 2**16),
)
def test_logit_variance_explained_ignores_scale_and_per_pair_shift(scale, shift, seed):
    task = closedform.get_task("add", 5)
    rng = np.random.default_rng(seed)
    Y = rng.standard_normal((25, 5))
    X = scale * Y + shift * rng.standard_normal((25, 1))
    assert compare.logit_variance_explained(X, Y, task) == pytest.approx(1.0, abs=1e-9)
    noisy = X + scale * rng.standard_normal(X.shape)
    assert compare.logit_variance_explained(noisy, Y, task) < 1.0


def test_logit_variance_explained_of_unrelated_logits_is_near_zero():
    task = closedform.get_task("add", 31)
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((2, 31 * 31, 31))
    assert abs(compare.logit_variance_explained(X, Y, task)) < 0.01
    assert np.isnan(compare.logit_variance_explained(X, 0 * Y, task))
    with pytest.raises(ValueError, match="shape"):
        compare.logit_variance_explained(X[:5], Y, task)


@pytest.mark.parametrize(
    "model, options",
    [
        ("rnn", ["--d-hidden", "96", "--d-embed", "32"]),
        ("transformer", ["--d-model", "32", "--d-mlp", "128"]),
    ],
)
def test_modfourier_compare_reads_a_constructed_directory(tmp_path, capsys, model, options):
    from modfourier.cli import main

    out = str(tmp_path / model)
    argv = ["construct", "--model", model, "--p", "17", "--frequencies", "3", "5"]
    assert main([*argv, *options, "--out", out, "--json"]) == 0
    constructed = json.loads(capsys.readouterr().out)
    assert main(["compare", out, "--json", "--no-low-rank"]) == 0
    card = json.loads(capsys.readouterr().out)
    assert card["meta"]["source"] == "analytic" and card["meta"]["model"] == model
    assert card["accuracy"] == constructed["accuracy"] == 1.0
    assert card["twin"]["accuracy"] == 1.0 and sorted(card["twin"]["frequencies"]) == [3, 5]
