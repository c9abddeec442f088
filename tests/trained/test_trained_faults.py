"""Faults injected into training, not imagined: SIGKILL at random moments of the write sequence,
SIGINT, a crash between a metrics record and its checkpoint, and corrupted run directories.

After a kill, one resume (or, if the directory was never claimed, one restart) must end with
weights bitwise equal to an uninterrupted run and the same metrics.jsonl, on the CPU.
"""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from closedform import rundir  # noqa: E402
from trained import TrainConfig, train  # noqa: E402

CFG = dict(
    model="mlp", task="add", p=7, width=16, max_epochs=20, eval_every=3, seed=0, device="cpu",
    target_acc=2.0,
)  # fmt: skip

# A zygote imports torch once, then forks one child per line of stdin ([cfg, out, delay]): the
# child trains cfg into out (resuming or restarting what is there) and SIGKILLs itself after
# `delay` seconds of training (never if < 0); the zygote answers with the child's wait status.
# Nothing runs torch before the fork, so every child starts with the same clean thread pool
# (one thread: reference, killed and resumed runs all reduce in the same order).
ZYGOTE = """
import json, os, signal, sys, threading, time
import torch
torch.set_num_threads(1)
from trained import TrainConfig, train
for line in sys.stdin:
    cfg, out, delay = json.loads(line)
    pid = os.fork()
    if pid == 0:
        if delay >= 0:
            threading.Timer(delay, lambda: os.kill(os.getpid(), signal.SIGKILL)).start()
        t0 = time.perf_counter()
        resume = os.path.isfile(os.path.join(out, "config.json"))
        train(TrainConfig(**cfg), out_dir=out, resume=resume)
        with open(out + ".seconds", "w") as fh:
            fh.write(str(time.perf_counter() - t0))
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    print(json.dumps({"status": status}), flush=True)
"""


class Zygote:
    def __init__(self):
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        self.proc = subprocess.Popen(
            [sys.executable, "-c", ZYGOTE], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            text=True, env=env,
        )  # fmt: skip

    def run(self, out, delay, cfg=CFG) -> int:
        """Train in a forked child; returns its wait status (0, or killed by SIGKILL)."""
        self.proc.stdin.write(json.dumps([cfg, str(out), delay]) + "\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())["status"]

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=60)
        self.proc.stdout.close()


def _resume_or_restart(out, cfg=CFG):
    resume = (out / rundir.CONFIG_NAME).is_file()
    return train(TrainConfig(**cfg), out_dir=out, resume=resume)


def _assert_same_run(out, ref, extra_checkpoints=()):
    got = rundir.load_model_dir(out)
    want = rundir.load_model_dir(ref)
    for k, v in want.weights.items():
        assert got.weights[k].tobytes() == v.tobytes(), f"weights {k} differ"
    assert rundir.read_metrics(out) == rundir.read_metrics(ref)
    want_ckpts = sorted({*rundir.list_checkpoints(ref), *extra_checkpoints})
    assert rundir.list_checkpoints(out) == want_ckpts
    assert got.config["status"] == "done" and got.config["epochs"] == want.config["epochs"]
    leftovers = [p for p in out.rglob("*.tmp")]
    assert not leftovers, f"temp files survived: {leftovers}"


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    ref = tmp_path_factory.mktemp("ref") / "run"
    train(TrainConfig(**CFG), out_dir=ref)
    return ref


def test_sigkill_at_random_moments_resumes_bitwise(tmp_path):
    """20 seeded kills spread over the whole training (from before the directory exists to
    after the final config): every one ends, after one resume or restart, equal to the
    uninterrupted run with a complete metrics.jsonl."""
    zygote = Zygote()
    try:
        assert zygote.run(tmp_path / "ref", -1) == 0
        seconds = float((tmp_path / "ref.seconds").read_text())
        rng = np.random.default_rng(0)
        delays = sorted(rng.uniform(0.0, 1.1 * seconds, 20))
        statuses = []
        for i, delay in enumerate(delays):
            out = tmp_path / f"kill{i}"
            statuses.append(zygote.run(out, delay))
            assert zygote.run(out, -1) == 0  # one resume (or restart) finishes it
            _assert_same_run(out, tmp_path / "ref")
    finally:
        zygote.close()
    killed = sum(os.WIFSIGNALED(s) and os.WTERMSIG(s) == signal.SIGKILL for s in statuses)
    assert all(s == 0 or os.WIFSIGNALED(s) for s in statuses), statuses
    assert killed >= 15, f"only {killed} of 20 children were killed mid-run"


