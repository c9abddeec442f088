"""The scorecard: every measure of a network next to the value of the exact analytic network."""

from __future__ import annotations

import os

import numpy as np

import closedform
from closedform import rundir

from ._embedding import active_frequencies, positional_correlation
from ._fit import hidden_state_fit, idealized_accuracy, mlp_fit_errors
from ._ipr import ipr_reference, mlp_ipr
from ._lowrank import _complement, minimal_rank, predicted_ranks, singular_values, svd_ticks
from ._network import (
    TIE_ULPS,
    Network,
    analytic_mlp,
    analytic_rnn,
    analytic_transformer,
    inner_index,
    resolve_model,
)
from ._phases import neuron_phases, phase_residual
from ._spectra import frequency_norms, key_frequencies
from ._validate import check_mlp

__all__ = [
    "score",
    "ipr_series",
    "phase_series",
    "jsonable",
    "health_warning",
    "logit_variance_explained",
]

# below this every weight is numerically nothing: the network has collapsed
COLLAPSE_MAX_WEIGHT = 1e-6
ACCURACY_RULE = (
    "share of defined pairs whose correct logit exceeds every other by more than "
    f"{TIE_ULPS} ulp of the largest logit the weights can produce, in the model's own dtype "
    "(docs/conventions.md)"
)
# the measures of each kind of card; None (with the reason in "health") for a sick network
MEASURES = {
    "mlp": ("idealized_accuracy", "frequencies", "phase", "ipr", "fit_error", "low_rank"),
    "rnn": (
        "frequencies",
        "svd_ticks_W_E",
        "active_frequencies_W_E",
        "singular_values",
        "hidden_state_fit",
        "low_rank",
    ),
    "transformer": (
        "frequencies",
        "svd_ticks_W_E",
        "active_frequencies_W_E",
        "singular_values",
        "positional_correlation",
        "low_rank",
    ),
}
KEY_RULE = {
    "mlp": "readout energy >= 0.1 x max (compare.key_frequencies), by decreasing energy",
    "rnn": "embedding energy >= 0.1 x max (compare.key_frequencies), by decreasing energy",
    "transformer": "embedding energy >= 0.1 x max (compare.key_frequencies), by decreasing energy",
}


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


def _health(net: Network, logits: np.ndarray) -> dict:
    """ok, collapsed (every weight below 1e-6, or logits that do not depend on the pair) or
    non_finite (NaN/inf in the weights or the logits)."""
    bad = [k for k, w in net.weights.items() if not np.all(np.isfinite(w))]
    if bad:
        return {"status": "non_finite", "detail": f"weights {bad} hold NaN or inf"}
    if not np.all(np.isfinite(logits)):
        return {"status": "non_finite", "detail": "the logits overflow to NaN or inf"}
    biggest = max((float(np.abs(w).max()) for w in net.weights.values() if w.size), default=0.0)
    if biggest < COLLAPSE_MAX_WEIGHT:
        return {
            "status": "collapsed",
            "detail": f"every weight is below {COLLAPSE_MAX_WEIGHT:g} in absolute value "
            f"(largest {biggest:.3g})",
        }
    L = np.asarray(logits, dtype=np.float64)
    spread = float(np.ptp(L, axis=0).max()) if L.size else 0.0
    rounding = TIE_ULPS * np.finfo(logits.dtype).eps * max(net.logit_bound(), 1e-300)
    if spread <= rounding:
        return {
            "status": "collapsed",
            "detail": f"the logits do not depend on the input pair (largest spread over pairs "
            f"{spread:.3g}, rounding level {rounding:.3g})",
        }
    return {"status": "ok", "detail": ""}


def health_warning(card: dict) -> str | None:
    """One line for ``modfourier compare`` when a scorecard's network is not healthy.

    Parameters
    ----------
    card : dict
        A :func:`score` scorecard.

    Returns
    -------
    str or None
        ``"warning: the network is collapsed (why); its measures are not reported"`` (or
        non-finite), None for a healthy network.

    Examples
    --------
    >>> health_warning({"health": {"status": "ok", "detail": ""}}) is None
    True
    >>> health_warning({"health": {"status": "collapsed", "detail": "every weight is 0"}})
    'warning: the network is collapsed (every weight is 0); its measures are not reported'
    """
    health = (card or {}).get("health") or {}
    status = health.get("status")
    if status in (None, "ok"):
        return None
    return (
        f"warning: the network is {status.replace('_', '-')} ({health.get('detail', '')}); "
        "its measures are not reported"
    )


