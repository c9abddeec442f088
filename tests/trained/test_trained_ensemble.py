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


# ---- members with their own lr / weight decay / split --------------------------------------

SETTINGS = [
    {"seed": 0, "lr": 0.05, "weight_decay": 0.5},
    {"seed": 2, "lr": 0.01, "weight_decay": 0.0, "alpha": 0.7},
    {"seed": 0, "data_seed": 5, "lr": 0.02, "weight_decay": 2.0, "alpha": 0.3},
]


@pytest.mark.parametrize(
    "extra",
    [
        {"optimizer": "adamw"},
        {"optimizer": "adam"},
        {"optimizer": "gd", "loss": "mse"},
        {"optimizer": "momentum", "momentum": 0.8},
        {"optimizer": "adamw", "warmup": 5, "grokfast": "ema"},
    ],
    ids=lambda d: "-".join(str(v) for v in d.values()),
)
def test_members_with_own_settings_match_single_runs(extra):
    """Each member trains as the single run with its lr, weight decay and split (the oracle:
    torch.optim's optimizers in :func:`train`)."""
    cfg = CFG.replace(**extra)
    if extra["optimizer"] in ("gd", "momentum"):  # GD needs larger steps on this MLP
        settings = [{**s, "lr": s["lr"] * 20} for s in SETTINGS]
    else:
        settings = SETTINGS
    runs = train_ensemble(cfg, settings=settings)
    for run, s in zip(runs, settings, strict=True):
        alone = train(cfg.replace(**s))
        assert run.config == alone.config
        for k in ("W1", "W2"):
            np.testing.assert_allclose(run.weights[k], alone.weights[k], rtol=1e-3, atol=1e-4)
        assert [r["epoch"] for r in run.history] == [r["epoch"] for r in alone.history]
        for key in ("train_loss", "test_loss", "train_acc", "test_acc", "grad_norm", "norm_W1"):
            assert run.history[-1][key] == pytest.approx(alone.history[-1][key], rel=1e-3)


def test_members_stop_at_their_own_target():
    """A member that reaches the target freezes at that epoch, as its single run stops there."""
    cfg = CFG.replace(p=23, width=64, alpha=0.8, max_epochs=120, eval_every=5, target_acc=0.9)
    settings = [{"lr": 0.1, "weight_decay": 1.0}, {"lr": 0.003, "weight_decay": 0.0}]
    runs = train_ensemble(cfg, settings=settings)
    alone = [train(cfg.replace(**s)) for s in settings]
    assert [r.stopped for r in runs] == [a.stopped for a in alone]
    assert [r.epochs for r in runs] == [a.epochs for a in alone]
    assert runs[0].stopped == "target" and runs[1].stopped == "max_epochs"  # the test needs both
    for r, a in zip(runs, alone, strict=True):
        np.testing.assert_allclose(r.weights["W2"], a.weights["W2"], rtol=1e-3, atol=1e-4)


def test_diverging_member_fails_alone(tmp_path):
    cfg = CFG.replace(optimizer="gd", max_epochs=20)
    runs = train_ensemble(cfg, settings=[{"lr": 1e9}, {"lr": 1.0}], out_dir=tmp_path)
    assert runs[0].stopped == "non_finite" and runs[0].epochs < 20
    assert runs[1].stopped == "max_epochs" and runs[1].epochs == 20
    alone = train(cfg.replace(lr=1.0))
    np.testing.assert_allclose(runs[1].weights["W1"], alone.weights["W1"], rtol=1e-3, atol=1e-4)
    status = [json.loads((tmp_path / f"member_{i}/config.json").read_text()) for i in (0, 1)]
    assert [s["status"] for s in status] == ["failed", "done"]
    assert status[1]["ensemble"] == {"members": 2, "index": 1, "settings": {"lr": 1.0}}


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"settings": [{"width": 8}]}, "may only set"),
        ({"settings": [{"lr": 0.1}, {"lr": 0.1}]}, "distinct"),
        ({"settings": []}, "non-empty"),
        ({"settings": [{"lr": 0.1}], "seeds": [0]}, "exactly one"),
        ({}, "exactly one"),
        ({"settings": [{"alpha": 1.5}]}, "alpha"),
    ],
    ids=str,
)
def test_invalid_settings(kwargs, match):
    with pytest.raises(ValueError, match=match):
        train_ensemble(CFG, **kwargs)


