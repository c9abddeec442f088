"""Forward passes against naive re-implementations of the papers' models (brute force)."""

import math

import numpy as np
import pytest
import torch

from trained import TrainConfig
from trained._models import forward, init_weights, make_inputs, output_scale, weight_shapes


def _pairs(p):
    n, m = np.meshgrid(np.arange(p), np.arange(p), indexing="ij")
    return torch.as_tensor(np.stack([n.ravel(), m.ravel()], 1))


def _weights(cfg, n_out=None):
    W = init_weights(cfg, n_out or cfg.p, torch.Generator().manual_seed(3))
    return {k: v.double() for k, v in W.items()}


@pytest.mark.parametrize("activation", ["quadratic", "relu", "gelu", "tanh"])
@pytest.mark.parametrize("device_type", ["cpu", "cuda"], ids=["onehot", "gather"])
def test_mlp_matches_gromov_eq_1_2(activation, device_type):
    cfg = TrainConfig(model="mlp", p=7, width=16, activation=activation).resolve()
    W = _weights(cfg)
    pairs = _pairs(7)
    logits = forward(cfg, W, make_inputs(cfg, pairs, device_type))
    act = {
        "quadratic": lambda h: h**2,
        "relu": torch.relu,
        "gelu": torch.nn.functional.gelu,
        "tanh": torch.tanh,
    }[activation]
    x = torch.zeros(49, 14, dtype=torch.float64)
    x[torch.arange(49), pairs[:, 0]] = 1
    x[torch.arange(49), 7 + pairs[:, 1]] = 1
    expected = (2 / 16) * act(x @ W["W1"].T) @ W["W2"].T
    torch.testing.assert_close(logits, expected)


def test_mlp_ensemble_matches_members():
    cfg = TrainConfig(model="mlp", p=5, width=8).resolve()
    Ws = [_weights(cfg) for _ in range(3)]
    Ws[1] = {k: v * 0.5 for k, v in Ws[1].items()}
    stacked = {k: torch.stack([W[k] for W in Ws]) for k in Ws[0]}
    for device_type in ("cpu", "cuda"):
        batch = make_inputs(cfg, _pairs(5), device_type)
        out = forward(cfg, stacked, batch)
        for s, W in enumerate(Ws):
            torch.testing.assert_close(out[s], forward(cfg, W, batch))


@pytest.mark.parametrize("hidden_norm", ["l2", "none"])
def test_rnn_matches_step_by_step_recurrence(hidden_norm):
    cfg = TrainConfig(model="rnn", p=5, d_hidden=6, d_embed=4, hidden_norm=hidden_norm).resolve()
    W = _weights(cfg)
    pairs = _pairs(5)
    logits, hid = forward(cfg, W, make_inputs(cfg, pairs, "cpu"), hidden=True)
    tokens = torch.cat([pairs, torch.full((25, 1), 5)], 1)  # a, b, '='
    h = torch.zeros(25, 6, dtype=torch.float64)
    hs = []
    for t in range(3):
        x = W["W_E"][tokens[:, t]]
        h = torch.tanh(x @ W["W_ih"].T + W["b_ih"] + h @ W["W_hh"].T + W["b_hh"])
        hs.append(h)
    read = h / h.norm(dim=1, keepdim=True) if hidden_norm == "l2" else h
    expected = read @ W["W_fc"].T + W["b_fc"]
    torch.testing.assert_close(logits, expected)
    for t in range(3):
        torch.testing.assert_close(hid[f"h{t + 1}"], hs[t])