def _mlp_measures(net: Network) -> dict:
    task = net.task
    W1, W2 = check_mlp(net.weights["W1"], net.weights["W2"], task.p)
    activation, output_scale = net.activation, net.output_scale
    card: dict = {"idealized_accuracy": idealized_accuracy(W1, W2, task, activation, output_scale)}
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
        "rule": KEY_RULE["mlp"],
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
    return card


def _token_embedding(net: Network) -> np.ndarray:
    """The number tokens' embedding, (p, d), float64 (MLP: the n-block of W1, transposed)."""
    p = net.task.p
    w = net.weights
    if net.kind == "mlp":
        return np.asarray(w["W1"][:, :p], dtype=np.float64).T
    if net.kind == "rnn":
        return np.asarray(w["W_E"][:p], dtype=np.float64)
    return np.asarray(w["W_E"][:, :p], dtype=np.float64).T  # Nanda's layout (d_model, d_vocab)


def _embedding_norms(net: Network) -> np.ndarray:
    """Per-frequency norms of the token embedding along the tokens, in f1's inner domain."""
    return frequency_norms(_token_embedding(net), axis=0, task=net.task, block="n")


def _sequence_measures(net: Network, hidden: dict) -> dict:
    task, w = net.task, net.weights
    card: dict = {}
    E = _token_embedding(net)
    key = key_frequencies(_embedding_norms(net))
    card["frequencies"] = {"key": key.tolist(), "n_key": int(len(key)), "rule": KEY_RULE[net.kind]}
    card["svd_ticks_W_E"] = {str(k): v for k, v in svd_ticks(E).items()}
    active = active_frequencies(E, p=task.p)
    card["active_frequencies_W_E"] = {
        "frequencies": active["frequencies"].tolist(),
        "threshold": active["threshold"],
        "baseline": "token-permutation null, 99 % quantile (compare.active_frequencies)",
    }
    card["singular_values"] = {
        name: singular_values(np.asarray(v, dtype=np.float64)).tolist()
        for name, v in w.items()
        if np.ndim(v) == 2
    }
    if net.kind == "transformer":
        try:
            card["positional_correlation"] = positional_correlation(w["W_pos"])
        except ValueError as exc:  # e.g. W_pos = 0: attention that ignores positions
            card["positional_correlation"] = None
            card["not_applicable"] = {"positional_correlation": str(exc)}
    if net.kind == "rnn":
        normalize = net.hidden_norm == "l2"  # what the readout reads
        h3 = hidden["h3"]
        fits = hidden_state_fit(h3, w["W_fc"], task, normalize=normalize)
        per_freq = hidden_state_fit(h3, w["W_fc"], task, normalize=normalize, basis="frequency")
        errs = [f["relative_error"] for f in fits]
        ferrs = [f["relative_error"] for f in per_freq]
        card["hidden_state_fit"] = {
            "median_relative_error": float(np.median(errs)) if errs else None,
            "per_vector": fits,
            "max_relative_error_per_frequency": float(np.max(ferrs)) if ferrs else None,
            "per_frequency": per_freq,
            "normalized": normalize,
        }
    return card


def _low_rank_search(net: Network) -> dict:
    names = [k for k, v in net.weights.items() if np.ndim(v) == 2 and min(np.shape(v)) > 1]
    return {name: minimal_rank(net.weights, name, net.accuracy) for name in names}


