"""The papers' figures, drawn with matplotlib's object API on an Agg canvas (no pyplot state).

matplotlib is imported inside each function so that ``import compare`` stays light. Every
figure has axis labels with units, a title that says what it shows, and a colour bar wherever
colour carries a value.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ._compat import check_task, inner_index
from ._phases import PhaseResidual
from ._spectra import spectrum_2d
from ._validate import as_real_array, check_mlp

__all__ = [
    "plot_training_curves",
    "plot_preactivations",
    "plot_phase_histogram",
    "plot_ipr_series",
    "plot_spectrum_heatmap",
    "plot_spectrum_2d",
    "plot_singular_values",
    "plot_ablation",
    "plot_sweep",
]


def _figure(ncols: int = 1, nrows: int = 1, size=(6.0, 4.0)):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(size[0] * ncols, size[1] * nrows), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, ncols, squeeze=False)
    return fig, axes


def _save(fig, path) -> Path:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"`path` must be a file path; got {type(path).__name__}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100, format="png")
    return path


def plot_training_curves(metrics, path, loss_name: str = "training loss") -> Path:
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

    Returns
    -------
    pathlib.Path
    """
    if not isinstance(metrics, (list, tuple)) or not metrics:
        raise ValueError("`metrics` must be a non-empty list of dicts (metrics.jsonl lines)")
    if not all(isinstance(m, dict) and "epoch" in m for m in metrics):
        raise ValueError("every entry of `metrics` must be a dict with an 'epoch'")
    epoch = np.array([m["epoch"] for m in metrics], dtype=float)
    x = epoch + 1  # log axis: epoch 0 drawn at 1
    fig, axes = _figure(3, 1, size=(4.6, 3.6))
    ax_loss, ax_acc, ax_norm = axes[0]

    def series(key):
        return np.array([m.get(key, np.nan) for m in metrics], dtype=float)

    for key, label in (("train_loss", "train"), ("test_loss", "test")):
        y = series(key)
        if np.isfinite(y).any():
            ax_loss.plot(x, y, label=label)
    ax_loss.set_yscale("log")
    ax_loss.set_title(f"Loss: {loss_name}")
    ax_loss.set_ylabel("loss (log scale)")
    for key, label in (("train_acc", "train"), ("test_acc", "test")):
        y = series(key)
        if np.isfinite(y).any():
            ax_acc.plot(x, 100 * y, label=label)
    ax_acc.set_ylim(-2, 102)
    ax_acc.set_title("Accuracy (grokking: test rises late)")
    ax_acc.set_ylabel("accuracy (%)")
    norm_keys = sorted({k for m in metrics for k in m if k.startswith("norm_")})
    for key in norm_keys:
        ax_norm.plot(x, series(key), label=key[len("norm_") :])
    ax_norm.set_title("Weight norms")
    ax_norm.set_ylabel("Frobenius norm")
    for ax in axes[0]:
        ax.set_xscale("log")
        ax.set_xlabel("epoch + 1 (log scale)")
        if ax.get_legend_handles_labels()[0]:
            ax.legend(loc="best", fontsize=8)
    return _save(fig, path)


