"""The transformer variants of Gromov 2023 App. E: linear attention, a second attention block,
the sequence n, m without '='. Checked against a naive per-position, per-head re-implementation
(brute force over all p^2 pairs)."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from trained import TrainConfig, load_model, train
from trained._models import forward, init_weights, make_inputs, weight_shapes


def _pairs(p):
    n, m = np.meshgrid(np.arange(p), np.arange(p), indexing="ij")
    return torch.as_tensor(np.stack([n.ravel(), m.ravel()], 1))


def _cfg(**over):
    base = dict(model="transformer", p=5, d_model=8, heads=2, d_mlp=12, attn_only=True)
    return TrainConfig(**{**base, **over}).resolve()


def _weights(cfg, seed=3):
    W = init_weights(cfg, cfg.p, torch.Generator().manual_seed(seed))
    return {k: v.double() for k, v in W.items()}


def _reference(cfg, W, pairs):
    """The model as written: every position, a causal mask, one head at a time.

    Returns the logits of the last position and, per block, the last position's weights
    (B, heads, T). Linear attention: the weights are q.k / sqrt(d_head) for the positions a
    query sees; softmax: their softmax.
    """
    p, d, H = cfg.p, cfg.d_model, cfg.heads
    dh = d // H
    eq = cfg.eq_token is not False
    tokens = [pairs[:, 0], pairs[:, 1]] + ([torch.full((len(pairs),), p)] if eq else [])
    x = [W["W_E"][:, tok].T + W["W_pos"][t] for t, tok in enumerate(tokens)]  # T of (B, d)
    T = len(x)
    patterns = []
    for suffix in ("", "2")[: cfg.layers or 1]:
        Wq, Wk, Wv, Wo = (W[f"W_{c}{suffix}"] for c in "QKVO")
        new = []
        for i in range(T):
            add = torch.zeros_like(x[i])
            last = []
            for h in range(H):
                q = x[i] @ Wq[h].T / math.sqrt(dh)
                scores = torch.stack([(q * (x[j] @ Wk[h].T)).sum(-1) for j in range(i + 1)], -1)
                w = scores if cfg.attention == "linear" else torch.softmax(scores, -1)
                z = sum(w[:, j, None] * (x[j] @ Wv[h].T) for j in range(i + 1))
                add = add + z @ Wo[:, h * dh : (h + 1) * dh].T
                last.append(w)
            new.append(x[i] + add)
            if i == T - 1:
                patterns.append(torch.stack(last, 1))
        x = new
    resid = x[-1]
    if not cfg.attn_only:
        resid = resid + torch.relu(resid @ W["W_in"].T) @ W["W_out"].T
    return resid @ W["W_U"], patterns


VARIANTS = [
    dict(attention="linear"),
    dict(attention="linear", eq_token=False),
    dict(attention="softmax", eq_token=False),
    dict(attention="linear", attn_only=False),
    dict(attention="linear", attn_only=False, eq_token=False),
    dict(attention="softmax", attn_only=False, eq_token=False),
    dict(layers=2),
    dict(layers=2, attention="linear"),
    dict(layers=2, eq_token=False),
    dict(layers=2, attention="linear", eq_token=False),
]


@pytest.mark.parametrize("over", VARIANTS, ids=lambda o: "-".join(f"{k}={v}" for k, v in o.items()))
def test_forward_matches_per_position_reference(over):
    cfg = _cfg(**over)
    W = _weights(cfg)
    pairs = _pairs(cfg.p)
    logits, hid = forward(cfg, W, make_inputs(cfg, pairs, "cpu"), hidden=True)
    expected, patterns = _reference(cfg, W, pairs)
    torch.testing.assert_close(logits, expected)
    torch.testing.assert_close(hid["attn"], patterns[0])
    if cfg.layers == 2:
        torch.testing.assert_close(hid["attn2"], patterns[1])


@settings(max_examples=15, deadline=None)
@given(
    p=st.integers(3, 7),
    heads=st.sampled_from([1, 2, 4]),
    attention=st.sampled_from(["softmax", "linear"]),
    layers=st.sampled_from([1, 2]),
    eq_token=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_forward_matches_reference_for_any_size(p, heads, attention, layers, eq_token, seed):
    cfg = _cfg(p=p, heads=heads, attention=attention, layers=layers, eq_token=eq_token)
    W = _weights(cfg, seed)
    pairs = _pairs(p)
    expected, _ = _reference(cfg, W, pairs)
    torch.testing.assert_close(forward(cfg, W, make_inputs(cfg, pairs, "cpu")), expected)


def test_explicit_defaults_give_nandas_model_bitwise():
    plain = _cfg(attn_only=False)
    explicit = _cfg(attn_only=False, attention="softmax", layers=1, eq_token=True)
    W = init_weights(plain, 5, torch.Generator().manual_seed(0))
    batch = make_inputs(plain, _pairs(5), "cpu")
    assert torch.equal(forward(plain, W, batch), forward(explicit, W, batch))


def test_linear_attention_weights_are_the_scaled_scores():
    cfg = _cfg(attention="linear")
    W = _weights(cfg)
    _, hid = forward(cfg, W, make_inputs(cfg, _pairs(5), "cpu"), hidden=True)
    assert not torch.allclose(hid["attn"].sum(-1), torch.ones(25, 2, dtype=torch.float64))


def test_softmax_weights_sum_to_one_in_every_block():
    cfg = _cfg(layers=2, eq_token=False)
    _, hid = forward(cfg, _weights(cfg), make_inputs(cfg, _pairs(5), "cpu"), hidden=True)
    for name in ("attn", "attn2"):
        torch.testing.assert_close(hid[name].sum(-1), torch.ones(25, 2, dtype=torch.float64))


@settings(max_examples=10, deadline=None)
@given(p=st.integers(3, 7), seed=st.integers(0, 2**16))
def test_one_linear_block_after_eq_is_additive_in_n_and_m(p, seed):
    """The '=' query is constant, so one linear block (no MLP) computes f(n) + g(m): it cannot
    represent n + m mod p. Without '=' the query is m's, and it is not additive."""
    for eq_token, additive in ((True, True), (False, False)):
        cfg = _cfg(p=p, attention="linear", eq_token=eq_token)
        L = forward(cfg, _weights(cfg, seed), make_inputs(cfg, _pairs(p), "cpu"))
        L = L.reshape(p, p, p)
        interaction = L - L[:, :1] - L[:1, :] + L[:1, :1]
        assert bool(torch.allclose(interaction, torch.zeros_like(L), atol=1e-10)) == additive