def _low_rank_predicted(net: Network, analytic) -> dict:
    out = {}
    for name, pred in predicted_ranks(analytic).items():
        W = np.asarray(net.weights[name], dtype=np.float64)
        U, S, Vt = np.linalg.svd(W, full_matrices=False)
        r = pred["rank"]

        def with_rank(M, name=name):
            return net.accuracy({**net.weights, name: M.astype(net.weights[name].dtype)})

        low = (U[:, :r] * S[:r]) @ Vt[:r]
        total = S.sum()
        out[name] = {
            "rank": r,
            "rank_rule": pred["rank_rule"],
            "numerical_rank": int((S > 1e-9 * S[0]).sum()) if len(S) and S[0] > 0 else 0,
            "max_rank": len(S),
            "energy_share": float(S[:r].sum() / total) if total > 0 else 0.0,
            "accuracy_full": net.accuracy(),
            "accuracy_low_rank": with_rank(low),
            "accuracy_complement": with_rank(_complement(U, S, Vt, r)),
        }
    return out


def _card(net: Network, low_rank: bool, analytic=None) -> tuple[dict, np.ndarray, np.ndarray]:
    """(card, per-pair correctness, logits) of one network; ``analytic``: the closedform
    network it is (its ranks are then the construction's, not a search's)."""
    logits, hidden = net.run()
    correct, margin = net.correct(logits=logits)
    defined = net.task.table.reshape(-1) >= 0
    card: dict = {
        "accuracy": float(correct[defined].mean()),
        "margin": margin,
        "health": _health(net, logits),
    }
    if card["health"]["status"] != "ok":
        for key in MEASURES[net.kind]:
            card[key] = None
        card["margin"] = None
        return card, correct, logits
    if net.kind == "mlp":
        card.update(_mlp_measures(net))
    else:
        card.update(_sequence_measures(net, hidden))
    if analytic is not None:
        card["low_rank"] = _low_rank_predicted(net, analytic)
    elif low_rank:
        card["low_rank"] = _low_rank_search(net)
    return card, correct, logits


def _accuracy_split(net: Network, config: dict, correct: np.ndarray, accuracy: float) -> dict:
    """Accuracy on the run's own train and test pairs (config "split"), and on every pair."""
    out = {"train": None, "test": None, "all": accuracy}
    split = config.get("split")
    if not isinstance(split, dict) or "alpha" not in split:
        return out
    from trained import make_dataset  # torch-free: trained's datasets import numpy only

    task_cfg = config.get("task") or {}
    try:
        ds = make_dataset(
            task_cfg.get("name"),
            net.task.p,
            split["alpha"],
            split.get("seed", 0),
            task_cfg.get("params") or None,
        )
    except (ValueError, TypeError):
        return out
    for name in ("train", "test"):
        rows = ds.pair_index[getattr(ds, name)]
        out[name] = float(correct[rows].mean()) if len(rows) else None
    return out


def logit_variance_explained(logits, reference_logits, task) -> float:
    """R^2 of a network's logits regressed on a reference network's, one scale for all.

    Parameters
    ----------
    logits, reference_logits : array_like, shape (p*p, p)
        Logits of every pair, row n * p + m (e.g. a trained network and its analytic twin).
    task : closedform.Task
        Only defined pairs count.

    Returns
    -------
    float
        With X, Y the logits centred per pair (each row minus its mean over the classes: the
        softmax ignores a per-pair shift) and c = <X, Y> / <Y, Y> the least-squares scale,
        1 - ||X - c Y||^2 / ||X||^2; NaN when X or Y is all zero.

    Examples
    --------
    >>> import closedform
    >>> task = closedform.get_task("add", 5)
    >>> Y = np.random.default_rng(0).standard_normal((25, 5))
    >>> float(round(logit_variance_explained(3 * Y + 1, Y, task), 12))
    1.0
    """
    X = np.asarray(logits, dtype=np.float64)
    Y = np.asarray(reference_logits, dtype=np.float64)
    p = task.p
    if X.shape != (p * p, p) or Y.shape != X.shape:
        raise ValueError(
            f"`logits` and `reference_logits` must both have shape {(p * p, p)}; got "
            f"{X.shape} and {Y.shape}"
        )
    rows = task.table.reshape(-1) >= 0
    X = X[rows] - X[rows].mean(axis=1, keepdims=True)
    Y = Y[rows] - Y[rows].mean(axis=1, keepdims=True)
    xx, yy = float((X * X).sum()), float((Y * Y).sum())
    if not (xx > 0 and yy > 0 and np.isfinite(xx) and np.isfinite(yy)):
        return float("nan")
    c = float((X * Y).sum()) / yy
    return float(1.0 - ((X - c * Y) ** 2).sum() / xx)


