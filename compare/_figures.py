"""The papers' figures, drawn with matplotlib's object API on an Agg canvas (no pyplot state).

matplotlib is imported inside each function so that ``import compare`` stays light. Every
figure has axis labels with units, a title that says what it shows, and a colour bar wherever
colour carries a value. PNGs are written at 200 dpi. Figures made of several panels take
``panels`` (a subset of their panel names) so that a page can show one panel per image; each
panel is sized to stay legible when it is scaled to a phone's width.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ._network import check_task, inner_index
from ._phases import PhaseResidual
from ._spectra import activation_spectrum_2d
from ._validate import as_real_array, check_mlp

__all__ = [
    "plot_training_curves",
    "plot_preactivations",
    "plot_phase_histogram",
    "plot_ipr_series",
    "plot_phase_series",
    "plot_frequency_series",
    "plot_runs_overlay",
    "plot_series_overlay",
    "plot_spectrum_heatmap",
    "plot_spectrum_2d",
    "plot_singular_values",
    "plot_ablation",
    "plot_twin_energy",
    "plot_sweep",
    "grok_epoch",
    "preactivation_neurons",
]

#: Resolution of every PNG (a 5-inch panel is 1000 pixels wide: sharp when zoomed).
DPI = 200

# Text sizes for panels of about 5 x 4 inches that a page shows at 350-700 pixels wide.
_STYLE = {
    "font.size": 11,
    "axes.titlesize": 11,
    "axes.labelsize": 11,
    "legend.fontsize": 9,
    "figure.titlesize": 11,
    "xtick.labelsize": 10,
    "ytick.labelsize": 10,
}

# Gromov Fig. 1 reads "grokking" off the accuracy curves at this test accuracy.
GROK_THRESHOLD = 0.99


def _style():
    import matplotlib

    return matplotlib.rc_context(_STYLE)


def _check_path(path) -> Path:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"`path` must be a file path; got {type(path).__name__}")
    return Path(path)


def _check_panels(panels, allowed: tuple[str, ...]) -> tuple[str, ...]:
    if panels is None:
        return allowed
    if isinstance(panels, str):
        panels = (panels,)
    try:
        chosen = tuple(panels)
    except TypeError:
        raise TypeError(
            f"`panels` must be a sequence of names in {allowed}; got {panels!r}"
        ) from None
    bad = [x for x in chosen if x not in allowed]
    if bad or not chosen:
        raise ValueError(f"`panels` must be a non-empty subset of {allowed}; got {panels!r}")
    return tuple(x for x in allowed if x in chosen)


def _figure(ncols: int = 1, nrows: int = 1, size=(5.2, 3.9), sharex: bool = False):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(size[0] * ncols, size[1] * nrows), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, ncols, squeeze=False, sharex=sharex)
    return fig, axes


def _fit_text(fig, smallest: float = 7.0) -> None:
    """Shrink titles and axis labels that are longer than their axes' room.

    Titles and labels carry data (epochs, ranges) of any length; constrained layout makes room
    around a label but never shortens one, so a long one would be cut at the canvas edge. The
    room is the axes' own width (height for a y label) as laid out before the layout engine
    runs, at most 92 % of the figure.
    """
    renderer = fig.canvas.get_renderer()
    W, H = fig.bbox.width, fig.bbox.height
    items = []
    for ax in fig.axes:
        pos = ax.get_position()
        # a title or label centred on its axes fits when it is no longer than the axes
        room_w = min(0.92 * W, pos.width * W)
        room_h = min(0.92 * H, pos.height * H)
        items += [(ax.title, "w", room_w), (ax.xaxis.label, "w", room_w)]
        items += [(ax.yaxis.label, "h", room_h)]
    if getattr(fig, "_suptitle", None) is not None:
        items.append((fig._suptitle, "w", 0.95 * W))
    for text, along, room in items:
        if not text.get_text():
            continue
        box = text.get_window_extent(renderer)
        length = box.width if along == "w" else box.height
        if length > room > 0:
            text.set_fontsize(max(smallest, text.get_fontsize() * room / length))


def _save(fig, path) -> Path:
    path = _check_path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _fit_text(fig)
    fig.savefig(path, dpi=DPI, format="png")
    return path


def _check_metrics(metrics) -> list[dict]:
    if not isinstance(metrics, (list, tuple)) or not metrics:
        raise ValueError("`metrics` must be a non-empty list of dicts (metrics.jsonl lines)")
    if not all(isinstance(m, dict) and "epoch" in m for m in metrics):
        raise ValueError("every entry of `metrics` must be a dict with an 'epoch'")
    return list(metrics)


def _test_accuracy(rec: dict) -> float:
    # a multitask run has generalized only when its worst head has (Syrkis Fig. 5)
    value = rec.get("test_acc_min", rec.get("test_acc"))
    return float("nan") if value is None else float(value)


def grok_epoch(metrics, threshold: float = GROK_THRESHOLD) -> int | None:
    """First logged epoch whose test accuracy reaches ``threshold`` (None if none does).

    Parameters
    ----------
    metrics : list of dict
        Lines of metrics.jsonl ("epoch", "test_acc"; "test_acc_min" for multitask runs, whose
        worst head counts).
    threshold : float in (0, 1]

    Returns
    -------
    int or None

    Examples
    --------
    >>> grok_epoch([{"epoch": 0, "test_acc": 0.1}, {"epoch": 50, "test_acc": 0.995}])
    50
    >>> grok_epoch([{"epoch": 0, "test_acc": 0.1}]) is None
    True
    """
    metrics = _check_metrics(metrics)
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)):
        raise TypeError(f"`threshold` must be a float in (0, 1]; got {threshold!r}")
    if not 0 < threshold <= 1:
        raise ValueError(f"`threshold` must be in (0, 1]; got {threshold}")
    for rec in metrics:
        if _test_accuracy(rec) >= threshold:
            return int(rec["epoch"])
    return None


def _first_epoch(metrics, key: str, threshold: float) -> int | None:
    for rec in metrics:
        v = rec.get(key)
        if v is not None and float(v) >= threshold:
            return int(rec["epoch"])
    return None


def _mark_epochs(ax, grok: int | None, mark_epoch: int | None, offset: float = 1.0) -> None:
    """Vertical lines at the grok epoch and at the epoch this report is about (log axis: +1)."""
    if grok is not None:
        ax.axvline(grok + offset, color="tab:green", ls=":", lw=1.6, label=f"grok epoch {grok}")
    if mark_epoch is not None:
        label = f"this checkpoint: epoch {mark_epoch}"
        ax.axvline(mark_epoch + offset, color="tab:purple", ls="--", lw=1.2, label=label)


def _log_epochs(ax) -> None:
    """A log epoch axis (call after plotting): labelled at the decades only when it spans more
    than one (matplotlib's minor labels then crowd each other), else at 2, 3, 5, ... too."""
    from matplotlib.ticker import NullFormatter

    ax.set_xscale("log")
    xs = [x for line in ax.get_lines() for x in np.atleast_1d(line.get_xdata()) if x > 0]
    if xs and max(xs) / min(xs) > 10:
        ax.xaxis.set_minor_formatter(NullFormatter())


def _accuracy_title(metrics, threshold: float) -> str:
    pct = f"{100 * threshold:g} %"
    train = _first_epoch(metrics, "train_acc", threshold)
    test = grok_epoch(metrics, threshold)
    best = np.nanmax([_test_accuracy(m) for m in metrics])
    if test is not None and train is not None and test >= 2 * max(train, 1):
        return f"Accuracy: train {pct} at epoch {train}, test at {test} (grokking)"
    if test is not None and train is not None:
        return f"Accuracy: train {pct} at epoch {train}, test at {test}"
    if test is not None:
        return f"Accuracy: test reaches {pct} at epoch {test}"
    if train is not None:
        return f"Accuracy: train {pct} at epoch {train}; test never (best {100 * best:.1f} %)"
    return f"Accuracy: neither train nor test reaches {pct}"


def _series(metrics, key) -> np.ndarray:
    return np.array([np.nan if m.get(key) is None else m[key] for m in metrics], dtype=float)


def _training_curves_figure(metrics, loss_name, panels, threshold, mark_epoch):
    metrics = _check_metrics(metrics)
    panels = _check_panels(panels, ("loss", "accuracy", "norms"))
    epoch = np.array([m["epoch"] for m in metrics], dtype=float)
    x = epoch + 1  # log axis: epoch 0 drawn at 1
    grok = grok_epoch(metrics, threshold)
    fig, axes = _figure(len(panels), 1)
    for ax, panel in zip(axes[0], panels, strict=True):
        if panel == "loss":
            for key, label in (("train_loss", "train"), ("test_loss", "test")):
                y = _series(metrics, key)
                if np.isfinite(y).any():
                    ax.plot(x, y, label=label)
            ax.set_yscale("log")
            ax.set_title(f"Loss: {loss_name}")
            ax.set_ylabel("loss (log scale)")
        elif panel == "accuracy":
            for key, label in (("train_acc", "train"), ("test_acc", "test")):
                y = _series(metrics, key)
                if np.isfinite(y).any():
                    ax.plot(x, 100 * y, label=label)
            ax.set_ylim(-2, 102)
            ax.set_title(_accuracy_title(metrics, threshold))
            ax.set_ylabel("accuracy (%)")
        else:
            norm_keys = sorted({k for m in metrics for k in m if k.startswith("norm_")})
            for key in norm_keys:
                ax.plot(x, _series(metrics, key), label=key[len("norm_") :])
            ax.set_title("Weight norms")
            ax.set_ylabel("Frobenius norm")
        _mark_epochs(ax, grok, mark_epoch)
        _log_epochs(ax)
        ax.set_xlabel("epoch + 1 (log scale)")
        if ax.get_legend_handles_labels()[0]:
            ax.legend(loc="best")
    return fig


def plot_training_curves(
    metrics,
    path,
    loss_name: str = "training loss",
    panels=None,
    threshold: float = GROK_THRESHOLD,
    mark_epoch: int | None = None,
) -> Path:
    """Loss, accuracy and weight norms over training (Gromov Fig. 1).

    Parameters
    ----------
    metrics : list of dict
        Lines of metrics.jsonl: "epoch", "train_loss", "test_loss", "train_acc", "test_acc",
        "norm_<weight>".
    path : str or os.PathLike
        PNG to write.
    loss_name : str
        What the loss is (e.g. "MSE on one-hot targets"), for the title.
    panels : sequence of {"loss", "accuracy", "norms"}, optional
        Which panels to draw, side by side (default all three).
    threshold : float
        Test accuracy that counts as generalized: the grok epoch (:func:`grok_epoch`) is marked
        on every panel, and the accuracy panel's title says when train and test reach it
        (only a test curve that rises after the train curve is called grokking).
    mark_epoch : int, optional
        Also mark this epoch (the checkpoint a report is about).

    Returns
    -------
    pathlib.Path
    """
    path = _check_path(path)
    with _style():
        fig = _training_curves_figure(metrics, loss_name, panels, threshold, mark_epoch)
        return _save(fig, path)


def _runs_overlay_figure(runs, panel, threshold):
    if not isinstance(runs, (list, tuple)) or not runs:
        raise ValueError("`runs` must be a non-empty list of (label, metrics) pairs")
    for item in runs:
        if not (isinstance(item, (list, tuple)) and len(item) == 2 and isinstance(item[0], str)):
            raise ValueError("every entry of `runs` must be a (label, metrics) pair")
        _check_metrics(item[1])
    if panel not in ("accuracy", "loss"):
        raise ValueError(f"`panel` must be 'accuracy' or 'loss'; got {panel!r}")
    fig, axes = _figure(1, 1, size=(5.2, 3.9))
    ax = axes[0, 0]
    for i, (label, metrics) in enumerate(runs):
        color = f"C{i % 10}"
        x = np.array([m["epoch"] for m in metrics], dtype=float) + 1
        scale = 100.0 if panel == "accuracy" else 1.0
        suffix = {"accuracy": "acc", "loss": "loss"}[panel]
        test_key, train_key = f"test_{suffix}", f"train_{suffix}"
        for key, ls, tag in ((test_key, "-", "test"), (train_key, "--", "train")):
            y = _series(metrics, key)
            if np.isfinite(y).any():
                ax.plot(x, scale * y, ls=ls, color=color, label=f"{label} ({tag})")
        grok = grok_epoch(metrics, threshold)
        if grok is not None:
            ax.axvline(grok + 1, color=color, ls=":", lw=1.4)
    _log_epochs(ax)
    ax.set_xlabel("epoch + 1 (log scale)")
    if panel == "accuracy":
        ax.set_ylim(-2, 102)
        ax.set_ylabel("accuracy (%)")
        ax.set_title("Accuracy: test solid, train dashed")
    else:
        ax.set_yscale("log")
        ax.set_ylabel("loss (log scale)")
        ax.set_title("Loss: test solid, train dashed")
    ax.legend(loc="best", fontsize=9)
    return fig


def plot_runs_overlay(runs, path, panel: str = "accuracy", threshold=GROK_THRESHOLD) -> Path:
    """Accuracy or loss curves of several runs on one axes, grok epochs dotted (seeds, presets).

    Parameters
    ----------
    runs : list of (str, list of dict)
        ``(label, metrics)`` per run.
    path : str or os.PathLike
    panel : {"accuracy", "loss"}
    threshold : float
        Test accuracy of the grok epoch (:func:`grok_epoch`).

    Returns
    -------
    pathlib.Path
    """
    path = _check_path(path)
    with _style():
        return _save(_runs_overlay_figure(runs, panel, threshold), path)


def _series_overlay_figure(series, ylabel, title, reference):
    if not isinstance(series, (list, tuple)) or not series:
        raise ValueError("`series` must be a non-empty list of (label, epochs, values, grok)")
    fig, axes = _figure(1, 1, size=(5.2, 3.9))
    ax = axes[0, 0]
    for i, item in enumerate(series):
        if not (isinstance(item, (list, tuple)) and len(item) == 4):
            raise ValueError("every entry of `series` must be (label, epochs, values, grok)")
        label, epochs, values, grok = item
        x = np.asarray(epochs, dtype=float) + 1
        y = np.array([np.nan if v is None else v for v in values], dtype=float)
        if len(x) != len(y):
            raise ValueError(f"`series` entry {label!r}: {len(x)} epochs but {len(y)} values")
        color = f"C{i % 10}"
        ax.plot(x, y, marker=".", color=color, label=str(label))
        if grok is not None:
            ax.axvline(grok + 1, color=color, ls=":", lw=1.4)
    if reference is not None:
        ax.axhline(reference, color="k", ls="--", lw=1, label=f"exact network ({reference:g})")
    _log_epochs(ax)
    ax.set_xlabel("epoch + 1 (log scale)")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(loc="best", fontsize=9)
    return fig


def plot_series_overlay(series, path, ylabel: str, title: str, reference=None) -> Path:
    """One measure over the checkpoints of several runs on one axes, grok epochs dotted.

    Parameters
    ----------
    series : list of (str, list of int, list of float, int or None)
        ``(label, epochs, values, grok_epoch)`` per run (e.g. :func:`compare.ipr_series`'s
        ``"all"`` or :func:`compare.phase_series`'s ``"R"``).
    path : str or os.PathLike
    ylabel, title : str
    reference : float, optional
        The exact network's value, dashed.

    Returns
    -------
    pathlib.Path
    """
    path = _check_path(path)
    with _style():
        return _save(_series_overlay_figure(series, ylabel, title, reference), path)


def _dominant_frequency(w: np.ndarray) -> np.ndarray:
    """Per row: the frequency k >= 1 of largest |rfft| (0 for an all-zero row)."""
    mag = np.abs(np.fft.rfft(w, axis=1))[:, 1:]
    k = mag.argmax(axis=1) + 1
    return np.where(mag.max(axis=1) > 0, k, 0)


def preactivation_neurons(W1, task, count: int = 3) -> list[int]:
    """Neurons worth drawing: the largest neuron of each of the ``count`` strongest frequencies.

    Parameters
    ----------
    W1 : array_like, shape (N, 2p)
    task : closedform.Task
        The n-block is read in the inner domain (discrete logs for mul/div) when it exists.
    count : int >= 1

    Returns
    -------
    list of int
        Neuron indices with different dominant frequencies of their n-block, strongest
        frequency (summed squared norm of its neurons) first; topped up with the largest
        remaining neurons when there are fewer frequencies than ``count``.

    Examples
    --------
    >>> import closedform
    >>> net = closedform.analytic_mlp(closedform.get_task("add", 11), frequencies=[1, 3],
    ...                               phases="exact")
    >>> ks = net.frequencies[preactivation_neurons(net.W1, net.task, 2)]
    >>> sorted(int(k) for k in ks)
    [1, 3]
    """
    check_task(task)
    W1 = as_real_array("W1", W1, (2,))
    if W1.shape[1] != 2 * task.p:
        raise ValueError(f"`W1` must have shape (N, 2p) with p = {task.p}; got {W1.shape}")
    if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or count < 1:
        raise ValueError(f"`count` must be an integer >= 1; got {count!r}")
    block = W1[:, : task.p]
    index = inner_index(task, "n")
    k = _dominant_frequency(block if index is None else block[:, index])
    energy = (W1**2).sum(axis=1)
    by_k: dict[int, float] = {}
    for kk, e in zip(k.tolist(), energy.tolist(), strict=True):
        if kk > 0:
            by_k[kk] = by_k.get(kk, 0.0) + e
    chosen: list[int] = []
    for kk in sorted(by_k, key=lambda x: -by_k[x])[:count]:
        members = np.flatnonzero(k == kk)
        chosen.append(int(members[np.argmax(energy[members])]))
    for i in np.argsort(-energy, kind="stable"):
        if len(chosen) >= min(count, len(W1)):
            break
        if int(i) not in chosen:
            chosen.append(int(i))
    return chosen


def _preactivations_figure(W1, task, neurons, panels):
    check_task(task)
    W1 = as_real_array("W1", W1, (2,))
    p = task.p
    if W1.shape[1] != 2 * p:
        raise ValueError(f"`W1` must have shape (N, 2p) with p = {p}; got {W1.shape}")
    panels = _check_panels(panels, ("preactivation", "fourier"))
    if neurons is None:
        neurons = preactivation_neurons(W1, task)
    try:
        neurons = [int(i) for i in neurons]
    except (TypeError, ValueError):
        raise TypeError(f"`neurons` must be a sequence of ints; got {neurons!r}") from None
    if not neurons or any(not 0 <= i < len(W1) for i in neurons):
        raise ValueError(f"`neurons` must be indices in 0..{len(W1) - 1}; got {neurons}")
    i_n, i_m = inner_index(task, "n"), inner_index(task, "m")
    inner = i_n is not None and i_m is not None
    ks = _dominant_frequency(W1[:, :p] if i_n is None else W1[:, :p][:, i_n])
    fig, axes = _figure(len(neurons), len(panels), size=(4.6, 3.9))
    lab = ("log n", "log m") if inner and task.in_log_domain else ("n", "m")
    for col, i in enumerate(neurons):
        h = W1[i, :p][:, None] + W1[i, p:][None, :]  # (p, p) over (n, m)
        if inner:
            h = h[i_n][:, i_m]
        for row, panel in enumerate(panels):
            ax = axes[row, col]
            if panel == "preactivation":
                im = ax.imshow(h, origin="lower", cmap="RdBu_r", aspect="equal")
                fig.colorbar(im, ax=ax, shrink=0.85, label="preactivation (a.u.)")
                ax.set_xlabel(f"{lab[1]} (token index)")
                ax.set_ylabel(f"{lab[0]} (token index)")
                ax.set_title(f"neuron {i} (k = {ks[i]}): h(n, m)")
            else:
                spec = np.fft.fftshift(activation_spectrum_2d(h))
                M = h.shape[0]
                kk = np.arange(M) - M // 2
                im = ax.imshow(
                    spec, origin="lower", cmap="viridis",
                    extent=(kk[0] - 0.5, kk[-1] + 0.5, kk[0] - 0.5, kk[-1] + 0.5),
                )  # fmt: skip
                fig.colorbar(im, ax=ax, shrink=0.85, label="|2-D DFT| (a.u.)")
                ax.set_xlabel("frequency k_m (cycles/period)")
                ax.set_ylabel("frequency k_n (cycles/period)")
                ax.set_title(f"neuron {i} (k = {ks[i]}): Fourier image")
    if len(neurons) * len(panels) > 1:
        fig.suptitle(f"Preactivations and their Fourier images ({task.name} mod {p})")
    return fig


def plot_preactivations(W1, task, path, neurons=None, panels=None) -> Path:
    """Preactivations h_i(n, m) of a few neurons and their 2-D Fourier images (Gromov Fig. 2).

    Parameters
    ----------
    W1 : array_like, shape (N, 2p)
    task : closedform.Task
        n and m are drawn in the inner domain (discrete logs for mul/div) when it exists.
    path : str or os.PathLike
    neurons : sequence of int, optional
        Default :func:`preactivation_neurons`: one neuron of each of the three strongest
        frequencies, so that the panels show different waves.
    panels : sequence of {"preactivation", "fourier"}, optional
        Rows to draw (default both: h(n, m) above its Fourier image, one column per neuron).

    Returns
    -------
    pathlib.Path

    Notes
    -----
    A neuron of the analytic network is h = cos(2 pi k n / p + phi1) + cos(2 pi k m / p + phi2):
    stripes along n and m, and a Fourier image with peaks at (+-k, 0) and (0, +-k) only.
    """
    path = _check_path(path)
    with _style():
        return _save(_preactivations_figure(W1, task, neurons, panels), path)


def _angles(obj, name) -> np.ndarray:
    if isinstance(obj, PhaseResidual):
        return np.asarray(obj.delta, dtype=float)
    return as_real_array(name, obj, (1,))


def _phase_histogram_range(*deltas) -> float:
    """Half-width of the histogram's x range: pi, or the spread of the data when it is narrow.

    The residuals of a network that implements eq. 12 cluster near 0; on a (-pi, pi] axis they
    fall in one bin. When every residual lies within pi/2 of 0 the axis is zoomed to 1.15 times
    the largest |delta| (at least 0.02 rad), so that the spread is visible; every value is shown.
    """
    values = np.concatenate([np.abs(np.asarray(d, dtype=float)) for d in deltas] or [[]])
    if not len(values) or values.max() >= np.pi / 2:
        return float(np.pi)
    return float(max(1.15 * values.max(), 0.02))


def _phase_histogram_figure(residual, label, reference):
    delta = _angles(residual, "residual")
    ref = None if reference is None else _angles(reference, "reference")
    half = _phase_histogram_range(delta, *(() if ref is None else (ref,)))
    zoomed = half < np.pi
    n_bins = 37 if not zoomed else int(np.clip(2 * round(np.sqrt(max(len(delta), 1))) + 1, 15, 61))
    bins = np.linspace(-half, half, n_bins + 1)  # odd count: 0 sits at a bin centre
    fig, axes = _figure(1, 1, size=(5.2, 3.9))
    ax = axes[0, 0]

    def share(x):
        return np.full(len(x), 1.0 / max(len(x), 1))

    ax.hist(
        delta, bins=bins, weights=share(delta), color="tab:blue", alpha=0.75,
        label=f"{label} (n = {len(delta)})",
    )  # fmt: skip
    if ref is not None:
        ax.hist(
            ref, bins=bins, weights=share(ref), histtype="step", color="k", lw=1.5,
            label=f"theory (n = {len(ref)})",
        )  # fmt: skip
    ax.axvline(0.0, color="k", ls="--", lw=1, label="theory: delta = 0")
    if len(delta):
        z = np.exp(1j * delta).mean()
        ax.text(
            0.02, 0.95, f"R = {abs(z):.3f}\ncircular mean = {np.angle(z):+.3f} rad",
            transform=ax.transAxes, va="top", fontsize=10,
        )  # fmt: skip
    ax.set_xlim(-half, half)
    if zoomed:
        ax.set_xlabel(f"phi1 + phi2 - phi3 (rad), zoomed to +-{half:.2g}")
        ax.set_title(f"Phase residual per neuron, {n_bins} bins over the data's spread")
    else:
        ax.set_xlabel("phase residual phi1 + phi2 - phi3 (rad, wrapped to (-pi, pi])")
        ax.set_title("Phase residual per neuron (theory: all at 0)")
    ax.set_ylabel("share of neurons per bin")
    ax.legend(loc="upper right")
    return fig


def plot_phase_histogram(residual, path, label: str = "trained", reference=None) -> Path:
    """Histogram of the phase residual delta = wrap(phi1 + phi2 - phi3) (Gromov Fig. 3).

    Parameters
    ----------
    residual : PhaseResidual or array_like of angles
    path : str or os.PathLike
    label : str
    reference : PhaseResidual or array_like, optional
        A second histogram (e.g. the analytic network: all at 0) drawn in outline.

    Returns
    -------
    pathlib.Path

    Notes
    -----
    Bins and range come from the data (:func:`_phase_histogram_range`): (-pi, pi] in 37 bins
    when the residuals are spread out, else zoomed on their spread with about 2 sqrt(n) bins;
    the axis label says so.

    Examples
    --------
    >>> import tempfile
    >>> rng = np.random.default_rng(0)
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     png = plot_phase_histogram(rng.vonmises(0.0, 4.0, 200), tmp + "/phases.png")
    ...     png.read_bytes()[:4]
    b'\x89PNG'
    """
    path = _check_path(path)
    with _style():
        return _save(_phase_histogram_figure(residual, label, reference), path)


def _check_series(series, keys, what) -> dict:
    if not isinstance(series, dict) or "epoch" not in series or not series["epoch"]:
        raise ValueError(f"`series` must be {what} output with at least one epoch")
    missing = [k for k in keys if k not in series]
    if missing:
        raise ValueError(f"`series` lacks {missing}; expected {what} output")
    return series


def _ipr_series_figure(series, metrics, panels, threshold, mark_epoch):
    _check_series(series, ("n", "m", "out", "all"), "compare.ipr_series")
    allowed = ("ipr", "accuracy") if metrics else ("ipr",)
    panels = _check_panels(panels, allowed)
    grok = grok_epoch(metrics, threshold) if metrics else None
    fig, axes = _figure(1, len(panels), size=(5.2, 3.9), sharex=True)
    x = np.asarray(series["epoch"], dtype=float) + 1
    for ax, panel in zip(axes[:, 0], panels, strict=True):
        if panel == "ipr":
            for key, style in (("n", ":"), ("m", ":"), ("out", "-."), ("all", "-")):
                y = np.asarray(series[key], dtype=float)
                ax.plot(x, y, style, marker=".", label=f"IPR_2 {key}")
            ref = series.get("reference", {}).get("all")
            if ref is not None:
                ax.axhline(ref, color="k", ls="--", lw=1, label=f"exact network ({ref:.2f})")
            ax.set_ylim(0, 1.12)
            ax.set_ylabel("mean IPR_2 (1 = one freq.)")
            ax.set_title("Inverse participation ratio over training (Gromov Fig. 6)")
        else:
            ep = np.array([m["epoch"] for m in metrics], dtype=float) + 1
            for key, label in (("train_acc", "train"), ("test_acc", "test")):
                ax.plot(ep, 100 * _series(metrics, key), label=f"{label} accuracy")
            ax.set_ylim(-2, 102)
            ax.set_ylabel("accuracy (%)")
            ax.set_title("Accuracy over the same epochs")
        _mark_epochs(ax, grok, mark_epoch)
        _log_epochs(ax)
        ax.legend(loc="best", fontsize=9)
    axes[-1, 0].set_xlabel("epoch + 1 (log scale)")
    return fig


def plot_ipr_series(
    series, path, metrics=None, panels=None, threshold=GROK_THRESHOLD, mark_epoch=None
) -> Path:
    """Layer-mean IPR over training with the analytic value dashed (Gromov Fig. 6).

    Parameters
    ----------
    series : dict
        From :func:`compare.ipr_series`.
    path : str or os.PathLike
    metrics : list of dict, optional
        metrics.jsonl lines: train and test accuracy in a panel of their own below (sharing the
        epoch axis), and the grok epoch marked on both.
    panels : sequence of {"ipr", "accuracy"}, optional
        Default both (the accuracy panel needs ``metrics``).
    threshold : float
        Test accuracy of the grok epoch.
    mark_epoch : int, optional
        Also mark this epoch (the checkpoint a report is about).

    Returns
    -------
    pathlib.Path
    """
    path = _check_path(path)
    with _style():
        return _save(_ipr_series_figure(series, metrics, panels, threshold, mark_epoch), path)


def _phase_series_figure(series, grok, mark_epoch):
    _check_series(series, ("R", "share_agree"), "compare.phase_series")
    fig, axes = _figure(1, 1, size=(5.2, 3.9))
    ax = axes[0, 0]
    x = np.asarray(series["epoch"], dtype=float) + 1
    R = np.array([np.nan if v is None else v for v in series["R"]], dtype=float)
    share = np.array([np.nan if v is None else v for v in series["share_agree"]], dtype=float)
    ax.plot(x, R, "-", marker=".", label="R (phase alignment)")
    ax.plot(x, share, "--", marker=".", label="share of neurons with k1 = k2 = k3")
    ax.axhline(1.0, color="k", ls=(0, (5, 5)), lw=0.8, label="exact network: R = 1")
    _mark_epochs(ax, grok, mark_epoch)
    _log_epochs(ax)
    ax.set_ylim(-0.02, 1.12)
    ax.set_xlabel("epoch + 1 (log scale)")
    ax.set_ylabel("R, share (0..1)")
    ax.set_title("Phase alignment phi3 = phi1 + phi2 over training")
    ax.legend(loc="best", fontsize=9)
    return fig


def plot_phase_series(series, path, grok_epoch=None, mark_epoch=None) -> Path:
    """Mean resultant length R of the phase residual over training (Gromov Fig. 3, eq. 12).

    Parameters
    ----------
    series : dict
        From :func:`compare.phase_series` ("epoch", "R", "share_agree").
    path : str or os.PathLike
    grok_epoch : int, optional
        Marked with a dotted line.
    mark_epoch : int, optional
        Also mark this epoch (the checkpoint a report is about).

    Returns
    -------
    pathlib.Path
    """
    path = _check_path(path)
    with _style():
        return _save(_phase_series_figure(series, grok_epoch, mark_epoch), path)


def _frequency_series_figure(series, grok, mark_epoch):
    _check_series(series, ("frequencies", "share", "key_share"), "a frequency-share series")
    fig, axes = _figure(1, 1, size=(5.2, 3.9))
    ax = axes[0, 0]
    x = np.asarray(series["epoch"], dtype=float) + 1
    for i, k in enumerate(series["frequencies"]):
        ax.plot(x, series["share"][i], lw=1, marker=".", label=f"k = {k}")
    ax.plot(x, series["key_share"], color="k", lw=2, label="all of these")
    _mark_epochs(ax, grok, mark_epoch)
    _log_epochs(ax)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("epoch + 1 (log scale)")
    ax.set_ylabel("share of the energy (0..1)")
    what = series.get("what", "the weights")
    ax.set_title(f"Energy share of {what} at the final key frequencies")
    ax.legend(loc="best", fontsize=9, ncols=2)
    return fig


def plot_frequency_series(series, path, grok_epoch=None, mark_epoch=None) -> Path:
    """Share of a weight's energy at given frequencies over training (Nanda's progress measure).

    Parameters
    ----------
    series : dict
        ``epoch`` (list of int), ``frequencies`` (list of int), ``share`` (one list per
        frequency: norms[k]^2 / sum of norms^2 over k >= 0, :func:`compare.frequency_norms`),
        ``key_share`` (their sum per epoch), optional ``what`` (names the weight).
    path : str or os.PathLike
    grok_epoch, mark_epoch : int, optional
        Marked with vertical lines.

    Returns
    -------
    pathlib.Path
    """
    path = _check_path(path)
    with _style():
        return _save(_frequency_series_figure(series, grok_epoch, mark_epoch), path)


def _spectrum_heatmap_figure(W1, W2, task, title, panels):
    check_task(task)
    W1, W2 = check_mlp(W1, W2, task.p)
    panels = _check_panels(panels, ("n", "m", "out"))
    p = task.p
    blocks = {}
    for name, w in (("n", W1[:, :p]), ("m", W1[:, p:]), ("out", W2.T)):
        index = inner_index(task, name)
        blocks[name] = w if index is None else w[:, index]
    mags = {name: np.abs(np.fft.rfft(w, axis=1))[:, 1:] for name, w in blocks.items()}
    # one neuron order for every panel: by the n-block's frequency, then its strength
    order = np.lexsort((-mags["n"].max(axis=1), mags["n"].argmax(axis=1)))
    fig, axes = _figure(len(panels), 1, size=(4.8, 4.4))
    for ax, name in zip(axes[0], panels, strict=True):
        mag = mags[name]
        norm = mag.max(axis=1, keepdims=True)
        img = np.divide(mag, norm, out=np.zeros_like(mag), where=norm > 0)[order]
        K = img.shape[1]
        im = ax.imshow(
            img, aspect="auto", cmap="magma", interpolation="nearest",
            extent=(0.5, K + 0.5, len(img) - 0.5, -0.5),
        )  # fmt: skip
        fig.colorbar(im, ax=ax, shrink=0.85, label="|c_k| / max_k |c_k|")
        ax.set_xlabel("frequency k (cycles per period)")
        ax.set_ylabel("neuron (sorted by n-block freq.)")
        ax.set_title(f"{name}-block spectrum ({title}, {task.name} mod {p})")
    return fig


def plot_spectrum_heatmap(W1, W2, task, path, title: str = "trained", panels=None) -> Path:
    """Per-neuron Fourier magnitudes of the three blocks, neurons sorted by frequency.

    Parameters
    ----------
    W1 : array_like, shape (N, 2p)
    W2 : array_like, shape (p, N)
    task : closedform.Task
        Blocks reindexed to the inner domain where that is a bijection.
    path : str or os.PathLike
    title : str
        Names the network in the title.
    panels : sequence of {"n", "m", "out"}, optional
        Blocks to draw (default all three, side by side; every panel sorts the neurons alike).

    Returns
    -------
    pathlib.Path
    """
    path = _check_path(path)
    with _style():
        return _save(_spectrum_heatmap_figure(W1, W2, task, title, panels), path)


def _svd_tick_ranks(s, levels=(0.5, 0.9)) -> dict:
    """Smallest r with sum_{i<=r} s_i^2 / sum s^2 >= level, per level (the figure's ticks)."""
    s = np.asarray(s, dtype=float)
    cum = np.cumsum(s**2) / max(float((s**2).sum()), 1e-300)
    return {level: int(np.searchsorted(cum, level - 1e-12) + 1) for level in levels}


def _singular_values_figure(weights, low_rank):
    from matplotlib.ticker import MaxNLocator

    if not isinstance(weights, dict):
        raise TypeError(f"`weights` must be a dict of name -> matrix; got {type(weights).__name__}")
    mats = {k: as_real_array(k, v, (2,)) for k, v in weights.items() if np.ndim(v) == 2}
    if not mats:
        raise ValueError("`weights` must hold at least one 2-D matrix")
    fig, axes = _figure(len(mats), 1, size=(5.2, 3.9))
    for ax, (name, W) in zip(axes[0], mats.items(), strict=True):
        s = np.linalg.svd(W, compute_uv=False)
        idx = np.arange(1, len(s) + 1)
        ax.semilogy(idx, np.maximum(s, 1e-16), marker=".", lw=1)
        ticks = _svd_tick_ranks(s).items()
        for (level, r), color in zip(ticks, ("tab:orange", "tab:red"), strict=True):
            ax.axvline(r, color=color, ls=":", label=f"{int(level * 100)} % variance: r = {r}")
        if low_rank and name in low_rank and low_rank[name].get("rank") is not None:
            r = low_rank[name]["rank"]
            ax.axvline(r, color="k", ls="--", label=f"full accuracy: r = {r}")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("index i")
        ax.set_ylabel("singular value (log scale)")
        ax.set_title(f"{name} ({W.shape[0]} x {W.shape[1]}): singular values")
        ax.legend(fontsize=9)
    return fig


def plot_singular_values(weights: dict, path, low_rank: dict | None = None) -> Path:
    """Singular-value spectra of weight matrices with 50 %/90 % variance ticks (Rangamani Fig. 3,
    Syrkis Fig. 8).

    Parameters
    ----------
    weights : dict of str -> 2-D array
        One panel per matrix, in the dict's order.
    path : str or os.PathLike
    low_rank : dict, optional
        ``{name: compare.minimal_rank(...)}``: marks the smallest rank keeping full accuracy.

    Returns
    -------
    pathlib.Path
    """
    path = _check_path(path)
    with _style():
        return _save(_singular_values_figure(weights, low_rank), path)


def _ablation_figure(result, panels, key):
    if not isinstance(result, dict) or "single" not in result or "cumulative" not in result:
        raise ValueError("`result` must be the output of compare.frequency_ablation")
    panels = _check_panels(panels, ("single", "cumulative"))
    key = set() if key is None else {int(k) for k in key}
    fig, axes = _figure(len(panels), 1)
    base = 100 * result["baseline"]
    chance = 100 * result["chance"] if "chance" in result else None
    for ax, panel in zip(axes[0], panels, strict=True):
        if panel == "single":
            ks = np.array([r["frequency"] for r in result["single"]], dtype=int)
            acc = 100 * np.array([r["accuracy"] for r in result["single"]], dtype=float)
            is_key = np.array([k in key for k in ks], dtype=bool)
            ax.axhline(base, color="k", ls="--", lw=1, label=f"no ablation ({base:.1f} %)")
            ax.vlines(ks, base, acc, color="tab:gray", lw=1)
            if (~is_key).any():
                ax.plot(ks[~is_key], acc[~is_key], "o", color="tab:blue", ms=5, label="other k")
            if is_key.any():
                ax.plot(ks[is_key], acc[is_key], "o", color="tab:red", ms=6, label="key k")
            # the axis spans the data and the baseline: a change of 0.1 point stays visible
            lo = min(float(acc.min()) if len(acc) else base, base)
            hi = max(float(acc.max()) if len(acc) else base, base)
            pad = max(0.5, 0.12 * (hi - lo))
            if chance is not None and lo - pad <= chance:
                ax.axhline(chance, color="tab:red", ls=":", lw=1.2, label="chance (1/p)")
            ax.set_ylim(max(lo - pad, -2.0), min(hi + pad, 102.0))
            if not len(acc):
                title = "One frequency removed: none given"
            elif hi - lo < 0.05:
                title = f"One frequency removed: no change ({base:.1f} %)"
            else:
                title = f"One frequency removed: {acc.min():.1f} to {acc.max():.1f} %"
            ax.set_title(title)
            ax.set_xlabel("removed frequency k")
            ax.set_ylabel("accuracy (%), axis fitted to data")
            ax.legend(loc="best", fontsize=9)
        else:
            acc = [base] + [100 * r["accuracy"] for r in result["cumulative"]]
            j = np.arange(len(acc))
            ax.plot(j, acc, marker=".", label="accuracy")
            ax.axhline(base, color="k", ls="--", lw=1, label="no ablation")
            if chance is not None:
                ax.axhline(chance, color="tab:red", ls=":", lw=1.2, label="chance (1/p)")
            if key and len(key) < len(acc) - 1:
                label = f"all {len(key)} key frequencies removed"
                ax.axvline(len(key), color="tab:gray", ls="-.", lw=1, label=label)
            ax.set_ylim(-2, 102)
            below = [i for i, a in enumerate(acc) if chance is not None and a <= chance + 1e-9]
            total = len(acc) - 1
            if below:
                title = f"Removed cumulatively: chance after {below[0]} of {total}"
            else:
                title = f"Removed cumulatively: {total} frequencies"
            ax.set_title(title)
            ax.set_xlabel("frequencies removed (strongest first)")
            ax.set_ylabel("accuracy (%)")
            ax.legend(loc="best", fontsize=9)
    return fig


def plot_ablation(result: dict, path, panels=None, key=None) -> Path:
    """Accuracy after removing frequencies, alone and cumulatively (Rangamani Table I).

    Parameters
    ----------
    result : dict
        From :func:`compare.mlp_frequency_ablation` or :func:`compare.frequency_ablation`;
        pass every frequency (strongest first) so that the cumulative curve can reach chance.
    path : str or os.PathLike
    panels : sequence of {"single", "cumulative"}, optional
        "single": the accuracy drop (percentage points, axis fitted to the data) when one
        frequency is removed, per frequency k; "cumulative": the accuracy against the number of
        frequencies removed, with chance (1/p). Default both.
    key : sequence of int, optional
        Key frequencies, coloured in "single" and marked in "cumulative".

    Returns
    -------
    pathlib.Path
    """
    path = _check_path(path)
    with _style():
        return _save(_ablation_figure(result, panels, key), path)


def _twin_energy_figure(twin):
    if not isinstance(twin, dict) or not isinstance(twin.get("energy_per_frequency"), dict):
        raise ValueError("`twin` must be a scorecard's 'twin' with 'energy_per_frequency'")
    e = twin["energy_per_frequency"]
    try:
        ks = np.asarray(e["frequency"], dtype=int)
        net = np.asarray([np.nan if v is None else v for v in e["network"]], dtype=float)
        tw = np.asarray([np.nan if v is None else v for v in e["twin"]], dtype=float)
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(
            f"`twin['energy_per_frequency']` needs frequency, network, twin: {exc}"
        ) from None
    if not (len(ks) == len(net) == len(tw)) or not len(ks):
        raise ValueError("`twin['energy_per_frequency']` lists must be non-empty, equally long")

    def share(x):
        total = np.nansum(x)
        return x / total if total > 0 else x

    fig, axes = _figure(1, 1, size=(5.2, 3.9))
    ax = axes[0, 0]
    ax.bar(ks - 0.2, share(net), width=0.4, label="network")
    ax.bar(ks + 0.2, share(tw), width=0.4, label=f"twin ({twin.get('model') or 'analytic'})")
    ax.set_xlabel("frequency k (cycles per period)")
    ax.set_ylabel("share of the energy (0..1)")
    ax.set_ylim(0, 1.3 * max(float(np.nanmax(share(net))), float(np.nanmax(share(tw))), 1e-12))
    ax.set_title("Energy per frequency: network vs its analytic twin")
    ax.legend(loc="best")
    return fig


def plot_twin_energy(twin: dict, path) -> Path:
    """Energy per frequency of a network and of its analytic twin, side by side.

    Parameters
    ----------
    twin : dict
        A scorecard's ``"twin"`` entry with ``energy_per_frequency`` =
        ``{"frequency": [...], "network": [...], "twin": [...]}``; each is drawn as its share of
        its own total.
    path : str or os.PathLike

    Returns
    -------
    pathlib.Path
    """
    path = _check_path(path)
    with _style():
        return _save(_twin_energy_figure(twin), path)


def _spectrum_2d_figure(activations, task, name):
    a = as_real_array("activations", activations, (1, 2))
    if a.ndim == 1:
        a = a[:, None]
    spec = activation_spectrum_2d(a, task=task)  # (d, M, M)
    power = np.sqrt((spec**2).sum(axis=0))
    power[0, 0] = 0.0  # the mean dwarfs every wave
    M = power.shape[0]
    ks = np.arange(M) - M // 2
    fig, axes = _figure(1, 1, size=(5.6, 4.6))
    ax = axes[0, 0]
    im = ax.imshow(
        np.fft.fftshift(power), origin="lower", cmap="viridis",
        extent=(ks[0] - 0.5, ks[-1] + 0.5, ks[0] - 0.5, ks[-1] + 0.5),
    )  # fmt: skip
    fig.colorbar(im, ax=ax, shrink=0.9, label="|2-D DFT|, root-sum-square\nover channels (a.u.)")
    ax.set_xlabel("frequency k_m (cycles per period)")
    ax.set_ylabel("frequency k_n (cycles per period)")
    ax.set_title(f"2-D Fourier spectrum of {name}")
    return fig


def plot_spectrum_2d(activations, path, task=None, name: str = "hidden activations") -> Path:
    """2-D Fourier spectrum over (n, m) of activations, combined over channels (Rangamani Fig. 2).

    Parameters
    ----------
    activations : array_like, shape (p*p, d) or (p*p,)
        One row per pair, row = n * p + m (e.g. the MLP's act(h), an RNN's h3).
    path : str or os.PathLike
    task : closedform.Task, optional
        Reindex n and m to the inner variables first (discrete logs for mul/div).
    name : str
        What the activations are, for the title.

    Returns
    -------
    pathlib.Path

    Notes
    -----
    Drawn is the root-sum-square over channels, sqrt(sum_c |fft2(a_c)|^2), with the constant
    term removed and frequencies centred; the Fourier multiplication algorithm shows as peaks
    at (k, k) and (k, -k) for its key frequencies k, plus (k, 0) and (0, k).
    """
    path = _check_path(path)
    with _style():
        return _save(_spectrum_2d_figure(activations, task, name), path)


# columns of a sweep's results that are not swept fields
_SWEEP_RESULT_COLUMNS = {
    "trial",
    "point",
    "seed",
    "epochs_to_grok",
    "epochs",
    "stopped",
    "final_train_acc",
    "final_test_acc",
    "final_test_loss",
    "seconds",
    "batched",
    "run_dir",
    "score",
}


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def plot_sweep(
    rows, x: str | None = None, y: str = "epochs_to_grok", by: str | None = None, out=None,
    default_dir=".",
) -> Path:  # fmt: skip
    """A swept field against a sweep's result: one line per value of a categorical field, the
    mean over seeds with their min-max spread (Gromov Fig. 4a-b when ``x`` is α or the width).

    Parameters
    ----------
    rows : list of dict
        A sweep's result rows (``results.json``): the swept fields, ``seed`` and the result
        columns (``epochs_to_grok``, ``final_test_acc``, ...).
    x : str, optional
        Swept field on the x axis (default: the first numeric one).
    y : str
        Result column (default ``epochs_to_grok``; runs that never reached the threshold are
        drawn as crosses above the data).
    by : str, optional
        Categorical field, one line per value (default: the first categorical one).
    out : str or os.PathLike, optional
        PNG to write; default ``sweep_<y>_vs_<x>.png`` in ``default_dir``.

    Returns
    -------
    Path
    """
    if not isinstance(rows, list) or not rows or not all(isinstance(r, dict) for r in rows):
        raise ValueError("`rows` must be a non-empty list of result rows (dicts)")
    swept = [k for k in rows[0] if k not in _SWEEP_RESULT_COLUMNS]
    if y not in rows[0]:
        raise ValueError(f"`y` must be a result column such as epochs_to_grok; got {y!r}")
    numeric = [k for k in swept if all(_is_number(r.get(k)) for r in rows)]
    categorical = [k for k in swept if k not in numeric]
    if x is None:
        if not numeric:
            raise ValueError("no numeric swept field to put on the x axis; pass `x`")
        x = numeric[0]
    if x not in swept:
        raise ValueError(f"`x` must be a swept field {swept}; got {x!r}")
    if by is None and categorical:
        by = categorical[0]
    if by is not None and by not in swept:
        raise ValueError(f"`by` must be a swept field {swept}; got {by!r}")
    groups: dict = {}
    for r in rows:
        groups.setdefault(r.get(by) if by else "all", {}).setdefault(r[x], []).append(r[y])
    fig, axes = _figure(size=(6.4, 4.2))
    ax = axes[0, 0]
    never_points = []
    for label, series in sorted(groups.items(), key=lambda kv: str(kv[0])):
        xs = sorted(series)
        vals = [[v for v in series[k] if v is not None] for k in xs]
        mean = [np.mean(v) if v else np.nan for v in vals]
        lo = [min(v) if v else np.nan for v in vals]
        hi = [max(v) if v else np.nan for v in vals]
        line = ax.plot(xs, mean, marker="o", label=f"{by} = {label}" if by else "mean")[0]
        ax.fill_between(xs, lo, hi, color=line.get_color(), alpha=0.2)
        never = [k for k, v in zip(xs, vals, strict=True) if not v]
        if never:
            never_points.append((label, never, line.get_color()))
    if never_points:  # one row above the data: no seed reached the threshold there
        top = ax.get_ylim()[1]
        for i, (label, never, color) in enumerate(never_points):
            ax.scatter(
                never,
                [top * (1.0 + 0.04 * i)] * len(never),
                marker="x",
                color=color,
                label=f"{label}: no seed reached {y.replace('_', ' ')}",
            )
    n_seeds = len({r.get("seed") for r in rows})
    ax.set_xlabel(x)
    ax.set_ylabel(y.replace("_", " ") + (" (epochs)" if "epochs" in y else ""))
    ax.set_title(f"{y.replace('_', ' ')} vs {x}: mean and min-max over {n_seeds} seed(s)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=9)
    out = Path(out) if out else Path(default_dir) / f"sweep_{y}_vs_{x}.png"
    return _save(fig, out)