def test_weight_shapes_of_the_variants():
    base = weight_shapes(_cfg(), 5)
    assert list(base) == ["W_E", "W_pos", "W_Q", "W_K", "W_V", "W_O", "W_U"]
    two = weight_shapes(_cfg(layers=2), 5)
    assert list(two) == [*list(base)[:6], "W_Q2", "W_K2", "W_V2", "W_O2", "W_U"]
    assert all(two[f"W_{c}2"] == base[f"W_{c}"] for c in "QKVO")
    short = weight_shapes(_cfg(eq_token=False), 5)
    assert short["W_E"] == (8, 5) and short["W_pos"] == (2, 8)


def test_one_block_models_draw_the_same_initial_weights():
    W = init_weights(_cfg(), 5, torch.Generator().manual_seed(0))
    W_lin = init_weights(_cfg(attention="linear"), 5, torch.Generator().manual_seed(0))
    assert all(torch.equal(W[k], W_lin[k]) for k in W)


def test_unset_variant_fields_stay_unset_in_the_record():
    cfg = _cfg()
    d = cfg.to_dict()
    assert (d["attention"], d["layers"], d["eq_token"]) == (None, None, None)
    assert TrainConfig.from_dict(d) == cfg


INVALID = [
    ("attention", dict(attention="relu"), ValueError, "`attention` must be one of"),
    ("layers-3", dict(layers=3), ValueError, "`layers` must be one of"),
    ("layers-bool", dict(layers=True), ValueError, "`layers` must be one of"),
    ("layers-float", dict(layers=2.0, attn_only=True), ValueError, "`layers` must be one of"),
    ("eq_token", dict(eq_token="no"), TypeError, "`eq_token` must be a bool"),
    ("two-layers-mlp", dict(layers=2, attn_only=False), ValueError, "needs `attn_only`=True"),
    ("two-layers-unset", dict(layers=2), ValueError, "needs `attn_only`=True"),
    ("mlp-attention", dict(model="mlp", attention="linear"), ValueError, "transformer field"),
    ("rnn-layers", dict(model="rnn", layers=1), ValueError, "transformer field"),
    ("mlp-eq", dict(model="mlp", eq_token=False), ValueError, "transformer field"),
]


@pytest.mark.parametrize(
    "kwargs, exc, match", [c[1:] for c in INVALID], ids=[c[0] for c in INVALID]
)
def test_invalid_variant_fields(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        TrainConfig(**{"model": "transformer", **kwargs})


@pytest.mark.parametrize(
    "over", [dict(layers=2, attention="linear", eq_token=False), dict(attention="linear")]
)
def test_load_model_runs_a_trained_variant(tmp_path, over):
    torch.set_num_threads(1)
    cfg = TrainConfig(
        model="transformer", p=5, d_model=8, heads=2, attn_only=True, max_epochs=3,
        eval_every=1, device="cpu", **over,
    )  # fmt: skip
    run = train(cfg, out_dir=tmp_path / "run")
    loaded = load_model(tmp_path / "run")
    W = {k: torch.as_tensor(v, dtype=torch.float64) for k, v in run.weights.items()}
    expected = forward(cfg.resolve(), W, make_inputs(cfg, _pairs(5), "cpu"))
    np.testing.assert_allclose(loaded.logits(), expected.numpy())
    assert ("attn2" in loaded.hidden()) == (cfg.layers == 2)


def test_training_moves_the_second_block():
    torch.set_num_threads(1)
    cfg = TrainConfig(
        model="transformer", p=5, d_model=8, heads=2, attn_only=True, layers=2, max_epochs=2,
        device="cpu",
    )  # fmt: skip
    run = train(cfg)
    W0 = init_weights(cfg.resolve(), 5, torch.Generator().manual_seed(cfg.seed))
    assert all(not np.allclose(run.weights[k], W0[k].numpy()) for k in ("W_Q2", "W_O2"))
