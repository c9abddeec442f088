"""Many workers started together on one sweep: every grid point runs exactly once.

Four worker processes (each runs ``modfourier sweep`` through the CLI's ``main``) are started
once and then released together (the test allows 100 ms between the first and the last start) on
a fresh sweep five times: on one SQLite folder, and on a real PostgreSQL server (one folder per
worker, as on separate machines). Every repetition must create the study once, enqueue the 12
points once, and run each point on exactly one worker, with no crash and no traceback. The
processes import torch once, so the five repetitions cost seconds, not five imports.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

WORKERS = 4
REPETITIONS = 5
ALPHAS = [0.3, 0.4, 0.5, 0.6]
LRS = [0.01, 0.02, 0.03]  # 4 x 3 = 12 points

# One worker: waits for job-K.json (written atomically by the test), runs it through the CLI,
# writes done-K-W.json, and goes on to job K+1; a job {"stop": true} ends it.
WORKER = r"""
import contextlib, io, json, os, sys, time, traceback
from pathlib import Path

import torch

torch.set_num_threads(1)
from modfourier.cli import main

base, wid = Path(sys.argv[1]), int(sys.argv[2])
# first use imports the storage modules (alembic, the ORM): not part of the timed start
warm = base / f"warm-{wid}"
(base / f"warm-{wid}.toml").write_text(sys.argv[3])
with contextlib.redirect_stdout(io.StringIO()):
    assert main(["sweep", str(base / f"warm-{wid}.toml"), "--out", str(warm), "--json"]) == 0
(base / f"ready-{wid}").touch()
k = 0
while True:
    job = base / f"job-{k}.json"
    deadline = time.time() + 600
    while not job.exists():
        if time.time() > deadline:
            sys.exit("no job")
        time.sleep(0.002)
    spec = json.loads(job.read_text())
    if spec.get("stop"):
        break
    started = time.time()
    argv = [a.replace("{w}", str(wid)) for a in spec["argv"]]
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = main(argv)
        except BaseException:
            rc, crash = 99, traceback.format_exc()
        else:
            crash = None
    record = {"rc": rc, "started": started, "stdout": out.getvalue(),
              "stderr": err.getvalue(), "crash": crash}
    tmp = base / f".done-{k}-{wid}.tmp"
    tmp.write_text(json.dumps(record))
    tmp.rename(base / f"done-{k}-{wid}.json")
    k += 1
