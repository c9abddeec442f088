"""p-aware defaults of the CPU presets, the warnings before training, and the run's verdict."""

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from closedform import is_prime
from trained import PRESETS, TrainConfig, train
from trained._config import (
    _MEASURED_FAILURES,
    P_AWARE_DEFAULTS,
    defaults_for_p,
    defaults_line,
    generalization_warnings,
)
from trained._verdict import DEAD_RATIO, VERDICT_KINDS, Verdict, assess, verdict

CPU_PRESETS = ("mlp-cpu", "rangamani-cpu", "nanda-cpu")
PAPER_PRESETS = sorted(set(PRESETS) - set(CPU_PRESETS))


# ------------------------------------------------------------------------------------------
# p-aware defaults


def test_only_cpu_presets_have_p_aware_defaults():
    assert set(P_AWARE_DEFAULTS) <= set(CPU_PRESETS)
    assert set(_MEASURED_FAILURES) <= set(CPU_PRESETS)


@pytest.mark.parametrize("name", PAPER_PRESETS)
def test_papers_presets_are_not_p_aware(name):
    model = PRESETS[name][0]["model"]
    for p in (11, 23, 31, 59, 113):
        cfg = TrainConfig(model=model, preset=name, p=p).resolve()
        assert cfg.p_defaults is None
        assert cfg.alpha == PRESETS[name][0]["alpha"]


@pytest.mark.parametrize("name", sorted(P_AWARE_DEFAULTS))
def test_bands_are_disjoint_and_ordered(name):
    bands = P_AWARE_DEFAULTS[name]
    for lo, hi, values in bands:
        assert 3 <= lo < hi and values
        assert all(k in TrainConfig.__dataclass_fields__ for k in values)
    assert all(a[1] <= b[0] for a, b in zip(bands, bands[1:], strict=False))


@given(p=st.integers(11, 300))
@settings(max_examples=60, deadline=None)
def test_p_aware_alpha_never_increases_with_p(p):
    """More residues, more training pairs at the same fraction: the default never asks for a
    larger fraction at a larger modulus, and always lies in [0.5, 0.9]."""
    a = TrainConfig(model="mlp", p=p).resolve().alpha
    b = TrainConfig(model="mlp", p=p + 1).resolve().alpha
    assert 0.5 <= b <= a <= 0.9


@pytest.mark.parametrize("p", [23, 31, 41, 53])
def test_p_aware_values_fill_unset_fields_and_are_recorded(p):
    cfg = TrainConfig(model="mlp", task="add", p=p).resolve()
    assert cfg.alpha == defaults_for_p("mlp-cpu", p)["alpha"] > 0.5
    assert cfg.p_defaults == ("alpha",)
    assert cfg.to_dict()["p_defaults"] == ["alpha"]  # lands in config.json's "hyper"


def test_rnn_at_small_p_takes_more_data_and_more_epochs():
    cfg = TrainConfig(model="rnn", task="add", p=31).resolve()
    assert (cfg.alpha, cfg.max_epochs, cfg.p_defaults) == (0.8, 5000, ("alpha", "max_epochs"))
    mine = TrainConfig(model="rnn", task="add", p=31, max_epochs=100).resolve()
    assert (mine.alpha, mine.max_epochs, mine.p_defaults) == (0.8, 100, ("alpha",))


@pytest.mark.parametrize(("p", "alpha"), [(23, 0.9), (31, 0.8), (59, 0.5), (97, 0.4), (113, 0.3)])
def test_transformer_alpha_falls_to_nandas_at_p_113(p, alpha):
    cfg = TrainConfig(model="transformer", task="add", p=p).resolve()
    assert cfg.alpha == alpha
    assert (cfg.p_defaults is None) == (alpha == PRESETS["nanda-cpu"][0]["alpha"])


def test_a_set_field_is_never_overridden_by_a_p_aware_value():
    cfg = TrainConfig(model="mlp", task="add", p=23, alpha=0.55).resolve()
    assert cfg.alpha == 0.55 and cfg.p_defaults is None


def test_large_p_keeps_the_presets_values():
    cfg = TrainConfig(model="mlp", task="add", p=97).resolve()
    assert cfg.alpha == PRESETS["mlp-cpu"][0]["alpha"] and cfg.p_defaults is None


