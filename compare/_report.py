"""Reports: the scorecard as a theory-vs-trained table, the figures, Markdown and HTML pages."""

from __future__ import annotations

import base64
import html
import json
import os
from pathlib import Path

import numpy as np

from closedform import rundir
from closedform.rundir import atomic_write_bytes

from ._ablation import mlp_frequency_ablation
from ._compat import activation_fn
from ._figures import (
    plot_ablation,
    plot_ipr_series,
    plot_phase_histogram,
    plot_preactivations,
    plot_singular_values,
    plot_spectrum_2d,
    plot_spectrum_heatmap,
    plot_training_curves,
)
from ._phases import neuron_phases, phase_residual
from ._score import _read_dir, ipr_series, jsonable, score

__all__ = ["write_report", "scorecard_rows"]


def _fmt(v, digits=4) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if v != 0 and (abs(v) < 1e-3 or abs(v) >= 1e5):
            return f"{v:.2e}"
        return f"{v:.{digits}f}"
    if isinstance(v, (list, tuple)):
        text = ", ".join(str(x) for x in v[:12])
        return text + (", ..." if len(v) > 12 else "")
    return str(v)


def _get(card: dict | None, *keys):
    cur = card
    for k in keys:
        if not isinstance(cur, dict) or k not in cur:
            return None
        cur = cur[k]
    return cur


def scorecard_rows(card: dict, theory: dict | None = None) -> list[tuple[str, str, str, str]]:
    """(measure, theory, trained, reference) rows of the report table.

    Parameters
    ----------
    card : dict
        A :func:`compare.score` scorecard.
    theory : dict, optional
        The scorecard of the analytic network; default ``card["theory"]``.

    Returns
    -------
    list of tuple of str
    """
    if theory is None:
        theory = card.get("theory")
    spec = [
        ("accuracy (all pairs)", ("accuracy",), "Gromov eq. 1-2"),
        ("idealized accuracy (neurons -> cosine fits)", ("idealized_accuracy",), "docs/conventions.md"),
        ("key frequencies (MLP: readout; else W_E)", ("frequencies", "key"), "Rangamani Fig. 2"),
        ("number of key frequencies", ("frequencies", "n_key"), "Rangamani Fig. 2"),
        ("mean IPR_2, n-block", ("ipr", "n"), "Gromov eq. 28-29"),
        ("mean IPR_2, m-block", ("ipr", "m"), "Gromov eq. 28-29"),
        ("mean IPR_2, readout", ("ipr", "out"), "Gromov eq. 28-29"),
        ("mean IPR_2, all blocks", ("ipr", "all"), "Gromov Fig. 6"),
        ("phase residual R", ("phase", "R"), "Gromov Fig. 3"),
        ("phase residual circular mean (rad)", ("phase", "circular_mean"), "Gromov Fig. 3"),
        ("Rayleigh p-value", ("phase", "rayleigh_p"), "Gromov Fig. 3"),
        ("share of neurons whose blocks agree on k", ("phase", "share_agree"), "Gromov Fig. 3"),
        ("median fit error, n-block", ("fit_error", "n"), "docs/conventions.md"),
        ("median fit error, m-block", ("fit_error", "m"), "docs/conventions.md"),
        ("median fit error, readout", ("fit_error", "out"), "docs/conventions.md"),
        ("energy-weighted fit error, all blocks", ("fit_error", "energy_weighted"), "docs/conventions.md"),
        ("minimal rank W1 (full accuracy)", ("low_rank", "W1", "rank"), "Rangamani Fig. 3"),
        ("energy share at that rank, W1", ("low_rank", "W1", "energy_share"), "Rangamani Fig. 3"),
        ("accuracy of W1's complement", ("low_rank", "W1", "accuracy_complement"), "Rangamani"),
        ("minimal rank W2 (full accuracy)", ("low_rank", "W2", "rank"), "Rangamani Fig. 3"),
        ("energy share at that rank, W2", ("low_rank", "W2", "energy_share"), "Rangamani Fig. 3"),
        ("accuracy of W2's complement", ("low_rank", "W2", "accuracy_complement"), "Rangamani"),
        ("width N", ("meta", "width"), ""),
    ]
    rows = []
    for label, keys, ref in spec:
        trained_v = _get(card, *keys)
        if keys == ("frequencies", "key"):  # energy order in the card; ascending to read
            trained_v = sorted(trained_v) if trained_v is not None else None
        theory_v = _get(theory, *keys)
        if keys == ("frequencies", "key") and theory_v is not None:
            theory_v = sorted(theory_v)
        if keys[0] == "meta" and theory_v is None:
            theory_v = _get(theory, "width")
        if trained_v is None and theory_v is None:
            continue
        rows.append((label, _fmt(theory_v), _fmt(trained_v), ref))
    if _get(card, "phase", "not_applicable"):
        rows.append(("phases", "n/a", card["phase"]["not_applicable"], "Gromov Fig. 3"))
    for key in ("positional_correlation",):
        if key in card:
            rows.append((key.replace("_", " "), "n/a", _fmt(card[key]), "Syrkis Fig. 7"))
    if _get(card, "hidden_state_fit", "median_relative_error") is not None:
        v = card["hidden_state_fit"]["median_relative_error"]
        rows.append(("hidden-state fit, median relative error", "0", _fmt(v), "Rangamani Table II"))
    if _get(card, "active_frequencies_W_E", "frequencies") is not None:
        v = card["active_frequencies_W_E"]["frequencies"]
        rows.append(("W_E active frequencies (vs shuffled)", "n/a", _fmt(sorted(v)), "Syrkis"))
    if "svd_ticks_W_E" in card:
        rows.append(("W_E SVD ticks 50 %/90 %", "n/a", _fmt(card["svd_ticks_W_E"]), "Syrkis"))
    return rows


