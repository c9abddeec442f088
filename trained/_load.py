"""Load a run (or analytic) model directory and evaluate it on every pair, in numpy out.

``compare`` uses this to run a torch model lazily: logits and hidden activations over all p^2
pairs (row ``n * p + m``), optionally with substituted weights (ablations, low-rank copies).
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch

from ._config import ATTENTIONS
from ._models import forward, weight_shapes

__all__ = ["LoadedModel", "load_model"]


class LoadedModel:
    """A model directory's config and weights, evaluable on all p^2 pairs.

    Attributes
    ----------
    config : dict
        ``config.json`` as written.
    weights : dict of str -> ndarray
        The saved weights (names and shapes in docs/trained.md).
    run_dir : Path
    """

    def __init__(self, config: dict, weights: dict, run_dir: Path):
        self.config = config
        self.weights = weights
        self.run_dir = run_dir
        self._spec = _spec_from_config(config)
        p = self._spec.p
        n, m = np.meshgrid(np.arange(p), np.arange(p), indexing="ij")
        self._pairs = torch.as_tensor(np.stack([n.ravel(), m.ravel()], 1))  # (p*p, 2)
        self._n_out = int(sum(config.get("n_classes", [p])))
        self._check(weights, "weights")

    def __repr__(self) -> str:
        return f"LoadedModel({self.config['model']!r}, p={self._spec.p}, dir={str(self.run_dir)!r})"

    def _check(self, weights, argname) -> dict:
        if not isinstance(weights, dict):
            raise TypeError(f"`{argname}` must be a dict of name -> ndarray")
        expected = weight_shapes(self._spec, self._n_out)
        missing = sorted(set(expected) - set(weights))
        if missing:
            raise ValueError(f"`{argname}` lacks {missing}; this model needs {sorted(expected)}")
        for k, shape in expected.items():
            if tuple(np.shape(weights[k])) != shape:
                raise ValueError(
                    f"`{argname}[{k!r}]` must have shape {shape}; got {np.shape(weights[k])}"
                )
        return {k: torch.as_tensor(np.asarray(weights[k], dtype=np.float64)) for k in expected}

    def _run(self, weights):
        W = self._check(self.weights if weights is None else weights, "weights")
        from ._models import make_inputs

        batch = make_inputs(self._spec, self._pairs, "cuda")  # index form: no (p^2, 2p) one-hot
        with torch.no_grad():
            return forward(self._spec, W, batch, hidden=True)

    def logits(self, weights: dict | None = None) -> np.ndarray:
        """Logits over all pairs, float64 array (p*p, n_out), row ``n * p + m``.

        ``n_out`` is p (for miiii: the heads' sizes, primes q < p, concatenated).
        ``weights`` substitutes numpy arrays of the same names and shapes.
        """
        return self._run(weights)[0].numpy()

    def hidden(self, weights: dict | None = None) -> dict[str, np.ndarray]:
        """Hidden activations over all pairs, each (p*p, ...).

        RNN: ``"h1"``, ``"h2"``, ``"h3"`` (d_h each; Rangamani Fig. 1). Transformer, at the last
        position: ``"attn"`` (heads, 3; heads, 2 without the '=' token), ``"attn2"`` (the second
        block's, two-block models), ``"mlp_pre"``, ``"mlp_post"`` (d_mlp). MLP: ``"h"``,
        the pre-activation W1 x (N).
        """
        return {k: v.numpy() for k, v in self._run(weights)[1].items()}


def _spec_from_config(config: dict) -> SimpleNamespace:
    model = config.get("model")
    p = config.get("p")
    if model not in ("mlp", "rnn", "transformer") or not isinstance(p, int):
        raise ValueError(f"config names model {model!r}, p {p!r}: not a model this package runs")
    spec = SimpleNamespace(model=model, p=p, dropout=0.0, attn_only=False)
    hyper = config.get("hyper", {})
    if model == "mlp":
        act = config.get("activation", "quadratic")
        if act not in ("quadratic", "relu", "gelu", "tanh"):
            raise ValueError(f"MLP activation {act!r} is not supported by trained.load_model")
        spec.width = int(config["width"])
        spec.activation = act
        spec.parametrization = config.get("parametrization", "mean_field")
        spec.scale = float(config.get("output_scale", 2.0 / spec.width))
    elif model == "rnn":
        spec.d_hidden = int(config.get("d_hidden", hyper.get("d_hidden")))
        spec.d_embed = int(config.get("d_embed", hyper.get("d_embed")))
        spec.hidden_norm = config.get("hidden_norm", hyper.get("hidden_norm")) or "l2"
    else:
        spec.d_model = int(config.get("d_model", hyper.get("d_model")))
        spec.heads = int(config.get("heads", hyper.get("heads")))
        spec.d_mlp = int(config.get("d_mlp", hyper.get("d_mlp")))
        spec.attn_only = bool(config.get("attn_only", hyper.get("attn_only", False)))
        # Gromov 2023 App. E variants, recorded in a trained run's hyper-parameters only (an
        # analytic network's top-level "attention" names its construction, not the forward);
        # absent = Nanda's model
        spec.attention = hyper.get("attention") or "softmax"
        spec.layers = int(hyper.get("layers") or 1)
        eq_token = hyper.get("eq_token")
        spec.eq_token = True if eq_token is None else bool(eq_token)
        if spec.attention not in ATTENTIONS or spec.layers not in (1, 2):
            raise ValueError(
                f"config names attention {spec.attention!r}, layers {spec.layers}: not a "
                f"transformer this package runs (attention one of {ATTENTIONS}; 1 or 2 layers)"
            )
    return spec


def load_model(run_dir, epoch: int | None = None) -> LoadedModel:
    """A model directory as a runnable model: its weights through the trained model's forward.

    Parameters
    ----------
    run_dir : path-like or closedform.ModelDir
        Written by :func:`trained.train`, an analytic network's ``save`` or ``modfourier
        construct``; or a directory already read with :func:`closedform.load_model_dir`.
    epoch : int, optional
        Run the checkpoint of this epoch instead of the final weights.

    Returns
    -------
    LoadedModel

    Raises
    ------
    FileNotFoundError
        No model directory at ``run_dir``.
    ValueError
        A tampered/non-safetensors file, an unknown format version, or weights that do not fit
        the config.

    Examples
    --------
    >>> import tempfile, trained
    >>> d = tempfile.mkdtemp()
    >>> cfg = trained.TrainConfig(model="mlp", p=7, width=8, max_epochs=2, device="cpu")
    >>> _ = trained.train(cfg, out_dir=d)
    >>> trained.load_model(d).logits().shape
    (49, 7)
    """
    from closedform.rundir import as_model_dir

    d = as_model_dir(run_dir, epoch)
    return LoadedModel(d.config, d.weights, d.path)
