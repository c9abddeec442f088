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
        "main(['construct', '--p', '11', '--json']); print('torch' in sys.modules)"
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
    config, weights = saved.config, saved.weights
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
