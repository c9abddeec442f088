"""No phantom trials: a worker that stops between claiming a trial and telling its result
(an error, Ctrl-C) marks the trial failed and enqueues its point again, at most ``max_retry``
times; a worker that dies outright leaves a heartbeat, so its trial is found stale."""

from __future__ import annotations

import time

import pytest

import modfourier._sweep as sweep
from modfourier._sweep import parse_spec, run_sweep

BASE = {"model": "mlp", "task": "add", "p": 5, "width": 8, "max_epochs": 2, "eval_every": 2}


def spec(**over):
    raw = {
        "name": "fail",
        "seeds": [0],
        "score": False,
        "heartbeat_interval": 1,
        "grace_period": 2,
        "base": dict(BASE),
        "vary": {"alpha": {"grid": [0.5, 0.8]}},
    }
    raw.update(over)
    return parse_spec(raw)


def trials(out):
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna.load_study(
        study_name="fail", storage=f"sqlite:///{out / 'study.db'}"
    ).get_trials()


def states(out) -> dict:
    names = [t.state.name for t in trials(out)]
    return {s: names.count(s) for s in sorted(set(names))}


@pytest.mark.parametrize(
    "exc",
    [RuntimeError("disk on fire"), KeyboardInterrupt()],
    ids=["error", "interrupt"],
)
def test_stop_while_training_fails_and_requeues(tmp_path, monkeypatch, exc):
    def broken(*args, **kwargs):
        raise exc

    monkeypatch.setattr(sweep, "_run_group", broken)
    with pytest.raises(type(exc)):
        run_sweep(spec(), tmp_path, progress=False)
    assert states(tmp_path) == {"FAIL": 2, "WAITING": 2}  # both points of the group
    failed = [t for t in trials(tmp_path) if t.state.name == "FAIL"]
    assert all(t.user_attrs["error"].startswith(type(exc).__name__) for t in failed)
    monkeypatch.undo()
    summary = run_sweep(spec(), tmp_path, progress=False)  # no grace period to wait for
    assert summary["done"] == 2 and summary["running"] == 0 and summary["waiting"] == 0
    done = [t.user_attrs["point"] for t in trials(tmp_path) if t.state.name == "COMPLETE"]
    assert sorted(done) == sorted({t.user_attrs["point"] for t in failed})


def test_error_in_suggest_leaves_no_running_trial(tmp_path, monkeypatch):
    """The error a changed grid used to raise between claim and tell (Optuna refusing a
    changed categorical distribution) now fails and re-enqueues the trial."""

    def refuse(self, trial):
        raise ValueError("CategoricalDistribution does not support dynamic value space.")

    monkeypatch.setattr(sweep.Dimension, "suggest", refuse)
    with pytest.raises(ValueError, match="dynamic value space"):
        run_sweep(spec(), tmp_path, progress=False)
    assert states(tmp_path) == {"FAIL": 1, "WAITING": 2}


def test_point_that_always_fails_is_retried_max_retry_times(tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("always")

    monkeypatch.setattr(sweep, "_run_group", broken)
    s = spec(max_retry=1)
    for _ in range(2):
        with pytest.raises(RuntimeError):
            run_sweep(s, tmp_path, progress=False)
    summary = run_sweep(s, tmp_path, progress=False)  # nothing left to claim
    assert summary["trials_run_here"] == 0 and summary["failed"] == 4
    assert summary["waiting"] == 0 and summary["running"] == 0


def test_claimed_trial_of_a_dead_worker_is_found_stale(tmp_path):
    """A claim records the heartbeat before the trial turns RUNNING: a worker that dies right
    after claiming still leaves a trial that goes stale and is enqueued again."""
    s = spec()
    run_sweep(s, tmp_path, progress=False, max_trials=0)
    url = f"sqlite:///{(tmp_path / 'study.db').resolve()}"
    lock = sweep._DatabaseLock(url)
    study = sweep._open_study(s, sweep._storage(s, url), url, create=True)
    with lock.hold():
        (claimed,) = sweep._claim_waiting(study, 1)
    # the worker "dies" here: no heartbeat thread, no tell
    time.sleep(s.grace_period + 1.5)  # SQLite stores whole seconds
    summary = run_sweep(s, tmp_path, progress=False)
    assert summary["done"] == 2 and summary["failed"] == 1 and summary["running"] == 0
    assert study._storage.get_trial(claimed._trial_id).state.name == "FAIL"


def test_optuna_workers_stop_at_n_trials(tmp_path):
    """Optuna sweeps ask under the lock and count running trials, so a second worker on a
    finished study asks nothing more."""
    vary = {"lr": {"log_range": [1e-3, 1e-1]}}
    s = spec(mode="optuna", n_trials=2, vary=vary)
    first = run_sweep(s, tmp_path, progress=False)
    second = run_sweep(s, tmp_path, progress=False)
    assert first["done"] + first["pruned"] == 2 and second["trials_run_here"] == 0
    assert len(trials(tmp_path)) == 2


def test_worker_whose_trial_was_taken_over_does_not_crash(tmp_path, monkeypatch):
    """A worker silent past the grace period (paused) finds its trials failed and re-enqueued
    by another worker: it drops its results, and the retries run the points once more."""
    from optuna.trial import TrialState

    real = sweep._run_group

    def paused(spec, group, out):
        results = real(spec, group, out)
        for trial, _ in group:  # what another worker's stale check does meanwhile
            storage = trial.study._storage
            storage.set_trial_state_values(trial._trial_id, state=TrialState.FAIL)
            sweep._Retry(spec.max_retry)(trial.study, storage.get_trial(trial._trial_id))
        return results

    monkeypatch.setattr(sweep, "_run_group", paused)
    s = spec()
    first = run_sweep(s, tmp_path, progress=False, max_trials=2)
    assert first["trials_run_here"] == 0 and first["trials_lost_here"] == 2
    assert first["waiting"] == 2 and first["running"] == 0
    monkeypatch.undo()
    assert run_sweep(s, tmp_path, progress=False)["done"] == 2
