"""The scorecard: every measure of a network next to the value of the exact analytic network."""

from __future__ import annotations

import os

import numpy as np

import closedform
from closedform import rundir

from ._compat import analytic_mlp, check_task, evaluate_mlp, inner_index
from ._fit import hidden_state_fit, idealized_accuracy, mlp_fit_errors
from ._ipr import ipr_reference, mlp_ipr
from ._lowrank import minimal_rank, singular_values, svd_ticks
from ._phases import neuron_phases, phase_residual
from ._spectra import frequency_norms, key_frequencies
from ._syrkis import active_frequencies, positional_correlation
from ._validate import check_mlp

__all__ = ["score", "ipr_series", "phase_series", "jsonable"]


def jsonable(obj):
    """``obj`` with numpy scalars/arrays turned into Python ones and NaN/inf into None.

    Examples
    --------
    >>> jsonable({"a": np.float64(0.5), "b": np.array([1, 2]), "c": float("nan")})
    {'a': 0.5, 'b': [1, 2], 'c': None}
    """
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist())
    if isinstance(obj, (np.bool_, bool)):
        return bool(obj)
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        v = float(obj)
        return v if np.isfinite(v) else None
    return obj


def _read_dir(model_dir, epoch=None):
    """(ModelDir, task) of a model directory (the one reader: closedform.rundir)."""
    if not isinstance(model_dir, (str, os.PathLike)):
        raise TypeError(f"`model_dir` must be a path; got {type(model_dir).__name__}")
    d = rundir.load_model_dir(model_dir, epoch)
    return d, d.task


def _checkpoint_weights(model_dir):
    """(epoch, weights) of every checkpoint of a run directory, in epoch order."""
    for epoch in rundir.list_checkpoints(model_dir):
        yield epoch, rundir.load_checkpoint(model_dir, epoch)


def ipr_series(model_dir, r: float = 2) -> dict:
    """Layer-mean IPR of an MLP over its checkpoint series (Gromov Fig. 6).

    Parameters
    ----------
    model_dir : str or os.PathLike
        A run directory with ``checkpoints/epoch_*.safetensors`` holding ``W1`` and ``W2``.
    r : float >= 1

    Returns
    -------
    dict
        ``epoch`` (list of int) and, per block "n", "m", "out", "all", a list of layer means
        (eq. 29); ``reference``: the exact analytic network's means (the dashed line).
    """
    d, task = _read_dir(model_dir)
    if d.model != "mlp":
        raise ValueError(f"IPR series is defined for MLPs; this run is {d.model!r}")
    out = {"epoch": [], "n": [], "m": [], "out": [], "all": []}
    for epoch, w in _checkpoint_weights(model_dir):
        means = mlp_ipr(w["W1"], w["W2"], task, r)["mean"]
        out["epoch"].append(epoch)
        for key in ("n", "m", "out", "all"):
            out[key].append(means[key])
    out["reference"] = ipr_reference(task, r)
    return out


def phase_series(model_dir) -> dict:
    """Phase alignment over the checkpoint series of an MLP (Gromov Fig. 3 at every checkpoint).

    Parameters
    ----------
    model_dir : str or os.PathLike
        A run directory with ``checkpoints/epoch_*.safetensors`` holding ``W1`` and ``W2``.

    Returns
    -------
    dict
        ``epoch``, ``R``, ``circular_mean``, ``share_agree`` (lists, one entry per checkpoint;
        see :func:`compare.phase_residual`).
    """
    d, task = _read_dir(model_dir)
    if d.model != "mlp":
        raise ValueError(f"phase series is defined for MLPs; this run is {d.model!r}")
    out = {"epoch": [], "R": [], "circular_mean": [], "share_agree": []}
    for epoch, w in _checkpoint_weights(model_dir):
        res = phase_residual(neuron_phases(w["W1"], w["W2"], task))
        out["epoch"].append(epoch)
        out["R"].append(res.R)
        out["circular_mean"].append(res.circular_mean)
        out["share_agree"].append(res.share_agree)
    return out