@pytest.mark.parametrize("activation", ["quadratic", "relu", "gelu", "tanh"])
@pytest.mark.parametrize("loss", ["cross_entropy", "mse"])
@pytest.mark.parametrize("parametrization", ["mean_field", "standard"])
def test_hand_written_step_equals_autograd(activation, loss, parametrization):
    """The CPU step's hand-written backward equals autograd through `forward` (Gromov eq. 1-2),
    with padded rows (weight 0) and members of different sizes."""
    import torch

    from trained._ensemble import _BatchedMLPGrad
    from trained._models import forward

    p, S, B = 7, 3, 10
    cfg = TrainConfig(
        model="mlp",
        p=p,
        width=6,
        activation=activation,
        loss=loss,
        parametrization=parametrization,
    ).resolve()
    g = torch.Generator().manual_seed(0)
    W = {
        "W1": torch.randn(S, 6, 2 * p, generator=g, requires_grad=True),
        "W2": torch.randn(S, p, 6, generator=g, requires_grad=True),
    }
    batch = {
        "n": torch.randint(0, p, (S, B), generator=g),
        "m": torch.randint(0, p, (S, B), generator=g),
    }
    y = torch.randint(0, p, (S, B), generator=g)
    wts = torch.zeros(S, B)
    for s, n_s in enumerate((10, 7, 4)):  # members of 10, 7 and 4 real rows
        wts[s, :n_s] = 1.0 / n_s
    logits = forward(cfg, W, batch)
    if loss == "cross_entropy":
        per = torch.nn.functional.cross_entropy(
            logits.reshape(-1, p), y.reshape(-1), reduction="none"
        ).reshape(S, B)
    else:
        per = ((logits - torch.nn.functional.one_hot(y, p).float()) ** 2).mean(-1)
    expected = torch.autograd.grad((per * wts).sum(), [W["W1"], W["W2"]])
    z, got_loss, got = _BatchedMLPGrad(cfg, batch, y, wts)(W["W1"].detach(), W["W2"].detach())
    torch.testing.assert_close(z, logits.detach())
    torch.testing.assert_close(got_loss, per.detach())
    for a, b in zip(got, expected, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)
    assert all(float(t.abs().max()) > 0 for t in got)  # a real gradient, not zeros


class _Kill(Exception):
    pass


def _kill_at(epoch):
    def progress(records):
        if next(iter(records.values()))["epoch"] == epoch:
            raise _Kill

    return progress


def _assert_bitwise(runs_a, runs_b):
    for a, b in zip(runs_a, runs_b, strict=True):
        assert (a.epochs, a.stopped) == (b.epochs, b.stopped)
        for k in ("W1", "W2"):
            np.testing.assert_array_equal(a.weights[k], b.weights[k])
        assert a.history == b.history


