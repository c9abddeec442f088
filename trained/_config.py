"""Training configuration and the papers' presets.

A :class:`TrainConfig` holds what the caller chose (``None`` = unset); :meth:`TrainConfig.resolve`
fills every unset field from the named preset, or from the model's CPU-sized preset when no
preset is named. Presets cite the paper (and equation/section) they come from.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field, fields

__all__ = [
    "TrainConfig",
    "PRESETS",
    "P_AWARE_DEFAULTS",
    "MODELS",
    "OPTIMIZERS",
    "LOSSES",
    "TRAINABLE_ACTIVATIONS",
    "defaults_for_p",
    "defaults_line",
    "generalization_warnings",
]

#: Config fields that may differ between the members of one batched ensemble
#: (:func:`trained.train_ensemble`).
ENSEMBLE_FIELDS = ("seed", "data_seed", "alpha", "lr", "weight_decay")

MODELS = ("mlp", "rnn", "transformer")
OPTIMIZERS = ("gd", "momentum", "adam", "adamw")
LOSSES = ("mse", "cross_entropy")
#: The MLP activations ``trained`` can train: those of closedform.ACTIVATIONS but the x^k
#: family (closedform only).
TRAINABLE_ACTIVATIONS = ("quadratic", "relu", "gelu", "tanh")
#: Tasks trained here that closedform has no construction for.
EXTRA_TASKS = ("miiii", "cubic")
PARAMETRIZATIONS = ("mean_field", "standard", "gromov_code")
GROKFAST = ("ema", "ma", "none")
HIDDEN_NORMS = ("l2", "none")
DEVICES = ("auto", "cpu", "cuda")
ATTENTIONS = ("softmax", "linear")
#: Transformer-only fields (Gromov 2023 App. E); ``None`` = Nanda's model: softmax, one block,
#: the sequence n, m, '='. No preset sets them, so configs without them are unchanged.
_TRANSFORMER_VARIANTS = ("attention", "layers", "eq_token")

# Every preset is complete for its model: resolve() never leaves a field of the model unset.
_MLP_BASE = dict(
    model="mlp",
    task="add",
    p=97,
    alpha=0.5,
    width=512,
    activation="quadratic",
    parametrization="mean_field",
    loss="mse",
    optimizer="adamw",
    lr=1e-2,
    betas=(0.9, 0.999),
    eps=1e-8,
    momentum=0.0,
    weight_decay=5.0,
    warmup=0,
    max_epochs=2000,
    eval_every=5,
    target_acc=0.99,
    patience=1,
    dropout=0.0,
)
_RNN_BASE = dict(
    model="rnn",
    task="add",
    p=113,
    alpha=0.3,
    d_hidden=256,
    d_embed=256,
    hidden_norm="l2",
    loss="cross_entropy",
    optimizer="adam",
    lr=1e-2,
    betas=(0.9, 0.999),
    eps=1e-8,
    momentum=0.0,
    weight_decay=5e-5,
    warmup=0,
    max_epochs=20000,
    eval_every=100,
    target_acc=0.99,
    patience=1,
    dropout=0.0,
)
_TRANSFORMER_BASE = dict(
    model="transformer",
    task="add",
    p=113,
    alpha=0.3,
    d_model=128,
    heads=4,
    d_mlp=512,
    attn_only=False,
    dropout=0.0,
    loss="cross_entropy",
    optimizer="adamw",
    lr=1e-3,
    betas=(0.9, 0.98),
    eps=1e-8,
    momentum=0.0,
    weight_decay=1.0,
    warmup=10,
    max_epochs=50000,
    eval_every=100,
    target_acc=0.99,
    patience=1,
)

#: name -> (dict of field values, source). Documented in docs/trained.md.
PRESETS: dict[str, tuple[dict, str]] = {
    "gromov": (
        dict(_MLP_BASE, betas=(0.9, 0.98), weight_decay=0.01, max_epochs=20000),
        "Gromov 2023 eq. 1-2 (mean field, N(0,1) init, output x 2/N, quadratic, MSE on one-hot "
        "targets), p=97, N=512, alpha=0.5; AdamW lr 1e-2, betas (0.9, 0.98) as in the Gromov "
        "group's code (d-doshi/Grokking utils/optimization.py), torch's default weight decay "
        "0.01. Groks at epoch ~420-430.",
    ),
    "gromov-code": (
        dict(
            _MLP_BASE,
            parametrization="gromov_code",
            betas=(0.9, 0.98),
            weight_decay=5.0,
            max_epochs=2000,
        ),
        "The Gromov group's own scripts (d-doshi/Grokking: utils/models.py fcn, "
        "Training_scripts/phase_diagrams_wd.py): both weights N(0, (0.5/(2N)^(1/3))^2), no "
        "output scale, MSE, AdamW lr 1e-2, betas (0.9, 0.98), weight decay 5; p=97, N=512, "
        "alpha=0.5. Groks at epoch ~40.",
    ),
    "gromov-gd": (
        dict(_MLP_BASE, optimizer="gd", lr=2000.0, weight_decay=0.0, alpha=0.49, max_epochs=100000),
        "Gromov 2023 Fig. 1: vanilla full-batch GD, MSE, alpha=0.49, no regularization; lr 2000 "
        "is ours (not stated in the paper; 500 N/128, the scaling of our GD sweeps): groks add "
        "mod 97 at epoch 8000.",
    ),
    "gromov-cpu": (
        dict(_MLP_BASE, lr=0.1, weight_decay=0.5, max_epochs=3000),
        "Gromov's network and loss (MSE on one-hot targets) with AdamW lr 0.1, weight decay 0.5 "
        "(ours): groks add mod 59 at ~220 epochs, mod 97 at ~555.",
    ),
    "mlp-cpu": (
        dict(
            _MLP_BASE,
            width=128,
            loss="cross_entropy",
            lr=0.1,
            weight_decay=1.0,
            max_epochs=3000,
        ),
        "CPU default of the MLP (ours, from `modfourier sweep` over width, lr and weight decay; "
        "docs/trained.md): Gromov's network, N = 128, cross-entropy, AdamW lr 0.1, weight decay "
        "1; groks add mod 97 at epoch 65-75 (0.9-1.0 s) and mod 59 at epoch 80-95, seeds 0-4.",
    ),
    "rangamani": (
        dict(_RNN_BASE, hidden_norm="none"),
        "Rangamani 2025 Sec. II: add mod 113, 30 % train, d_h=256 tanh RNN, Adam lr 1e-2, "
        "(coupled) weight decay 5e-5, full batch, 20 000 epochs; h3 NOT normalized in training "
        "(with the normalization as written it memorizes; docs/trained.md).",
    ),
    "rangamani-cpu": (
        dict(
            _RNN_BASE,
            p=59,
            alpha=0.5,
            d_hidden=128,
            d_embed=128,
            optimizer="adamw",
            weight_decay=1.0,
            max_epochs=3000,
            eval_every=20,
        ),
        "CPU default of the RNN (ours): Rangamani's network with d_h=128 on p=59, alpha=0.5, "
        "AdamW lr 1e-2, weight decay 1 (Adam with wd 5e-5 did not grok in 3000 epochs).",
    ),
    "nanda": (
        dict(_TRANSFORMER_BASE),
        "Nanda et al. 2023 (Progress measures for grokking): p=113, 30 % train, d_model=128, "
        "4 heads, d_mlp=512, AdamW lr 1e-3, wd 1, betas (0.9, 0.98), 10-step linear warmup, "
        "full batch, 50 000 epochs; cross-entropy at the last position.",
    ),
    "nanda-cpu": (
        dict(
            _TRANSFORMER_BASE,
            grokfast="ema",
            grokfast_alpha=0.98,
            grokfast_lamb=5.0,
            max_epochs=10000,
            eval_every=50,
        ),
        "CPU default of the transformer: Nanda's hyper-parameters plus the Grokfast EMA filter "
        "(Lee et al. 2024, alpha=0.98, lambda=5).",
    ),
    "miiii": (
        dict(
            _TRANSFORMER_BASE,
            task="miiii",
            d_model=256,
            heads=4,
            d_mlp=1024,
            dropout=0.1,
            lr=3e-4,
            weight_decay=1 / 3,
            warmup=0,
            grokfast="ema",
            grokfast_alpha=0.98,
            grokfast_lamb=0.5,
            max_epochs=50000,
            eval_every=100,
        ),
        "Syrkis 2024 Table 2 (miiii): d=256, 4 heads, dropout 0.1, AdamW lr 3e-4, wd 1/3, betas "
        "(0.9, 0.98), Grokfast EMA alpha=0.98, lambda=0.5 (eq. 13); 30 % train, p=113.",
    ),
}
_MODEL_DEFAULT_PRESET = {"mlp": "mlp-cpu", "rnn": "rangamani-cpu", "transformer": "nanda-cpu"}

#: p-aware values of the CPU presets: preset -> ((p_lo, p_hi, {field: value}), ...) for
#: p_lo <= p < p_hi. :meth:`TrainConfig.resolve` applies them to the fields the caller left
#: unset and records their names in ``p_defaults``; outside every band the preset's own values
#: hold. Chosen from measurements on add (docs/trained.md, "Defaults by modulus"): at small p
#: the default MLP either memorizes or, at weight decay 1, decays to zero weights (its output
#: is cubic in the weights, so zero is a fixed point); a larger training fraction avoids both.
#: The papers' presets have none.
P_AWARE_DEFAULTS: dict[str, tuple] = {
    "mlp-cpu": (
        (11, 23, {"alpha": 0.9}),
        (23, 37, {"alpha": 0.8}),
        (37, 47, {"alpha": 0.7}),
        (47, 59, {"alpha": 0.6}),
    ),
    # Small p: a larger training fraction, and more epochs (several runs took 2000-2800).
    "rangamani-cpu": (
        (11, 29, {"alpha": 0.9, "max_epochs": 5000}),
        (29, 37, {"alpha": 0.8, "max_epochs": 5000}),
        (37, 47, {"alpha": 0.7, "max_epochs": 5000}),
        (47, 59, {"alpha": 0.6, "max_epochs": 5000}),
    ),
    # Nanda's alpha = 0.3 from p = 113 on; below, the same bands as the RNN's and 0.5, 0.4.
    "nanda-cpu": (
        (11, 29, {"alpha": 0.9}),
        (29, 37, {"alpha": 0.8}),
        (37, 47, {"alpha": 0.7}),
        (47, 59, {"alpha": 0.6}),
        (59, 97, {"alpha": 0.5}),
        (97, 113, {"alpha": 0.4}),
    ),
}

#: Measured failures of the CPU presets on add (docs/trained.md, "Defaults by modulus"):
#: preset -> ((p_lo, p_hi, alpha_failed, what was measured), ...). For p_lo <= p < p_hi a
#: training fraction alpha <= alpha_failed did not reach 99 % test accuracy (a smaller
#: fraction only makes it harder).
_MEASURED_FAILURES: dict[str, tuple] = {
    "mlp-cpu": (
        (11, 17, 0.8, "alpha 0.7-0.8 at p=11, 13: 19 of 20 runs failed in 1000 epochs"),
        (17, 23, 0.7, "alpha 0.7 at p=17, 19: 8 of 10 runs failed in 1000 epochs"),
        (23, 37, 0.6, "alpha 0.5-0.6 at p=23, 29, 31: 23 of 30 runs failed in 1000 epochs"),
        (37, 47, 0.5, "alpha 0.5 at p=37, 41, 43: 10 of 15 runs failed in 1000 epochs"),
    ),
    "rangamani-cpu": (
        (23, 29, 0.8, "alpha 0.8 at p=23: test accuracy 0.92 after 3000 epochs"),
        (29, 37, 0.5, "alpha 0.5 at p=31: memorized, test accuracy 0.46 after 3000 epochs"),
    ),
    "nanda-cpu": (
        (29, 37, 0.5, "alpha 0.5 at p=31: memorized, test accuracy 0.50 after 2000 epochs"),
    ),
}
#: Moduli the CPU presets' defaults were measured at (add); outside, they are extrapolated.
_MEASURED_P = {"mlp-cpu": (11, 113), "rangamani-cpu": (23, 113), "nanda-cpu": (23, 113)}


def _is_int(x) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _is_real(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


@dataclass(frozen=True)
class TrainConfig:
    """What to train and how; ``None`` means "take it from the preset".

    Parameters
    ----------
    model : {'mlp', 'rnn', 'transformer'}
        Gromov's two-layer MLP (eq. 1-2), Rangamani's tanh RNN, or Nanda's one-layer transformer.
    task : str
        A ``closedform.TASK_NAMES`` task, ``'miiii'`` (Syrkis 2024; transformer only) or
        ``'cubic'`` (n^3 + n m^2 + m mod p, Gromov App. D: no closed form).
    p : int
        Modulus, ``>= 3`` (and prime where the task needs it).
    task_params : dict
        Extra parameters of the task (``A``, ``B``, ``C`` for affine; ``g`` for mul/div).
    preset : str or None
        Name in :data:`PRESETS`; ``None`` uses the model's CPU preset (task 'miiii': the
        ``miiii`` preset).
    seed : int
        Seed of the initialization (and of dropout).
    data_seed : int or None
        Seed of the train/test split; ``None`` = ``seed``.
    alpha : float
        Training fraction of the defined pairs, in (0, 1).
    width, activation, parametrization
        MLP width N, activation, ``'mean_field'`` (N(0,1) init, output x 2/N; Gromov eq. 1-2),
        ``'standard'`` (N(0, 1/fan_in) init, output x 1) or ``'gromov_code'`` (the Gromov
        group's code, d-doshi/Grokking ``utils/models.py`` ``fcn``: both weights
        N(0, sigma^2) with sigma = 0.5 / (2N)^(1/3), output x 1).
    d_hidden, d_embed
        RNN hidden (d_h) and embedding sizes.
    hidden_norm
        RNN: ``'l2'`` divides the final state h3 by its norm before ``W_fc`` (Rangamani Sec. II as
        written); ``'none'`` reads h3 as it is (what makes the paper's config grok).
    d_model, heads, d_mlp, attn_only, dropout
        Transformer sizes and options; ``dropout`` also applies to the MLP's hidden layer.
    attention, layers, eq_token
        Transformer variants of Gromov 2023 App. E (``None``: Nanda's model). ``attention``
        ``'softmax'`` or ``'linear'`` (the scaled scores q.k / sqrt(d_head) are the weights,
        causal, no normalizer); ``layers`` 1 or 2 attention blocks (2 needs ``attn_only``);
        ``eq_token`` False feeds n, m without the '=' token (the Gromov group's code).
    loss : {'mse', 'cross_entropy'}
        MSE on one-hot targets (mean over samples and classes) or cross-entropy.
    optimizer : {'gd', 'momentum', 'adam', 'adamw'}
    lr, betas, eps, momentum, weight_decay, warmup
        Optimizer settings; ``warmup`` steps of linear learning-rate warm-up (Nanda: 10).
    grokfast : {'ema', 'ma', 'none'} or None
        Gradient filter of Lee et al. 2024 with ``grokfast_alpha``, ``grokfast_lamb`` and
        ``grokfast_window`` (MA). ``None`` takes the preset's (like every field); ``'none'``
        turns a preset's filter off.
    max_epochs, eval_every, target_acc, patience
        Stop after ``max_epochs`` full-batch steps, or once test accuracy ``>= target_acc`` at
        ``patience`` consecutive evaluations (every ``eval_every`` epochs); a ``target_acc``
        above 1 disables early stopping.
    device : {'auto', 'cpu', 'cuda'}
        ``'auto'`` picks CUDA when available.
    checkpoint : bool
        Write log-spaced checkpoints (0, 1, 2, 4, ...) and a final one when a run directory is
        given.
    p_defaults : tuple of str or None
        Set by :meth:`resolve`: the fields it filled from the p-aware defaults of a CPU preset
        (:data:`P_AWARE_DEFAULTS`), e.g. ``('alpha',)``; ``None`` when there were none.

    Examples
    --------
    >>> cfg = TrainConfig(model="mlp", task="add", p=23, seed=1).resolve()
    >>> cfg.width, cfg.optimizer, cfg.loss
    (128, 'adamw', 'cross_entropy')
    >>> cfg.alpha, cfg.p_defaults  # small p: a larger training fraction (P_AWARE_DEFAULTS)
    (0.8, ('alpha',))
    >>> TrainConfig(model="mlp", p=23, alpha=0.6).resolve().p_defaults is None
    True
    >>> TrainConfig(model="mlp", alpha=1.5)
    Traceback (most recent call last):
    ...
    ValueError: `alpha` must be a float in (0, 1); got 1.5
    """

    model: str = "mlp"
    task: str | None = None
    p: int | None = None
    task_params: dict = field(default_factory=dict)
    preset: str | None = None
    seed: int = 0
    data_seed: int | None = None
    alpha: float | None = None
    width: int | None = None
    activation: str | None = None
    parametrization: str | None = None
    d_hidden: int | None = None
    d_embed: int | None = None
    hidden_norm: str | None = None
    d_model: int | None = None
    heads: int | None = None
    d_mlp: int | None = None
    attn_only: bool | None = None
    attention: str | None = None
    layers: int | None = None
    eq_token: bool | None = None
    dropout: float | None = None
    loss: str | None = None
    optimizer: str | None = None
    lr: float | None = None
    betas: tuple | None = None
    eps: float | None = None
    momentum: float | None = None
    weight_decay: float | None = None
    warmup: int | None = None
    grokfast: str | None = None
    grokfast_alpha: float | None = None
    grokfast_lamb: float | None = None
    grokfast_window: int | None = None
    max_epochs: int | None = None
    eval_every: int | None = None
    target_acc: float | None = None
    patience: int | None = None
    device: str = "auto"
    checkpoint: bool = True
    p_defaults: tuple | None = None

    def __post_init__(self):
        _validate(self)

    # ------------------------------------------------------------------------------------
    def resolve(self) -> TrainConfig:
        """Return a copy with every unset field filled from the preset (see :data:`PRESETS`).

        A CPU preset's p-aware values (:data:`P_AWARE_DEFAULTS`, from :func:`defaults_for_p`)
        take precedence over its fixed ones, for unset fields only; their names are recorded
        in ``p_defaults``. Resolving a resolved config returns it unchanged.
        """
        name = self.preset_name
        values, _ = PRESETS[name]
        p = self.p if self.p is not None else values["p"]
        by_p = {k: v for k, v in defaults_for_p(name, p).items() if getattr(self, k) is None}
        filled = {}
        for f in fields(self):
            v = getattr(self, f.name)
            if v is None and f.name in by_p:
                v = by_p[f.name]
            elif v is None and f.name in values:
                v = values[f.name]
            filled[f.name] = v
        filled["preset"] = name
        filled["p_defaults"] = tuple(sorted({*(self.p_defaults or ()), *by_p})) or None
        if filled["data_seed"] is None:
            filled["data_seed"] = filled["seed"]
        if filled["grokfast"] not in (None, "none"):
            filled["grokfast_alpha"] = _first(filled["grokfast_alpha"], 0.98)
            filled["grokfast_lamb"] = _first(filled["grokfast_lamb"], 2.0)
            filled["grokfast_window"] = _first(filled["grokfast_window"], 100)
        if filled["task"] == "miiii" and filled["model"] != "transformer":
            raise ValueError("`task` 'miiii' needs `model` 'transformer'")
        return TrainConfig(**filled)

    @property
    def preset_name(self) -> str:
        """The preset :meth:`resolve` takes unset fields from: ``preset``, else ``'miiii'``
        for the miiii task, else the model's CPU preset."""
        if self.preset is not None:
            return self.preset
        if self.task == "miiii":
            return "miiii"
        return _MODEL_DEFAULT_PRESET[self.model]

    @property
    def is_resolved(self) -> bool:
        return self.preset is not None and self.p is not None and self.optimizer is not None

    def to_dict(self) -> dict:
        """JSON-ready dict of every field (tuples as lists)."""
        out = {}
        for f in fields(self):
            v = getattr(self, f.name)
            out[f.name] = list(v) if isinstance(v, tuple) else v
        return out

    @classmethod
    def from_dict(cls, d: dict) -> TrainConfig:
        """Inverse of :meth:`to_dict`; unknown keys raise ValueError."""
        if not isinstance(d, dict):
            raise TypeError(f"`d` must be a dict; got {type(d).__name__}")
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ValueError(f"unknown TrainConfig fields {unknown}")
        d = dict(d)
        for name in ("betas", "p_defaults"):
            if isinstance(d.get(name), list):
                d[name] = tuple(d[name])
        return cls(**d)

    def replace(self, **changes) -> TrainConfig:
        return dataclasses.replace(self, **changes)


def _check_preset_p(preset, p) -> None:
    if preset not in PRESETS:
        raise ValueError(f"`preset` must be one of {tuple(PRESETS)}; got {preset!r}")
    if not _is_int(p) or p < 3:
        raise ValueError(f"`p` must be an int >= 3; got {p!r}")


def defaults_for_p(preset: str, p: int) -> dict:
    """The p-aware default values of a preset at modulus ``p``.

    Parameters
    ----------
    preset : str
        A name in :data:`PRESETS`.
    p : int
        Modulus, ``>= 3``.

    Returns
    -------
    dict
        Field name -> value from :data:`P_AWARE_DEFAULTS` (empty for the papers' presets, and
        outside the bands where a CPU preset's own values hold).

    Raises
    ------
    ValueError
        Unknown ``preset`` or ``p`` not an int ``>= 3``.

    Notes
    -----
    The bands come from measurements on add mod every prime 11 <= p <= 113 (seeds 0-4): with
    the training fraction alpha = 0.5 the ``mlp-cpu`` network (N = 128, cross-entropy, AdamW
    lr 0.1, weight decay 1) generalizes from p = 47 on; below, the training fraction needed
    grows as p shrinks (docs/trained.md, "Defaults by modulus").

    Examples
    --------
    >>> defaults_for_p("mlp-cpu", 31), defaults_for_p("mlp-cpu", 97), defaults_for_p("gromov", 31)
    ({'alpha': 0.8}, {}, {})
    """
    _check_preset_p(preset, p)
    for lo, hi, values in P_AWARE_DEFAULTS.get(preset, ()):
        if lo <= p < hi:
            return dict(values)
    return {}


def _fmt(x) -> str:
    return f"{x:g}" if _is_real(x) else str(x)


#: What :func:`defaults_line` lists, per model: (field, label).
_LINE_FIELDS = {
    "mlp": (("alpha", "alpha"), ("width", "width"), ("lr", "lr"), ("weight_decay", "weight decay")),
    "rnn": (
        ("alpha", "alpha"),
        ("d_hidden", "d_hidden"),
        ("lr", "lr"),
        ("weight_decay", "weight decay"),
    ),
    "transformer": (
        ("alpha", "alpha"),
        ("d_model", "d_model"),
        ("lr", "lr"),
        ("weight_decay", "weight decay"),
        ("grokfast_lamb", "Grokfast lambda"),
    ),
}


def defaults_line(config: TrainConfig) -> str | None:
    """One line naming the preset values a run takes because the caller left them unset.

    Parameters
    ----------
    config : TrainConfig
        The caller's (unresolved) configuration.

    Returns
    -------
    str or None
        ``"defaults for p=31 (mlp-cpu): alpha 0.8 (p-aware), width 128, ..."``, listing the
        main hyper-parameters (training fraction, size, lr, weight decay, epochs) that the
        caller left unset; ``None`` when the caller set them all.

    Raises
    ------
    TypeError
        ``config`` is not a TrainConfig.

    Examples
    --------
    >>> print(defaults_line(TrainConfig(model="mlp", task="add", p=31)))
    defaults for p=31 (mlp-cpu): alpha 0.8 (p-aware), width 128, lr 0.1, weight decay 1,
    3000 epochs
    >>> defaults_line(TrainConfig(model="mlp", p=31, alpha=0.8, width=128, lr=0.1,
    ...                           weight_decay=1.0, max_epochs=100)) is None
    True
    """
    if not isinstance(config, TrainConfig):
        raise TypeError(f"`config` must be a TrainConfig; got {type(config).__name__}")
    cfg = config.resolve()
    by_p = set(cfg.p_defaults or ()) - set(config.p_defaults or ())
    parts = []
    for name, label in _LINE_FIELDS[cfg.model]:
        if getattr(config, name) is None and getattr(cfg, name) is not None:
            tag = " (p-aware)" if name in by_p else ""
            parts.append(f"{label} {_fmt(getattr(cfg, name))}{tag}")
    if config.max_epochs is None:
        tag = " (p-aware)" if "max_epochs" in by_p else ""
        parts.append(f"{cfg.max_epochs} epochs{tag}")
    if not parts:
        return None
    return f"defaults for p={cfg.p} ({cfg.preset}): " + ", ".join(parts)


def generalization_warnings(config: TrainConfig) -> list[str]:
    """Why a run of ``config`` is not expected to generalize, from measured failures.

    Parameters
    ----------
    config : TrainConfig
        Resolved or not (it is resolved first).

    Returns
    -------
    list of str
        One message per known problem, each naming the setting that would generalize (e.g.
        ``--alpha 0.8``); empty when none is known. Only the CPU presets have measurements.

    Raises
    ------
    TypeError
        ``config`` is not a TrainConfig.

    Notes
    -----
    Measured on add (docs/trained.md, "Defaults by modulus"); the other closedform tasks are
    held to the same bands, the task being a relabelling of add for sub, and of add mod p - 1
    (discrete logarithm) for mul and div.

    Examples
    --------
    >>> generalization_warnings(TrainConfig(model="mlp", task="add", p=31))
    []
    >>> print(generalization_warnings(TrainConfig(model="mlp", task="add", p=31, alpha=0.5))[0])
    alpha 0.5 at p=31 is not expected to generalize with mlp-cpu (measured on add: alpha
    0.5-0.6 at p=23, 29, 31: 23 of 30 runs failed in 1000 epochs); --alpha 0.8 does
    """
    if not isinstance(config, TrainConfig):
        raise TypeError(f"`config` must be a TrainConfig; got {type(config).__name__}")
    cfg = config.resolve()
    name, p = cfg.preset, cfg.p
    if cfg.task in EXTRA_TASKS or name not in _MEASURED_P:
        return []
    out = []
    lo, hi = _MEASURED_P[name]
    if not lo <= p <= hi:
        out.append(
            f"p={p} is outside the moduli {lo}-{hi} at which the {name} defaults were measured "
            "(docs/trained.md, 'Defaults by modulus'); they may not generalize"
        )
    for p_lo, p_hi, alpha_failed, measured in _MEASURED_FAILURES.get(name, ()):
        if p_lo <= p < p_hi and cfg.alpha <= alpha_failed:
            good = defaults_for_p(name, p)["alpha"]
            out.append(
                f"alpha {_fmt(cfg.alpha)} at p={p} is not expected to generalize with {name} "
                f"(measured on add: {measured}); --alpha {_fmt(good)} does"
            )
    return out


def _first(*xs):
    return next((x for x in xs if x is not None), None)


def _choice(name, value, allowed):
    if value is not None and value not in allowed:
        raise ValueError(f"`{name}` must be one of {allowed}; got {value!r}")


def _validate_transformer_variant(c: TrainConfig) -> None:
    _choice("attention", c.attention, ATTENTIONS)
    _choice("layers", c.layers, (1, 2))
    if c.layers is not None and not _is_int(c.layers):
        raise ValueError(f"`layers` must be one of (1, 2); got {c.layers!r}")
    if c.eq_token is not None and not isinstance(c.eq_token, bool):
        raise TypeError(f"`eq_token` must be a bool; got {c.eq_token!r}")
    for name in _TRANSFORMER_VARIANTS:
        if getattr(c, name) is not None and c.model != "transformer":
            raise ValueError(f"`{name}` is a transformer field; got it for model={c.model!r}")
    if c.layers == 2 and c.attn_only is not True:
        raise ValueError(f"`layers` 2 needs `attn_only`=True; got attn_only={c.attn_only!r}")


#: Largest float32: optimizer settings are float32 tensors' scalars (beyond, torch overflows).
_FLOAT32_MAX = 3.4028234663852886e38
#: Fields that only one model reads: set for another model they would be recorded and ignored.
_MODEL_FIELDS = {
    "mlp": ("width", "activation", "parametrization"),
    "rnn": ("d_hidden", "d_embed", "hidden_norm"),
    "transformer": ("d_model", "heads", "d_mlp", "attn_only"),
}


def _validate(c: TrainConfig) -> None:
    from closedform import TASK_NAMES

    _choice("model", c.model, MODELS)
    for owner, names in _MODEL_FIELDS.items():
        for name in names:
            if owner != c.model and getattr(c, name) is not None:
                raise ValueError(
                    f"`{name}` is a field of the {owner} model; model={c.model!r} does not use it"
                )
    _choice("hidden_norm", c.hidden_norm, HIDDEN_NORMS)
    if c.task is not None:
        _choice("task", c.task, (*TASK_NAMES, *EXTRA_TASKS))
        if c.task == "miiii" and c.model != "transformer":
            raise ValueError("`task` 'miiii' needs `model` 'transformer'; got model=" + c.model)
    if c.preset is not None:
        _choice("preset", c.preset, tuple(PRESETS))
        pmodel = PRESETS[c.preset][0]["model"]
        if pmodel != c.model:
            raise ValueError(
                f"`preset` {c.preset!r} is for model {pmodel!r}; got model={c.model!r}"
            )
    if not isinstance(c.task_params, dict):
        raise TypeError(f"`task_params` must be a dict; got {type(c.task_params).__name__}")
    for name in ("seed", "data_seed"):
        v = getattr(c, name)
        if v is not None and (not _is_int(v) or v < 0):
            raise ValueError(f"`{name}` must be an int >= 0; got {v!r}")
    if c.p is not None and (not _is_int(c.p) or c.p < 3):
        raise ValueError(f"`p` must be an int >= 3; got {c.p!r}")
    if c.alpha is not None and (not _is_real(c.alpha) or not 0.0 < c.alpha < 1.0):
        raise ValueError(f"`alpha` must be a float in (0, 1); got {c.alpha!r}")
    for name in ("width", "d_hidden", "d_embed", "d_model", "heads", "d_mlp", "max_epochs"):
        v = getattr(c, name)
        if v is not None and (not _is_int(v) or v < 1):
            raise ValueError(f"`{name}` must be an int >= 1; got {v!r}")
    for name in ("eval_every", "patience", "grokfast_window"):
        v = getattr(c, name)
        if v is not None and (not _is_int(v) or v < 1):
            raise ValueError(f"`{name}` must be an int >= 1; got {v!r}")
    if c.warmup is not None and (not _is_int(c.warmup) or c.warmup < 0):
        raise ValueError(f"`warmup` must be an int >= 0; got {c.warmup!r}")
    if c.d_model is not None and c.heads is not None and c.d_model % c.heads:
        raise ValueError(f"`d_model` ({c.d_model}) must be divisible by `heads` ({c.heads})")
    _choice("activation", c.activation, TRAINABLE_ACTIVATIONS)
    _choice("parametrization", c.parametrization, PARAMETRIZATIONS)
    _choice("loss", c.loss, LOSSES)
    _choice("optimizer", c.optimizer, OPTIMIZERS)
    _choice("grokfast", c.grokfast, GROKFAST)
    _choice("device", c.device, DEVICES)
    if c.attn_only is not None and not isinstance(c.attn_only, bool):
        raise TypeError(f"`attn_only` must be a bool; got {c.attn_only!r}")
    _validate_transformer_variant(c)
    if not isinstance(c.checkpoint, bool):
        raise TypeError(f"`checkpoint` must be a bool; got {c.checkpoint!r}")
    if c.dropout is not None and (not _is_real(c.dropout) or not 0.0 <= c.dropout < 1.0):
        raise ValueError(f"`dropout` must be a float in [0, 1); got {c.dropout!r}")
    for name in ("lr", "eps"):
        v = getattr(c, name)
        if v is not None and (not _is_real(v) or not 0 < v <= _FLOAT32_MAX):
            raise ValueError(f"`{name}` must be a float in (0, {_FLOAT32_MAX:.3g}]; got {v!r}")
    if c.weight_decay is not None and (
        not _is_real(c.weight_decay) or not 0 <= c.weight_decay <= _FLOAT32_MAX
    ):
        raise ValueError(
            f"`weight_decay` must be a float in [0, {_FLOAT32_MAX:.3g}]; got {c.weight_decay!r}"
        )
    for name in ("momentum", "grokfast_alpha"):
        v = getattr(c, name)
        if v is not None and (not _is_real(v) or not 0.0 <= v < 1.0):
            raise ValueError(f"`{name}` must be a float in [0, 1); got {v!r}")
    if c.grokfast_lamb is not None and (not _is_real(c.grokfast_lamb) or c.grokfast_lamb < 0):
        raise ValueError(f"`grokfast_lamb` must be a float >= 0; got {c.grokfast_lamb!r}")
    if c.betas is not None:
        b = c.betas
        if (
            not isinstance(b, (tuple, list))
            or len(b) != 2
            or not all(_is_real(x) and 0.0 <= x < 1.0 for x in b)
        ):
            raise ValueError(f"`betas` must be a pair of floats in [0, 1); got {b!r}")
        if isinstance(b, list):
            object.__setattr__(c, "betas", tuple(b))
    if c.p_defaults is not None:
        names = {f.name for f in fields(c)}
        pd = c.p_defaults
        if not isinstance(pd, (tuple, list)) or not all(
            isinstance(x, str) and x in names for x in pd
        ):
            raise ValueError(
                f"`p_defaults` must be None or a tuple of TrainConfig field names; got {pd!r}"
            )
        if isinstance(pd, list):
            object.__setattr__(c, "p_defaults", tuple(pd))
    if c.target_acc is not None and (not _is_real(c.target_acc) or not 0.0 < c.target_acc):
        raise ValueError(
            f"`target_acc` must be a float > 0 (> 1 never stops); got {c.target_acc!r}"
        )
    if c.p is not None and c.task in ("mul", "div"):
        from closedform import is_prime

        if not is_prime(c.p):
            raise ValueError(f"`p` must be a prime >= 3 for task {c.task!r}; got {c.p}")
