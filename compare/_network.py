"""compare's bridge to closedform: task checks, the inner-domain index, closedform's own
constructions and forward passes (one implementation of each, in closedform), and the one
accuracy rule of docs/conventions.md ("Accuracy and margin") for every kind of network."""

from __future__ import annotations

import numpy as np

import closedform
from closedform import activation_fn, evaluate_mlp, mlp_logits, to_inner_domain
from closedform._evaluate import _TIE_ULPS

__all__ = [
    "Network",
    "TIE_ULPS",
    "activation_fn",
    "analytic_mlp",
    "analytic_rnn",
    "analytic_transformer",
    "check_task",
    "evaluate_mlp",
    "inner_index",
    "mlp_logits",
    "model_kind",
    "resolve_model",
    "to_inner_domain",
]

# a pair is correct when its logit beats every other by more than this many ulp of the largest
# logit the network can produce (closedform's rule, docs/conventions.md)
TIE_ULPS = _TIE_ULPS

_BLOCKS = ("n", "m", "out")


def check_task(task) -> closedform.Task:
    if not isinstance(task, closedform.Task):
        raise TypeError(f"`task` must be a closedform.Task; got {type(task).__name__}")
    return task


def inner_index(task, block: str) -> np.ndarray | None:
    """Raw positions read by each inner value r in Z_M for ``block``, or None (no bijection).

    ``to_inner_domain(w, task, block)[..., r] == w[..., index[r]]``.
    """
    if block not in _BLOCKS:
        raise ValueError(f"`block` must be one of {_BLOCKS}; got {block!r}")
    M = task.M
    if block == "out":
        index = np.asarray(task.F, dtype=np.int64)
        return index if len(np.unique(index)) == M else None
    f = task.f1 if block == "n" else task.f2
    defined = np.flatnonzero(f >= 0)
    values = f[defined]
    if len(values) != M or len(np.unique(values)) != M:
        return None
    index = np.empty(M, dtype=np.int64)
    index[values] = defined
    return index


def analytic_mlp(task, frequencies=None, phases="exact", width=None, seed=0):
    """closedform.analytic_mlp with compare's default: the exact scheme (the theory column)."""
    if frequencies is not None:
        frequencies = [int(k) for k in frequencies]
    return closedform.analytic_mlp(
        task, width=width, frequencies=frequencies, phases=phases, seed=seed
    )


def analytic_rnn(task, frequencies=None, **shapes):
    """closedform.analytic_rnn on plain-int frequencies (the RNN twin)."""
    if frequencies is not None:
        frequencies = [int(k) for k in frequencies]
    return closedform.analytic_rnn(task, frequencies, **shapes)


def analytic_transformer(task, frequencies=None, **shapes):
    """closedform.analytic_transformer on plain-int frequencies (the transformer twin)."""
    if frequencies is not None:
        frequencies = [int(k) for k in frequencies]
    return closedform.analytic_transformer(task, frequencies, **shapes)


_KINDS = ("mlp", "rnn", "transformer")
# the weights each kind's forward reads (a model directory may hold more, e.g. an analytic
# MLP's frequencies and phases)
WEIGHT_NAMES = {
    "mlp": ("W1", "W2"),
    "rnn": ("W_E", "W_ih", "W_hh", "b_ih", "b_hh", "W_fc", "b_fc"),
    "transformer": ("W_E", "W_pos", "W_Q", "W_K", "W_V", "W_O", "W_in", "W_out", "W_U"),
}


def model_kind(weights: dict, config: dict | None = None) -> str | None:
    """The model kind named by ``config['model']``, else guessed from the weight names."""
    kind = (config or {}).get("model")
    if kind is not None:
        return kind
    if "W1" in weights and "W2" in weights:
        return "mlp"
    if "W_hh" in weights:
        return "rnn"
    if "W_Q" in weights:
        return "transformer"
    return None


def _setting(config: dict, name: str, default=None):
    """A model setting from config.json: top level first, then the training "hyper" block."""
    value = config.get(name)
    if value is None:
        value = (config.get("hyper") or {}).get(name)
    return default if value is None else value