def plot_preactivations(W1, task, path, neurons=None) -> Path:
    """Preactivations h_i(n, m) of a few neurons and their 2-D Fourier images (Gromov Fig. 2).

    Parameters
    ----------
    W1 : array_like, shape (N, 2p)
    task : closedform.Task
        n and m are drawn in the inner domain (discrete logs for mul/div) when it exists.
    path : str or os.PathLike
    neurons : sequence of int, optional
        Default: the three neurons of largest norm.
    """
    check_task(task)
    W1 = as_real_array("W1", W1, (2,))
    p = task.p
    if W1.shape[1] != 2 * p:
        raise ValueError(f"`W1` must have shape (N, 2p) with p = {p}; got {W1.shape}")
    if neurons is None:
        neurons = np.argsort(-np.linalg.norm(W1, axis=1))[: min(3, len(W1))]
    neurons = [int(i) for i in neurons]
    if not neurons or any(not 0 <= i < len(W1) for i in neurons):
        raise ValueError(f"`neurons` must be indices in 0..{len(W1) - 1}; got {neurons}")
    i_n, i_m = inner_index(task, "n"), inner_index(task, "m")
    inner = i_n is not None and i_m is not None
    fig, axes = _figure(len(neurons), 2, size=(3.6, 3.2))
    for col, i in enumerate(neurons):
        h = W1[i, :p][:, None] + W1[i, p:][None, :]  # (p, p) over (n, m)
        if inner:
            h = h[i_n][:, i_m]
        ax = axes[0, col]
        im = ax.imshow(h, origin="lower", cmap="RdBu_r", aspect="equal")
        fig.colorbar(im, ax=ax, shrink=0.8, label="preactivation (a.u.)")
        lab = ("log n", "log m") if inner and task.in_log_domain else ("n", "m")
        ax.set_xlabel(f"{lab[1]} (token index)")
        ax.set_ylabel(f"{lab[0]} (token index)")
        ax.set_title(f"neuron {i}: h(n, m)")
        spec = np.fft.fftshift(spectrum_2d(h))
        M = h.shape[0]
        ks = np.arange(M) - M // 2
        ax = axes[1, col]
        im = ax.imshow(
            spec,
            origin="lower",
            cmap="viridis",
            extent=(ks[0] - 0.5, ks[-1] + 0.5, ks[0] - 0.5, ks[-1] + 0.5),
        )
        fig.colorbar(im, ax=ax, shrink=0.8, label="|2-D DFT|")
        ax.set_xlabel("frequency k_m (cycles / period)")
        ax.set_ylabel("frequency k_n (cycles / period)")
        ax.set_title(f"neuron {i}: Fourier image")
    fig.suptitle(f"Preactivations and their Fourier images ({task.name} mod {p})")
    return _save(fig, path)


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

    Examples
    --------
    >>> import tempfile
    >>> rng = np.random.default_rng(0)
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     png = plot_phase_histogram(rng.vonmises(0.0, 4.0, 200), tmp + "/phases.png")
    ...     png.read_bytes()[:4]
    b'\x89PNG'
    """

    def angles(obj, name):
        if isinstance(obj, PhaseResidual):
            return obj.delta
        return as_real_array(name, obj, (1,))

    delta = angles(residual, "residual")
    fig, axes = _figure(1, 1, size=(6.4, 4.2))
    ax = axes[0, 0]
    bins = np.linspace(-np.pi, np.pi, 38)  # 37 bins: 0 sits at a bin centre

    def share(x):
        return np.full(len(x), 1.0 / max(len(x), 1))

    ax.hist(
        delta, bins=bins, weights=share(delta), color="tab:blue", alpha=0.75,
        label=f"{label} (n = {len(delta)})",
    )  # fmt: skip
    if reference is not None:
        ref = angles(reference, "reference")
        ax.hist(
            ref, bins=bins, weights=share(ref), histtype="step", color="k", lw=1.5,
            label=f"theory (n = {len(ref)})",
        )  # fmt: skip
    ax.axvline(0.0, color="k", ls="--", lw=1, label="theory: delta = 0")
    if len(delta):
        z = np.exp(1j * delta).mean()
        ax.text(
            0.02,
            0.95,
            f"R = {abs(z):.3f}\ncircular mean = {np.angle(z):+.3f} rad",
            transform=ax.transAxes,
            va="top",
            fontsize=9,
        )
    ax.set_xlim(-np.pi, np.pi)
    ax.set_xlabel("phase residual phi1 + phi2 - phi3 (rad, wrapped to (-pi, pi])")
    ax.set_ylabel("share of neurons (fraction per bin)")
    ax.set_title("Phase residual per neuron (theory: all at 0)")
    ax.legend(loc="upper right", fontsize=8)
    return _save(fig, path)


def plot_ipr_series(series, path, metrics=None) -> Path:
    """Layer-mean IPR over training with the analytic value dashed (Gromov Fig. 6).

    Parameters
    ----------
    series : dict
        From :func:`compare.ipr_series`.
    path : str or os.PathLike
    metrics : list of dict, optional
        metrics.jsonl lines; test accuracy is drawn on a second axis.
    """
    if not isinstance(series, dict) or "epoch" not in series or not series["epoch"]:
        raise ValueError("`series` must be compare.ipr_series output with at least one epoch")
    fig, axes = _figure(1, 1, size=(6.8, 4.2))
    ax = axes[0, 0]
    x = np.asarray(series["epoch"], dtype=float) + 1
    for key, style in (("n", ":"), ("m", ":"), ("out", "-."), ("all", "-")):
        ax.plot(x, np.asarray(series[key], dtype=float), style, marker=".", label=f"IPR_2 {key}")
    ref = series.get("reference", {}).get("all")
    if ref is not None:
        ax.axhline(ref, color="k", ls="--", lw=1, label="exact solution")
    ax.set_xscale("log")
    ax.set_xlabel("epoch + 1 (log scale)")
    ax.set_ylabel("mean IPR_2 over neurons (1 = one frequency)")
    ax.set_title("Inverse participation ratio over training")
    if metrics:
        ax2 = ax.twinx()
        ep = np.array([m["epoch"] for m in metrics], dtype=float) + 1
        acc = np.array([m.get("test_acc", np.nan) for m in metrics], dtype=float)
        ax2.plot(ep, 100 * acc, color="tab:gray", alpha=0.6, label="test accuracy")
        ax2.set_ylabel("test accuracy (%)")
        ax2.set_ylim(-2, 102)
        ax2.legend(loc="lower right", fontsize=8)
    ax.legend(loc="upper left", fontsize=8)
    return _save(fig, path)


def plot_spectrum_heatmap(W1, W2, task, path, title: str = "trained") -> Path:
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
    """
    check_task(task)
    W1, W2 = check_mlp(W1, W2, task.p)
    p = task.p
    blocks = []
    for name, w in (("n", W1[:, :p]), ("m", W1[:, p:]), ("out", W2.T)):
        index = inner_index(task, name)
        blocks.append((name, w if index is None else w[:, index]))
    mags = [np.abs(np.fft.rfft(w, axis=1))[:, 1:] for _, w in blocks]
    order = np.lexsort((-mags[0].max(axis=1), mags[0].argmax(axis=1)))
    fig, axes = _figure(3, 1, size=(4.2, 4.4))
    for ax, (name, _), mag in zip(axes[0], blocks, mags, strict=True):
        norm = mag.max(axis=1, keepdims=True)
        img = np.divide(mag, norm, out=np.zeros_like(mag), where=norm > 0)[order]
        K = img.shape[1]
        im = ax.imshow(
            img, aspect="auto", cmap="magma", interpolation="nearest",
            extent=(0.5, K + 0.5, len(img) - 0.5, -0.5),
        )  # fmt: skip
        fig.colorbar(im, ax=ax, shrink=0.85, label="|c_k| / max_k |c_k|")
        ax.set_xlabel("frequency k (cycles per period)")
        ax.set_ylabel("neuron (sorted by frequency)")
        ax.set_title(f"{name}-block spectrum")
    fig.suptitle(f"Fourier spectrum of every neuron ({title}, {task.name} mod {p})")
    return _save(fig, path)


