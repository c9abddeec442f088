"""docs/benchmarks/gpu_check.py: argument handling and its CPU fallback (the GPU path itself runs
on a CUDA machine)."""

import importlib.util
import json
from pathlib import Path

import pytest

pytest.importorskip("torch")

SCRIPT = Path(__file__).resolve().parents[1] / "docs" / "benchmarks" / "gpu_check.py"


@pytest.fixture(scope="module")
def gpu_check():
    spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    "argv, match",
    [
        (["--out", "x", "--steps", "pytest,warp"], "--steps takes a subset"),
        (["--out", "x", "--steps", ""], "--steps takes a subset"),
        (["--out", "x", "--budget", "0"], "--budget must be > 0"),
        (["--out", "x", "--slice-epochs", "0"], "--slice-epochs must be >= 1"),
        (["--out", "x", "--device", "tpu"], "invalid choice"),
        ([], "required: --out"),
    ],
    ids=["unknown-step", "no-step", "budget", "slice-epochs", "device", "no-out"],
)
def test_bad_arguments_are_usage_errors(gpu_check, capsys, argv, match):
    with pytest.raises(SystemExit) as exc:
        gpu_check.parse_args(argv)
    assert exc.value.code == 2 and match in capsys.readouterr().err


def test_cuda_requested_without_cuda_is_a_clear_error(gpu_check, tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(SystemExit, match="CUDA is not available"):
        gpu_check.main(["--out", str(tmp_path), "--device", "cuda"])


def test_cpu_fallback_writes_every_figure_and_a_summary(gpu_check, tmp_path, capsys):
    rc = gpu_check.main(
        ["--out", str(tmp_path), "--device", "cpu", "--steps", "bench_closedform,slices"]
    )
    assert rc == 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["device_used"] == "cpu" and summary["smoke"] is True
    slices = summary["steps"]["slices"]["figures"]
    assert set(slices) == {"nanda", "miiii"}
    assert all(v["ms_per_epoch"] > 0 and v["epochs"] == 3 for v in slices.values())
    assert summary["steps"]["bench_closedform"]["rc"] == 0
    assert summary["steps"]["bench_closedform"]["figures"] is not None
    page = (tmp_path / "summary.md").read_text()
    assert "| slices | ok |" in page and "smoke sizes" in page


def test_a_spent_budget_skips_the_remaining_steps(gpu_check, tmp_path):
    rc = gpu_check.main(["--out", str(tmp_path), "--device", "cpu", "--budget", "1"])
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert rc == 0 and all(r.get("skipped") == "budget spent" for r in summary["steps"].values())
