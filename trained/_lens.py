"""TransformerLens round trip: our one-layer transformer as a ``HookedTransformer`` and back.

Most analyses of grokking transformers run on TransformerLens ``HookedTransformer`` models (its
grokking demo loads Nanda et al. 2023's checkpoints into one). :func:`to_hooked_transformer`
turns a trained or analytic ``"transformer"`` model directory into a ``HookedTransformer`` with
the matching config; :func:`from_hooked_transformer` writes a ``HookedTransformer`` of the same
architecture as a model directory that ``trained.load_model`` runs and ``modfourier compare`` /
``report`` score. Both check that the two forwards give the same logits on all p² pairs.

TransformerLens is an optional dependency (``pip install -e ".[lens]"``), imported inside the
functions only; ``HookedTransformer`` was removed in TransformerLens 4.0, so the extra pins
``transformer-lens<4``.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
import torch

__all__ = ["from_hooked_transformer", "to_hooked_transformer"]

_INSTALL = 'pip install -e ".[lens]"'
_DTYPES = {"float32": torch.float32, "float64": torch.float64}
# Logit agreement required of the two forwards, relative to the largest logit, by the
# HookedTransformer's dtype: measured disagreements are ~3e-7 (float32, p = 113: 2.7e-5 of
# 107) and ~2e-16 (float64); half precision rounds each weight to ~3 digits.
_TOL = {torch.float64: 1e-9, torch.float32: 1e-4}
_TOL_HALF = 5e-2
_CHUNK = 4096  # sequences per HookedTransformer call: bounds the memory at large p
# Keys of an imported directory's config.json that this module sets (config_extra may not).
_OWN_KEYS = (
    "model",
    "source",
    "p",
    "task",
    "d_model",
    "heads",
    "d_mlp",
    "attn_only",
    "n_classes",
    "activation",
    "transformer_lens",
)
_BLOCK = "blocks.0."  # the one layer's parameter prefix in a HookedTransformer


def _lens():
    """``(transformer_lens, HookedTransformer, HookedTransformerConfig)``, or an ImportError."""
    try:
        import transformer_lens
    except ImportError as exc:
        raise ImportError(
            f"TransformerLens is not installed; install the optional dependency: {_INSTALL}"
        ) from exc
    try:
        from transformer_lens import HookedTransformer, HookedTransformerConfig
    except ImportError as exc:
        version = _lens_version()
        raise ImportError(
            f"TransformerLens {version} has no HookedTransformer (removed in TransformerLens "
            f"4.0); install a release before 4.0: {_INSTALL}"
        ) from exc
    return transformer_lens, HookedTransformer, HookedTransformerConfig


def _lens_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("transformer-lens")
    except PackageNotFoundError:  # pragma: no cover - a source checkout of TransformerLens
        return "unknown"


def _all_tokens(p: int, device) -> torch.Tensor:
    """Every input sequence ``[n, m, '=']`` (token '=' is p), row n * p + m."""
    n = torch.arange(p).repeat_interleave(p)
    m = torch.arange(p).repeat(p)
    return torch.stack([n, m, torch.full_like(n, p)], 1).to(device)


def _lens_logits(model, p: int) -> np.ndarray:
    """The HookedTransformer's logits at the last position on all p² pairs, float64 numpy."""
    tokens = _all_tokens(p, model.cfg.device)
    with torch.no_grad():
        out = [model(t, return_type="logits")[:, -1] for t in tokens.split(_CHUNK)]
    return torch.cat(out).detach().to("cpu", torch.float64).numpy()


def _check_agreement(ours: np.ndarray, theirs: np.ndarray, dtype, what: str) -> float:
    """Max |ours - theirs|; raise when it exceeds the dtype's rounding (relative to max |ours|)."""
    diff = float(np.max(np.abs(ours - theirs))) if ours.size else 0.0
    scale = max(1.0, float(np.max(np.abs(ours)))) if ours.size else 1.0
    tol = _TOL.get(dtype, _TOL_HALF) * scale
    if not diff <= tol:
        raise ValueError(
            f"{what}: the HookedTransformer's logits differ from this package's transformer by "
            f"{diff:.3g} (allowed {tol:.3g}) on all pairs; an architecture difference that the "
            f"config checks did not catch (TransformerLens {_lens_version()})"
        )
    return diff


