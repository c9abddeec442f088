"""Training, run directories, resume equality, tampered files, invalid configs."""

import json
import pickle
import subprocess
import sys

import numpy as np
import pytest
import torch

import trained
from closedform.rundir import list_checkpoints, load_weights
from trained import NonFiniteLossError, TrainConfig, load_model, train

SMALL = dict(model="mlp", task="add", p=11, width=32, alpha=0.5, device="cpu")


def _equal_weights(a, b):
    return set(a) == set(b) and all(np.array_equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize(
    "kwargs, field",
    [
        (dict(alpha=0.0), "alpha"),
        (dict(alpha=1.0), "alpha"),
        (dict(alpha=-0.3), "alpha"),
        (dict(width=0), "width"),
        (dict(optimizer="lbfgs"), "optimizer"),
        (dict(p=2), "p"),
        (dict(p=1), "p"),
        (dict(task="mul", p=15), "p"),
        (dict(lr=0.0), "lr"),
        (dict(loss="hinge"), "loss"),
        (dict(activation="swish"), "activation"),
        (dict(eval_every=0), "eval_every"),
        (dict(max_epochs=0), "max_epochs"),
        (dict(betas=(0.9, 1.0)), "betas"),
        (dict(grokfast="sma"), "grokfast"),
        (dict(task="nope"), "task"),
        (dict(preset="nanda"), "preset"),
        (dict(model="cnn"), "model"),
        (dict(dropout=1.0), "dropout"),
        (dict(seed=-1), "seed"),
    ],
    ids=lambda x: x if isinstance(x, str) else "-".join(f"{k}={v}" for k, v in x.items()),
)
def test_invalid_config_names_the_field(kwargs, field):
    with pytest.raises(ValueError, match=f"`{field}`"):
        TrainConfig(**{"model": "mlp", **kwargs})


def test_train_rejects_non_config():
    with pytest.raises(TypeError, match="`config`"):
        train({"model": "mlp"})


def test_resolve_fills_every_field_from_the_preset():
    cfg = TrainConfig(model="transformer").resolve()
    assert cfg.preset == "nanda-cpu" and cfg.p == 113 and cfg.betas == (0.9, 0.98)
    assert TrainConfig(model="transformer", preset="nanda", lr=5e-4).resolve().lr == 5e-4


def test_mlp_groks_small_p_to_full_test_accuracy():
    run = train(TrainConfig(model="mlp", task="add", p=23, alpha=0.8, device="cpu", target_acc=1.0))
    assert run.stopped == "target"
    assert run.history[-1]["test_acc"] == 1.0 and run.history[-1]["train_acc"] == 1.0


def test_run_directory_layout(tmp_path):
    run = train(TrainConfig(**SMALL, max_epochs=10, eval_every=5), out_dir=tmp_path / "r")
    d = run.run_dir
    cfg = json.loads((d / "config.json").read_text())
    assert cfg["model"] == "mlp" and cfg["p"] == 11 and cfg["task"] == {"name": "add", "params": {}}
    assert cfg["source"] == "trained" and cfg["output_scale"] == 2 / 32
    assert cfg["split"] == {"alpha": 0.5, "seed": 0}
    assert list_checkpoints(d) == [0, 1, 2, 4, 8, 10]
    lines = [json.loads(x) for x in (d / "metrics.jsonl").read_text().splitlines()]
    assert [x["epoch"] for x in lines] == [0, 1, 2, 4, 5, 8, 10]
    assert {"train_loss", "test_loss", "train_acc", "test_acc", "grad_norm", "norm_W1"} <= set(
        lines[0]
    )
    loaded = load_model(d)
    assert _equal_weights(loaded.weights, run.weights)


def test_loaded_logits_match_training_accuracy(tmp_path):
    run = train(TrainConfig(**SMALL, max_epochs=30, eval_every=30), out_dir=tmp_path)
    model = load_model(tmp_path)
    ds = trained.make_dataset("add", 11, 0.5, 0)
    pred = model.logits().argmax(1)[ds.pair_index]
    acc = (pred[ds.test] == ds.labels[ds.test]).mean()
    assert acc == pytest.approx(run.history[-1]["test_acc"], abs=1e-6)


def test_norm_metrics_match_weights():
    run = train(TrainConfig(**SMALL, max_epochs=4, eval_every=4))
    assert run.history[-1]["norm_W2"] == pytest.approx(np.linalg.norm(run.weights["W2"]), 1e-5)


def test_same_seed_is_deterministic():
    a = train(TrainConfig(**SMALL, max_epochs=20, eval_every=20))
    b = train(TrainConfig(**SMALL, max_epochs=20, eval_every=20))
    assert _equal_weights(a.weights, b.weights)


@pytest.mark.parametrize(
    "extra",
    [
        dict(),
        dict(grokfast="ema"),
        dict(grokfast="ma", grokfast_window=3),
        dict(optimizer="momentum", lr=0.5, momentum=0.9),
        dict(model="transformer", p=7, d_model=8, heads=2, d_mlp=8, dropout=0.1, width=None),
    ],
    ids=["adamw", "grokfast_ema", "grokfast_ma", "momentum", "transformer_dropout"],
)
def test_resume_after_max_epochs_is_bitwise_equal(tmp_path, extra):
    base = {**SMALL, "eval_every": 3, **extra}
    full = train(TrainConfig(**base, max_epochs=21), out_dir=tmp_path / "full")
    train(TrainConfig(**base, max_epochs=13), out_dir=tmp_path / "part")
    resumed = train(TrainConfig(**base, max_epochs=21), out_dir=tmp_path / "part", resume=True)
    assert _equal_weights(full.weights, resumed.weights)
    assert full.history[-1] == resumed.history[-1]


def test_resume_after_a_kill_is_bitwise_equal(tmp_path):
    cfg = TrainConfig(**SMALL, max_epochs=40, eval_every=1)
    full = train(cfg, out_dir=tmp_path / "full")

    def kill(rec):
        if rec["epoch"] == 21:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(cfg, out_dir=tmp_path / "killed", progress=kill)
    assert list_checkpoints(tmp_path / "killed")[-1] == 16
    resumed = train(cfg, out_dir=tmp_path / "killed", resume=True)
    assert _equal_weights(full.weights, resumed.weights)
    assert [r["epoch"] for r in resumed.history] == list(range(41))
    assert resumed.history == full.history


def test_resume_refuses_changed_hyper_parameters(tmp_path):
    train(TrainConfig(**SMALL, max_epochs=4), out_dir=tmp_path)
    with pytest.raises(ValueError, match="lr"):
        train(TrainConfig(**SMALL, max_epochs=8, lr=0.5), out_dir=tmp_path, resume=True)


def test_existing_run_directory_is_not_overwritten(tmp_path):
    train(TrainConfig(**SMALL, max_epochs=2), out_dir=tmp_path)
    with pytest.raises(ValueError, match="already holds a run"):
        train(TrainConfig(**SMALL, max_epochs=2), out_dir=tmp_path)


def test_tampered_checkpoint_is_refused(tmp_path):
    train(TrainConfig(**SMALL, max_epochs=8), out_dir=tmp_path)
    path = tmp_path / "checkpoints" / "epoch_0000008.safetensors"
    data = bytearray(path.read_bytes())
    data[:8] = (10**9).to_bytes(8, "little")  # header length past the end of the file
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="not a valid safetensors file"):
        train(TrainConfig(**SMALL, max_epochs=16), out_dir=tmp_path, resume=True)