def _mlp_card(W1, W2, task, activation, output_scale, low_rank: bool) -> dict:
    ev = evaluate_mlp(W1, W2, task, activation, output_scale)
    card: dict = {"accuracy": float(ev.accuracy)}
    card["idealized_accuracy"] = idealized_accuracy(W1, W2, task, activation, output_scale)
    norms = frequency_norms(W2, axis=0, task=task, block="out")
    key = key_frequencies(norms)
    ph = None
    try:
        ph = neuron_phases(W1, W2, task)
    except ValueError as exc:
        card["phase"] = {"not_applicable": str(exc)}
    counts: dict[int, int] = {}
    if ph is not None:
        for k in ph.frequency[ph.frequency > 0]:
            counts[int(k)] = counts.get(int(k), 0) + 1
        card["phase"] = phase_residual(ph).to_dict()
    card["frequencies"] = {
        "key": key.tolist(),
        "n_key": int(len(key)),
        "rule": "readout energy >= 0.1 x max (compare.key_frequencies)",
        "neurons_per_frequency": dict(sorted(counts.items())),
    }
    ipr = mlp_ipr(W1, W2, task)
    card["ipr"] = ipr["mean"]
    err = mlp_fit_errors(W1, W2, task)
    finite = np.isfinite(err)
    card["fit_error"] = {
        name: float(np.median(err[finite[:, j], j])) if finite[:, j].any() else float("nan")
        for j, name in enumerate(("n", "m", "out"))
    }
    card["fit_error"]["all"] = float(np.median(err[finite])) if finite.any() else float("nan")
    # weights of the blocks' energies: near-dead neurons (small norm) count little
    energy = np.stack([(W1[:, : task.p] ** 2).sum(1), (W1[:, task.p :] ** 2).sum(1),
                       (W2**2).sum(0)], axis=1)  # fmt: skip
    if finite.any() and energy[finite].sum() > 0:
        weighted = np.sqrt((err[finite] ** 2 * energy[finite]).sum() / energy[finite].sum())
    else:
        weighted = float("nan")
    card["fit_error"]["energy_weighted"] = float(weighted)
    card["fit_error"]["domain"] = {
        b: "inner" if inner_index(task, b) is not None else "raw" for b in ("n", "m", "out")
    }
    if low_rank:

        def acc(w):
            return evaluate_mlp(w["W1"], w["W2"], task, activation, output_scale).accuracy

        weights = {"W1": W1, "W2": W2}
        card["low_rank"] = {name: minimal_rank(weights, name, acc) for name in ("W1", "W2")}
    card["margin"] = float(ev.margin)
    return card


def _analytic_card(task, key, activation, low_rank: bool) -> dict:
    """The same card for the exact analytic network on the trained network's key frequencies."""
    freqs = key if len(key) and task.invertible else None
    net = analytic_mlp(task, frequencies=freqs, phases="exact")
    card = _mlp_card(net.W1, net.W2, task, "quadratic", None, low_rank)
    card["width"] = int(net.W1.shape[0])
    card["ipr_reference"] = ipr_reference(task)
    return card