# ---------------------------------------------------------------------------------------------
# export


def to_hooked_transformer(run_dir, device="cpu", *, epoch: int | None = None, dtype="float32"):
    """A ``"transformer"`` model directory as a TransformerLens ``HookedTransformer``.

    Parameters
    ----------
    run_dir : path-like or closedform.ModelDir
        A trained (``trained.train``) or analytic (``AnalyticTransformer.save``, ``modfourier
        construct``) transformer directory, or one written by :func:`from_hooked_transformer`.
    device : str or torch.device
        Where the HookedTransformer lives (``"cpu"``, ``"cuda"``, ``"cuda:1"``).
    epoch : int, optional
        Export the checkpoint of this epoch instead of the final weights (paths only).
    dtype : {'float32', 'float64'}
        The HookedTransformer's parameter dtype. Trained weights are float32, analytic ones
        float64: export an analytic network in float64 to keep its weights bit for bit.

    Returns
    -------
    transformer_lens.HookedTransformer
        ``n_layers=1``, ``d_model``, ``n_heads = heads``, ``d_head = d_model / heads``, ``d_mlp``
        (``attn_only`` kept), ``d_vocab = p + 1`` (token p is '='), ``d_vocab_out = n_out`` (p;
        miiii: the sum of its primes), ``n_ctx = 3``, ReLU, no normalization, standard learned
        positions, causal attention scaled by 1/sqrt(d_head), all biases zero,
        ``default_prepend_bos=False``. Feed it ``[[n, m, p], ...]`` and read ``logits[:, -1]``.

    Raises
    ------
    ImportError
        TransformerLens is not installed, or is 4.0 or later (no HookedTransformer).
    TypeError
        ``run_dir`` is neither a path nor a ModelDir; ``dtype`` is not a string.
    ValueError
        The directory holds another model than ``"transformer"``, weights that do not fit its
        config, or ``dtype`` is not float32/float64; ``epoch`` given with a ModelDir; the
        HookedTransformer's logits disagree with ours (a TransformerLens release whose forward
        differs).
    FileNotFoundError
        No model directory at ``run_dir``.

    Notes
    -----
    Layouts (ours -> TransformerLens): ``W_E`` (d, p+1) -> ``embed.W_E = W_E.T`` (p+1, d);
    ``W_pos`` (3, d) as it is; ``W_Q``, ``W_K``, ``W_V`` (heads, d_head, d) -> transposed to
    (heads, d, d_head); ``W_O`` (d, d), head i = columns i d_head ... (i+1) d_head -> (heads,
    d_head, d) with ``W_O_TL[i] = W_O[:, i d_head:(i+1) d_head].T``; ``W_in`` (d_mlp, d) and
    ``W_out`` (d, d_mlp) transposed; ``W_U`` (d, n_out) as it is. Both compute, at the '='
    position, softmax(q·k / sqrt(d_head)) over the three positions (Syrkis & Søgaard 2024
    eq. 8), heads added through W_O, a residual ReLU MLP (eq. 9) and ``W_U`` (eq. 10). The
    export runs both forwards on all p² pairs and raises if their logits disagree beyond the
    dtype's rounding.

    Examples
    --------
    >>> import pytest, tempfile, torch
    >>> _ = pytest.importorskip("transformer_lens")  # the optional ``lens`` extra
    >>> from closedform import analytic_transformer, get_task
    >>> from trained._lens import to_hooked_transformer
    >>> net = analytic_transformer(get_task("sub", 7), d_model=16, heads=2, d_mlp=32)
    >>> model = to_hooked_transformer(net.save(tempfile.mkdtemp() + "/sub7"), dtype="float64")
    >>> logits = model(torch.tensor([[3, 5, 7]]))[:, -1]  # [n, m, '='], read the last position
    >>> int(logits.argmax())  # (3 - 5) mod 7
    5
    """
    from closedform.rundir import as_model_dir

    from ._load import LoadedModel

    d = as_model_dir(run_dir, epoch)
    if not isinstance(dtype, str):
        raise TypeError(f"`dtype` must be a string; got {type(dtype).__name__}")
    if dtype not in _DTYPES:
        raise ValueError(f"`dtype` must be one of {sorted(_DTYPES)}; got {dtype!r}")
    if not isinstance(device, (str, torch.device)):
        raise TypeError(f"`device` must be a string or torch.device; got {type(device).__name__}")
    if d.config.get("model") != "transformer":
        raise ValueError(
            f"`run_dir` {d.path} holds model {d.config.get('model')!r}; only 'transformer' "
            f"directories map onto a HookedTransformer"
        )
    loaded = LoadedModel(d.config, d.weights, d.path)  # checks names and shapes
    spec = loaded._spec
    p, heads, d_model = spec.p, spec.heads, spec.d_model
    W = {k: np.asarray(v) for k, v in d.weights.items()}
    n_out = W["W_U"].shape[1]
    _, HookedTransformer, HookedTransformerConfig = _lens()
    torch_dtype = _DTYPES[dtype]
    cfg = HookedTransformerConfig(
        n_layers=1,
        d_model=d_model,
        d_head=d_model // heads,
        n_heads=heads,
        d_mlp=spec.d_mlp,
        attn_only=spec.attn_only,
        d_vocab=p + 1,
        d_vocab_out=n_out,
        n_ctx=3,
        act_fn="relu",
        normalization_type=None,
        positional_embedding_type="standard",
        attention_dir="causal",
        use_attn_scale=True,
        default_prepend_bos=False,
        init_weights=False,  # every parameter is set below
        device=str(device),
        dtype=torch_dtype,
        model_name=f"modfourier-{d.config.get('source', 'model')}-p{p}",
    )
    with warnings.catch_warnings():
        # TransformerLens 3.x deprecates HookedTransformer in favour of its 4.0 bridge; the
        # HookedTransformer is what this export is for.
        warnings.filterwarnings("ignore", "HookedTransformer is deprecated", DeprecationWarning)
        model = HookedTransformer(cfg)
    model.eval()
    state = _lens_state(W, heads)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name in state:
                param.copy_(torch.as_tensor(state[name]).to(param.dtype))
            elif name.rsplit(".", 1)[-1].startswith("b_"):
                param.zero_()
            else:  # pragma: no cover - a TransformerLens release with more parameters
                raise RuntimeError(
                    f"TransformerLens {_lens_version()} gives this config a parameter {name!r} "
                    "that the export does not know"
                )
    _check_agreement(loaded.logits(), _lens_logits(model, p), torch_dtype, f"exporting {d.path}")
    return model