sys.stdout.flush()
os._exit(0)  # skip torch's slow interpreter teardown (seconds per process)
"""


def _spec_text(name: str) -> str:
    return "\n".join(
        [
            f'name = "{name}"',
            'mode = "grid"',
            "seeds = [0]",
            "batch = 1",  # one point per claim, so that all workers compete for every point
            "score = false",
            "[base]",
            'model = "mlp"',
            'task = "add"',
            "p = 5",
            "width = 8",
            "max_epochs = 2",
            "eval_every = 2",
            "[vary]",
            f"alpha = {{ grid = {ALPHAS} }}",
            f"lr = {{ grid = {LRS} }}",
        ]
    )


WARM = """name = "warm"
score = false
[base]
model = "mlp"
p = 5
width = 4
max_epochs = 1
eval_every = 1
[vary]
alpha = [0.5]
"""


class WorkerPool:
    """Four worker processes that run each job together, released by one file."""

    def __init__(self, base: Path):
        self.base = base
        self.k = 0
        env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
        self.procs = [
            subprocess.Popen(
                [sys.executable, "-c", WORKER, str(base), str(w), WARM],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for w in range(WORKERS)
        ]
        try:
            self._wait(lambda: all((base / f"ready-{w}").exists() for w in range(WORKERS)), 300)
        except BaseException:
            self.kill()
            raise

    def kill(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.kill()
            p.communicate()

    def _wait(self, ready, timeout: float) -> None:
        deadline = time.time() + timeout
        while not ready():
            dead = [p for p in self.procs if p.poll() is not None]
            if dead:
                err = dead[0].communicate()[1][-3000:]
                self.kill()
                pytest.fail(f"a worker process died: {err}")
            if time.time() > deadline:
                self.kill()
                pytest.fail("the workers did not finish in time")
            time.sleep(0.01)

    def run(self, argv: list[str]) -> list[dict]:
        """Release all workers on ``argv`` at once; their records, one per worker."""
        k, self.k = self.k, self.k + 1
        tmp = self.base / f".job-{k}.tmp"
        tmp.write_text(json.dumps({"argv": argv}))
        tmp.rename(self.base / f"job-{k}.json")
        done = [self.base / f"done-{k}-{w}.json" for w in range(WORKERS)]
        self._wait(lambda: all(d.exists() for d in done), 300)
        return [json.loads(d.read_text()) for d in done]

    def close(self) -> None:
        (self.base / f"job-{self.k}.json").write_text(json.dumps({"stop": True}))
        for p in self.procs:
            try:
                p.communicate(timeout=60)
            except subprocess.TimeoutExpired:
                pass
        self.kill()


@pytest.fixture(scope="module")
def pool(tmp_path_factory):
    base = tmp_path_factory.mktemp("stress")
    workers = WorkerPool(base)
    yield workers
    workers.close()


def _check_repetition(records: list[dict], storage_url: str, name: str) -> dict:
    import optuna
    from optuna.trial import TrialState

    for r in records:
        assert r["crash"] is None, r["crash"]
        assert r["rc"] == 0 and r["stderr"] == "", r["stderr"]
    spread = max(r["started"] for r in records) - min(r["started"] for r in records)
    assert spread < 0.1, f"workers started {spread:.3f} s apart"
    summaries = [json.loads(r["stdout"].strip().splitlines()[-1]) for r in records]
    assert sum(s["trials_run_here"] for s in summaries) == 12
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    trials = optuna.load_study(study_name=name, storage=storage_url).get_trials()
    assert len(trials) == 12 and all(t.state == TrialState.COMPLETE for t in trials)
    points = sorted((t.params["alpha"], t.params["lr"]) for t in trials)
    assert points == sorted((a, lr) for a in ALPHAS for lr in LRS)
    rows = [row for t in trials for row in t.user_attrs["rows"]]
    assert len(rows) == 12
    return {
        "start spread": round(spread, 4),
        "per worker": [s["trials_run_here"] for s in summaries],
    }


def test_sqlite_four_workers_run_every_point_once(pool, tmp_path):
    spec = tmp_path / "stress.toml"
    spec.write_text(_spec_text("stress"))
    t0 = time.perf_counter()
    for rep in range(REPETITIONS):
        out = tmp_path / f"sq{rep}"
        t1 = time.perf_counter()
        records = pool.run(["sweep", str(spec), "--out", str(out), "--json"])
        seen = _check_repetition(records, f"sqlite:///{out / 'study.db'}", "stress")
        print(f"sqlite rep {rep}: {time.perf_counter() - t1:.1f} s, {seen}")
        rows = json.loads((out / "results.json").read_text())
        assert sorted((r["alpha"], r["lr"]) for r in rows) == sorted(
            (a, lr) for a in ALPHAS for lr in LRS
        )  # the last writer saw every point
        assert len(list((out / "runs").iterdir())) == 12
    print(f"sqlite: {REPETITIONS} x 4 workers x 12 points in {time.perf_counter() - t0:.1f} s")


def test_postgres_four_workers_run_every_point_once(pool, tmp_path, postgres_url):
    t0 = time.perf_counter()
    for rep in range(REPETITIONS):
        name = f"stress-{uuid.uuid4().hex[:8]}"
        spec = tmp_path / f"{name}.toml"
        spec.write_text(_spec_text(name))
        out = str(tmp_path / f"pg{rep}" / "w{w}")  # one folder per worker, as on many machines
        records = pool.run(["sweep", str(spec), "--storage", postgres_url, "--out", out, "--json"])
        seen = _check_repetition(records, postgres_url, name)
        print(f"postgres rep {rep}: {seen}")
        dirs = [d.name for d in (tmp_path / f"pg{rep}").glob("w*/runs/*")]
        assert len(dirs) == 12 and len(set(dirs)) == 12  # each point trained on one worker
    print(f"postgres: {REPETITIONS} x 4 workers x 12 points in {time.perf_counter() - t0:.1f} s")