def test_pickled_checkpoint_is_refused(tmp_path):
    train(TrainConfig(**SMALL, max_epochs=8), out_dir=tmp_path)
    path = tmp_path / "checkpoints" / "epoch_0000008.safetensors"
    path.write_bytes(pickle.dumps({"W1": np.zeros((32, 22))}))
    with pytest.raises(ValueError, match="not a valid safetensors file"):
        train(TrainConfig(**SMALL, max_epochs=16), out_dir=tmp_path, resume=True)


def test_stray_pickle_in_checkpoints_is_refused(tmp_path):
    train(TrainConfig(**SMALL, max_epochs=8), out_dir=tmp_path)
    torch.save({"W1": torch.zeros(2)}, tmp_path / "checkpoints" / "epoch_0000009.pt")
    with pytest.raises(ValueError, match="pickled"):
        train(TrainConfig(**SMALL, max_epochs=16), out_dir=tmp_path, resume=True)


def test_tampered_weights_refused_by_load_model(tmp_path):
    train(TrainConfig(**SMALL, max_epochs=2), out_dir=tmp_path)
    (tmp_path / "weights.safetensors").write_bytes(b"\x80\x04not safetensors")
    with pytest.raises(ValueError, match="not a valid safetensors file"):
        load_model(tmp_path)


def test_non_finite_loss_stops_with_clear_error_and_keeps_checkpoints(tmp_path):
    cfg = TrainConfig(**SMALL, optimizer="gd", lr=1e6, max_epochs=50)
    with pytest.raises(NonFiniteLossError, match="non-finite .* at epoch"):
        train(cfg, out_dir=tmp_path)
    epochs = list_checkpoints(tmp_path)
    assert epochs and epochs[0] == 0
    last = load_weights(tmp_path / "checkpoints" / f"epoch_{epochs[-1]:07d}.safetensors")
    assert all(np.isfinite(v).all() for v in last.values())


