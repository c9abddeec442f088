"""Batched ensembles equal their members trained alone."""

import json

import numpy as np
import pytest

from trained import TrainConfig, load_model, train, train_ensemble

CFG = TrainConfig(
    model="mlp",
    task="add",
    p=11,
    width=32,
    max_epochs=30,
    eval_every=10,
    device="cpu",
    target_acc=2.0,
)


def test_members_match_single_runs():
    runs = train_ensemble(CFG, seeds=[0, 3])
    for run in runs:
        alone = train(CFG.replace(seed=run.config.seed))
        for k in ("W1", "W2"):
            np.testing.assert_allclose(run.weights[k], alone.weights[k], rtol=1e-3, atol=1e-4)
        assert run.history[-1]["test_acc"] == pytest.approx(alone.history[-1]["test_acc"])


@pytest.mark.parametrize("extra", [{"warmup": 10}, {"grokfast": "ema"}], ids=["warmup", "grokfast"])
def test_members_match_single_runs_with_step_options(extra):
    """The ensemble applies the same step as a single run (warmup, Grokfast filter)."""
    cfg = CFG.replace(**extra)
    run = train_ensemble(cfg, seeds=[1])[0]
    alone = train(cfg.replace(seed=1))
    for k in ("W1", "W2"):
        np.testing.assert_allclose(run.weights[k], alone.weights[k], rtol=1e-3, atol=1e-4)


def test_writes_one_run_directory_per_seed(tmp_path):
    train_ensemble(CFG, seeds=[1, 2], out_dir=tmp_path)
    for s in (1, 2):
        d = tmp_path / f"seed_{s}"
        assert json.loads((d / "config.json").read_text())["seed"] == s
        assert load_model(d).logits().shape == (121, 11)
        assert (d / "checkpoints" / "epoch_0000016.safetensors").is_file()


@pytest.mark.parametrize(
    "seeds, match", [([], "seeds"), ([1, 1], "distinct"), ([-1], "seeds")], ids=str
)
def test_invalid_seeds(seeds, match):
    with pytest.raises(ValueError, match=match):
        train_ensemble(CFG, seeds=seeds)


def test_only_mlp():
    with pytest.raises(ValueError, match="model"):
        train_ensemble(TrainConfig(model="rnn"), seeds=[0])
