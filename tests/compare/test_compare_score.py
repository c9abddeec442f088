import json

import numpy as np
import pytest

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