def score(model, task=None, *, reference: bool = True, low_rank: bool = True) -> dict:
    """Score a network against the closed-form theory: a JSON-serializable scorecard.

    Parameters
    ----------
    model : str, os.PathLike, dict or object with ``W1``/``W2``
        A model directory (trained or analytic; config.json + weights.safetensors), a weights
        dict (``{"W1": (N, 2p), "W2": (p, N)}`` for an MLP) or an ``AnalyticMLP``.
    task : closedform.Task, optional
        Required for a weights dict; read from config.json for a directory.
    reference : bool
        Also score the exact analytic network (phases "exact", the trained network's key
        frequencies; all frequencies for a non-invertible F) and store it under ``"theory"``.
    low_rank : bool
        Include the smallest rank of W1 and W2 that keeps full accuracy (a few dozen evaluations).

    Returns
    -------
    dict
        For an MLP: ``accuracy``, ``idealized_accuracy`` (every neuron replaced by its cosine
        fit), ``frequencies`` (key frequencies of the readout and neurons per frequency),
        ``ipr`` (layer means per block, Gromov eq. 29), ``phase`` (R, circular mean, Rayleigh p,
        share of agreeing neurons; Gromov Fig. 3), ``fit_error`` (medians per block),
        ``low_rank`` (Rangamani Fig. 3), ``margin``, ``theory`` (the same card for the analytic
        network) and ``meta`` (task, p, width, activation, source). For an RNN or transformer:
        key frequencies of the embedding, singular values, SVD ticks and (transformer) the
        positional correlation. NaN values are written as None.

    Examples
    --------
    >>> import closedform
    >>> net = closedform.analytic_mlp(closedform.get_task("add", 11), frequencies=[2, 3],
    ...                               phases="exact")
    >>> card = score(net, low_rank=False, reference=False)
    >>> card["accuracy"], card["idealized_accuracy"], round(card["phase"]["R"], 9)
    (1.0, 1.0, 1.0)
    """
    config: dict = {}
    if isinstance(model, (str, os.PathLike)):
        d, dir_task = _read_dir(model)
        config, weights = d.config, d.weights
        if task is not None and check_task(task).p != dir_task.p:
            raise ValueError(
                f"`task` has p = {task.p} but the model directory has p = {dir_task.p}"
            )
        task = task or dir_task
    elif isinstance(model, dict):
        weights = model
        if task is None:
            raise ValueError("`task` is required when `model` is a weights dict")
    elif hasattr(model, "W1") and hasattr(model, "W2"):
        weights = {"W1": np.asarray(model.W1), "W2": np.asarray(model.W2)}
        task = task or getattr(model, "task", None)
        config = {"model": "mlp", "activation": getattr(model, "activation", "quadratic")}
        config["source"] = "analytic"
        if task is None:
            raise ValueError("`task` is required: the model object has no `.task`")
    else:
        raise TypeError(
            "`model` must be a model directory path, a weights dict or an object with W1 and W2; "
            f"got {type(model).__name__}"
        )
    check_task(task)
    kind = config.get("model") or ("mlp" if "W1" in weights else None)
    meta = {
        "task": closedform.task_to_dict(task),
        "p": task.p,
        "model": kind,
        "source": config.get("source"),
    }
    if kind == "mlp":
        if "W1" not in weights or "W2" not in weights:
            raise ValueError(f"an MLP needs weights 'W1' and 'W2'; got {sorted(weights)}")
        W1, W2 = check_mlp(weights["W1"], weights["W2"], task.p)
        activation = config.get("activation", "quadratic")
        output_scale = config.get("output_scale")
        card = _mlp_card(W1, W2, task, activation, output_scale, low_rank)
        meta.update(width=int(W1.shape[0]), activation=activation, output_scale=output_scale)
        if reference:
            card["theory"] = _analytic_card(task, card["frequencies"]["key"], activation, low_rank)
    elif kind in ("rnn", "transformer"):
        card = _sequence_card(weights, task, kind)
        if isinstance(model, (str, os.PathLike)):
            from ._ablation import run_accuracy_fn  # imports trained (torch) only here

            _, acc = run_accuracy_fn(model)
            card["accuracy"] = acc(weights)
            if kind == "rnn" and "W_fc" in weights:
                import trained

                h3 = trained.load_model(model).hidden()["h3"]
                fits = hidden_state_fit(h3, weights["W_fc"], task)
                errs = [f["relative_error"] for f in fits]
                card["hidden_state_fit"] = {
                    "median_relative_error": float(np.median(errs)) if errs else None,
                    "per_vector": fits,
                }
    else:
        raise ValueError(f"cannot score a model of kind {kind!r} (config 'model')")
    card["meta"] = meta
    return jsonable(card)


def _sequence_card(weights: dict, task, kind: str) -> dict:
    """Weight-only measures of an RNN or transformer (accuracy needs `trained`, see report)."""
    card: dict = {}
    if "W_E" in weights:
        W_E = np.asarray(weights["W_E"], dtype=np.float64)
        if kind == "transformer":  # Nanda's layout (d_model, d_vocab); the RNN's is (p + 1, d)
            W_E = W_E.T
        norms = frequency_norms(W_E[: task.p], axis=0, task=task, block="n")
        card["frequencies"] = {"key": key_frequencies(norms).tolist()}
        card["svd_ticks_W_E"] = {str(k): v for k, v in svd_ticks(W_E[: task.p]).items()}
        active = active_frequencies(W_E, p=task.p)
        card["active_frequencies_W_E"] = {
            "frequencies": active["frequencies"].tolist(),
            "threshold": active["threshold"],
            "baseline": "token-permutation null, 99 % quantile (compare.active_frequencies)",
        }
    card["singular_values"] = {
        name: singular_values(np.asarray(w, dtype=np.float64)).tolist()
        for name, w in weights.items()
        if np.ndim(w) == 2
    }
    if kind == "transformer" and "W_pos" in weights:
        card["positional_correlation"] = positional_correlation(np.asarray(weights["W_pos"]))
    return card