def _lens_state(W: dict, heads: int) -> dict[str, np.ndarray]:
    """Our weights (names and layouts of trained/_models.py) as HookedTransformer parameters."""
    d = W["W_E"].shape[0]
    d_head = d // heads
    out = {
        "embed.W_E": W["W_E"].T,
        "pos_embed.W_pos": W["W_pos"],
        _BLOCK + "attn.W_Q": W["W_Q"].transpose(0, 2, 1),
        _BLOCK + "attn.W_K": W["W_K"].transpose(0, 2, 1),
        _BLOCK + "attn.W_V": W["W_V"].transpose(0, 2, 1),
        _BLOCK + "attn.W_O": W["W_O"].T.reshape(heads, d_head, d),
        "unembed.W_U": W["W_U"],
    }
    if "W_in" in W:
        out[_BLOCK + "mlp.W_in"] = W["W_in"].T
        out[_BLOCK + "mlp.W_out"] = W["W_out"].T
    return {k: np.ascontiguousarray(v) for k, v in out.items()}


def _our_weights(params: dict, heads: int, attn_only: bool, n_out: int) -> dict:
    """HookedTransformer parameters (numpy) in our names and layouts; inverse of _lens_state."""
    W_O = params[_BLOCK + "attn.W_O"]  # (heads, d_head, d)
    out = {
        "W_E": params["embed.W_E"].T,
        "W_pos": params["pos_embed.W_pos"],
        "W_Q": params[_BLOCK + "attn.W_Q"].transpose(0, 2, 1),
        "W_K": params[_BLOCK + "attn.W_K"].transpose(0, 2, 1),
        "W_V": params[_BLOCK + "attn.W_V"].transpose(0, 2, 1),
        "W_O": W_O.reshape(-1, W_O.shape[-1]).T,
    }
    if not attn_only:
        out["W_in"] = params[_BLOCK + "mlp.W_in"].T
        out["W_out"] = params[_BLOCK + "mlp.W_out"].T
    out["W_U"] = params["unembed.W_U"][:, :n_out]
    return {k: np.ascontiguousarray(v) for k, v in out.items()}