def _energy(net: Network) -> np.ndarray:
    e = _embedding_norms(net)[1:] ** 2
    return e / e.sum() if e.sum() > 0 else e


def _build_twin(net: Network, key: list[int]):
    """(analytic network, frequencies rule) for the trained network's key frequencies, or
    (None, reason)."""
    task = net.task
    base = f"key frequencies of the network ({KEY_RULE[net.kind]})"
    if net.kind == "mlp":
        if not task.invertible:
            return analytic_mlp(task, None, phases="exact"), (
                "every frequency 1..M/2: the branch readout of a non-invertible F needs all "
                "of them (Gromov Corollary)"
            )
        if not key:
            return None, "the network has no key frequencies"
        return analytic_mlp(task, key, phases="exact"), base
    if not key:
        return None, "the network has no key frequencies in its embedding"
    w = net.weights
    if net.kind == "rnn":
        shapes = {
            "d_hidden": int(np.shape(w["W_hh"])[0]),
            "d_embed": int(np.shape(w["W_E"])[1]),
            "hidden_norm": net.hidden_norm,
        }
        build = analytic_rnn
    else:
        if "W_in" not in w or net._torch:
            return None, "the analytic transformer has an MLP and one output head of p classes"
        shapes = {
            "d_model": int(np.shape(w["W_E"])[0]),
            "heads": net.heads,
            "d_mlp": int(np.shape(w["W_in"])[0]),
        }
        build = analytic_transformer
    first_error = None
    for n in range(len(key), 0, -1):
        try:
            twin = build(task, key[:n], **shapes)
        except ValueError as exc:
            first_error = first_error or str(exc)
            continue
        if n == len(key):
            return twin, base
        return twin, (
            f"{base}; the {n} strongest of the {len(key)} (the largest prefix by energy that "
            f"the shapes ({', '.join(f'{k} {v}' for k, v in shapes.items())}) hold: {first_error})"
        )
    return None, f"the construction does not apply: {first_error}"


def _twin_network(twin, kind: str) -> Network:
    if kind == "mlp":
        return Network("mlp", {"W1": twin.W1, "W2": twin.W2}, twin.task, twin.config())
    return Network(kind, twin.weights, twin.task, twin.config())