def plot_singular_values(weights: dict, path, low_rank: dict | None = None) -> Path:
    """Singular-value spectra of weight matrices with 50 %/90 % variance ticks (Rangamani Fig. 3,
    Syrkis Fig. 8).

    Parameters
    ----------
    weights : dict of str -> 2-D array
    path : str or os.PathLike
    low_rank : dict, optional
        ``{name: compare.minimal_rank(...)}``: marks the smallest rank keeping full accuracy.
    """
    mats = {k: as_real_array(k, v, (2,)) for k, v in weights.items() if np.ndim(v) == 2}
    if not mats:
        raise ValueError("`weights` must hold at least one 2-D matrix")
    fig, axes = _figure(len(mats), 1, size=(4.4, 3.6))
    for ax, (name, W) in zip(axes[0], mats.items(), strict=True):
        s = np.linalg.svd(W, compute_uv=False)
        idx = np.arange(1, len(s) + 1)
        ax.semilogy(idx, np.maximum(s, 1e-16), marker=".", lw=1)
        cum = np.cumsum(s**2) / max((s**2).sum(), 1e-300)
        for level, color in ((0.5, "tab:orange"), (0.9, "tab:red")):
            r = int(np.searchsorted(cum, level - 1e-12) + 1)
            ax.axvline(r, color=color, ls=":", label=f"{int(level * 100)} % variance: r = {r}")
        if low_rank and name in low_rank:
            r = low_rank[name]["rank"]
            ax.axvline(r, color="k", ls="--", label=f"full accuracy: r = {r}")
        ax.set_xlabel("index i")
        ax.set_ylabel("singular value sigma_i (log scale)")
        ax.set_title(f"{name} {W.shape[0]}x{W.shape[1]}: singular values")
        ax.legend(fontsize=7)
    return _save(fig, path)