def test_unset_p_takes_the_presets_p_and_its_p_aware_values():
    for model in ("mlp", "rnn", "transformer"):
        cfg = TrainConfig(model=model).resolve()
        want = defaults_for_p(cfg.preset, cfg.p)
        assert {k: getattr(cfg, k) for k in want} == want


@pytest.mark.parametrize("p", [11, 23, 31, 59, 97])
@pytest.mark.parametrize("model", ["mlp", "rnn", "transformer"])
def test_resolve_is_idempotent(model, p):
    cfg = TrainConfig(model=model, task="add", p=p).resolve()
    assert cfg.resolve() == cfg
    assert TrainConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))).resolve() == cfg


def test_an_explicit_cpu_preset_is_p_aware_too():
    named = TrainConfig(model="mlp", preset="mlp-cpu", p=31).resolve()
    assert named == TrainConfig(model="mlp", p=31).resolve()


def test_run_records_the_p_aware_fields(tmp_path):
    run = train(TrainConfig(model="mlp", p=23, max_epochs=1, device="cpu"), out_dir=tmp_path / "r")
    hyper = json.loads((tmp_path / "r" / "config.json").read_text())["hyper"]
    assert run.config.p_defaults == ("alpha",)
    assert hyper["p_defaults"] == ["alpha"] and hyper["alpha"] == run.config.alpha


@pytest.mark.parametrize(
    "value",
    [("alpha", "no_such_field"), "alpha", (1,), 3],
    ids=["unknown-field", "a-string", "not-strings", "an-int"],
)
def test_p_defaults_must_name_fields(value):
    with pytest.raises(ValueError, match="p_defaults"):
        TrainConfig(model="mlp", p_defaults=value)


@pytest.mark.parametrize(
    ("preset", "p", "match"),
    [("nope", 31, "preset"), ("mlp-cpu", 2, "`p`"), ("mlp-cpu", 31.0, "`p`")],
    ids=["unknown-preset", "p-too-small", "p-float"],
)
def test_defaults_for_p_rejects_bad_input(preset, p, match):
    with pytest.raises(ValueError, match=match):
        defaults_for_p(preset, p)


# ------------------------------------------------------------------------------------------
# generalization: the defaults at small primes (seconds), the rest in docs/benchmarks


@pytest.mark.parametrize("p", [23, 31])
def test_default_mlp_groks_add_at_a_small_prime(p):
    """mlp-cpu with alpha = 0.5 decays to zero weights at these p (docs/trained.md,
    "Defaults by modulus"); the p-aware training fraction groks in ~50-60 epochs."""
    run = train(TrainConfig(model="mlp", task="add", p=p, device="cpu"))
    assert run.stopped == "target" and run.grok_epoch() <= 200
    assert assess(run.history).kind == "grokked"


@pytest.mark.slow
@pytest.mark.parametrize("model", ["rnn", "transformer"])
def test_default_rnn_and_transformer_grok_add_mod_23(model):
    """About 1 min (RNN) and 2 min (transformer) on one thread."""
    run = train(TrainConfig(model=model, task="add", p=23, device="cpu"))
    assert run.stopped == "target"


@pytest.mark.slow
@pytest.mark.parametrize("p", [q for q in range(23, 114) if is_prime(q)])
def test_default_mlp_groks_add_at_every_prime(p):
    run = train(TrainConfig(model="mlp", task="add", p=p, device="cpu"))
    assert run.stopped == "target"


# ------------------------------------------------------------------------------------------
# warnings


def test_no_warning_for_the_defaults_in_the_measured_range():
    for p in (11, 23, 31, 37, 47, 59, 97, 113):
        assert generalization_warnings(TrainConfig(model="mlp", task="add", p=p)) == []


@pytest.mark.parametrize(("p", "alpha"), [(31, 0.5), (23, 0.6), (41, 0.5), (13, 0.8)])
def test_a_measured_failure_warns_and_names_the_setting_that_works(p, alpha):
    (text,) = generalization_warnings(TrainConfig(model="mlp", task="add", p=p, alpha=alpha))
    assert f"alpha {alpha:g} at p={p}" in text
    assert f"--alpha {defaults_for_p('mlp-cpu', p)['alpha']:g}" in text


