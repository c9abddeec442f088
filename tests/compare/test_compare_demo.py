"""The main job end to end: analytic network, training through `trained`, report."""

import json

import pytest


def test_demo_runs_end_to_end_small_p(tmp_path, capsys):
    from modfourier.cli import main

    out = tmp_path / "demo"
    rc = main(["demo", "--p", "11", "--out", str(out), "--max-epochs", "20", "--no-progress"])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "report:" in printed and str(out / "report" / "report.html") in printed
    html_text = (out / "report" / "report.html").read_text()
    assert html_text.count("data:image/png;base64,") >= 5
    card = json.loads((out / "report" / "scorecard.json").read_text())
    # theory column = the saved exact analytic network
    assert card["theory"]["accuracy"] == 1.0 and card["theory"]["phase"]["R"] == pytest.approx(1)
    assert (out / "analytic" / "weights.safetensors").is_file()
    assert (out / "trained" / "metrics.jsonl").is_file()


@pytest.mark.slow
def test_demo_groks_at_p_59(tmp_path):
    """The default MLP preset's documented claim (docs/trained.md, "Defaults by modulus")."""
    from modfourier._demo import demo

    res = demo(p=59, out=tmp_path / "demo", progress=False)
    assert res["grokked"], res["scorecard"]["accuracy"]
    assert res["scorecard"]["phase"]["R"] > 0.9


@pytest.mark.parametrize(
    "model, sizes",
    [
        ("rnn", {"d_hidden": 16, "d_embed": 8}),
        ("transformer", {"d_model": 16, "heads": 2, "d_mlp": 32}),
    ],
    ids=["rnn", "transformer"],
)
def test_score_and_ablate_sequence_models_through_trained(tmp_path, model, sizes):
    import compare
    import trained
    from compare._report import write_report

    cfg = trained.TrainConfig(
        model=model, task="add", p=11, seed=0, device="cpu", max_epochs=3, **sizes
    )
    run_dir = tmp_path / model
    trained.train(cfg, out_dir=run_dir)
    card = compare.score(run_dir)
    assert 0.0 <= card["accuracy"] <= 1.0
    assert card["meta"]["model"] == model and card["frequencies"]["key"]
    if model == "transformer":
        assert -1.0 <= card["positional_correlation"] <= 1.0
    else:
        assert card["hidden_state_fit"]["per_vector"]
    weights, acc = compare.run_accuracy_fn(run_dir)
    assert acc(weights) == pytest.approx(card["accuracy"])
    out = write_report(run_dir, tmp_path / "rep")
    assert (out / "report.html").is_file()


@pytest.mark.parametrize("verb", ["compare", "report"])
def test_cli_reports_a_missing_run_directory(verb, tmp_path, capsys):
    from modfourier.cli import main

    # a missing directory is a fault (exit 1), not a usage error
    assert main([verb, str(tmp_path / "missing")]) == 1
    assert "not a model directory" in capsys.readouterr().err