def plot_ablation(result: dict, path) -> Path:
    """Accuracy after removing frequencies, alone and cumulatively (Rangamani Table I).

    Parameters
    ----------
    result : dict
        From :func:`compare.mlp_frequency_ablation` or :func:`compare.frequency_ablation`.
    path : str or os.PathLike
    """
    if not isinstance(result, dict) or "single" not in result or "cumulative" not in result:
        raise ValueError("`result` must be the output of compare.frequency_ablation")
    fig, axes = _figure(2, 1, size=(5.0, 3.8))
    single, cum = result["single"], result["cumulative"]
    ax = axes[0, 0]
    ax.bar([str(r["frequency"]) for r in single], [100 * r["accuracy"] for r in single])
    ax.set_title("Accuracy with one frequency removed")
    ax.set_xlabel("removed frequency k")
    ax2 = axes[0, 1]
    ax2.bar([f"+{r['removed'][-1]}" for r in cum], [100 * r["accuracy"] for r in cum])
    ax2.set_title("Accuracy with frequencies removed cumulatively")
    ax2.set_xlabel("frequencies removed so far (left to right)")
    for a in (ax, ax2):
        a.axhline(100 * result["baseline"], color="k", ls="--", lw=1, label="no ablation")
        if "chance" in result:
            a.axhline(100 * result["chance"], color="tab:red", ls=":", lw=1, label="chance (1/p)")
        a.set_ylabel("accuracy (%)")
        a.set_ylim(0, 105)
        a.tick_params(axis="x", labelrotation=60, labelsize=7)
        a.legend(fontsize=8, loc="lower left")
    return _save(fig, path)


def plot_spectrum_2d(activations, path, task=None, name: str = "hidden activations") -> Path:
    """2-D Fourier spectrum over (n, m) of activations, summed over channels (Rangamani Fig. 2).

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
    Drawn is sqrt(sum over channels |fft2|^2) with the constant term removed, frequencies
    centred; the Fourier multiplication algorithm shows as peaks at (k, k) and (k, -k) for its
    key frequencies k, plus (k, 0) and (0, k).
    """
    a = as_real_array("activations", activations, (1, 2))
    if a.ndim == 1:
        a = a[:, None]
    spec = spectrum_2d(a, task=task)  # (d, M, M)
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
    fig.colorbar(im, ax=ax, shrink=0.85, label="|2-D DFT|, summed over channels (a.u.)")
    ax.set_xlabel("frequency k_m (cycles per period)")
    ax.set_ylabel("frequency k_n (cycles per period)")
    ax.set_title(f"2-D Fourier spectrum of {name} over (n, m)")
    return _save(fig, path)


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
    ax.legend(fontsize=8)
    out = Path(out) if out else Path(default_dir) / f"sweep_{y}_vs_{x}.png"
    return _save(fig, out)
