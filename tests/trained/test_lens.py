"""TransformerLens round trip: run directories <-> HookedTransformer, logits equal both ways.

Needs the optional ``lens`` extra (transformer-lens 2.x or 3.x); every test that runs a
HookedTransformer is skipped with the reason when it is not installed.
"""

import json
import math
import sys
import tempfile
import types
import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import trained
from closedform import analytic_transformer, get_task, load_model_dir, save_model_dir
from closedform.rundir import DirectoryInUseError
from trained._lens import _all_tokens, from_hooked_transformer, to_hooked_transformer

P = 7


def _lens_or_skip():
    try:
        from transformer_lens import HookedTransformer, HookedTransformerConfig
    except ImportError as exc:  # not installed, or 4.x (HookedTransformer removed)
        pytest.skip(f"TransformerLens with HookedTransformer is not installed ({exc})")
    return HookedTransformer, HookedTransformerConfig


@pytest.fixture(scope="module")
def lens():
    return _lens_or_skip()


@pytest.fixture(scope="module")
def dirs(tmp_path_factory, lens):
    """Model directories: a trained transformer, its attention-only sibling, two analytic ones
    (uniform attention for add, positional attention for sub)."""
    root = tmp_path_factory.mktemp("lens")
    torch.set_num_threads(1)
    out = {}
    for name, attn_only in (("trained", False), ("attn_only", True)):
        cfg = trained.TrainConfig(
            model="transformer",
            p=P,
            d_model=16,
            heads=2,
            d_mlp=32,
            attn_only=attn_only,
            alpha=0.5,
            max_epochs=5,
            device="cpu",
            checkpoint=False,
        )
        trained.train(cfg, out_dir=root / name)
        out[name] = root / name
    for name, task in (("analytic_add", "add"), ("analytic_sub", "sub")):
        net = analytic_transformer(get_task(task, P), d_model=16, heads=2, d_mlp=32)
        out[name] = net.save(root / name)
    return out


def _last_logits(model, p=P) -> np.ndarray:
    """The HookedTransformer run on the full sequences [n, m, '='], last position."""
    with torch.no_grad():
        return model(_all_tokens(p, "cpu"))[:, -1].double().numpy()


def _assert_float32_equal(theirs, ours):
    scale = max(1.0, float(np.abs(ours).max()))
    np.testing.assert_allclose(theirs, ours, rtol=0, atol=1e-5 * scale)


def _new_lens_model(lens, seed=0, **overrides):
    """A HookedTransformer with our architecture (plus ``overrides``), random weights drawn from
    its own generator (no global seed) and zero biases."""
    HookedTransformer, HookedTransformerConfig = lens
    kw = dict(
        n_layers=1,
        d_model=16,
        d_head=8,
        n_heads=2,
        d_mlp=32,
        d_vocab=P + 1,
        d_vocab_out=P,
        n_ctx=3,
        act_fn="relu",
        normalization_type=None,
        default_prepend_bos=False,
        init_weights=False,
        device="cpu",
    )
    kw.update(overrides)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # 3.x deprecates HookedTransformer
        model = HookedTransformer(HookedTransformerConfig(**kw))
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, prm in model.named_parameters():
            bias = name.rsplit(".", 1)[-1].startswith("b_")
            prm.copy_(0 * prm if bias else 0.4 * torch.randn(prm.shape, generator=g))
    return model


# ---------------------------------------------------------------------------------------------
# export


@pytest.mark.parametrize("name", ["trained", "attn_only", "analytic_add", "analytic_sub"])
def test_export_logits_equal_ours(dirs, name):
    model = to_hooked_transformer(dirs[name])
    _assert_float32_equal(_last_logits(model), trained.load_model(dirs[name]).logits())


@pytest.mark.parametrize("name", ["trained", "analytic_sub"])
def test_export_activations_equal_ours_hidden(dirs, name):
    model = to_hooked_transformer(dirs[name], dtype="float64")
    with torch.no_grad():
        _, cache = model.run_with_cache(_all_tokens(P, "cpu"))
    ours = trained.load_model(dirs[name]).hidden()
    pattern = cache["blocks.0.attn.hook_pattern"][:, :, 2, :].numpy()  # query '='
    np.testing.assert_allclose(pattern, ours["attn"], rtol=0, atol=1e-12)
    post = cache["blocks.0.mlp.hook_post"][:, 2].numpy()
    np.testing.assert_allclose(post, ours["mlp_post"], rtol=0, atol=1e-12)


