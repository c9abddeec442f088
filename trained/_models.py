"""The papers' three models as pure functions of a dict of named weights.

Weights are plain tensors named as in the papers (contract: MLP ``W1``, ``W2``; RNN ``W_E``,
``W_ih``, ``W_hh``, ``W_fc`` + biases; transformer ``W_E``, ``W_pos``, ``W_Q``, ``W_K``, ``W_V``,
``W_O``, ``W_in``, ``W_out``, ``W_U``; a second attention block ``W_Q2``, ``W_K2``, ``W_V2``,
``W_O2``), so the same forward runs trained tensors, loaded numpy
weights, ablated copies, and (with a leading ensemble dimension) batched MLP ensembles.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

__all__ = ["init_weights", "forward", "make_inputs", "weight_shapes"]


def _act(name: str):
    if name == "quadratic":
        return lambda h: h * h
    if name == "relu":
        return torch.relu
    if name == "gelu":
        return F.gelu  # exact (erf) GELU
    if name == "tanh":
        return torch.tanh
    raise ValueError(f"`activation` must be quadratic, relu, gelu or tanh; got {name!r}")


def output_scale(cfg) -> float:
    """Gromov eq. 2: ``2/N`` in the mean-field parametrization, 1 in the others."""
    return 2.0 / cfg.width if cfg.parametrization == "mean_field" else 1.0


def mlp_scale(cfg) -> float:
    """The MLP's output factor: a spec's own ``scale`` if it has one, else :func:`output_scale`."""
    return getattr(cfg, "scale", None) or output_scale(cfg)


def _attention(cfg) -> str:
    """``'softmax'`` (Nanda) or ``'linear'``; configs and specs without the field are softmax."""
    return getattr(cfg, "attention", None) or "softmax"


def _layers(cfg) -> int:
    return getattr(cfg, "layers", None) or 1


def _eq_token(cfg) -> bool:
    """Whether the sequence is n, m, '=' (Nanda) rather than n, m (the Gromov group's code)."""
    eq = getattr(cfg, "eq_token", None)
    return True if eq is None else bool(eq)


def weight_shapes(cfg, n_out: int) -> dict[str, tuple[int, ...]]:
    """Shapes of the named weights of a resolved config (documented in docs/trained.md)."""
    p = cfg.p
    if cfg.model == "mlp":
        return {"W1": (cfg.width, 2 * p), "W2": (n_out, cfg.width)}
    if cfg.model == "rnn":
        d_h, d_e = cfg.d_hidden, cfg.d_embed
        return {
            "W_E": (p + 1, d_e),
            "W_ih": (d_h, d_e),
            "W_hh": (d_h, d_h),
            "b_ih": (d_h,),
            "b_hh": (d_h,),
            "W_fc": (n_out, d_h),
            "b_fc": (n_out,),
        }
    d, h = cfg.d_model, cfg.heads
    eq = _eq_token(cfg)
    shapes = {
        "W_E": (d, p + 1 if eq else p),
        "W_pos": (3 if eq else 2, d),
        "W_Q": (h, d // h, d),
        "W_K": (h, d // h, d),
        "W_V": (h, d // h, d),
        "W_O": (d, d),
    }
    if _layers(cfg) == 2:  # the second attention block (attention-only models)
        shapes.update({f"{name}2": shapes[name] for name in ("W_Q", "W_K", "W_V", "W_O")})
    if not cfg.attn_only:
        shapes.update({"W_in": (cfg.d_mlp, d), "W_out": (d, cfg.d_mlp)})
    shapes["W_U"] = (d, n_out)
    return shapes


def init_weights(cfg, n_out: int, generator: torch.Generator) -> dict[str, torch.Tensor]:
    """Initial float32 CPU weights, drawn from ``generator`` in a fixed order.

    MLP (Gromov eq. 1-2): mean field N(0, 1); standard N(0, 1/fan_in); gromov_code (the Gromov
    group's scripts, d-doshi/Grokking ``fcn``) N(0, sigma^2), sigma = 0.5 / (2N)^(1/3).
    RNN (PyTorch's defaults, as Rangamani's code uses ``nn.Embedding``/``nn.RNN``/``nn.Linear``):
    ``W_E`` N(0, 1), the rest U(-1/sqrt(fan), 1/sqrt(fan)).
    Transformer (Nanda's code): N(0, 1/d_model) for all but ``W_U`` N(0, 1/n_out).
    """
    shapes = weight_shapes(cfg, n_out)
    g = generator

    def normal(shape, std):
        return torch.randn(shape, generator=g, dtype=torch.float32) * std

    def uniform(shape, bound):
        return (torch.rand(shape, generator=g, dtype=torch.float32) * 2 - 1) * bound

    out = {}
    if cfg.model == "mlp":
        if cfg.parametrization == "mean_field":
            std1 = std2 = 1.0
        elif cfg.parametrization == "gromov_code":  # d-doshi/Grokking utils/models.py, fcn
            std1 = std2 = 0.25**0.5 / (2 * cfg.width) ** (1 / 3)
        else:
            std1, std2 = 1 / math.sqrt(2 * cfg.p), 1 / math.sqrt(cfg.width)
        out["W1"] = normal(shapes["W1"], std1)
        out["W2"] = normal(shapes["W2"], std2)
    elif cfg.model == "rnn":
        b_h = 1 / math.sqrt(cfg.d_hidden)
        out["W_E"] = normal(shapes["W_E"], 1.0)
        for name in ("W_ih", "W_hh", "b_ih", "b_hh"):
            out[name] = uniform(shapes[name], b_h)
        out["W_fc"] = uniform(shapes["W_fc"], b_h)
        out["b_fc"] = uniform(shapes["b_fc"], b_h)
    else:
        s = 1 / math.sqrt(cfg.d_model)
        for name, shape in shapes.items():
            out[name] = normal(shape, 1 / math.sqrt(n_out) if name == "W_U" else s)
    return out


def make_inputs(cfg, inputs: torch.Tensor, device_type: str) -> dict[str, torch.Tensor]:
    """Precompute what the forward reads from integer pairs ``inputs`` (B, 2): the index
    tensors ``n`` and ``m`` (B,) for every model (``device_type`` is accepted for callers that
    pass it; all devices use the index form).

    The MLP's first layer ``W1 @ onehot(n, m)`` is computed as a row gather
    ``W1.T[n] + W1.T[p + m]``; see :func:`forward` for the measured reason.
    """
    return {"n": inputs[:, 0], "m": inputs[:, 1]}


def _gather_with_index_select(device: torch.device) -> bool:
    """CPU: ``index_select`` (backward ``index_add_``); CUDA: ``F.embedding`` (see below)."""
    return device.type == "cpu"


def _first_layer(cfg, W1: torch.Tensor, n: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    """Gromov eq. 1's pre-activation ``W1 (e_n ⊕ e_m)``: (B, N), or (S, B, N) for an ensemble
    ``W1`` (S, N, 2p) with indices (B,) or (S, B).

    Rows are gathered from the (2p, N) table ``W1.T`` (per member, from one flattened
    (S 2p, N) table). On the CPU ``index_select`` (backward: ``index_add_``) is used: on 2 cores
    (torch 2.13) its forward and backward took 0.15 ms against 0.24 ms for the one-hot matmul at
    p = 23, N = 128, and 0.9 ms against 9.2 ms at p = 97, N = 128 (4704 pairs, one thread);
    ``F.embedding``'s CPU backward is slower than both. CUDA uses ``F.embedding``, whose
    backward is deterministic there.
    """
    p = cfg.p
    width = W1.shape[-2]
    if W1.ndim == 2:
        table, idx_n, idx_m = W1.mT.contiguous(), n, m + p
    else:
        S = W1.shape[0]
        if n.ndim == 1:
            n, m = n.expand(S, -1), m.expand(S, -1)
        off = torch.arange(S, device=n.device)[:, None] * (2 * p)
        table = W1.mT.reshape(S * 2 * p, width)
        idx_n, idx_m = (n + off).reshape(-1), (m + p + off).reshape(-1)
    if _gather_with_index_select(W1.device):
        h = table.index_select(0, idx_n) + table.index_select(0, idx_m)
    else:
        h = F.embedding(idx_n, table) + F.embedding(idx_m, table)
    return h if W1.ndim == 2 else h.view(W1.shape[0], -1, width)


def _dropout(x, rate, generator):
    if rate <= 0.0 or generator is None:
        return x
    keep = torch.rand(x.shape, generator=generator, device=x.device) >= rate
    return x * keep / (1.0 - rate)


def forward(cfg, W: dict, batch: dict, *, dropout_generator=None, hidden: bool = False):
    """Logits (B, n_out) of the resolved ``cfg``'s model for ``batch`` (from :func:`make_inputs`).

    With ``hidden=True`` also returns a dict of hidden activations: MLP ``"h"`` (pre-activation,
    (B, N)); RNN ``"h1"``, ``"h2"``, ``"h3"`` ((B, d_h), Rangamani Fig. 1); transformer
    ``"attn"`` (attention pattern of the last position, (B, heads, 3); (B, heads, 2) for the
    sequence n, m), ``"attn2"`` (the second block's, two-block models), ``"mlp_pre"`` and
    ``"mlp_post"`` ((B, d_mlp)). ``dropout_generator`` (a torch.Generator) turns dropout on.

    Transformer variants (Gromov 2023 App. E): ``attention='linear'`` replaces the softmax by
    the scaled scores themselves, causal, with no normalizer (weights q.k / sqrt(d_head) for the
    positions a query sees, 0 for the others: softmax attention with the softmax removed, the
    linear self-attention of von Oswald et al. 2023); ``layers=2`` adds a second attention
    block on the residual stream (attention-only models); ``eq_token=False`` feeds the sequence
    n, m without '=' (the Gromov group's transformer code), so the last position is m's.
    An MLP's weights may carry a leading ensemble dimension S (then logits are (S, B, p)).
    """
    model = cfg.model
    if model == "mlp":
        act = _act(cfg.activation)
        W1, W2 = W["W1"], W["W2"]
        h = _first_layer(cfg, W1, batch["n"], batch["m"])  # (B, N) or (S, B, N)
        a = _dropout(act(h), cfg.dropout or 0.0, dropout_generator)
        logits = mlp_scale(cfg) * (a @ W2.mT)  # (B, p)
        return (logits, {"h": h}) if hidden else logits

    n, m = batch["n"], batch["m"]
    p = cfg.p
    if model == "rnn":
        # Token '=' is index p. Inputs of step t are W_ih W_E[token] + b_ih: a (p+1, d_h) table.
        E_ih = W["W_E"] @ W["W_ih"].T + W["b_ih"]  # (p+1, d_h)
        H1 = torch.tanh(E_ih[:p] + W["b_hh"])  # (p, d_h): h1 depends on a only
        h1 = H1[n]  # (B, d_h)
        h2 = torch.tanh(E_ih[m] + (H1 @ W["W_hh"].T)[n] + W["b_hh"])  # (B, d_h)
        h3 = torch.tanh(E_ih[p] + h2 @ W["W_hh"].T + W["b_hh"])  # (B, d_h)
        if getattr(cfg, "hidden_norm", "l2") == "none":
            h3n = h3
        else:  # Rangamani Sec. II: "the last hidden state of the RNN is normalized"
            h3n = h3 / h3.norm(dim=-1, keepdim=True).clamp_min(1e-12)
        h3n = _dropout(h3n, cfg.dropout or 0.0, dropout_generator)
        logits = h3n @ W["W_fc"].T + W["b_fc"]  # (B, p)
        return (logits, {"h1": h1, "h2": h2, "h3": h3}) if hidden else logits

    # Transformer (Nanda 2023): only the last position is read, and with the causal mask its
    # query comes from the constant '=' token, so keys/values of positions 0 and 1 are tables
    # over the vocabulary and the query is one vector.
    if _layers(cfg) == 2 or not _eq_token(cfg):
        return _transformer_sequence(cfg, W, n, m, dropout_generator, hidden)
    heads, d = cfg.heads, cfg.d_model
    d_head = d // heads
    W_E, W_pos = W["W_E"], W["W_pos"]
    emb = W_E.T  # (p+1, d)
    x2 = emb[p] + W_pos[2]  # (d,) residual of the '=' position
    q = torch.einsum("ihd,d->ih", W["W_Q"], x2) / math.sqrt(d_head)  # (heads, d_head)
    # Scores and head outputs of a key position are tables over the vocabulary (token part)
    # plus a per-position constant: gathering them avoids (B, heads, 3, d_head) work entirely.
    qK = torch.einsum("ih,ihd->id", q, W["W_K"])  # (heads, d): q^T W_K per head
    s_tok = emb @ qK.T  # (p+1, heads)
    s_pos = W_pos @ qK.T  # (3, heads)
    B = len(n)
    scores = torch.stack(
        [s_tok[n] + s_pos[0], s_tok[m] + s_pos[1], (s_tok[p] + s_pos[2]).expand(B, heads)], -1
    )  # (B, heads, 3)
    # linear attention: the scaled scores are the weights (the last position sees all three)
    attn = torch.softmax(scores, dim=-1) if _attention(cfg) == "softmax" else scores
    # W_O split per head: output of head i for residual x is W_O[:, i] W_V[i] x
    W_OV = torch.einsum("dih,ihe->ide", W["W_O"].reshape(d, heads, d_head), W["W_V"])
    ov_tok = torch.einsum("ide,ve->vid", W_OV, emb)  # (p+1, heads, d)
    ov_pos = torch.einsum("ide,ke->kid", W_OV, W_pos)  # (3, heads, d)
    attn_out = (
        (attn[..., 0:1] * (ov_tok[n] + ov_pos[0])).sum(1)
        + (attn[..., 1:2] * (ov_tok[m] + ov_pos[1])).sum(1)
        + attn[..., 2] @ (ov_tok[p] + ov_pos[2])
    )  # (B, d): heads add up
    resid = x2 + _dropout(attn_out, cfg.dropout or 0.0, dropout_generator)
    out = {"attn": attn}
    if not cfg.attn_only:
        pre = resid @ W["W_in"].T  # (B, d_mlp)
        post = torch.relu(pre)
        out.update(mlp_pre=pre, mlp_post=post)
        resid = resid + _dropout(post @ W["W_out"].T, cfg.dropout or 0.0, dropout_generator)
    logits = resid @ W["W_U"]  # (B, n_out)
    return (logits, out) if hidden else logits


def _project(Wx, X):
    """Per-head projection ``W[i] x`` of rows X (..., d) by Wx (heads, d_head, d): (..., heads,
    d_head), as one matmul."""
    heads, d_head, d = Wx.shape
    return (X @ Wx.reshape(heads * d_head, d).T).unflatten(-1, (heads, d_head))


def _attend(q, k, v, W_O, linear: bool):
    """Causal attention of queries q (B, T', heads, d_head), the last T' of the T positions,
    over keys and values k, v (B, T, heads, d_head); no LayerNorm, no biases.

    Returns the block's output (B, T', d) and its pattern (B, heads, T', T). Softmax attention
    normalizes the scaled scores q.k / sqrt(d_head) over the positions a query sees; linear
    attention uses the scaled scores themselves as the weights (no softmax, no normalizer).
    """
    B, Tq, heads, d_head = q.shape
    T = k.shape[1]
    q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)  # (B, heads, T, d_head)
    scores = (q @ k.transpose(-1, -2)) / math.sqrt(d_head)  # (B, heads, T', T)
    visible = torch.ones(T, T, dtype=torch.bool, device=q.device).tril()[T - Tq :]
    if linear:
        attn = scores.masked_fill(~visible, 0.0)
    else:
        attn = torch.softmax(scores.masked_fill(~visible, float("-inf")), dim=-1)
    z = (attn @ v).transpose(1, 2).reshape(B, Tq, heads * d_head)  # heads side by side
    return z @ W_O.T, attn


def _transformer_sequence(cfg, W, n, m, dropout_generator, hidden):
    """The transformer on its whole token sequence: two attention blocks, or the sequence n, m
    without '=' (the last position is m's; its query depends on the input, so the constant-query
    shortcut of :func:`forward` does not apply). With two blocks the first runs at every
    position (the second reads them all), the second at the last position only.

    The first block's queries, keys and values at position t are functions of the token there:
    they are projected once per vocabulary entry and gathered, which saves the (B, T, d) x
    (d, d) products of projecting every sample.
    """
    p = cfg.p
    linear = _attention(cfg) == "linear"
    rate = cfg.dropout or 0.0
    emb = W["W_E"].T  # (vocab, d)
    tokens = [n, m] + ([torch.full_like(n, p)] if _eq_token(cfg) else [])
    T = len(tokens)
    two = _layers(cfg) == 2
    tables = [emb + W["W_pos"][t] for t in range(T)]  # residual of position t, by token

    def gathered(Wx, positions):
        return torch.stack([_project(Wx, tables[t])[tokens[t]] for t in positions], 1)

    q = gathered(W["W_Q"], range(T) if two else [T - 1])
    k, v = gathered(W["W_K"], range(T)), gathered(W["W_V"], range(T))
    block, attn = _attend(q, k, v, W["W_O"], linear)
    out = {"attn": attn[:, :, -1]}
    if two:
        X = torch.stack([tables[t][tokens[t]] for t in range(T)], 1)  # (B, T, d)
        X = X + _dropout(block, rate, dropout_generator)
        q = _project(W["W_Q2"], X[:, -1:])
        k, v = _project(W["W_K2"], X), _project(W["W_V2"], X)
        block, attn2 = _attend(q, k, v, W["W_O2"], linear)
        out["attn2"] = attn2[:, :, -1]
        resid = X[:, -1] + _dropout(block[:, -1], rate, dropout_generator)
    else:
        resid = tables[-1][tokens[-1]] + _dropout(block[:, -1], rate, dropout_generator)
    if not cfg.attn_only:
        pre = resid @ W["W_in"].T  # (B, d_mlp)
        post = torch.relu(pre)
        out.update(mlp_pre=pre, mlp_post=post)
        resid = resid + _dropout(post @ W["W_out"].T, rate, dropout_generator)
    logits = resid @ W["W_U"]  # (B, n_out)
    return (logits, out) if hidden else logits