def _reference(net: Network, card: dict, logits: np.ndarray, low_rank: bool):
    """(theory card, twin summary) of the analytic twin of ``net``."""
    if card["health"]["status"] != "ok":
        reason = f"the network is {card['health']['status']}: {card['health']['detail']}"
        return {"not_applicable": reason}, {"not_applicable": reason}
    key = [int(k) for k in (card.get("frequencies") or {}).get("key", [])]
    try:
        twin, rule = _build_twin(net, key)
    except ValueError as exc:
        twin, rule = None, f"the construction does not apply: {exc}"
    if twin is None:
        return {"not_applicable": rule}, {"not_applicable": rule}
    tnet = _twin_network(twin, net.kind)
    theory, _, twin_logits = _card(tnet, low_rank, analytic=twin)
    used = sorted({int(k) for k in np.asarray(twin.frequencies) if k >= 0})
    if net.kind == "mlp":
        theory["width"] = int(twin.W1.shape[0])
        theory["ipr_reference"] = ipr_reference(net.task)
        used_order = [k for k in key if k in used] + [k for k in used if k not in key]
    else:
        used_order = [int(k) for k in twin.frequencies]
    theory["frequencies_used"] = used_order
    M = net.task.M
    summary = {
        "model": net.kind,
        "frequencies": used_order,
        "frequencies_rule": rule,
        "accuracy": theory["accuracy"],
        "logit_variance_explained": logit_variance_explained(logits, twin_logits, net.task),
        "energy_per_frequency": {
            "frequency": list(range(1, M // 2 + 1)),
            "network": _energy(net).tolist(),
            "twin": _energy(tnet).tolist(),
        },
    }
    return theory, summary


def score(
    model, task=None, *, epoch: int | None = None, reference: bool = True, low_rank: bool = True
) -> dict:
    """Score a network against its analytic twin: a JSON-serializable scorecard.

    Parameters
    ----------
    model : str, os.PathLike, dict or analytic network
        A model directory (trained or analytic; config.json + weights.safetensors), a weights
        dict (MLP ``W1``/``W2``, or an RNN's or transformer's weights by their names) or a
        ``closedform`` analytic network (MLP, RNN, transformer).
    task : closedform.Task, optional
        Required for a weights dict; read from config.json for a directory.
    epoch : int, optional
        Score a directory's checkpoint of this epoch instead of its final weights.
    reference : bool
        Also build and score the analytic twin: the exact closed-form network of the same kind
        on the network's key frequencies, in its shapes (``"theory"`` and ``"twin"``).
    low_rank : bool
        Search the smallest rank of every 2-D weight that keeps full accuracy (a few dozen
        evaluations; the twin's ranks are always the construction's).

    Returns
    -------
    dict
        ``accuracy`` (docs/conventions.md, "Accuracy and margin"), ``margin``,
        ``accuracy_split`` (train, test on the run's own split, and all), ``health`` (status
        "ok", "collapsed" or "non_finite" and why; a sick network's measures are None),
        ``frequencies`` (key frequencies: MLP of the readout, RNN and transformer of the
        embedding, by decreasing energy), ``low_rank`` (Rangamani Fig. 3), ``meta`` and the
        measures of the kind: MLP ``idealized_accuracy``, ``ipr`` (Gromov eq. 29), ``phase``
        (Gromov Fig. 3), ``fit_error``; RNN and transformer ``singular_values``,
        ``svd_ticks_W_E``, ``active_frequencies_W_E`` (Syrkis), RNN ``hidden_state_fit``
        (Rangamani Table II, per singular vector and per frequency), transformer
        ``positional_correlation`` (Syrkis Fig. 7). With ``reference``: ``theory`` (the twin's
        own card, same keys, plus ``frequencies_used``; or ``{"not_applicable": why}``) and
        ``twin`` (``model``, ``frequencies``, ``frequencies_rule``, ``accuracy``,
        ``logit_variance_explained`` (:func:`logit_variance_explained`) and
        ``energy_per_frequency`` of the token embedding of each, normalized to sum 1).
        NaN values are written as None.

    Examples
    --------
    >>> import closedform
    >>> net = closedform.analytic_mlp(closedform.get_task("add", 11), frequencies=[2, 3],
    ...                               phases="exact")
    >>> card = score(net, low_rank=False, reference=False)
    >>> card["accuracy"], card["idealized_accuracy"], round(card["phase"]["R"], 9)
    (1.0, 1.0, 1.0)
    >>> card = score(net, low_rank=False)
    >>> card["twin"]["frequencies"], round(card["twin"]["logit_variance_explained"], 9)
    ([2, 3], 1.0)
    """
    net, config, directory = resolve_model(model, task, epoch)
    task = net.task
    meta = {
        "task": closedform.task_to_dict(task),
        "p": task.p,
        "model": net.kind,
        "source": config.get("source"),
        "dtype": np.dtype(net.dtype).name,
        "accuracy_rule": ACCURACY_RULE,
    }
    w = net.weights
    if net.kind == "mlp":
        meta.update(
            width=int(np.shape(w["W1"])[0]),
            activation=net.activation,
            output_scale=net.output_scale,
        )
    elif net.kind == "rnn":
        meta.update(
            d_hidden=int(np.shape(w["W_hh"])[0]),
            d_embed=int(np.shape(w["W_E"])[1]),
            hidden_norm=net.hidden_norm,
        )
    else:
        meta.update(
            d_model=int(np.shape(w["W_E"])[0]),
            heads=net.heads,
            d_mlp=int(np.shape(w["W_in"])[0]) if "W_in" in w else None,
        )
    card, correct, logits = _card(net, low_rank)
    card["accuracy_split"] = _accuracy_split(net, config, correct, card["accuracy"])
    if reference:
        card["theory"], card["twin"] = _reference(net, card, logits, low_rank)
    card["meta"] = meta
    return jsonable(card)
