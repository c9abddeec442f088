"""Every bad input and ordinary fault at the command line: one line naming the value or the file,
exit status 2 for usage and 1 for faults, no traceback, and nothing the user wrote is touched."""

import json
import subprocess
import uuid

import numpy as np
import pytest

from closedform import rundir
from modfourier.cli import main

pytest.importorskip("torch")


def _err_line(capsys, verb):
    captured = capsys.readouterr()
    errors = [line for line in captured.err.splitlines() if line.startswith("modfourier")]
    errors = [line for line in errors if ": error: " in line]
    assert "Traceback" not in captured.err
    assert len(errors) == 1, captured.err
    assert errors[0].startswith(f"modfourier {verb}: error: ")
    return errors[0]


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "mlp"
    assert main(["train", "--p", "7", "--epochs", "4", "--device", "cpu", "--json",
                 "--out", str(out), "--set", "width=8"]) == 0  # fmt: skip
    return out


def _snapshot(folder):
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


CONSTRUCT_CASES = [
    (["--activation", "x^5000"], "x^k", 2),
    (["--task", "mul", "--p", "2", "--phases", "exact"], "M = 1", 2),
    (["--p", "100003"], "GiB", 2),
    (["--p", "1"], "`p`", 2),
    (["--task", "div", "--p", "15"], "prime", 2),
    (["--frequencies", "0", "--phases", "exact"], "multiple of M", 2),
    (["--width", "7", "--phases", "exact"], "multiple of 6", 2),
]


@pytest.mark.parametrize(
    "args, match, status",
    CONSTRUCT_CASES,
    ids=["x^5000", "mul-p2", "p-huge", "p-1", "div-composite", "freq-0", "width-not-6k"],
)
def test_construct_bad_input(capsys, args, match, status):
    assert main(["construct", *args]) == status
    assert match in _err_line(capsys, "construct")


def test_construct_never_replaces_a_trained_run(capsys, trained_run):
    before = _snapshot(trained_run)
    assert main(["construct", "--p", "7", "--out", str(trained_run)]) == 2
    assert "already holds a model or run" in _err_line(capsys, "construct")
    assert _snapshot(trained_run) == before


def test_train_never_overwrites_the_users_files(capsys, tmp_path):
    (tmp_path / "metrics.jsonl").write_text("my notes\n")
    np.save(tmp_path / "mine.npy", np.ones(3))
    (tmp_path / "weights.safetensors").write_bytes(b"my weights")
    before = _snapshot(tmp_path)
    assert main(["train", "--p", "7", "--epochs", "2", "--out", str(tmp_path)]) == 2
    assert "already holds other files" in _err_line(capsys, "train")
    assert _snapshot(tmp_path) == before


@pytest.mark.parametrize("where", ["file", "under-file"])
def test_out_is_a_file_or_under_one(capsys, tmp_path, where):
    f = tmp_path / "f"
    f.write_text("x")
    out = f if where == "file" else f / "sub"
    assert main(["train", "--p", "7", "--epochs", "2", "--out", str(out)]) == 2
    assert str(f) in _err_line(capsys, "train")
    assert main(["construct", "--p", "7", "--out", str(out)]) == 2
    assert str(f) in _err_line(capsys, "construct")


@pytest.mark.parametrize(
    "edit, match",
    [
        (lambda c: c.pop("task"), "lacks the key(s) ['task']"),
        (lambda c: c.update(p="seven"), "'p' must be an integer"),
        (lambda c: c.update(format_version=7), "unsupported format_version 7"),
    ],
    ids=["missing-task", "p-wrong-type", "format-version"],
)
def test_compare_names_a_broken_config(capsys, tmp_path, trained_run, edit, match):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    config = json.loads((run / "config.json").read_text())
    edit(config)
    (run / "config.json").write_text(json.dumps(config))
    assert main(["compare", str(run), "--no-low-rank"]) == 1
    line = _err_line(capsys, "compare")
    assert match in line and "config.json" in line


def test_compare_of_a_missing_directory_is_one_line(capsys, tmp_path):
    assert main(["compare", str(tmp_path / "nope")]) == 1
    assert "no config.json" in _err_line(capsys, "compare")


def test_report_names_garbage_in_metrics(capsys, tmp_path, trained_run):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    text = (run / "metrics.jsonl").read_text().splitlines()
    (run / "metrics.jsonl").write_text("\n".join([text[0], "garbage", *text[1:]]) + "\n")
    assert main(["report", str(run), "--out", str(tmp_path / "rep"), "--no-low-rank"]) == 1
    assert "metrics.jsonl, line 2" in _err_line(capsys, "report")


def test_compare_and_report_work_on_a_torn_metrics_line(capsys, tmp_path, trained_run):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    with open(run / "metrics.jsonl", "a") as fh:
        fh.write('{"epoch": 99, "train_lo')
    assert main(["compare", str(run), "--no-low-rank"]) == 0
    assert main(["report", str(run), "--out", str(tmp_path / "rep"), "--no-low-rank"]) == 0
    err = capsys.readouterr().err
    assert "Traceback" not in err and "torn last line" in err
    assert (tmp_path / "rep" / "report.html").is_file()


def _mount(args, target):
    try:
        subprocess.run(["mount", *args, str(target)], check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"cannot mount here ({exc}); needs root and mount")


def test_read_only_disk_is_a_fault_in_one_line(capsys, tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    _mount(["--bind", "-o", "ro", str(ro)], ro)
    try:
        out = ro / uuid.uuid4().hex
        assert main(["construct", "--p", "7", "--out", str(out)]) == 1
        assert "Read-only file system" in _err_line(capsys, "construct")
        assert main(["train", "--p", "7", "--epochs", "2", "--out", str(out)]) == 1
        assert "Read-only file system" in _err_line(capsys, "train")
    finally:
        subprocess.run(["umount", str(ro)], check=False)


def test_full_disk_is_a_fault_in_one_line_and_the_run_resumes(capsys, tmp_path):
    disk = tmp_path / "disk"
    disk.mkdir()
    _mount(["-t", "tmpfs", "-o", "size=48k", "tmpfs"], disk)
    try:
        out = disk / "run"
        args = ["train", "--p", "11", "--epochs", "60", "--device", "cpu", "--out", str(out)]
        assert main([*args, "--set", "width=64", "--eval-every", "1"]) == 1
        assert "No space left on device" in _err_line(capsys, "train")
        assert not list(out.rglob("*.tmp")), "a temp file survived the failed write"
        records = rundir.read_metrics(out)  # what is there is whole
        assert all(isinstance(r["epoch"], int) for r in records)
    finally:
        subprocess.run(["umount", str(disk)], check=False)