# ---------------------------------------------------------------------------------------------
# import


def _enabled(cap) -> bool:
    return cap is not None and not isinstance(cap, bool) and float(cap) > 0


def _architecture_differences(cfg, p: int) -> list[str]:
    """What in a HookedTransformerConfig differs from our transformer (empty when it fits)."""
    diffs = []

    def get(name, default=None):
        return getattr(cfg, name, default)

    if get("n_layers") != 1:
        diffs.append(f"n_layers = {get('n_layers')} (must be 1)")
    if get("n_ctx") != 3:
        diffs.append(f"n_ctx = {get('n_ctx')} (must be 3: tokens n, m, '=')")
    if get("d_vocab") != p + 1:
        diffs.append(f"d_vocab = {get('d_vocab')} (must be p + 1 = {p + 1}: 0..p-1 and '=')")
    if get("d_vocab_out") not in (p, p + 1):
        diffs.append(
            f"d_vocab_out = {get('d_vocab_out')} (must be p = {p}, or p + 1 = {p + 1} in "
            f"Nanda's layout)"
        )
    d_model, d_head, n_heads = get("d_model"), get("d_head"), get("n_heads")
    if d_head is None or n_heads is None or d_head * n_heads != d_model:
        diffs.append(
            f"d_head * n_heads = {d_head} * {n_heads} (must equal d_model = {d_model}: W_O "
            f"is d_model x d_model)"
        )
    if get("normalization_type") is not None:
        diffs.append(f"normalization_type = {get('normalization_type')!r} (must be None)")
    if get("positional_embedding_type", "standard") != "standard":
        diffs.append(
            f"positional_embedding_type = {get('positional_embedding_type')!r} (must be "
            f"'standard': learned W_pos)"
        )
    if get("attention_dir", "causal") != "causal":
        diffs.append(f"attention_dir = {get('attention_dir')!r} (must be 'causal')")
    if not get("attn_only", False) and get("act_fn") != "relu":
        diffs.append(f"act_fn = {get('act_fn')!r} (must be 'relu')")
    if not get("use_attn_scale", True):
        diffs.append("use_attn_scale = False (must be True: scores / sqrt(d_head))")
    else:
        scale = get("attn_scale", -1.0)
        if d_head and scale not in (None, -1.0) and not math.isclose(scale, math.sqrt(d_head)):
            diffs.append(f"attn_scale = {scale} (must be sqrt(d_head) = {math.sqrt(d_head):.6g})")
    kv = get("n_key_value_heads")
    if kv is not None and kv != n_heads:
        diffs.append(f"n_key_value_heads = {kv} (grouped-query attention; must be n_heads)")
    for name in (
        "gated_mlp",
        "parallel_attn_mlp",
        "scale_attn_by_inverse_layer_idx",
        "final_rms",
        "post_embedding_ln",
        "use_qk_norm",
        "use_local_attn",
        "use_logn_attn",
        "use_attention_sinks",
        "use_normalization_before_and_after",
        "load_in_4bit",
    ):
        if get(name, False):
            diffs.append(f"{name} = True (must be False)")
    for name in ("num_experts", "clip_qkv"):
        if get(name) is not None:
            diffs.append(f"{name} = {get(name)!r} (must be None)")
    for name in ("attn_scores_soft_cap", "output_logits_soft_cap"):
        if _enabled(get(name)):
            diffs.append(f"{name} = {get(name)} (must be disabled)")
    attn_types = get("attn_types")
    if attn_types is not None and any(t != "global" for t in attn_types):
        diffs.append(f"attn_types = {attn_types!r} (must be global attention)")
    return diffs