class Network:
    """A network of any kind as numpy functions of its weights, in the weights' own dtype.

    The forward passes are closedform's numpy twins of ``trained``'s forward (float32 weights
    run in float32, float64 in float64); configurations they do not cover (an attention-only
    transformer, several output heads) run through ``trained`` in float64.

    Parameters
    ----------
    kind : {"mlp", "rnn", "transformer"}
    weights : dict of str -> ndarray
    task : closedform.Task
    config : dict, optional
        config.json of the model directory (activation, output_scale, hidden_norm, heads...).
    """

    def __init__(self, kind: str, weights: dict, task, config: dict | None = None):
        if kind not in _KINDS:
            raise ValueError(f"cannot evaluate a model of kind {kind!r}; known: {_KINDS}")
        self.kind = kind
        self.task = check_task(task)
        self.config = dict(config or {})
        missing = [k for k in WEIGHT_NAMES[kind] if k not in weights]
        if missing and not (kind == "transformer" and set(missing) <= {"W_in", "W_out"}):
            raise ValueError(f"a {kind} needs weights {missing}; got {sorted(weights)}")
        self.weights = {k: np.asarray(v) for k, v in weights.items() if k in WEIGHT_NAMES[kind]}
        floats = [w.dtype for w in self.weights.values() if np.issubdtype(w.dtype, np.floating)]
        self.dtype = np.float32 if floats and all(d == np.float32 for d in floats) else np.float64
        p = self.task.p
        self._n = np.repeat(np.arange(p), p)
        self._m = np.tile(np.arange(p), p)
        self._torch = None
        if kind == "transformer":
            self.heads = int(_setting(self.config, "heads", np.shape(weights["W_Q"])[0]))
            n_out = np.shape(weights["W_U"])[1]
            if bool(_setting(self.config, "attn_only", False)) or n_out != p:
                self._torch = True  # closedform's twin has the MLP and one head of p classes
        elif kind == "rnn":
            self.hidden_norm = _setting(self.config, "hidden_norm", "l2")
        else:
            self.activation = _setting(self.config, "activation", "quadratic")
            self.output_scale = _setting(self.config, "output_scale", None)

    def _cast(self, weights):
        w = self.weights if weights is None else weights
        return {k: np.asarray(v, dtype=self.dtype) for k, v in w.items()}

    def _trained_model(self):
        import trained  # torch, only for configurations closedform's twins do not cover

        config = {**self.config, "model": self.kind, "p": self.task.p}
        return trained.LoadedModel(config, self.weights, None)

    def run(self, weights: dict | None = None) -> tuple[np.ndarray, dict]:
        """(logits (p*p, p), hidden activations) over all pairs, row ``n * p + m``."""
        W = self._cast(weights)
        p = self.task.p
        if self._torch:
            model = self._trained_model()
            return model.logits(W)[:, :p], model.hidden(W)
        if self.kind == "rnn":
            return closedform.rnn_forward(
                W, p, self._n, self._m, hidden_norm=self.hidden_norm, dtype=self.dtype
            )
        if self.kind == "transformer":
            return closedform.transformer_forward(W, p, self.heads, self._n, self._m, hidden=True)
        return self._mlp_logits(W), {}

    def logits(self, weights: dict | None = None) -> np.ndarray:
        return self.run(weights)[0]

    def hidden(self, weights: dict | None = None) -> dict:
        return self.run(weights)[1]

    def _mlp_logits(self, W) -> np.ndarray:
        p = self.task.p
        W1, W2 = W["W1"], W["W2"]
        N = W1.shape[0]
        scale = 2.0 / N if self.output_scale is None else float(self.output_scale)
        phi = activation_fn(self.activation)
        A, B, W2T = W1[:, :p].T, W1[:, p:].T, np.ascontiguousarray(W2.T)
        rows = max(1, min(p, 2**24 // max(1, p * N)))
        out = np.empty((p * p, p), dtype=self.dtype)
        with np.errstate(all="ignore"):  # a non-finite network is reported by its health
            for n0 in range(0, p, rows):  # closedform.evaluate_mlp's order of operations
                n1 = min(p, n0 + rows)
                H = (A[n0:n1, None, :] + B[None, :, :]).reshape(-1, N)
                out[n0 * p : n1 * p] = (phi(H) @ W2T) * self.dtype(scale)
        return out

    def logit_bound(self, weights: dict | None = None) -> float:
        """The largest |logit| the weights can produce: the rounding level of the logits."""
        W = self._cast(weights)
        with np.errstate(all="ignore"):
            if self._torch:
                return float(np.abs(self.logits(W)).max())
            if self.kind == "mlp":
                from closedform._evaluate import _logit_bound

                p, N = self.task.p, W["W1"].shape[0]
                scale = 2.0 / N if self.output_scale is None else float(self.output_scale)
                phi = activation_fn(self.activation)
                A, B = W["W1"][:, :p].T, W["W1"][:, p:].T
                return _logit_bound(A, B, W["W2"].T, phi, scale)
            if self.kind == "transformer":
                from closedform._analytic_transformer import _logit_bound

                return _logit_bound(W, self.task.p, self.heads)
            # RNN: |tanh| <= 1 per unit, and ||h3|| = 1 after the L2 normalization
            W_fc, b_fc = np.abs(W["W_fc"]), np.abs(W["b_fc"])
            if self.hidden_norm == "l2":
                reach = np.minimum(np.linalg.norm(W_fc, axis=1), W_fc.sum(axis=1))
            else:
                reach = W_fc.sum(axis=1)
            return float((reach + b_fc).max())

    def correct(self, weights: dict | None = None, logits=None):
        """(correct, margin): per pair (p*p,) whether its correct logit beats every other by
        more than TIE_ULPS ulp of :meth:`logit_bound` (False on undefined pairs), and the
        smallest (correct - best wrong) gap over the defined pairs."""
        L = self.logits(weights) if logits is None else logits
        tol = TIE_ULPS * np.finfo(L.dtype).eps * self.logit_bound(weights)
        target = self.task.table.reshape(-1)
        idx = np.flatnonzero(target >= 0)
        rows = np.arange(len(idx))
        Ld = np.array(L[idx], dtype=np.float64)
        right = Ld[rows, target[idx]].copy()
        Ld[rows, target[idx]] = -np.inf
        with np.errstate(invalid="ignore"):
            gap = right - Ld.max(axis=1)
            good = gap > tol  # NaN logits: never correct
        correct = np.zeros(len(target), dtype=bool)
        correct[idx] = good
        margin = float(gap.min()) if np.isfinite(gap).all() else float("nan")
        return correct, margin

    def accuracy(self, weights: dict | None = None) -> float:
        """Share of defined pairs classified correctly (docs/conventions.md)."""
        correct, _ = self.correct(weights)
        return float(correct[self.task.table.reshape(-1) >= 0].mean())


def resolve_model(model, task=None, epoch=None):
    """(Network, config, directory or None) of a model directory (its checkpoint of ``epoch``
    if given), an analytic network or a weights dict (``task`` required for a dict; the kind
    is read from the weight names)."""
    import os

    if epoch is not None and not isinstance(model, (str, os.PathLike)):
        raise ValueError("`epoch` applies to a model directory only")
    if isinstance(model, (str, os.PathLike)):
        from closedform import rundir

        d = rundir.load_model_dir(model, epoch)
        if task is not None and check_task(task).p != d.task.p:
            raise ValueError(f"`task` has p = {task.p} but the model directory has p = {d.p}")
        kind = model_kind(d.weights, d.config)
        if kind not in _KINDS:
            raise ValueError(f"cannot score a model of kind {kind!r} (config 'model')")
        return Network(kind, d.weights, task or d.task, d.config), dict(d.config), d.path
    if isinstance(model, dict):
        if task is None:
            raise ValueError("`task` is required when `model` is a weights dict")
        kind = model_kind(model)
        if kind is None:
            raise ValueError(
                f"cannot tell the model from the weight names {sorted(model)}: an MLP needs "
                "'W1' and 'W2', an RNN 'W_hh', a transformer 'W_Q'"
            )
        if kind == "mlp" and ("W1" not in model or "W2" not in model):
            raise ValueError(f"an MLP needs weights 'W1' and 'W2'; got {sorted(model)}")
        return Network(kind, model, task), {"model": kind}, None
    has_weights = isinstance(getattr(model, "weights", None), dict)
    if callable(getattr(model, "config", None)) and has_weights:
        config = model.config()  # closedform's AnalyticRNN, AnalyticTransformer
        net_task = task or model.task
        return Network(config["model"], model.weights, net_task, config), config, None
    if hasattr(model, "W1") and hasattr(model, "W2"):
        net_task = task or getattr(model, "task", None)
        if net_task is None:
            raise ValueError("`task` is required: the model object has no `.task`")
        config = {"model": "mlp", "activation": getattr(model, "activation", "quadratic")}
        if callable(getattr(model, "config", None)):
            config = model.config()
        weights = {"W1": np.asarray(model.W1), "W2": np.asarray(model.W2)}
        return Network("mlp", weights, net_task, config), config, None
    raise TypeError(
        "`model` must be a model directory path, a weights dict or an analytic network (an "
        f"object with W1 and W2, or with weights and config()); got {type(model).__name__}"
    )