def test_export_config_matches_ours(dirs):
    model = to_hooked_transformer(dirs["trained"])
    cfg = model.cfg
    got = (cfg.n_layers, cfg.d_model, cfg.n_heads, cfg.d_head, cfg.d_mlp, cfg.d_vocab)
    assert got == (1, 16, 2, 8, 32, P + 1)
    assert (cfg.d_vocab_out, cfg.n_ctx, cfg.act_fn, cfg.normalization_type) == (P, 3, "relu", None)
    assert (cfg.positional_embedding_type, cfg.default_prepend_bos) == ("standard", False)
    assert math.isclose(cfg.attn_scale, math.sqrt(8))


def test_export_biases_are_zero(dirs):
    model = to_hooked_transformer(dirs["trained"])
    biases = {k: v for k, v in model.named_parameters() if k.rsplit(".", 1)[-1].startswith("b_")}
    assert biases and all(float(v.detach().abs().max()) == 0.0 for v in biases.values())


def test_export_float64_keeps_analytic_weights_bitwise(dirs):
    model = to_hooked_transformer(dirs["analytic_sub"], dtype="float64")
    W = load_model_dir(dirs["analytic_sub"]).weights
    np.testing.assert_array_equal(model.W_E.detach().numpy(), W["W_E"].T)
    np.testing.assert_array_equal(model.blocks[0].attn.W_O.detach().numpy()[1], W["W_O"][:, 8:].T)


def test_export_accepts_a_model_dir_and_an_epoch(dirs, tmp_path, lens):
    model = to_hooked_transformer(load_model_dir(dirs["trained"]))
    _assert_float32_equal(_last_logits(model), trained.load_model(dirs["trained"]).logits())
    cfg = trained.TrainConfig(
        model="transformer", p=5, d_model=8, heads=2, d_mlp=8, max_epochs=2, device="cpu"
    )
    trained.train(cfg, out_dir=tmp_path / "ckpt")
    first = to_hooked_transformer(tmp_path / "ckpt", epoch=0)
    _assert_float32_equal(
        _last_logits(first, 5), trained.load_model(tmp_path / "ckpt", epoch=0).logits()
    )


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"run_dir": 3}, TypeError, "`run_dir` must be a path"),
        ({"dtype": "float16"}, ValueError, "`dtype` must be one of"),
        ({"dtype": torch.float32}, TypeError, "`dtype` must be a string"),
        ({"device": 0}, TypeError, "`device` must be a string"),
    ],
    ids=["run_dir-int", "dtype-float16", "dtype-torch", "device-int"],
)
def test_export_rejects_invalid_arguments(dirs, kwargs, error, match):
    kwargs = {"run_dir": dirs["trained"], **kwargs}
    with pytest.raises(error, match=match):
        to_hooked_transformer(**kwargs)


def test_export_rejects_an_mlp_directory(tmp_path):
    net_dir = save_model_dir(
        tmp_path / "mlp",
        {"model": "mlp", "p": 5, "task": {"name": "add", "params": {}}, "width": 4},
        {"W1": np.zeros((4, 10)), "W2": np.zeros((5, 4))},
    )
    with pytest.raises(ValueError, match="holds model 'mlp'"):
        to_hooked_transformer(net_dir)


def test_export_rejects_an_epoch_with_a_model_dir(dirs):
    with pytest.raises(ValueError, match="`epoch` applies to a path"):
        to_hooked_transformer(load_model_dir(dirs["trained"]), epoch=0)


# ---------------------------------------------------------------------------------------------
# round trip and import


@pytest.mark.parametrize(
    ("name", "dtype"),
    [("trained", "float32"), ("attn_only", "float32"), ("analytic_sub", "float64")],
)
def test_round_trip_keeps_weights_and_logits(dirs, tmp_path, name, dtype):
    back = from_hooked_transformer(to_hooked_transformer(dirs[name], dtype=dtype), tmp_path / "b")
    before, after = load_model_dir(dirs[name]), load_model_dir(back)
    assert sorted(before.weights) == sorted(after.weights)
    for k, w in before.weights.items():
        np.testing.assert_array_equal(after.weights[k], w, err_msg=k)
    np.testing.assert_array_equal(
        trained.load_model(back).logits(), trained.load_model(dirs[name]).logits()
    )


def test_round_trip_in_float32_rounds_analytic_weights_once(dirs, tmp_path):
    back = from_hooked_transformer(to_hooked_transformer(dirs["analytic_add"]), tmp_path / "b")
    before, after = load_model_dir(dirs["analytic_add"]), load_model_dir(back)
    for k, w in before.weights.items():
        assert after.weights[k].dtype == np.float32
        np.testing.assert_array_equal(after.weights[k], w.astype(np.float32), err_msg=k)