@pytest.mark.slow
def test_a_warning_states_a_failure_it_measured():
    cfg = TrainConfig(model="mlp", task="add", p=31, alpha=0.5, max_epochs=1000, device="cpu")
    assert generalization_warnings(cfg)
    assert assess(train(cfg).history).kind in ("dead", "not_fit", "memorized")


@pytest.mark.parametrize(
    ("model", "p", "alpha", "works"),
    [("rnn", 31, 0.5, 0.8), ("rnn", 23, 0.8, 0.9), ("transformer", 31, 0.3, 0.8)],
)
def test_rnn_and_transformer_warn_where_they_were_measured_to_fail(model, p, alpha, works):
    (text,) = generalization_warnings(TrainConfig(model=model, task="add", p=p, alpha=alpha))
    assert f"alpha {alpha:g} at p={p}" in text and text.endswith(f"--alpha {works:g} does")


def test_an_unmeasured_modulus_warns():
    (text,) = generalization_warnings(TrainConfig(model="mlp", task="add", p=7))
    assert "p=7" in text and "measured" in text


def test_papers_presets_never_warn():
    assert generalization_warnings(TrainConfig(model="mlp", preset="gromov", p=23)) == []


def test_defaults_line_names_only_unset_values():
    line = defaults_line(TrainConfig(model="mlp", p=31, lr=0.05))
    assert "alpha 0.8 (p-aware)" in line and "lr" not in line and "3000 epochs" in line
    full = dict(alpha=0.8, width=128, lr=0.1, weight_decay=1.0, max_epochs=10)
    assert defaults_line(TrainConfig(model="mlp", p=31, **full)) is None
    with pytest.raises(TypeError, match="config"):
        defaults_line({"model": "mlp"})


# ------------------------------------------------------------------------------------------
# CLI


def _cli(tmp_path, *extra):
    from modfourier.cli import main

    argv = ["train", "--model", "mlp", "--task", "add", "--device", "cpu", "--json"]
    return main([*argv, "--out", str(tmp_path / "r"), *extra])


def test_cli_prints_the_defaults_line_before_training(tmp_path, capsys):
    assert _cli(tmp_path, "--p", "31", "--epochs", "2") == 0
    out, err = capsys.readouterr()
    assert err.splitlines()[0] == (
        "defaults for p=31 (mlp-cpu): alpha 0.8 (p-aware), width 128, lr 0.1, weight decay 1"
    )
    summary = json.loads(out)  # stdout holds the JSON summary alone
    assert summary["p_defaults"] == ["alpha"] and summary["warnings"] == []


def test_cli_marks_every_p_aware_value(tmp_path, capsys):
    from modfourier.cli import main

    argv = ["train", "--model", "rnn", "--p", "23", "--device", "cpu", "--json"]
    assert main([*argv, "--set", "d_hidden=8", "--set", "d_embed=8", "--epochs", "1",
                 "--out", str(tmp_path / "r")]) == 0  # fmt: skip
    err = capsys.readouterr().err.splitlines()
    assert (
        err[0] == "defaults for p=23 (rangamani-cpu): alpha 0.9 (p-aware), lr 0.01, weight decay 1"
    )


def test_cli_warns_for_a_configuration_known_to_fail(tmp_path, capsys):
    assert _cli(tmp_path, "--p", "31", "--alpha", "0.5", "--epochs", "2") == 0
    out, err = capsys.readouterr()
    assert "warning: alpha 0.5 at p=31" in err and "--alpha 0.8" in err
    assert json.loads(out)["warnings"][0].startswith("alpha 0.5 at p=31")


def test_cli_prints_the_verdict(tmp_path, capsys):
    from modfourier.cli import main

    argv = ["train", "--p", "23", "--device", "cpu", "--out", str(tmp_path / "r")]
    assert main(argv) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[-1].startswith("grokked at epoch ")


def test_cli_json_carries_the_verdict(tmp_path, capsys):
    assert _cli(tmp_path, "--p", "23", "--epochs", "3") == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["verdict_kind"] == "not_fit"
    assert summary["verdict"].startswith("did not fit (train accuracy ")


# ------------------------------------------------------------------------------------------
# verdict


def _rec(epoch, train_acc, test_acc, norm=100.0, **more):
    return {"epoch": epoch, "train_acc": train_acc, "test_acc": test_acc, "norm_W1": norm, **more}