@pytest.mark.parametrize(
    "extra",
    [
        {},
        {"grokfast": "ema"},
        {"optimizer": "momentum", "lr": 0.3, "grokfast": "ma", "grokfast_window": 5},
        {"optimizer": "gd", "lr": 1.0, "weight_decay": 0.01},
    ],
    ids=["adamw", "adamw-ema", "momentum-ma", "gd"],
)
def test_resume_after_a_kill_is_bitwise_equal(tmp_path, extra):
    cfg = CFG.replace(max_epochs=40, eval_every=1, **extra)
    settings = [{"seed": 0}, {"seed": 1, "lr": cfg.resolve().lr / 2, "alpha": 0.7}]
    full = train_ensemble(cfg, settings=settings, out_dir=tmp_path / "full")
    with pytest.raises(_Kill):
        train_ensemble(cfg, settings=settings, out_dir=tmp_path / "killed", progress=_kill_at(21))
    from closedform.rundir import list_checkpoints

    assert list_checkpoints(tmp_path / "killed" / "member_0")[-1] == 16
    resumed = train_ensemble(cfg, settings=settings, out_dir=tmp_path / "killed", resume=True)
    _assert_bitwise(full, resumed)
    assert [r["epoch"] for r in resumed[1].history] == list(range(41))
    for i in (0, 1):  # the files hold the same history as the returned runs
        lines = (tmp_path / "killed" / f"member_{i}" / "metrics.jsonl").read_text().splitlines()
        assert [json.loads(x) for x in lines] == resumed[i].history


def test_resume_keeps_members_that_already_stopped(tmp_path):
    """A member that reached its target before the kill stays as it is; the others resume."""
    cfg = CFG.replace(p=23, width=64, alpha=0.8, max_epochs=120, eval_every=5, target_acc=0.9)
    settings = [{"lr": 0.1, "weight_decay": 1.0}, {"lr": 0.003, "weight_decay": 0.0}]
    full = train_ensemble(cfg, settings=settings, out_dir=tmp_path / "full")
    assert full[0].stopped == "target" and full[0].epochs < 100  # the test needs both
    with pytest.raises(_Kill):
        train_ensemble(cfg, settings=settings, out_dir=tmp_path / "k", progress=_kill_at(100))
    done = json.loads((tmp_path / "k" / "member_0" / "config.json").read_text())
    assert (done["status"], done["stopped"]) == ("done", "target")  # completed when it stopped
    resumed = train_ensemble(cfg, settings=settings, out_dir=tmp_path / "k", resume=True)
    _assert_bitwise(full, resumed)


def test_member_directory_resumes_as_a_single_run(tmp_path):
    """Checkpoints hold each member's optimizer state in a single run's format."""
    cfg = CFG.replace(grokfast="ema")
    train_ensemble(cfg.replace(max_epochs=13), seeds=[0, 1], out_dir=tmp_path)
    resumed = train(cfg.replace(seed=1, max_epochs=30), out_dir=tmp_path / "seed_1", resume=True)
    alone = train(cfg.replace(seed=1, max_epochs=30))
    for k in ("W1", "W2"):
        np.testing.assert_allclose(resumed.weights[k], alone.weights[k], rtol=1e-3, atol=1e-4)


def test_resume_refusals(tmp_path):
    train_ensemble(CFG.replace(max_epochs=5), seeds=[0, 1, 2], out_dir=tmp_path)
    with pytest.raises(ValueError, match="lr"):
        train_ensemble(CFG.replace(lr=0.5), seeds=[0, 1, 2], out_dir=tmp_path, resume=True)
    with pytest.raises(ValueError, match="ensemble of 3"):
        train_ensemble(CFG, seeds=[0, 1], out_dir=tmp_path, resume=True)
    with pytest.raises(ValueError, match="needs `out_dir`"):
        train_ensemble(CFG, seeds=[0, 1], resume=True)
    with pytest.raises(TypeError, match="progress"):
        train_ensemble(CFG, seeds=[0], progress=3)
    import pickle

    (tmp_path / "seed_1" / "checkpoints" / "epoch_0000004.safetensors").write_bytes(
        pickle.dumps({"W1": np.zeros(3)})
    )
    (tmp_path / "seed_1" / "checkpoints" / "x.pkl").write_bytes(b"")
    with pytest.raises(ValueError, match="pickled"):
        train_ensemble(CFG.replace(max_epochs=9), seeds=[0, 1, 2], out_dir=tmp_path, resume=True)