@pytest.mark.parametrize("task", ["sub", "mul", "div", "square_sum", "square_of_sum"])
def test_every_task_trains_and_skips_undefined_pairs(task):
    run = train(TrainConfig(model="mlp", task=task, p=7, width=16, max_epochs=2, device="cpu"))
    ds = trained.make_dataset(task, 7, 0.5, 0)
    assert len(ds.train) + len(ds.test) == (42 if task == "div" else 49)
    assert np.isfinite(run.history[-1]["train_loss"])


def test_rnn_fits_its_training_set():
    cfg = TrainConfig(
        model="rnn",
        p=13,
        d_hidden=64,
        d_embed=64,
        max_epochs=400,
        device="cpu",
        eval_every=20,
        target_acc=2.0,
    )
    run = train(cfg)
    assert run.history[-1]["train_acc"] == 1.0


def test_transformer_fits_its_training_set():
    cfg = TrainConfig(
        model="transformer",
        p=13,
        d_model=32,
        heads=4,
        d_mlp=128,
        lr=3e-3,
        max_epochs=400,
        eval_every=20,
        target_acc=2.0,
        grokfast=None,
        device="cpu",
    )
    run = train(cfg)
    assert run.history[-1]["train_acc"] == 1.0


def test_rnn_hidden_states_over_all_pairs(tmp_path):
    cfg = TrainConfig(model="rnn", p=5, d_hidden=8, d_embed=4, max_epochs=1, device="cpu")
    train(cfg, out_dir=tmp_path)
    hidden = load_model(tmp_path).hidden()
    assert {k: v.shape for k, v in hidden.items()} == {"h1": (25, 8), "h2": (25, 8), "h3": (25, 8)}
    h1 = hidden["h1"].reshape(5, 5, 8)
    assert np.allclose(h1, h1[:, :1])  # h1 depends on a only


def test_logits_with_substituted_weights(tmp_path):
    train(TrainConfig(**SMALL, max_epochs=1), out_dir=tmp_path)
    model = load_model(tmp_path)
    zero = {k: np.zeros_like(v) for k, v in model.weights.items()}
    assert not model.logits(zero).any()
    with pytest.raises(ValueError, match="shape"):
        model.logits({"W1": np.zeros((3, 3)), "W2": model.weights["W2"]})


def test_import_of_cli_does_not_load_torch():
    code = "import sys, trained._cli, trained; assert 'torch' not in sys.modules, 'torch loaded'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_cli_json(tmp_path):
    from modfourier.cli import main

    out = tmp_path / "cli"
    argv = [
        "train",
        "--model",
        "mlp",
        "--task",
        "add",
        "--p",
        "11",
        "--epochs",
        "5",
        "--device",
        "cpu",
        "--out",
        str(out),
        "--json",
    ]
    assert main(argv) == 0
    assert list_checkpoints(out)[-1] == 5
    assert main([*argv[:-3], "--epochs", "9", "--out", str(out), "--resume", "--json"]) == 0


def test_cli_set_any_field(tmp_path, capsys):
    from modfourier.cli import main

    argv = ["train", "--model", "mlp", "--p", "11", "--epochs", "2", "--device", "cpu", "--json"]
    sets = ["--set", "width=16", "--set", "betas=[0.9, 0.98]", "--set", "activation=relu"]
    assert main([*argv, *sets, "--out", str(tmp_path / "a")]) == 0
    hyper = json.loads((tmp_path / "a" / "config.json").read_text())["hyper"]
    assert (hyper["width"], hyper["betas"], hyper["activation"]) == (16, [0.9, 0.98], "relu")
    capsys.readouterr()
    assert main([*argv, "--set", "widht=16", "--out", str(tmp_path / "b")]) == 2
    assert "widht" in capsys.readouterr().err
    assert main([*argv, "--set", "p=13", "--out", str(tmp_path / "c")]) == 2  # --p says 11
    assert not (tmp_path / "b").exists() and not (tmp_path / "c").exists()


def test_load_model_reads_an_analytic_directory(tmp_path):
    import closedform

    task = closedform.get_task("add", 11)
    analytic = closedform.analytic_mlp(task, phases="exact", seed=0)
    analytic.save(tmp_path)
    n, m = np.divmod(np.arange(121), 11)
    np.testing.assert_allclose(load_model(tmp_path).logits(), analytic.logits(n, m), atol=1e-12)


def test_cli_progress_bar_on_a_terminal(tmp_path, capsys, monkeypatch):
    from modfourier.cli import main

    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    argv = ["train", "--p", "11", "--epochs", "10", "--device", "cpu", "--out", str(tmp_path / "r")]
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert "10/10" in err and "test_acc" in err
