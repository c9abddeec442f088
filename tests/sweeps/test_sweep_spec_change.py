"""A sweep folder and a study belong to one spec: a rerun with a changed spec is refused,
naming what changed, before anything is claimed or trained; the unchanged spec resumes."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modfourier._sweep import (
    SpecChangedError,
    _spec_changes,
    parse_spec,
    run_sweep,
)
from modfourier.cli import main

BASE = {"model": "mlp", "task": "add", "p": 5, "width": 8, "max_epochs": 2, "eval_every": 2}


def raw_spec(**over) -> dict:
    raw = {
        "name": "change",
        "seeds": [0],
        "score": False,
        "base": dict(BASE),
        "vary": {"alpha": {"grid": [0.5, 0.8]}},
    }
    raw.update(over)
    return raw


def toml(raw: dict) -> str:
    lines = []
    for key, value in raw.items():
        if key not in ("base", "vary"):
            lines.append(f"{key} = {json.dumps(value)}")
    lines.append("[base]")
    lines += [f"{k} = {json.dumps(v)}" for k, v in raw["base"].items()]
    lines.append("[vary]")
    for k, v in raw["vary"].items():
        inner = ", ".join(f"{kk} = {json.dumps(vv)}" for kk, vv in v.items())
        lines.append(f"{k} = {{ {inner} }}")
    return "\n".join(lines) + "\n"


def trial_states(out) -> dict:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.load_study(study_name="change", storage=f"sqlite:///{out / 'study.db'}")
    states = [t.state.name for t in study.get_trials()]
    return {s: states.count(s) for s in set(states)}


@pytest.fixture
def finished(tmp_path):
    """A finished two-point sweep, run through the CLI; its folder and spec file."""
    spec = tmp_path / "change.toml"
    spec.write_text(toml(raw_spec()))
    out = tmp_path / "out"
    assert main(["sweep", str(spec), "--out", str(out), "--json"]) == 0
    return spec, out


def test_changed_base_is_refused_naming_the_change(finished, capsys):
    spec, out = finished
    before = (out / "results.json").read_text()
    capsys.readouterr()
    spec.write_text(toml(raw_spec(base=dict(BASE, p=7))))
    assert main(["sweep", str(spec), "--out", str(out), "--json"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "base.p: 5 -> 7" in err and "new `name`" in err
    assert (out / "results.json").read_text() == before  # old results not passed off as new
    assert trial_states(out) == {"COMPLETE": 2}


def test_added_grid_value_is_refused_and_leaves_no_running_trial(finished, capsys):
    spec, out = finished
    spec.write_text(toml(raw_spec(vary={"alpha": {"grid": [0.5, 0.8, 0.9]}})))
    assert main(["sweep", str(spec), "--out", str(out), "--json"]) == 2
    assert "vary.alpha" in capsys.readouterr().err
    assert trial_states(out) == {"COMPLETE": 2}  # nothing claimed, nothing left RUNNING
    spec.write_text(toml(raw_spec()))  # the original spec still resumes, with nothing to do
    assert main(["sweep", str(spec), "--out", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["trials_run_here"] == 0


def test_renamed_sweep_in_the_same_folder_is_refused(finished, capsys):
    spec, out = finished
    spec.write_text(toml(raw_spec(name="other")))
    assert main(["sweep", str(spec), "--out", str(out)]) == 2
    assert "holds the sweep 'change', not 'other'" in capsys.readouterr().err


def test_renamed_sweep_in_a_new_folder_runs_as_a_new_study(finished, tmp_path):
    spec, _ = finished
    spec.write_text(toml(raw_spec(name="other", base=dict(BASE, p=7))))
    assert main(["sweep", str(spec), "--out", str(tmp_path / "other"), "--json"]) == 0
    rows = json.loads((tmp_path / "other" / "results.json").read_text())
    assert len(rows) == 2
    config = json.loads((tmp_path / "other" / "spec.json").read_text())
    assert config["study"] == "other" and config["spec"]["base"]["p"] == 7


def test_worker_setting_batch_may_differ(tmp_path):
    run_sweep(parse_spec(raw_spec()), tmp_path, progress=False, max_trials=0)
    summary = run_sweep(parse_spec(raw_spec(batch=1)), tmp_path, progress=False)
    assert summary["done"] == 2


def test_study_created_with_a_raw_spec_accepts_its_equivalent(tmp_path):
    """Studies store the canonical spec; one that stores the spec as written (defaults left
    out) is compared after normalising, so an unchanged spec is not refused."""
    import optuna

    raw = raw_spec()
    run_sweep(parse_spec(raw), tmp_path, progress=False, max_trials=0)
    study = optuna.load_study(study_name="change", storage=f"sqlite:///{tmp_path / 'study.db'}")
    study.set_user_attr("spec", raw)
    (tmp_path / "spec.json").unlink()
    assert run_sweep(parse_spec(raw), tmp_path, progress=False)["done"] == 2
    with pytest.raises(SpecChangedError, match="seeds"):
        run_sweep(parse_spec(raw_spec(seeds=[0, 1])), tmp_path, progress=False)


def test_changed_spec_is_refused_by_the_study_in_postgres(tmp_path, postgres_url):
    """On a shared database the study itself refuses: here from a fresh folder."""
    raw = raw_spec(name="pg-change")
    run_sweep(parse_spec(raw), tmp_path / "a", storage=postgres_url, max_trials=0)
    changed = raw_spec(name="pg-change", threshold=0.9)
    with pytest.raises(SpecChangedError, match=r"threshold: 0.99 -> 0.9"):
        run_sweep(parse_spec(changed), tmp_path / "b", storage=postgres_url, max_trials=0)


CHANGES = [
    ("base-value", {"base": dict(BASE, width=16)}, "base.width: 8 -> 16"),
    ("base-added", {"base": dict(BASE, lr=0.1)}, "base.lr: (not set) -> 0.1"),
    ("grid-value", {"vary": {"alpha": {"grid": [0.5, 0.7]}}}, "vary.alpha"),
    ("seeds", {"seeds": [1]}, "seeds: [0] -> [1]"),
    ("mode", {"mode": "random", "n_trials": 2}, "mode"),
    ("grace", {"grace_period": 60}, "grace_period: 30 -> 60"),
    (
        "vary-order",
        {"vary": {"lr": {"grid": [0.01]}, "alpha": {"grid": [0.5, 0.8]}}},
        "vary.lr",
    ),
]


@pytest.mark.parametrize("over, words", [c[1:] for c in CHANGES], ids=[c[0] for c in CHANGES])
def test_spec_changes_name_the_field(over, words):
    old = parse_spec(raw_spec()).canonical()
    new = parse_spec(raw_spec(**over)).canonical()
    assert any(words in change for change in _spec_changes(old, new))


def test_int_and_float_grid_values_are_different_points():
    ints = parse_spec(raw_spec(vary={"weight_decay": {"grid": [0, 1]}})).canonical()
    floats = parse_spec(raw_spec(vary={"weight_decay": {"grid": [0.0, 1.0]}})).canonical()
    assert _spec_changes(ints, floats) == [
        'vary.weight_decay: {"grid": [0, 1]} -> {"grid": [0.0, 1.0]}'
    ]


def test_reordered_vary_is_a_change():
    vary = {"alpha": {"grid": [0.5, 0.8]}, "lr": {"grid": [0.01, 0.1]}}
    old = parse_spec(raw_spec(vary=vary)).canonical()
    new = parse_spec(raw_spec(vary=dict(reversed(list(vary.items()))))).canonical()
    assert _spec_changes(old, new) == ["order of [vary]: ['alpha', 'lr'] -> ['lr', 'alpha']"]


@settings(max_examples=40, deadline=None)
@given(
    alphas=st.lists(
        st.sampled_from([0.3, 0.4, 0.5, 0.6, 0.7, 0.8]), min_size=1, max_size=4, unique=True
    ),
    widths=st.tuples(st.integers(4, 64), st.integers(4, 64)),
    seeds=st.lists(st.integers(0, 9), min_size=1, max_size=3, unique=True),
    batches=st.tuples(st.integers(1, 64), st.integers(1, 64)),
)
def test_canonical_round_trips_and_changes_are_exactly_the_edits(alphas, widths, seeds, batches):
    def make(width, batch):
        return parse_spec(
            raw_spec(
                base=dict(BASE, width=width),
                vary={"alpha": {"grid": alphas}},
                seeds=seeds,
                batch=batch,
            )
        )

    spec = make(widths[0], batches[0])
    canonical = spec.canonical()
    assert parse_spec(canonical) == spec
    assert json.loads(json.dumps(canonical)) == canonical
    changes = _spec_changes(canonical, make(widths[1], batches[1]).canonical())
    expected = [] if widths[0] == widths[1] else [f"base.width: {widths[0]} -> {widths[1]}"]
    assert changes == expected  # a worker's batch is its own
