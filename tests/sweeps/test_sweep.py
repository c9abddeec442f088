"""Sweeps: specs validated up front, grid/random/optuna runs, resume after a kill, and two
workers sharing one study through a real PostgreSQL server."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from modfourier._sweep import load_spec, parse_spec, plot_sweep, run_sweep
from modfourier.cli import main

BASE = {
    "model": "mlp",
    "task": "add",
    "p": 11,
    "width": 32,
    "max_epochs": 30,
    "eval_every": 10,
    "lr": 0.01,
    "weight_decay": 1.0,
}


def spec(**over):
    raw = {
        "name": "t",
        "mode": "grid",
        "seeds": [0, 1],
        "base": dict(BASE),
        "vary": {"alpha": {"grid": [0.5, 0.8]}, "optimizer": {"choices": ["adam", "adamw"]}},
        "score": False,
        "heartbeat_interval": 1,
        "grace_period": 3,
    }
    raw.update(over)
    if "base" not in over:  # swept fields leave the base
        raw["base"] = {k: v for k, v in raw["base"].items() if k not in raw["vary"]}
    return raw


def write_toml(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_grid_sweep_rows_and_directories(tmp_path):
    summary = run_sweep(parse_spec(spec()), tmp_path, progress=False)
    assert summary["done"] == 4 and summary["failed"] == 0
    rows = json.loads((tmp_path / "results.json").read_text())
    assert len(rows) == 8  # 2 alphas x 2 optimizers x 2 seeds
    assert {(r["alpha"], r["optimizer"], r["seed"]) for r in rows} == {
        (a, o, s) for a in (0.5, 0.8) for o in ("adam", "adamw") for s in (0, 1)
    }
    dirs = sorted((tmp_path / "runs").glob("*/seed_*"))
    assert len(dirs) == 8 and all((d / "weights.safetensors").is_file() for d in dirs)
    assert all(r["batched"] for r in rows)  # two MLP seeds: one batched ensemble per point
    assert (tmp_path / "results.csv").read_text().count("\n") == 9


def test_resume_reruns_nothing_finished(tmp_path):
    s = parse_spec(spec())
    first = run_sweep(s, tmp_path, progress=False, max_trials=3)
    assert first["done"] == 3 and first["waiting"] == 1
    stamps = {p: p.stat().st_mtime_ns for p in (tmp_path / "runs").glob("*/*/weights.safetensors")}
    second = run_sweep(s, tmp_path, progress=False)
    assert second["trials_run_here"] == 1 and second["done"] == 4
    for path, stamp in stamps.items():
        assert path.stat().st_mtime_ns == stamp, f"{path} was rerun"


def test_killed_trial_is_retried_and_finished_ones_kept(tmp_path):
    # the second point trains 10x longer (no early stop: target_acc > 1), so the sweep is
    # reliably caught with one point finished and the next one running
    base = {k: v for k, v in BASE.items() if k != "max_epochs"} | {
        "eval_every": 500,
        "target_acc": 2.0,
    }
    toml = "\n".join(
        [
            'name = "kill"',
            'mode = "grid"',
            "seeds = [0]",
            "score = false",
            "heartbeat_interval = 1",
            "grace_period = 3",
            "[base]",
            *[f"{k} = {json.dumps(v)}" for k, v in base.items()],
            "[vary]",
            "max_epochs = { grid = [1000, 20000, 1001] }",
        ]
    )
    path = write_toml(tmp_path / "kill.toml", toml)
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "modfourier", "sweep", str(path), "--out", str(out), "--json"]
    errors = open(tmp_path / "sweep.err", "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=errors, start_new_session=True)
    import optuna
    from optuna.trial import TrialState

    url = f"sqlite:///{out / 'study.db'}"
    deadline = time.time() + 240
    while time.time() < deadline:  # wait until one trial finished and the next one runs
        time.sleep(0.05)
        if proc.poll() is not None:
            errors.close()
            pytest.fail(
                "the sweep ended before it could be killed mid-trial: "
                + (tmp_path / "sweep.err").read_text()[-2000:]
            )
        try:
            trials = optuna.load_study(study_name="kill", storage=url).get_trials()
        except (KeyError, Exception):  # the study may not exist yet
            continue
        states = [t.state for t in trials]
        if TrialState.COMPLETE in states and TrialState.RUNNING in states:
            break
    else:
        proc.kill()
        errors.close()
        pytest.fail("the sweep never reached a running second trial")
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    errors.close()
    finished = {t.user_attrs["point"] for t in trials if t.state == TrialState.COMPLETE}
    stamps = {p: p.stat().st_mtime_ns for p in (out / "runs").glob("*/*/weights.safetensors")}
    time.sleep(4)  # past the grace period: the killed trial is stale
    assert main(["sweep", str(path), "--out", str(out), "--json"]) == 0
    trials = optuna.load_study(study_name="kill", storage=url).get_trials()
    complete = [t.user_attrs["point"] for t in trials if t.state == TrialState.COMPLETE]
    assert sorted(complete) == sorted(set(complete)) and len(complete) == 3
    assert sum(t.state == TrialState.FAIL for t in trials) == 1  # the killed one, then retried
    for p, stamp in stamps.items():
        if p.parent.parent.name in finished:
            assert p.stat().st_mtime_ns == stamp, f"finished run {p.parent.name} was rerun"


def test_run_killed_before_its_first_checkpoint_restarts(tmp_path):
    s = parse_spec(spec(seeds=[0]))
    run_sweep(s, tmp_path, progress=False, max_trials=0)  # create and enqueue only
    import optuna

    study = optuna.load_study(study_name="t", storage=f"sqlite:///{tmp_path / 'study.db'}")
    point = study.get_trials()[0].user_attrs["point"]
    stale = tmp_path / "runs" / point / "seed_0"
    stale.mkdir(parents=True)
    (stale / "config.json").write_text("{}")  # what a worker killed that early leaves behind
    summary = run_sweep(s, tmp_path, progress=False)
    assert summary["done"] == 4 and summary["failed"] == 0
    assert (stale / "weights.safetensors").is_file()


def test_random_and_optuna_modes(tmp_path):
    vary = {"lr": {"log_range": [1e-3, 1e-1]}, "optimizer": {"choices": ["adam", "adamw"]}}
    rnd = run_sweep(
        parse_spec(spec(mode="random", n_trials=3, seeds=[0], vary=vary)),
        tmp_path / "r",
        progress=False,
    )
    assert rnd["done"] == 3
    opt = run_sweep(
        parse_spec(spec(mode="optuna", n_trials=4, seeds=[0], vary=vary)),
        tmp_path / "o",
        progress=False,
    )
    assert opt["done"] + opt["pruned"] == 4 and opt["failed"] == 0


def test_postgres_two_workers_share_one_study(tmp_path, postgres_url):
    path = write_toml(
        tmp_path / "pg.toml",
        "\n".join(
            [
                'name = "pgsweep"',
                'mode = "grid"',
                "seeds = [0]",
                "batch = 1",  # one point per claim, so that both workers get some
                "score = false",
                "[base]",
                *[f"{k} = {json.dumps(v)}" for k, v in BASE.items()],
                "[vary]",
                "alpha = { grid = [0.4, 0.5, 0.6, 0.7, 0.8, 0.9] }",
            ]
        ),
    )
    assert (
        main(
            [
                "sweep",
                str(path),
                "--storage",
                postgres_url,
                "--out",
                str(tmp_path / "c"),
                "--max-trials",
                "0",
                "--json",
            ]
        )
        == 0
    )

    def cmd(i):
        return [
            sys.executable,
            "-m",
            "modfourier",
            "sweep",
            "--join",
            "pgsweep",
            "--storage",
            postgres_url,
            "--out",
            str(tmp_path / f"w{i}"),
            "--json",
        ]

    workers = [
        subprocess.Popen(cmd(i), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for i in range(2)
    ]
    outs = [w.communicate(timeout=600) for w in workers]
    assert all(w.returncode == 0 for w in workers), [o[1][-2000:] for o in outs]
    summaries = [json.loads(o[0].strip().splitlines()[-1]) for o in outs]
    assert sum(s["trials_run_here"] for s in summaries) == 6
    import optuna
    from optuna.trial import TrialState

    trials = optuna.load_study(study_name="pgsweep", storage=postgres_url).get_trials()
    assert len(trials) == 6 and all(t.state == TrialState.COMPLETE for t in trials)
    points = [t.user_attrs["point"] for t in trials]
    assert len(set(points)) == 6
    run_dirs = [d.name for i in range(2) for d in (tmp_path / f"w{i}" / "runs").iterdir()]
    assert sorted(run_dirs) == sorted(points)  # each point ran exactly once, on one worker


def test_table_choices_link_fields(tmp_path):
    vary = {
        "optimizer": {
            "choices": [{"optimizer": "gd", "lr": 0.5}, {"optimizer": "adamw", "lr": 0.01}]
        }
    }
    s = parse_spec(spec(seeds=[0], vary=vary))
    assert s.config({"optimizer": "gd"}, 0).lr == 0.5
    run_sweep(s, tmp_path, progress=False)
    rows = json.loads((tmp_path / "results.json").read_text())
    assert sorted(r["optimizer"] for r in rows) == ["adamw", "gd"]
    for r in rows:
        config = json.loads((Path(r["run_dir"]) / "config.json").read_text())
        assert config["hyper"]["lr"] == (0.5 if r["optimizer"] == "gd" else 0.01)


def test_diverging_run_fails_its_trial_only(tmp_path):
    vary = {"lr": {"grid": [1e4, 0.01]}}
    summary = run_sweep(
        parse_spec(
            spec(
                seeds=[0],
                vary=vary,
                base={k: v for k, v in BASE.items() if k != "lr"} | {"optimizer": "gd"},
            )
        ),
        tmp_path,
        progress=False,
    )
    assert summary["failed"] == 1 and summary["done"] == 1


def test_points_of_one_architecture_train_as_one_ensemble(tmp_path, monkeypatch):
    """lr x weight decay x alpha points share an architecture: one batched model (up to
    `batch` runs), and every run equals its single run (the oracle: trained.train)."""
    import numpy as np

    import trained._ensemble as ens
    from trained import load_model, train

    calls = []
    real = ens.train_ensemble

    def counting(*args, **kwargs):
        calls.append(len(kwargs["settings"]))
        return real(*args, **kwargs)

    monkeypatch.setattr(ens, "train_ensemble", counting)
    vary = {
        "lr": {"grid": [0.01, 0.03]},
        "weight_decay": {"grid": [0.0, 1.0]},
        "alpha": {"grid": [0.5, 0.8]},
    }
    s = parse_spec(spec(vary=vary, batch=12))  # 8 points x 2 seeds = 16 runs
    summary = run_sweep(s, tmp_path, progress=False)
    assert summary["done"] == 8 and calls == [12, 4]
    rows = json.loads((tmp_path / "results.json").read_text())
    assert len(rows) == 16 and all(r["batched"] for r in rows)
    for r in rows[::5]:
        alone = train(s.config({k: r[k] for k in vary}, r["seed"]))
        saved = load_model(r["run_dir"])
        assert (
            saved.config["hyper"]["lr"] == r["lr"] and saved.config["split"]["alpha"] == r["alpha"]
        )
        np.testing.assert_allclose(saved.weights["W1"], alone.weights["W1"], rtol=1e-3, atol=1e-4)
        assert r["final_test_acc"] == pytest.approx(alone.history[-1]["test_acc"], rel=1e-6)


def test_killed_ensemble_resumes_from_its_checkpoints(tmp_path, monkeypatch):
    """A batched group killed mid-training is retried with the same members and resumes from
    their shared checkpoint (trained.train_ensemble(resume=True)); the runs still equal their
    single runs."""
    import numpy as np

    import trained._ensemble as ens
    from trained import load_model, train

    calls = []
    real = ens.train_ensemble

    def killed_once(*args, **kwargs):
        calls.append(kwargs.get("resume", False))
        if len(calls) == 1:

            def kill(records):
                if next(iter(records.values()))["epoch"] == 20:
                    raise KeyboardInterrupt

            kwargs["progress"] = kill
        return real(*args, **kwargs)

    monkeypatch.setattr(ens, "train_ensemble", killed_once)
    base = {k: v for k, v in BASE.items() if k != "lr"} | {"max_epochs": 40}
    s = parse_spec(spec(vary={"lr": {"grid": [0.01, 0.03]}}, base=base))
    with pytest.raises(KeyboardInterrupt):
        run_sweep(s, tmp_path, progress=False)
    time.sleep(4.5)  # past the grace period (3 s; SQLite stores whole seconds): stale
    summary = run_sweep(s, tmp_path, progress=False)
    assert summary["done"] == 2
    assert calls == [False, True]  # resumed (a failed resume would add a fresh call)
    rows = json.loads((tmp_path / "results.json").read_text())
    assert len(rows) == 4
    for r in rows:
        alone = train(s.config({"lr": r["lr"]}, r["seed"]))
        saved = load_model(r["run_dir"])
        np.testing.assert_allclose(saved.weights["W1"], alone.weights["W1"], rtol=1e-3, atol=1e-4)


def test_sweep_plot(tmp_path):
    run_sweep(parse_spec(spec()), tmp_path, progress=False)
    png = plot_sweep(tmp_path, y="final_test_acc")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    assert main(["sweep-plot", str(tmp_path), "--y", "final_test_acc"]) == 0


INVALID = [
    ("batch-zero", {"batch": 0}, "batch"),
    ("unknown-field", {"base": dict(BASE, widht=3)}, "widht"),
    ("unknown-vary-field", {"vary": {"learning_rate": {"grid": [1]}}}, "learning_rate"),
    ("empty-grid", {"vary": {"alpha": {"grid": []}}}, "vary.alpha"),
    (
        "bad-range",
        {"vary": {"lr": {"range": [0.1, 0.01]}}, "mode": "random", "n_trials": 2},
        "vary.lr",
    ),
    (
        "log-range-zero",
        {"vary": {"lr": {"log_range": [0, 1]}}, "mode": "random", "n_trials": 2},
        "log_range",
    ),
    ("grid-range-without-step", {"vary": {"lr": {"range": [0.01, 0.1]}}}, "step"),
    ("two-kinds", {"vary": {"alpha": {"grid": [0.5], "choices": [0.6]}}}, "exactly one"),
    ("bad-mode", {"mode": "bayes"}, "`mode`"),
    ("random-needs-trials", {"mode": "random"}, "n_trials"),
    ("bad-objective", {"objective": "loss"}, "`objective`"),
    ("seed-in-base", {"base": dict(BASE, seed=1)}, "seed"),
    ("invalid-point", {"vary": {"alpha": {"grid": [0.5, 1.5]}}}, "alpha"),
    ("unknown-top-key", {"sweeps": 3}, "sweeps"),
    ("bad-seeds", {"seeds": []}, "seeds"),
    ("choice-without-label", {"vary": {"optimizer": {"choices": [{"lr": 1.0}]}}}, "label"),
    (
        "choice-unknown-field",
        {"vary": {"optimizer": {"choices": [{"optimizer": "gd", "lrr": 1}]}}},
        "lrr",
    ),
]


@pytest.mark.parametrize("over, words", [c[1:] for c in INVALID], ids=[c[0] for c in INVALID])
def test_invalid_specs_are_rejected(over, words):
    with pytest.raises(ValueError, match=words):
        parse_spec(spec(**over))


def test_invalid_spec_file_starts_nothing(tmp_path, capsys):
    path = write_toml(tmp_path / "bad.toml", 'mode = "grid"\n[vary]\nalpha = { grid = [] }\n')
    assert main(["sweep", str(path), "--out", str(tmp_path / "o")]) == 2
    assert "vary.alpha" in capsys.readouterr().err and not (tmp_path / "o").exists()
    with pytest.raises(ValueError, match="not valid TOML"):
        load_spec(write_toml(tmp_path / "broken.toml", "mode = \n"))
