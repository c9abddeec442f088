"""The run directory (closedform.rundir): the one reader/writer every package uses."""

import json
import os
import subprocess
import uuid

import numpy as np
import pytest

from closedform import rundir
from closedform.rundir import (
    DirectoryInUseError,
    RunDirError,
    TornMetricsWarning,
    append_metrics,
    claim_new_dir,
    list_checkpoints,
    load_checkpoint,
    load_model_dir,
    read_config,
    read_metrics,
    remove_stale_temp_files,
    save_checkpoint,
    save_model_dir,
    write_config,
    write_metrics,
)

CONFIG = {"model": "mlp", "p": 5, "task": {"name": "add", "params": {}}}
WEIGHTS = {"W1": np.ones((2, 10)), "W2": np.ones((5, 2))}


def test_config_carries_format_and_installed_version(tmp_path):
    written = write_config(tmp_path, CONFIG)
    back = read_config(tmp_path)
    assert back == written
    assert back["format_version"] == rundir.FORMAT_VERSION
    assert back["library_version"] == rundir.library_version() != "unknown"


def test_metrics_round_trip_and_torn_last_line_is_skipped_with_a_warning(tmp_path):
    recs = [{"epoch": 0, "test_acc": 0.1}, {"epoch": 5, "test_acc": float("nan")}]
    write_metrics(tmp_path, recs[:1])
    append_metrics(tmp_path, recs[1:])
    back = read_metrics(tmp_path)
    assert back[0] == recs[0] and back[1]["epoch"] == 5 and np.isnan(back[1]["test_acc"])
    with open(tmp_path / rundir.METRICS_NAME, "a") as fh:
        fh.write('{"epoch": 10, "test_a')  # a kill in the middle of a write
    with pytest.warns(TornMetricsWarning, match="torn last line"):
        assert [r["epoch"] for r in read_metrics(tmp_path)] == [0, 5]


def test_append_after_a_torn_line_keeps_one_record_per_line(tmp_path):
    write_metrics(tmp_path, [{"epoch": 0}])
    with open(tmp_path / rundir.METRICS_NAME, "a") as fh:
        fh.write('{"epoch": 1, "tr')
    append_metrics(tmp_path, [{"epoch": 2}])
    assert [r["epoch"] for r in read_metrics(tmp_path)] == [0, 2]


@pytest.mark.parametrize(
    "text, line",
    [
        ('{"epoch": 0}\ngarbage\n{"epoch": 2}\n', 2),
        ('{"epoch": 0}\n[1, 2]\n', 2),
        ('{"epoch": "zero"}\n', 1),
        ('{"epoch": 0}\n{"epoch": 1.5}\n', 2),
    ],
    ids=["garbage-middle", "not-an-object", "epoch-not-int", "epoch-float-last-complete"],
)
def test_a_bad_line_that_is_not_a_torn_tail_names_file_and_line(tmp_path, text, line):
    (tmp_path / rundir.METRICS_NAME).write_text(text)
    with pytest.raises(RunDirError, match=rf"metrics.jsonl, line {line}"):
        read_metrics(tmp_path)


def test_binary_metrics_file_is_a_named_error(tmp_path):
    (tmp_path / rundir.METRICS_NAME).write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(RunDirError, match="metrics.jsonl"):
        read_metrics(tmp_path)


@pytest.mark.parametrize(
    "content, match",
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "JSON object"),
        ('{"format_version": 99, "model": "mlp", "p": 5, "task": {}}', "format_version 99"),
        ('{"format_version": 1, "model": "mlp", "p": 5}', r"lacks the key\(s\) \['task'\]"),
        ('{"format_version": 1, "model": "mlp", "p": "5", "task": {}}', "'p' must be an integer"),
        ('{"format_version": 1, "model": 3, "p": 5, "task": {}}', "'model' must be a string"),
    ],
    ids=["not-json", "not-object", "version", "missing-task", "p-string", "model-int"],
)
def test_bad_config_is_an_error_naming_the_file(tmp_path, content, match):
    (tmp_path / rundir.CONFIG_NAME).write_text(content)
    with pytest.raises(RunDirError, match=match) as err:
        read_config(tmp_path)
    assert "config.json" in str(err.value)


def test_save_model_dir_never_overwrites(tmp_path):
    save_model_dir(tmp_path / "m", CONFIG, WEIGHTS)
    with pytest.raises(DirectoryInUseError, match="already holds a model or run"):
        save_model_dir(tmp_path / "m", CONFIG, {"W1": np.zeros((2, 10))})
    np.testing.assert_array_equal(load_model_dir(tmp_path / "m").weights["W1"], WEIGHTS["W1"])
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("user data")
    with pytest.raises(DirectoryInUseError, match=r"other files \(notes.txt\)"):
        save_model_dir(tmp_path / "mine", CONFIG, WEIGHTS)
    assert (tmp_path / "mine" / "notes.txt").read_text() == "user data"