def test_import_writes_the_config_load_model_reads(dirs, tmp_path):
    model = to_hooked_transformer(dirs["analytic_sub"])
    out = from_hooked_transformer(
        model, tmp_path / "imp", "sub", config_extra={"split": {"alpha": 0.5, "seed": 0}}
    )
    config = json.loads((out / "config.json").read_text())
    assert config["model"] == "transformer" and config["source"] == "transformer_lens"
    assert (config["p"], config["task"], config["n_classes"]) == (
        P,
        {"name": "sub", "params": {}},
        [P],
    )
    assert (config["d_model"], config["heads"], config["d_mlp"], config["attn_only"]) == (
        16,
        2,
        32,
        False,
    )
    assert config["split"] == {"alpha": 0.5, "seed": 0}
    assert config["transformer_lens"]["d_vocab_out"] == P


@settings(max_examples=15, deadline=None)
@given(
    p=st.sampled_from([3, 5, 7]),
    heads=st.integers(1, 3),
    d_head=st.integers(1, 4),
    d_mlp=st.integers(1, 12),
    attn_only=st.booleans(),
    scale=st.floats(0.1, 3.0),
    seed=st.integers(0, 2**16),
)
def test_random_weights_round_trip_and_agree(lens, p, heads, d_head, d_mlp, attn_only, scale, seed):
    d = heads * d_head
    cfg = trained.TrainConfig(
        model="transformer", p=p, d_model=d, heads=heads, d_mlp=d_mlp, attn_only=attn_only
    ).resolve()
    from trained._models import init_weights

    W = init_weights(cfg, p, torch.Generator().manual_seed(seed))
    W = {k: (scale * v).numpy() for k, v in W.items()}
    config = {
        "model": "transformer",
        "p": p,
        "task": {"name": "add", "params": {}},
        "d_model": d,
        "heads": heads,
        "d_mlp": d_mlp,
        "attn_only": attn_only,
    }
    with tempfile.TemporaryDirectory() as tmp:
        src = save_model_dir(f"{tmp}/src", config, W)
        model = to_hooked_transformer(src)
        _assert_float32_equal(_last_logits(model, p), trained.load_model(src).logits())
        back = load_model_dir(from_hooked_transformer(model, f"{tmp}/back"))
        for k, w in W.items():
            np.testing.assert_array_equal(back.weights[k], w, err_msg=k)


def test_import_of_a_model_built_in_transformer_lens(lens, tmp_path):
    model = _new_lens_model(lens, seed=1)
    out = from_hooked_transformer(model, tmp_path / "imp")
    _assert_float32_equal(_last_logits(model), trained.load_model(out).logits())


def test_import_nanda_layout_drops_the_eq_column(lens, tmp_path):
    model = _new_lens_model(lens, seed=2, d_vocab_out=P + 1)
    with torch.no_grad():
        model.unembed.W_U[:, P] = 0.0
        model.unembed.b_U[P] = -1e3  # b_U must stay zero elsewhere; here it fails the check
    with pytest.raises(ValueError, match="unembed.b_U is not zero"):
        from_hooked_transformer(model, tmp_path / "bias")
    with torch.no_grad():
        model.unembed.b_U.zero_()
        # the '=' logit is the mean of the class logits: never above their maximum
        model.unembed.W_U[:, P] = model.unembed.W_U[:, :P].mean(1) - 1e-3
    out = from_hooked_transformer(model, tmp_path / "imp")
    W_U = load_model_dir(out).weights["W_U"]
    np.testing.assert_array_equal(W_U, model.unembed.W_U.detach().numpy()[:, :P])
    _assert_float32_equal(_last_logits(model)[:, :P], trained.load_model(out).logits())
    assert json.loads((out / "config.json").read_text())["transformer_lens"][
        "dropped_output_tokens"
    ] == [P]


def test_import_nanda_layout_refuses_when_eq_wins(lens, tmp_path):
    model = _new_lens_model(lens, seed=3, d_vocab_out=P + 1)
    with torch.no_grad():
        model.unembed.W_U[:, P] = model.unembed.W_U[:, :P].max(1).values + 1.0
    with pytest.raises(ValueError, match="'=' logit is the largest on"):
        from_hooked_transformer(model, tmp_path / "imp")
    assert not (tmp_path / "imp").exists()


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"n_layers": 2}, "n_layers = 2"),
        ({"normalization_type": "LN"}, "normalization_type = 'LN'"),
        ({"n_ctx": 4}, "n_ctx = 4"),
        ({"d_vocab": P + 2}, "d_vocab = 9"),
        ({"d_vocab_out": P + 2}, "d_vocab_out = 9"),
        ({"act_fn": "gelu"}, "act_fn = 'gelu'"),
        ({"positional_embedding_type": "rotary"}, "positional_embedding_type = 'rotary'"),
        ({"attention_dir": "bidirectional"}, "attention_dir = 'bidirectional'"),
        ({"use_attn_scale": False}, "use_attn_scale = False"),
        ({"attn_scale": 2.0}, "attn_scale = 2.0"),
        ({"gated_mlp": True}, "gated_mlp = True"),
        ({"parallel_attn_mlp": True}, "parallel_attn_mlp = True"),
        ({"d_head": 4}, "d_head * n_heads = 4 * 2"),
    ],
    ids=lambda v: "-".join(f"{k}={w}" for k, w in v.items()) if isinstance(v, dict) else None,
)
def test_import_refuses_another_architecture(lens, tmp_path, overrides, named):
    model = _new_lens_model(lens, **overrides)
    with pytest.raises(ValueError, match="not this package's one-layer transformer") as info:
        from_hooked_transformer(model, tmp_path / "imp", p=P)
    assert named in str(info.value)
    assert not (tmp_path / "imp").exists()