def test_crash_between_a_record_and_its_checkpoint_loses_nothing(tmp_path, reference, monkeypatch):
    """The record of epoch 8 is on disk before its checkpoint; a crash in between resumes from
    epoch 4 and rewrites what follows, ending with the same metrics."""
    import trained._loop as loop

    real = loop.rundir.save_checkpoint

    class Crash(Exception):
        pass

    def crash_at_8(run_dir, epoch, *args, **kwargs):
        if epoch == 8:
            raise Crash
        return real(run_dir, epoch, *args, **kwargs)

    monkeypatch.setattr(loop.rundir, "save_checkpoint", crash_at_8)
    out = tmp_path / "run"
    with pytest.raises(Crash):
        train(TrainConfig(**CFG), out_dir=out)
    assert 8 in [r["epoch"] for r in rundir.read_metrics(out)]
    assert rundir.list_checkpoints(out)[-1] == 4
    monkeypatch.setattr(loop.rundir, "save_checkpoint", real)
    train(TrainConfig(**CFG), out_dir=out, resume=True)
    _assert_same_run(out, reference)


def test_sigint_stops_at_an_epoch_boundary_with_a_checkpoint_and_one_line(tmp_path):
    """SIGINT mid-run: exit 130, one line naming the epoch, a checkpoint of that epoch; one
    ``--resume`` ends bitwise equal to an uninterrupted run (all runs through the CLI with one
    thread, so every run reduces in the same order)."""
    out, ref = tmp_path / "run", tmp_path / "ref"
    args = ["--p", "7", "--seed", "0", "--eval-every", "500", "--epochs", "3000", "--task", "add"]
    args += ["--device", "cpu", "--json", "--set", "width=16", "--set", "target_acc=2.0"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cli = [sys.executable, "-m", "modfourier", "train", *args]
    proc = subprocess.Popen(
        [*cli, "--out", str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=env,
    )  # fmt: skip
    deadline = time.time() + 120
    while len(rundir.list_checkpoints(out)) < 3 and time.time() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    errors = [line for line in err.splitlines() if "error" in line or "interrupted" in line]
    assert len(errors) == 1 and "interrupted at epoch" in errors[0] and "Traceback" not in err
    epoch = int(errors[0].split("interrupted at epoch ")[1].split(";")[0])
    assert rundir.list_checkpoints(out, with_state=True)[-1] == epoch
    assert rundir.read_config(out)["status"] == "running"
    for cmd in ([*cli, "--out", str(out), "--resume"], [*cli, "--out", str(ref)]):
        done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
        assert done.returncode == 0, done.stderr
    _assert_same_run(out, ref, extra_checkpoints={epoch})  # + the one taken at the interrupt


def test_killed_before_the_first_checkpoint_resumes_from_scratch(tmp_path, reference):
    out = tmp_path / "run"
    out.mkdir()
    rundir.write_config(out, {"model": "mlp", "p": 7, "task": {"name": "add"}, "status": "x"})
    # a config.json of a run killed before it wrote anything else: resume starts at epoch 0
    real = rundir.read_config(reference)
    rundir.write_config(out, {**real, "status": "running"})
    train(TrainConfig(**CFG), out_dir=out, resume=True)
    _assert_same_run(out, reference)


@pytest.mark.parametrize(
    "target, damage, match",
    [
        ("config.json", b"{", "not a training run's config"),
        ("checkpoints/epoch_0000020.safetensors", b"\x00" * 10, "not a valid safetensors"),
        ("state/epoch_0000020.safetensors", b"garbage", "not a valid safetensors"),
        ("metrics.jsonl", b'{"epoch": 0}\nnot json\n{"epoch": 3}\n', "metrics.jsonl, line 2"),
    ],
    ids=["config", "checkpoint", "state", "metrics"],
)
def test_corrupted_files_are_named_on_resume(tmp_path, reference, target, damage, match):
    import shutil

    out = tmp_path / "run"
    shutil.copytree(reference, out)
    (out / target).write_bytes(damage)
    with pytest.raises(rundir.RunDirError, match=match):
        train(TrainConfig(**CFG), out_dir=out, resume=True)


def test_nonfinite_run_is_marked_failed_and_names_a_finite_checkpoint(tmp_path):
    from trained import NonFiniteLossError

    out = tmp_path / "run"
    cfg = dict(CFG, lr=1e30, optimizer="gd", loss="mse")
    with pytest.raises(NonFiniteLossError) as err:
        train(TrainConfig(**cfg), out_dir=out)
    config = rundir.read_config(out)
    assert config["status"] == "failed" and config["stopped"] == "non_finite"
    msg = str(err.value)
    if "last good checkpoint" in msg:
        epoch = int(msg.rsplit("epoch ", 1)[1])
        weights = rundir.load_checkpoint(out, epoch)
        assert all(np.isfinite(w).all() for w in weights.values())