def test_verdict_grokked():
    h = [_rec(0, 0.03, 0.03), _rec(50, 1.0, 0.4), _rec(60, 1.0, 0.995), _rec(70, 1.0, 1.0)]
    v = assess(h)
    assert (v.kind, v.epoch) == ("grokked", 60)
    assert verdict(h).startswith("grokked at epoch 60")


def test_verdict_grokked_then_lost():
    h = [_rec(0, 0.03, 0.03), _rec(100, 1.0, 0.995), _rec(200, 0.94, 0.05)]
    v = assess(h)
    assert (v.kind, v.epoch, v.test_acc) == ("lost", 100, 0.05)
    assert "then lost it" in v.message


def test_verdict_memorized():
    h = [_rec(0, 0.03, 0.03), _rec(1000, 1.0, 0.025)]
    assert verdict(h) == (
        "memorized without generalizing (train accuracy 1.000, test 0.025 at epoch 1000)"
    )


def test_verdict_did_not_fit():
    h = [_rec(0, 0.03, 0.03), _rec(1000, 0.6, 0.2)]
    assert verdict(h) == "did not fit (train accuracy 0.600, test 0.200 at epoch 1000)"


def test_verdict_dead_network():
    h = [_rec(0, 0.03, 0.03, norm=90.0), _rec(3000, 0.033, 0.031, norm=1e-45)]
    v = assess(h)
    assert v.kind == "dead" and v.weight_norm == pytest.approx(1e-45)
    assert v.message.startswith("dead network: weights decayed to ~0")


def test_verdict_dead_network_with_zero_weights():
    assert assess([_rec(0, 0.03, 0.03, norm=0.0)]).kind == "dead"


def test_verdict_non_finite():
    h = [_rec(0, 0.03, 0.03), _rec(10, 0.5, 0.1, train_loss=math.nan)]
    v = assess(h)
    assert (v.kind, v.epoch) == ("non_finite", 10)
    assert v.message == "dead network: non-finite train_loss at epoch 10"


def test_verdict_small_but_alive_weights_are_not_dead():
    h = [_rec(0, 0.03, 0.03, norm=90.0), _rec(100, 1.0, 0.3, norm=90.0 * DEAD_RATIO * 10)]
    assert assess(h).kind == "memorized"


def test_verdict_without_norms_skips_the_dead_check():
    h = [{"epoch": 0, "train_acc": 0.03, "test_acc": 0.03}]
    v = assess(h)
    assert v.kind == "not_fit" and v.weight_norm is None


def test_verdict_multitask_needs_every_head():
    h = [_rec(0, 1.0, 0.995, test_acc_min=0.5)]  # the mean alone would count (Syrkis Fig. 5)
    assert assess(h).kind == "memorized"


def test_verdict_respects_the_target():
    h = [_rec(0, 1.0, 0.95)]
    assert assess(h, target_acc=0.9).kind == "grokked"
    assert assess(h, target_acc=0.99).kind == "memorized"


@given(
    st.lists(st.tuples(st.floats(0, 1), st.floats(0, 1), st.floats(0, 1e3)), min_size=1, max_size=8)
)
def test_verdict_kind_is_always_one_of_the_kinds(rows):
    h = [_rec(10 * i, a, b, norm=n) for i, (a, b, n) in enumerate(rows)]
    v = assess(h)
    assert isinstance(v, Verdict) and v.kind in VERDICT_KINDS and v.message == verdict(h)


@pytest.mark.parametrize(
    ("history", "target", "error"),
    [
        ([], 0.99, ValueError),
        ("x", 0.99, TypeError),
        ([3], 0.99, TypeError),
        ([{"epoch": 0, "train_acc": 1.0}], 0.99, ValueError),
        ([_rec(0, 1.0, 1.0)], 0.0, ValueError),
        ([_rec(0, 1.0, 1.0)], 1.5, ValueError),
        ([_rec(0, 1.0, 1.0)], True, ValueError),
    ],
    ids=["empty", "not-a-list", "not-a-dict", "no-test-acc", "target-0", "target-1.5", "bool"],
)
def test_verdict_rejects_bad_input(history, target, error):
    with pytest.raises(error):
        assess(history, target)