@pytest.mark.parametrize("bias", ["attn.b_Q", "attn.b_O", "mlp.b_in", "mlp.b_out"])
def test_import_refuses_a_nonzero_bias(lens, tmp_path, bias):
    model = _new_lens_model(lens)
    with torch.no_grad():
        dict(model.named_parameters())[f"blocks.0.{bias}"].fill_(0.1)
    with pytest.raises(ValueError, match=f"bias blocks.0.{bias} is not zero"):
        from_hooked_transformer(model, tmp_path / "imp")


def test_import_names_every_difference_in_one_message(lens, tmp_path):
    model = _new_lens_model(lens, n_layers=2, normalization_type="LN", act_fn="gelu", n_ctx=4)
    with pytest.raises(ValueError) as info:
        from_hooked_transformer(model, tmp_path / "imp")
    for named in ("n_layers = 2", "normalization_type = 'LN'", "act_fn = 'gelu'", "n_ctx = 4"):
        assert named in str(info.value)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"model": "not a model"}, TypeError, "`model` must be a transformer_lens"),
        ({"task": "nope"}, ValueError, "`task` must be one of"),
        ({"task": 3}, TypeError, "`task` must be a task name"),
        ({"task": get_task("add", 5)}, ValueError, "`task` has p = 5 but p = 7"),
        ({"p": 7.0}, TypeError, "`p` must be an integer"),
        ({"p": 1}, ValueError, "`p` must be >= 2"),
        ({"p": 5}, ValueError, "d_vocab = 8"),
        ({"config_extra": []}, TypeError, "`config_extra` must be a dict"),
        ({"config_extra": {"p": 3}}, ValueError, r"`config_extra` may not set \['p'\]"),
    ],
    ids=[
        "model-str",
        "task-unknown",
        "task-int",
        "task-other-p",
        "p-float",
        "p-1",
        "p-mismatch",
        "config_extra-list",
        "config_extra-clash",
    ],
)
def test_import_rejects_invalid_arguments(lens, tmp_path, kwargs, error, match):
    kwargs = {"model": _new_lens_model(lens), "out_dir": tmp_path / "imp", **kwargs}
    with pytest.raises(error, match=match):
        from_hooked_transformer(**kwargs)


def test_import_refuses_a_task_that_rejects_p(lens, tmp_path):
    model = _new_lens_model(lens, d_vocab=9, d_vocab_out=8)  # p = 8: mul needs a prime
    with pytest.raises(ValueError, match="prime"):
        from_hooked_transformer(model, tmp_path / "imp", "mul")


def test_import_never_overwrites(lens, tmp_path):
    (tmp_path / "imp").mkdir()
    (tmp_path / "imp" / "notes.txt").write_text("mine")
    with pytest.raises(DirectoryInUseError, match="`out_dir`"):
        from_hooked_transformer(_new_lens_model(lens), tmp_path / "imp")


def test_compare_scores_an_imported_directory(lens, dirs, tmp_path, capsys):
    from modfourier.cli import main

    out = from_hooked_transformer(to_hooked_transformer(dirs["trained"]), tmp_path / "imp")
    cards = []
    for d in (out, dirs["trained"]):
        assert main(["compare", "--json", "--no-low-rank", str(d)]) == 0
        cards.append(json.loads(capsys.readouterr().out))
    assert cards[0]["meta"]["source"] == "transformer_lens"
    assert (cards[0]["accuracy"], cards[0]["margin"]) == (cards[1]["accuracy"], cards[1]["margin"])


# ---------------------------------------------------------------------------------------------
# without TransformerLens


def test_missing_transformer_lens_says_how_to_install(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "transformer_lens", None)  # import raises ImportError
    with pytest.raises(ImportError, match=r'pip install -e "\.\[lens\]"'):
        from_hooked_transformer(object(), tmp_path / "imp")


def test_transformer_lens_4_says_hooked_transformer_was_removed(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "transformer_lens", types.ModuleType("transformer_lens"))
    with pytest.raises(ImportError, match="removed in TransformerLens 4.0"):
        from_hooked_transformer(object(), tmp_path / "imp")