def _markdown(title: str, rows, figures: list[tuple[str, str]], card: dict) -> str:
    lines = [f"# {title}", ""]
    meta = card.get("meta", {})
    lines.append(
        f"Task **{meta.get('task', {}).get('name')}** mod p = {meta.get('p')}, model "
        f"{meta.get('model')} ({meta.get('source') or 'unknown source'}). The theory column is the "
        "exact analytic network (docs/conventions.md); see docs/compare.md for each measure."
    )
    lines += ["", "| measure | theory (analytic) | this network | reference |", "|---|---|---|---|"]
    for label, theory, trained, ref in rows:
        lines.append(f"| {label} | {theory} | {trained} | {ref} |")
    lines.append("")
    for caption, name in figures:
        lines += [f"## {caption}", "", f"![{caption}]({name})", ""]
    lines += ["Scorecard (JSON): scorecard.json", ""]
    return "\n".join(lines)


def _html(title: str, rows, figures, out: Path, card: dict) -> str:
    esc = html.escape
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{esc(title)}</title>",
        "<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}"
        "table{border-collapse:collapse}td,th{border:1px solid #bbb;padding:3px 8px}"
        "th{background:#eee}img{max-width:100%}</style></head><body>",
        f"<h1>{esc(title)}</h1>",
        "<table><tr><th>measure</th><th>theory (analytic)</th><th>this network</th>"
        "<th>reference</th></tr>",
    ]
    for row in rows:
        parts.append("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>")
    parts.append("</table>")
    for caption, name in figures:
        data = base64.b64encode((out / name).read_bytes()).decode("ascii")
        parts.append(f"<h2>{esc(caption)}</h2>")
        parts.append(f'<img alt="{esc(caption)}" src="data:image/png;base64,{data}">')
    parts.append("<h2>Scorecard</h2><pre>")
    parts.append(esc(json.dumps(card, indent=1)))
    parts.append("</pre></body></html>")
    return "\n".join(parts)


def _sequence_hidden(model_dir) -> dict:
    """Hidden states of an RNN (h2, h3) or transformer (mlp_post) through ``trained`` (lazy)."""
    import trained

    hidden = trained.load_model(model_dir).hidden()
    keep = [k for k in ("h2", "h3", "mlp_post") if k in hidden]
    return {k: np.asarray(hidden[k], dtype=np.float64) for k in keep}