def test_claim_refuses_a_file_and_a_path_under_a_file(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(DirectoryInUseError, match="is an existing file"):
        claim_new_dir(tmp_path / "f")
    with pytest.raises(DirectoryInUseError, match="which is a file"):
        claim_new_dir(tmp_path / "f" / "sub")
    assert claim_new_dir(tmp_path / "new" / "deep").is_dir()
    assert claim_new_dir(tmp_path / "new" / "deep").is_dir()  # empty: accepted again


def test_checkpoints_listing_loading_and_state(tmp_path):
    for e in (4, 0, 1):
        save_checkpoint(tmp_path, e, {"W": np.full(2, e)}, {"opt/W/step": np.array([e])})
    rundir.save_weights(rundir.checkpoint_path(tmp_path, 8), {"W": np.ones(2)})  # no state
    (tmp_path / "checkpoints" / "notes.txt").write_text("ignored")
    assert list_checkpoints(tmp_path) == [0, 1, 4, 8]
    assert list_checkpoints(tmp_path, with_state=True) == [0, 1, 4]
    weights, state = load_checkpoint(tmp_path, 4, state=True)
    assert weights["W"].tolist() == [4, 4] and state["opt/W/step"].tolist() == [4]
    with pytest.raises(RunDirError, match="no state sidecar"):
        load_checkpoint(tmp_path, 8, state=True)
    with pytest.raises(FileNotFoundError, match=r"it has \[0, 1, 4, 8\]"):
        load_checkpoint(tmp_path, 2)


def test_load_model_dir_reads_a_checkpoint_and_explains_a_running_run(tmp_path):
    write_config(tmp_path, CONFIG)
    save_checkpoint(tmp_path, 2, {"W1": np.zeros((2, 10))})
    with pytest.raises(FileNotFoundError, match=r"not finished: its checkpoints are \[2\]"):
        load_model_dir(tmp_path)
    d = load_model_dir(tmp_path, epoch=2)
    assert d.epoch == 2 and d.task.name == "add" and d.p == 5 and d.model == "mlp"
    with pytest.raises(TypeError, match="`epoch`"):
        load_model_dir(tmp_path, epoch=-1)


def test_a_task_outside_the_analytic_class_is_a_named_error(tmp_path):
    save_model_dir(tmp_path / "m", {**CONFIG, "task": {"name": "miiii"}}, WEIGHTS)
    with pytest.raises(RunDirError, match="task"):
        _ = load_model_dir(tmp_path / "m").task


def test_stale_temp_files_are_removed_and_nothing_else(tmp_path):
    (tmp_path / "checkpoints").mkdir()
    stale = [tmp_path / ".config.json.ab12cd.tmp", tmp_path / "checkpoints" / ".e.x_9.tmp"]
    for f in stale:
        f.write_text("partial")
    (tmp_path / "keep.tmp").write_text("user")
    assert sorted(remove_stale_temp_files(tmp_path)) == sorted(stale)
    assert (tmp_path / "keep.tmp").exists()


def test_atomic_write_failure_leaves_no_temp_file(tmp_path, monkeypatch):
    def boom(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", boom)
    with pytest.raises(OSError, match="No space"):
        rundir.atomic_write_bytes(tmp_path / "x.json", b"{}")
    assert list(tmp_path.iterdir()) == []


def _mount(args, target):
    try:
        subprocess.run(["mount", *args, str(target)], check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"cannot mount here ({exc}); needs root and mount")


def test_full_disk_is_an_oserror_and_leaves_the_old_file(tmp_path):
    disk = tmp_path / "disk"
    disk.mkdir()
    _mount(["-t", "tmpfs", "-o", "size=64k", "tmpfs"], disk)
    try:
        save_model_dir(disk / "m", CONFIG, WEIGHTS)
        before = (disk / "m" / "config.json").read_bytes()
        with pytest.raises(OSError):
            write_config(disk / "m", {**CONFIG, "blob": "x" * 200_000})
        assert (disk / "m" / "config.json").read_bytes() == before
        assert sorted(p.name for p in (disk / "m").iterdir()) == [
            "config.json",
            "weights.safetensors",
        ]
    finally:
        subprocess.run(["umount", str(disk)], check=False)


def test_read_only_disk_is_an_oserror(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    _mount(["--bind", "-o", "ro", str(ro)], ro)
    try:
        with pytest.raises(OSError):
            save_model_dir(ro / f"m{uuid.uuid4().hex}", CONFIG, WEIGHTS)
    finally:
        subprocess.run(["umount", str(ro)], check=False)


def test_config_json_is_pretty_and_sorted(tmp_path):
    write_config(tmp_path, CONFIG)
    text = (tmp_path / "config.json").read_text()
    assert text.endswith("\n") and json.loads(text)["model"] == "mlp"
