"""Frequency ablations (Rangamani Table I) and Nanda's restricted / excluded loss.

Models are evaluated through a callable ``accuracy_fn(weights) -> float``: for a model directory
or an analytic network :func:`run_accuracy_fn` gives one that runs closedform's numpy forward
in the model's own dtype with the accuracy rule of docs/conventions.md.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from ._network import check_task, evaluate_mlp, inner_index, resolve_model
from ._validate import as_real_array, check_mlp, check_number

# entries of a projection below this many ulp of its input's norm are rounding
_ROUNDING_ULPS = 64

__all__ = [
    "remove_frequencies",
    "frequency_ablation",
    "mlp_frequency_ablation",
    "frequency_remover",
    "restricted_excluded_loss",
    "run_accuracy_fn",
]


def _check_freqs(frequencies, M: int) -> list[int]:
    if isinstance(frequencies, (int, np.integer)):
        frequencies = [frequencies]
    try:
        ks = [int(k) for k in frequencies]
    except TypeError:
        raise TypeError(f"`frequencies` must be a sequence of ints; got {frequencies!r}") from None
    for k, raw in zip(ks, frequencies, strict=True):
        if isinstance(raw, (bool, np.bool_)) or k != raw or not 1 <= k <= M // 2:
            raise ValueError(f"`frequencies` must be ints in 1..{M // 2}; got {raw!r}")
    return ks


def remove_frequencies(W, frequencies, axis: int = -1, task=None, block=None) -> np.ndarray:
    """Project the waves of the given frequencies out of ``W`` along a token axis.

    Parameters
    ----------
    W : array_like
        Weights with a token axis of length M (or p with ``task``).
    frequencies : int or sequence of int in 1..floor(M/2)
        Frequencies k to remove (k and M - k, i.e. both cos and sin components).
    axis : int
    task : closedform.Task, optional
        With ``block``: work in the inner domain (discrete log for mul/div), leaving entries
        outside it (mul's zero row) untouched.
    block : {"n", "m", "out"}, optional

    Returns
    -------
    ndarray
        Same shape as ``W``.

    Examples
    --------
    >>> n = np.arange(8)
    >>> w = np.cos(2 * np.pi * n / 8) + np.sin(2 * np.pi * 3 * n / 8)
    >>> np.allclose(remove_frequencies(w, [3]), np.cos(2 * np.pi * n / 8))
    True
    """
    W = as_real_array("W", W)
    if W.ndim == 0:
        raise ValueError("`W` must have at least one axis")
    axis = check_number("axis", axis, -W.ndim, W.ndim - 1, integer=True)
    moved = np.moveaxis(W, axis, -1).copy()
    index = None
    if task is not None:
        check_task(task)
        if moved.shape[-1] != task.p:
            raise ValueError(f"the token axis must have length p = {task.p}")
        if block not in ("n", "m", "out"):
            raise ValueError(f"`block` must be 'n', 'm' or 'out'; got {block!r}")
        index = inner_index(task, block)
    x = moved if index is None else moved[..., index]
    M = x.shape[-1]
    ks = _check_freqs(frequencies, M)
    c = np.fft.fft(x, axis=-1)
    for k in ks:
        c[..., k] = 0
        c[..., (M - k) % M] = 0
    scale = np.linalg.norm(x, axis=-1, keepdims=True)  # the FFT's error scales with it
    x = np.fft.ifft(c, axis=-1).real
    # what is left of a removed wave is the transform's rounding: make it exactly zero, so that
    # a network without any of its waves has exactly tied logits, not logits of rounding noise
    x[np.abs(x) <= _ROUNDING_ULPS * np.finfo(np.float64).eps * scale] = 0.0
    if index is None:
        moved = x
    else:
        moved[..., index] = x
    return np.moveaxis(moved, -1, axis)


def frequency_ablation(
    accuracy_fn: Callable[[dict], float],
    weights: dict,
    frequencies: Sequence[int],
    remove: Callable[[dict, list[int]], dict],
) -> dict:
    """Accuracy after removing each frequency alone and the frequencies cumulatively (Table I).

    Parameters
    ----------
    accuracy_fn : callable
        ``accuracy_fn(weights) -> float``.
    weights : dict of str -> ndarray
    frequencies : sequence of int
        In the order of cumulative removal (e.g. by decreasing energy).
    remove : callable
        ``remove(weights, ks) -> weights`` with the frequencies ``ks`` projected out.

    Returns
    -------
    dict
        ``baseline``; ``single``: ``[{"frequency": k, "accuracy": a}]``; ``cumulative``:
        ``[{"removed": [k1..kj], "accuracy": a}]``.

    Examples
    --------
    >>> acc = lambda w: float(w["x"].sum())
    >>> rm = lambda w, ks: {"x": np.delete(w["x"], [k - 1 for k in ks])}
    >>> frequency_ablation(acc, {"x": np.array([0.5, 0.25])}, [1, 2], rm)["cumulative"]
    [{'removed': [1], 'accuracy': 0.25}, {'removed': [1, 2], 'accuracy': 0.0}]
    """
    if not callable(accuracy_fn) or not callable(remove):
        raise TypeError("`accuracy_fn` and `remove` must be callables")
    ks = [int(k) for k in frequencies]
    single = [{"frequency": k, "accuracy": float(accuracy_fn(remove(weights, [k])))} for k in ks]
    cumulative = [
        {"removed": ks[: j + 1], "accuracy": float(accuracy_fn(remove(weights, ks[: j + 1])))}
        for j in range(len(ks))
    ]
    return {"baseline": float(accuracy_fn(weights)), "single": single, "cumulative": cumulative}


def mlp_frequency_ablation(
    W1, W2, task, frequencies, activation="quadratic", output_scale=None, layers=("W1", "W2")
) -> dict:
    """:func:`frequency_ablation` for a two-layer MLP: waves removed from its blocks.

    Parameters
    ----------
    W1 : array_like, shape (N, 2p)
    W2 : array_like, shape (p, N)
    task : closedform.Task
    frequencies : sequence of int in 1..floor(M/2)
    activation : str
    output_scale : float, optional
    layers : tuple of {"W1", "W2"}
        Where to remove the waves: W1's n- and m-blocks along their token axes, W2 along q.

    Returns
    -------
    dict
        As :func:`frequency_ablation`, plus ``chance`` = 1/p.

    Examples
    --------
    >>> import closedform
    >>> net = closedform.analytic_mlp(closedform.get_task("add", 11), frequencies=[1, 4],
    ...                               phases="exact")
    >>> res = mlp_frequency_ablation(net.W1, net.W2, net.task, [1, 4])
    >>> [row["accuracy"] for row in res["single"]], res["cumulative"][-1]["accuracy"] <= 1 / 11
    ([1.0, 1.0], True)
    """
    check_task(task)
    W1, W2 = check_mlp(W1, W2, task.p)
    ks = _check_freqs(frequencies, task.M)
    bad = [x for x in layers if x not in ("W1", "W2")]
    if bad or not layers:
        raise ValueError(f"`layers` must be a non-empty subset of ('W1', 'W2'); got {layers!r}")
    p = task.p

    def remove(w, kk):
        out = dict(w)
        if "W1" in layers:
            n = remove_frequencies(w["W1"][:, :p], kk, task=task, block="n")
            m = remove_frequencies(w["W1"][:, p:], kk, task=task, block="m")
            out["W1"] = np.concatenate([n, m], axis=1)
        if "W2" in layers:
            out["W2"] = remove_frequencies(w["W2"], kk, axis=0, task=task, block="out")
        return out

    def acc(w):
        return evaluate_mlp(w["W1"], w["W2"], task, activation, output_scale).accuracy

    res = frequency_ablation(acc, {"W1": W1, "W2": W2}, ks, remove)
    res["chance"] = 1.0 / p
    return res


def _cross_entropy(logits: np.ndarray, target: np.ndarray) -> float:
    from scipy.special import logsumexp

    lse = logsumexp(logits, axis=1)
    return float(np.mean(lse - logits[np.arange(len(target)), target]))


def restricted_excluded_loss(logits, task, frequencies, mask=None) -> dict:
    """Nanda's restricted and excluded loss of a model's logits for key frequencies.

    Parameters
    ----------
    logits : array_like, shape (p*p, p)
        Logits for every pair, row = n * p + m.
    task : closedform.Task
    frequencies : sequence of int in 1..floor(M/2)
        The key frequencies.
    mask : array_like of bool, shape (p, p), optional
        Pairs on which the losses are measured (e.g. the training set); default every pair
        that is defined and decomposed.

    Returns
    -------
    dict
        ``loss`` (the original cross-entropy), ``restricted_loss`` (each output's logits
        projected, over pairs, on the constant and cos/sin(2 pi k s / M) of the key frequencies,
        s = f1(n) + f2(m) mod M) and ``excluded_loss`` (those key-frequency components removed).

    Notes
    -----
    Nanda et al. (2023), "progress measures": the restricted loss falls when the Fourier
    circuit forms; the excluded loss rises as the network comes to rely on it.

    Examples
    --------
    >>> import closedform
    >>> task = closedform.get_task("add", 7)
    >>> s = task.inner_sum.reshape(-1)
    >>> logits = 5 * np.cos(2 * np.pi * 2 * (s[:, None] - np.arange(7)[None]) / 7)
    >>> res = restricted_excluded_loss(logits, task, [2])
    >>> bool(np.isclose(res["restricted_loss"], res["loss"])), res["excluded_loss"] > res["loss"]
    (True, True)
    """
    check_task(task)
    p, M = task.p, task.M
    logits = as_real_array("logits", logits, (2,))
    if logits.shape != (p * p, p):
        raise ValueError(f"`logits` must have shape (p*p, p) = {(p * p, p)}; got {logits.shape}")
    ks = _check_freqs(frequencies, M)
    use = task.defined & task.decomposed
    if mask is not None:
        mask = np.asarray(mask)
        if mask.shape != (p, p) or mask.dtype != bool:
            raise ValueError(f"`mask` must be a boolean array of shape {(p, p)}")
        use = use & mask
    dec = (task.defined & task.decomposed).reshape(-1)
    s = task.inner_sum.reshape(-1)[dec]
    waves = []
    for k in ks:
        w = 2 * np.pi * k * s / M
        waves += [np.cos(w), np.sin(w)]
    B = np.stack([np.ones_like(s, dtype=float)] + waves, axis=1)  # (pairs, 1 + 2K)
    L = logits[dec]
    coef, *_ = np.linalg.lstsq(B, L, rcond=None)
    restricted = logits.copy()
    excluded = logits.copy()
    restricted[dec] = B @ coef
    excluded[dec] = L - B[:, 1:] @ coef[1:]
    rows = use.reshape(-1)
    target = task.table.reshape(-1)[rows]
    return {
        "loss": _cross_entropy(logits[rows], target),
        "restricted_loss": _cross_entropy(restricted[rows], target),
        "excluded_loss": _cross_entropy(excluded[rows], target),
    }


def frequency_remover(kind: str, task):
    """``remove(weights, ks)``: the waves of frequencies ``ks`` projected out of the token
    embedding and the readout of a model (Rangamani Table I).

    Parameters
    ----------
    kind : {"mlp", "rnn", "transformer"}
        MLP: W1's n- and m-blocks along their token axes and W2 along the classes. RNN: the
        number rows of W_E (the '=' row is kept) and W_fc along the classes. Transformer: the
        number columns of W_E and W_U along the classes.
    task : closedform.Task
        Waves are removed in the inner domain (discrete log for mul/div); the embedding is
        shared by both operands and read through f1 (block "n").

    Returns
    -------
    callable
        ``remove(weights, ks) -> weights`` for :func:`frequency_ablation`.

    Examples
    --------
    >>> import closedform
    >>> task = closedform.get_task("add", 11)
    >>> net = closedform.analytic_transformer(task, [2, 5], d_model=32, heads=2, d_mlp=128)
    >>> w = frequency_remover("transformer", task)(net.weights, [2, 5])
    >>> float(np.abs(w["W_U"]).max()) < 1e-12
    True
    """
    check_task(task)
    p = task.p
    if kind not in ("mlp", "rnn", "transformer"):
        raise ValueError(f"`kind` must be 'mlp', 'rnn' or 'transformer'; got {kind!r}")

    def remove(weights: dict, ks) -> dict:
        out = dict(weights)
        if kind == "mlp":
            W1 = np.asarray(weights["W1"])
            n = remove_frequencies(W1[:, :p], ks, task=task, block="n")
            m = remove_frequencies(W1[:, p:], ks, task=task, block="m")
            out["W1"] = np.concatenate([n, m], axis=1).astype(W1.dtype)
            out["W2"] = _removed(weights["W2"], ks, 0, task)
        elif kind == "rnn":
            W_E = np.array(weights["W_E"])
            W_E[:p] = remove_frequencies(W_E[:p], ks, axis=0, task=task, block="n")
            out["W_E"] = W_E
            out["W_fc"] = _removed(weights["W_fc"], ks, 0, task)
        else:
            W_E = np.array(weights["W_E"])
            W_E[:, :p] = remove_frequencies(W_E[:, :p], ks, axis=1, task=task, block="n")
            out["W_E"] = W_E
            out["W_U"] = _removed(weights["W_U"], ks, 1, task)
        return out

    return remove


def _removed(W, ks, axis: int, task) -> np.ndarray:
    W = np.asarray(W)
    return remove_frequencies(W, ks, axis=axis, task=task, block="out").astype(W.dtype)


def run_accuracy_fn(model_dir):
    """Weights and an ``accuracy_fn(weights) -> float`` for a model directory or network.

    Parameters
    ----------
    model_dir : str, os.PathLike or analytic network
        A run directory of an MLP, RNN or transformer, or a ``closedform`` analytic network.

    Returns
    -------
    weights : dict of str -> ndarray
    accuracy_fn : callable
        Accuracy over every defined pair of the model evaluated on substituted weights, in the
        model's own dtype, by the rule of docs/conventions.md ("Accuracy and margin"); pass both
        to :func:`frequency_ablation` or :func:`compare.minimal_rank`.

    Notes
    -----
    The forward passes are closedform's numpy twins of ``trained``'s; an attention-only
    transformer or one with several output heads runs through ``trained`` (torch, imported
    only then).

    Examples
    --------
    >>> import closedform
    >>> net = closedform.analytic_rnn(closedform.get_task("add", 11), [2], d_hidden=40,
    ...                               d_embed=8)
    >>> weights, acc = run_accuracy_fn(net)
    >>> acc(weights), acc({**weights, "W_fc": 0 * weights["W_fc"]})
    (1.0, 0.0)
    """
    net, _, _ = resolve_model(model_dir)
    return dict(net.weights), net.accuracy