def from_hooked_transformer(
    model, out_dir, task="add", p: int | None = None, *, config_extra: dict | None = None
) -> Path:
    """Write a TransformerLens ``HookedTransformer`` as a ``"transformer"`` model directory.

    Parameters
    ----------
    model : transformer_lens.HookedTransformer
        One layer, ``n_ctx = 3`` (tokens n, m, '='), ``d_vocab = p + 1``, ``d_vocab_out = p``
        (or p + 1, Nanda et al. 2023's own layout, below), ``n_heads * d_head = d_model``, ReLU
        MLP or ``attn_only``, no normalization, standard learned positions, causal attention
        scaled by 1/sqrt(d_head), every bias zero: the architecture of
        :func:`to_hooked_transformer` and of the TransformerLens grokking demo.
    out_dir : path-like
        A new or empty directory (never overwritten).
    task : str or closedform.Task
        What the model computes: a ``closedform.TASK_NAMES`` name (default ``"add"``) or a
        Task (for parameters, e.g. ``get_task("affine", 7, A=2, B=3, C=1)``).
    p : int, optional
        The modulus; default the model's ``d_vocab - 1``. A Task's own p must agree.
    config_extra : dict, optional
        More JSON keys for config.json (e.g. ``{"split": {"alpha": 0.3, "seed": 0}}`` so that
        ``compare`` scores the train and test pairs, or ``{"seed": 999}``); may not set the keys
        written here (model, source, p, task, d_model, heads, d_mlp, attn_only, n_classes,
        activation, transformer_lens).

    Returns
    -------
    Path
        ``out_dir``, holding config.json (``source = "transformer_lens"``) and
        weights.safetensors in the names of docs/trained.md, which ``trained.load_model``,
        ``modfourier compare`` and ``modfourier report`` read.

    Raises
    ------
    ImportError
        TransformerLens is not installed, or is 4.0 or later.
    TypeError
        ``model`` is not a HookedTransformer; a mistyped ``task``, ``p`` or ``config_extra``.
    ValueError
        An architecture that differs from ours: the message names every difference (layers,
        normalization, context length, vocabulary, activation, positions, attention, non-zero
        biases, ...). An unknown task or a p it does not accept, ``config_extra`` setting a key
        written here, Nanda's layout with the '=' logit the largest on some pair, or logits that
        disagree with this package's forward.
    closedform.rundir.DirectoryInUseError
        ``out_dir`` holds files.

    Notes
    -----
    Nanda's layout: his checkpoints (loaded by the TransformerLens grokking demo) unembed to
    all p + 1 tokens, so ``d_vocab_out = p + 1``. The '=' column of ``W_U`` is then dropped,
    which leaves the logits of the p classes unchanged (a cross-entropy over p classes instead
    of p + 1 changes); this is refused unless the '=' logit is below the largest class logit
    on every one of the p² pairs, so that no prediction changes. Nanda's trained checkpoints
    also carry MLP biases ``b_in``, ``b_out``, which our transformer does not have: non-zero
    ones are refused as an architecture difference.

    Layouts: the inverse of :func:`to_hooked_transformer`'s. After writing, the directory is
    read back and its logits (``trained.load_model``) are checked against the model's own on
    all p² pairs.

    Examples
    --------
    >>> import pytest, tempfile, trained
    >>> _ = pytest.importorskip("transformer_lens")  # the optional ``lens`` extra
    >>> from closedform import analytic_transformer, get_task
    >>> from trained._lens import from_hooked_transformer, to_hooked_transformer
    >>> net = analytic_transformer(get_task("add", 7), d_model=16, heads=2, d_mlp=32)
    >>> model = to_hooked_transformer(net.save(tempfile.mkdtemp() + "/add7"))
    >>> out = from_hooked_transformer(model, tempfile.mkdtemp() + "/back", "add")
    >>> trained.load_model(out).logits().argmax(1)[3 * 7 + 5]  # (3 + 5) mod 7
    np.int64(1)
    """
    from closedform import TASK_NAMES, Task, get_task, task_to_dict
    from closedform import rundir as rd

    _, HookedTransformer, _ = _lens()
    if not isinstance(model, HookedTransformer):
        raise TypeError(
            f"`model` must be a transformer_lens.HookedTransformer; got {type(model).__name__}"
        )
    cfg = model.cfg
    if p is not None and (isinstance(p, bool) or not isinstance(p, int)):
        raise TypeError(f"`p` must be an integer or None; got {p!r}")
    p_from = "`p`" if p is not None else "the model's d_vocab - 1"
    if p is None:
        p = int(getattr(cfg, "d_vocab", 0)) - 1
    if p < 2:
        raise ValueError(f"`p` must be >= 2; got {p} ({p_from})")
    if isinstance(task, Task):
        if task.p != p:
            raise ValueError(f"`task` has p = {task.p} but p = {p} ({p_from})")
    elif isinstance(task, str):
        if task not in TASK_NAMES:
            raise ValueError(
                f"`task` must be one of {TASK_NAMES} or a closedform.Task; got {task!r}"
            )
        task = get_task(task, p)  # a p the task refuses (e.g. mul at a composite p) raises here
    else:
        raise TypeError(f"`task` must be a task name or a closedform.Task; got {task!r}")
    if config_extra is None:
        config_extra = {}
    if not isinstance(config_extra, dict):
        raise TypeError(f"`config_extra` must be a dict; got {type(config_extra).__name__}")
    clash = sorted(set(config_extra) & set(_OWN_KEYS))
    if clash:
        raise ValueError(f"`config_extra` may not set {clash}: the importer writes them")

    diffs = _architecture_differences(cfg, p)
    params = {k: v.detach().to("cpu") for k, v in model.named_parameters()}
    attn_only = bool(getattr(cfg, "attn_only", False))
    expected = set(_lens_state_names(attn_only))
    unexplained = []
    for name, value in params.items():
        if name in expected:
            continue
        if name.rsplit(".", 1)[-1].startswith("b_"):
            big = float(value.abs().max()) if value.numel() else 0.0
            if big != 0.0:
                diffs.append(f"bias {name} is not zero (max |.| = {big:.3g}; ours has no biases)")
        else:
            unexplained.append(f"{name} {tuple(value.shape)}")
    missing = sorted(expected - set(params))
    # Extra or missing parameters follow from a config difference when there is one (LayerNorm
    # weights, a second layer); listed on their own they would only repeat it.
    if unexplained and not diffs:
        diffs.append(f"parameters {unexplained} (ours has none)")
    if missing and not diffs:
        diffs.append(f"parameters {missing} are missing")
    if diffs:
        raise ValueError("`model` is not this package's one-layer transformer: " + "; ".join(diffs))

    heads, d_model = int(cfg.n_heads), int(cfg.d_model)
    lens_dtype = next(iter(params.values())).dtype
    np_dtype = np.float64 if lens_dtype == torch.float64 else np.float32
    numpy_params = {k: v.to(torch.float64).numpy() for k, v in params.items()}
    theirs = _lens_logits(model, p)
    dropped = []
    if cfg.d_vocab_out == p + 1:
        eq = theirs[:, p]
        best = theirs[:, :p].max(1)
        bad = np.flatnonzero(eq >= best)
        if len(bad):
            n0, m0 = divmod(int(bad[0]), p)
            raise ValueError(
                f"`model` unembeds to p + 1 = {p + 1} tokens (Nanda's layout) and its '=' logit "
                f"is the largest on {len(bad)} of {p * p} pairs (first: n = {n0}, m = {m0}); "
                f"dropping the '=' column would change those predictions"
            )
        dropped = [p]
    weights = {
        k: v.astype(np_dtype) for k, v in _our_weights(numpy_params, heads, attn_only, p).items()
    }
    d_mlp = getattr(cfg, "d_mlp", None)
    config = {
        **config_extra,
        "model": "transformer",
        "source": "transformer_lens",
        "p": p,
        "task": task_to_dict(task),
        "d_model": d_model,
        "heads": heads,
        "d_mlp": int(d_mlp) if d_mlp else 0,
        "attn_only": attn_only,
        "n_classes": [p],
        "activation": "relu",
        "transformer_lens": {
            "version": _lens_version(),
            "model_name": str(getattr(cfg, "model_name", "")),
            "d_vocab_out": int(cfg.d_vocab_out),
            "dropped_output_tokens": dropped,
            "dtype": str(lens_dtype).removeprefix("torch."),
        },
    }
    from ._load import LoadedModel

    ours = LoadedModel(config, weights, Path(out_dir)).logits()
    _check_agreement(ours, theirs[:, :p], lens_dtype, "importing `model`")
    rd.claim_new_dir(out_dir, "`out_dir`")
    return rd.save_model_dir(out_dir, config, weights)


def _lens_state_names(attn_only: bool) -> list[str]:
    names = ["embed.W_E", "pos_embed.W_pos", "unembed.W_U"]
    names += [_BLOCK + "attn." + w for w in ("W_Q", "W_K", "W_V", "W_O")]
    if not attn_only:
        names += [_BLOCK + "mlp.W_in", _BLOCK + "mlp.W_out"]
    return names
