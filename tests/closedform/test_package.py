"""Package boundaries, the model-directory format and the construct command."""

import json
import subprocess
import sys

import numpy as np
import pytest

from closedform import load_model_dir, save_model_dir
from closedform.rundir import load_weights, save_weights
from modfourier.cli import main


@pytest.mark.parametrize("package", ["closedform", "compare", "closedform.strategies"])
def test_import_does_not_load_torch(package):
    code = f"import sys, {package}; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_construct_cli_does_not_load_torch():
    code = (
        "import sys; from modfourier.cli import main; "
        "main(['construct', '--p', '11', '--json']); "
        "main(['construct', '--model', 'rnn', '--p', '11', '--d-hidden', '40', '--json']); "
        "main(['construct', '--model', 'transformer', '--p', '11', '--json']); "
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "False"


def test_construct_cli_json_and_model_dir(tmp_path, capsys):
    rc = main(
        [
            "construct",
            "--task",
            "mul",
            "--p",
            "23",
            "--phases",
            "exact",
            "--json",
            "--out",
            str(tmp_path / "m"),
        ]
    )
    assert rc == 0
    result = json.loads(capsys.readouterr().out)
    assert result["accuracy"] == 1.0 and result["width"] == 6 * 11 + 1
    saved = load_model_dir(tmp_path / "m")
    config, weights = saved.config, saved.weights
    assert config["task"]["name"] == "mul" and weights["W1"].shape == (67, 46)


def test_construct_cli_reports_bad_input(capsys):
    assert main(["construct", "--task", "div", "--p", "15"]) == 2
    assert "`p` must be a prime" in capsys.readouterr().err


def test_construct_cli_text(capsys):
    assert main(["construct", "--p", "13", "--width", "52"]) == 0
    assert "accuracy" in capsys.readouterr().out


@pytest.mark.parametrize(
    "model, options, shapes",
    [
        ("rnn", ["--d-hidden", "96", "--d-embed", "32", "--alpha", "0.2"], {"d_hidden": 96}),
        ("transformer", ["--d-model", "32", "--heads", "4", "--d-mlp", "128"], {"d_model": 32}),
    ],
)
def test_construct_cli_other_models_json_and_model_dir(tmp_path, capsys, model, options, shapes):
    argv = ["construct", "--model", model, "--task", "sub", "--p", "23", "--frequencies", "2", "5"]
    rc = main([*argv, *options, "--json", "--out", str(tmp_path / "m")])
    assert rc == 0
    result = json.loads(capsys.readouterr().out)
    assert result["model"] == model and result["frequencies"] == [2, 5]
    assert result["accuracy"] == 1.0 and result["margin"] > 0
    assert all(result[k] == v for k, v in shapes.items())
    saved = load_model_dir(tmp_path / "m")
    assert saved.model == model and saved.source == "analytic"


def test_construct_cli_other_models_text(capsys):
    assert main(["construct", "--model", "transformer", "--p", "13", "--d-model", "32"]) == 0
    out = capsys.readouterr().out
    assert "one-layer transformer" in out and "smallest margin" in out and "100.0000%" in out


@pytest.mark.parametrize(
    "argv, named",
    [
        (["--model", "rnn", "--width", "8"], "--width"),
        (["--model", "rnn", "--phases", "exact", "--d-model", "8"], "--phases, --d-model"),
        (["--model", "transformer", "--d-hidden", "8", "--alpha", "0.1"], "--d-hidden, --alpha"),
        (["--d-mlp", "64"], "--d-mlp"),
        (["--model", "mlp", "--seed", "1", "--heads", "2"], "--heads"),
    ],
    ids=["rnn-width", "rnn-phases-d-model", "transformer-rnn-options", "mlp-d-mlp", "mlp-heads"],
)
def test_construct_cli_refuses_options_of_another_model(capsys, argv, named):
    assert main(["construct", "--p", "7", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("modfourier construct: error: ") and named in err
    assert "does not apply" in err or "do not apply" in err


def test_construct_cli_reports_a_set_that_does_not_fit(capsys):
    argv = ["construct", "--model", "rnn", "--p", "31", "--d-hidden", "32"]
    assert main([*argv, "--frequencies", "1", "2", "3"]) == 2
    assert "at most 1 fit" in capsys.readouterr().err


def test_model_dir_round_trip_and_complex(tmp_path):
    w = {"W1": np.arange(6.0).reshape(2, 3), "Z": np.array([1 + 2j])}
    save_model_dir(tmp_path, {"model": "mlp", "p": 3, "task": {"name": "add"}}, w)
    saved = load_model_dir(tmp_path)
    config, back = saved.config, saved.weights
    assert config["format_version"] == 1 and "library_version" in config
    np.testing.assert_array_equal(back["W1"], w["W1"])
    assert back["Z"][0] == 1 + 2j


def test_pickled_or_tampered_weights_are_refused(tmp_path):
    import pickle

    (tmp_path / "w.safetensors").write_bytes(pickle.dumps({"W1": np.ones(3)}))
    with pytest.raises(ValueError, match="not a valid safetensors"):
        load_weights(tmp_path / "w.safetensors")
    save_weights(tmp_path / "ok.safetensors", {"W1": np.ones(3)})
    data = bytearray((tmp_path / "ok.safetensors").read_bytes())
    (tmp_path / "cut.safetensors").write_bytes(bytes(data[:-5]))
    with pytest.raises(ValueError, match="not a valid safetensors"):
        load_weights(tmp_path / "cut.safetensors")


def test_failed_save_keeps_previous_files(tmp_path):
    save_model_dir(tmp_path, {"model": "mlp", "p": 3, "task": {"name": "add"}}, {"W": np.ones(2)})
    with pytest.raises(TypeError, match="JSON"):
        save_model_dir(
            tmp_path,
            {"model": "mlp", "p": 3, "task": {"name": "add"}, "x": object()},
            {"W": np.zeros(2)},
        )
    saved = load_model_dir(tmp_path)
    weights = saved.weights
    np.testing.assert_array_equal(weights["W"], np.ones(2))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json", "weights.safetensors"]


@pytest.mark.parametrize(
    "config, weights, exc",
    [
        ({"p": 3, "task": {}}, {"W": np.ones(1)}, ValueError),
        ({"model": "mlp", "p": 3, "task": {}}, {}, TypeError),
        ({"model": "mlp", "p": 3, "task": {}}, {"W": np.array(["x"])}, TypeError),
        ([], {"W": np.ones(1)}, TypeError),
    ],
    ids=["missing-model", "empty-weights", "string-weights", "config-not-dict"],
)
def test_model_dir_invalid_input(tmp_path, config, weights, exc):
    with pytest.raises(exc):
        save_model_dir(tmp_path, config, weights)


def test_written_files_respect_the_umask(tmp_path):
    import os

    old = os.umask(0o022)
    try:
        save_weights(tmp_path / "w.safetensors", {"W": np.ones(2)})
    finally:
        os.umask(old)
    assert (tmp_path / "w.safetensors").stat().st_mode & 0o777 == 0o644