def write_report(model_dir, out_dir=None, reference_dir=None, low_rank: bool = True) -> Path:
    """Write a self-contained report of a model directory: Markdown, PNGs and one HTML page.

    Parameters
    ----------
    model_dir : str or os.PathLike
        A run directory (config.json, weights.safetensors, optionally metrics.jsonl and
        checkpoints/).
    out_dir : str or os.PathLike, optional
        Where to write (default ``<model_dir>/report``).
    reference_dir : str or os.PathLike, optional
        A model directory of the analytic network to put in the theory column; default the
        exact analytic network on the scored network's key frequencies (``score``'s "theory").
    low_rank : bool
        Include the minimal-rank search.

    Returns
    -------
    pathlib.Path
        The report directory, holding report.md, report.html (images embedded as base64),
        scorecard.json and the PNG figures.
    """
    for name, value in (("model_dir", model_dir), ("out_dir", out_dir), ("ref", reference_dir)):
        if value is not None and not isinstance(value, (str, os.PathLike)):
            raise TypeError(f"`{name}` must be a path; got {type(value).__name__}")
    model_dir = Path(model_dir)
    out = Path(out_dir) if out_dir is not None else model_dir / "report"
    out.mkdir(parents=True, exist_ok=True)
    d, task = _read_dir(model_dir)
    config, weights = d.config, d.weights
    card = score(model_dir, low_rank=low_rank, reference=reference_dir is None)
    theory = card.get("theory")
    ref_weights = None
    if reference_dir is not None:
        theory = score(reference_dir, low_rank=low_rank, reference=False)
        ref_weights = _read_dir(reference_dir)[0].weights
        card["theory"] = theory
    metrics = rundir.read_metrics(model_dir)
    figures: list[tuple[str, str]] = []

    def add(caption, filename, fn, *args, **kwargs):
        fn(*args, out / filename, **kwargs)
        figures.append((caption, filename))

    if metrics:
        loss = {"mse": "MSE on one-hot targets", "cross_entropy": "cross-entropy"}.get(
            config.get("hyper", {}).get("loss"), "training loss"
        )
        add("Loss, accuracy and weight norms (Gromov Fig. 1)", "curves.png",
            plot_training_curves, metrics, loss_name=loss)  # fmt: skip
    if config.get("model") == "mlp":
        W1, W2 = weights["W1"], weights["W2"]
        add("Preactivations and their Fourier images (Gromov Fig. 2)", "preactivations.png",
            plot_preactivations, W1, task)  # fmt: skip
        if "not_applicable" not in card.get("phase", {}):
            try:
                res = phase_residual(neuron_phases(W1, W2, task))
                ref_res = None
                if ref_weights is not None:
                    ref_res = phase_residual(
                        neuron_phases(ref_weights["W1"], ref_weights["W2"], task)
                    )
                add("Phase residual histogram (Gromov Fig. 3)", "phase_residual.png",
                    plot_phase_histogram, res, reference=ref_res)  # fmt: skip
            except ValueError:
                pass
        if rundir.list_checkpoints(model_dir):
            add("IPR over training (Gromov Fig. 6)", "ipr_series.png",
                plot_ipr_series, ipr_series(model_dir), metrics=metrics or None)  # fmt: skip
        label = config.get("source") or "network"
        add("Fourier spectrum of every neuron", "spectra.png",
            plot_spectrum_heatmap, W1, W2, task, title=label)  # fmt: skip
        n_idx, m_idx = np.divmod(np.arange(task.p * task.p), task.p)
        act = activation_fn(config.get("activation", "quadratic"))
        hidden = act(W1[:, n_idx] + W1[:, task.p + m_idx]).T  # (p*p, N)
        add("2-D Fourier spectrum of the hidden layer (Rangamani Fig. 2)", "spectrum_2d.png",
            plot_spectrum_2d, hidden, task=task, name="the hidden activations")  # fmt: skip
        add("Singular values (Rangamani Fig. 3, Syrkis Fig. 8)", "singular_values.png",
            plot_singular_values, {"W1": W1, "W2": W2}, low_rank=card.get("low_rank"))  # fmt: skip
        key = card["frequencies"]["key"][:12]
        if key:
            abl = mlp_frequency_ablation(
                W1, W2, task, key, config.get("activation", "quadratic"), config.get("output_scale")
            )
            card["ablation"] = abl
            add("Frequency ablations (Rangamani Table I)", "ablation.png", plot_ablation, abl)
    else:
        hidden = _sequence_hidden(model_dir)
        for key, value in hidden.items():
            add(f"2-D Fourier spectrum of {key} (Rangamani Fig. 2)", f"spectrum_2d_{key}.png",
                plot_spectrum_2d, value.reshape(task.p * task.p, -1), task=task,
                name=key)  # fmt: skip
        mats = {k: v for k, v in weights.items() if np.ndim(v) == 2}
        if mats:
            add("Singular values (Rangamani Fig. 3, Syrkis Fig. 8)", "singular_values.png",
                plot_singular_values, mats)  # fmt: skip
    name = task.name
    title = f"modfourier report: {config.get('model')} on {name} mod {task.p}"
    card = jsonable(card)
    rows = scorecard_rows(card, theory)
    atomic_write_bytes(out / "scorecard.json", json.dumps(card, indent=1).encode())
    atomic_write_bytes(out / "report.md", _markdown(title, rows, figures, card).encode())
    atomic_write_bytes(out / "report.html", _html(title, rows, figures, out, card).encode())
    for name in ("scorecard.json", "report.md", "report.html"):
        os.chmod(out / name, 0o644)  # atomic writes go through 0600 temp files; reports are shared
    return out