def _nanda_reference(cfg, W, pairs):
    """Nanda et al.'s one-layer transformer as written: all positions, causal mask, no biases."""
    p, d, H = cfg.p, cfg.d_model, cfg.heads
    tokens = torch.cat([pairs, torch.full((len(pairs), 1), p)], 1)
    x = W["W_E"][:, tokens].permute(1, 2, 0) + W["W_pos"]  # (B, 3, d)
    k = torch.einsum("ihd,bpd->biph", W["W_K"], x)
    q = torch.einsum("ihd,bpd->biph", W["W_Q"], x)
    v = torch.einsum("ihd,bpd->biph", W["W_V"], x)
    scores = torch.einsum("biph,biqh->biqp", k, q)
    mask = torch.tril(torch.ones(3, 3, dtype=torch.bool))
    scores = scores.masked_fill(~mask, -1e10) / math.sqrt(d // H)
    attn = torch.softmax(scores, -1)
    z = torch.einsum("biph,biqp->biqh", v, attn)
    z = z.permute(0, 2, 1, 3).reshape(len(pairs), 3, d)
    x = x + z @ W["W_O"].T
    if not cfg.attn_only:
        x = x + torch.relu(x @ W["W_in"].T) @ W["W_out"].T
    return (x @ W["W_U"])[:, -1], attn[:, :, -1]


@pytest.mark.parametrize("attn_only", [False, True], ids=["mlp", "attn_only"])
def test_transformer_matches_nanda_reference(attn_only):
    cfg = TrainConfig(model="transformer", p=7, d_model=8, heads=2, d_mlp=12, attn_only=attn_only)
    cfg = cfg.resolve()
    W = _weights(cfg)
    pairs = _pairs(7)
    logits, hid = forward(cfg, W, make_inputs(cfg, pairs, "cpu"), hidden=True)
    expected, attn = _nanda_reference(cfg, W, pairs)
    torch.testing.assert_close(logits, expected)
    torch.testing.assert_close(hid["attn"], attn)


@pytest.mark.parametrize("model", ["mlp", "rnn", "transformer"])
def test_weight_names_follow_contract(model):
    shapes = {
        "mlp": dict(width=4),
        "rnn": dict(d_hidden=4, d_embed=4),
        "transformer": dict(d_model=4, heads=2),
    }
    cfg = TrainConfig(model=model, p=5, **shapes[model])
    names = set(weight_shapes(cfg.resolve(), 5))
    expected = {
        "mlp": {"W1", "W2"},
        "rnn": {"W_E", "W_ih", "W_hh", "W_fc", "b_ih", "b_hh", "b_fc"},
        "transformer": {"W_E", "W_pos", "W_Q", "W_K", "W_V", "W_O", "W_in", "W_out", "W_U"},
    }[model]
    assert names == expected


def test_mean_field_init_is_standard_normal():
    cfg = TrainConfig(model="mlp", p=97, width=512).resolve()
    W = init_weights(cfg, 97, torch.Generator().manual_seed(0))
    assert abs(W["W1"].std().item() - 1.0) < 0.02
    assert abs(W["W1"].mean().item()) < 0.02


@pytest.mark.parametrize(
    "parametrization, std1, std2, scale",
    [
        ("mean_field", 1.0, 1.0, 2 / 512),
        ("standard", 1 / 194**0.5, 1 / 512**0.5, 1.0),
        # the Gromov group's fcn (d-doshi/Grokking utils/models.py): 0.25**0.5 / (2N)**(1/3)
        ("gromov_code", 0.5 / 1024 ** (1 / 3), 0.5 / 1024 ** (1 / 3), 1.0),
    ],
)
def test_mlp_parametrizations(parametrization, std1, std2, scale):
    cfg = TrainConfig(model="mlp", p=97, width=512, parametrization=parametrization).resolve()
    W = init_weights(cfg, 97, torch.Generator().manual_seed(0))
    # 99 328 and 49 664 draws: the sample std is within 1 % of sigma with overwhelming odds
    assert W["W1"].std().item() == pytest.approx(std1, rel=0.01)
    assert W["W2"].std().item() == pytest.approx(std2, rel=0.01)
    assert output_scale(cfg) == pytest.approx(scale)


@pytest.mark.parametrize("ensemble", [False, True])
def test_first_layer_gathers_agree(monkeypatch, ensemble):
    """The CPU gather (index_select) and the CUDA one (F.embedding), values and gradients,
    both equal to the one-hot matmul of Gromov eq. 1 (run on the CPU here)."""
    import trained._models as models

    cfg = TrainConfig(model="mlp", p=7, width=5).resolve()
    g = torch.Generator().manual_seed(0)
    shape = (3, 5, 14) if ensemble else (5, 14)
    W1 = torch.randn(shape, generator=g, requires_grad=True)
    pairs = _pairs(7)
    n, m = pairs[:, 0], pairs[:, 1]
    X = torch.cat([torch.nn.functional.one_hot(n, 7), torch.nn.functional.one_hot(m, 7)], 1)
    X = X.float()
    expected = X @ W1.mT
    (e_grad,) = torch.autograd.grad(expected.square().sum(), W1)
    for use_index_select in (True, False):
        monkeypatch.setattr(models, "_gather_with_index_select", lambda d, v=use_index_select: v)
        h = models._first_layer(cfg, W1, n, m)
        (grad,) = torch.autograd.grad(h.square().sum(), W1)
        torch.testing.assert_close(h, expected)
        torch.testing.assert_close(grad, e_grad)
