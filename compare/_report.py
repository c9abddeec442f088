"""Reports: a run's header and verdict, the scorecard as a theory-vs-network table, the figures
with what the theory predicts in each, as one self-contained HTML page and a Markdown twin.

The page is built for reading on any screen (400 to 1400 pixels wide): a viewport meta tag, one
figure panel per image in a wrapping grid, 200 dpi PNGs embedded as data URIs, click to zoom
through a CSS ``:target`` lightbox (no script, no external resource). A report is built in a
temporary directory beside its target and renamed into place at the end, so a failure leaves
nothing behind and a reader never sees half a report.
"""

from __future__ import annotations

import base64
import datetime
import html
import json
import os
import re
import shlex
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from closedform import rundir

__all__ = ["write_report", "scorecard_rows"]

# files a report directory holds; anything else there means it is not a report directory
_REPORT_FILE = re.compile(r"^(report\.md|report\.html|scorecard(_\d+)?\.json|[\w.-]+\.png)$")

_NETWORK = {
    "mlp": ("MLP", "two-layer MLP", "Gromov 2023 eq. 1-2"),
    "rnn": ("RNN", "tanh RNN", "Rangamani et al. 2025 Sec. II"),
    "transformer": ("transformer", "one-layer transformer", "Nanda et al. 2023"),
}

_TASK_FORMULA = {
    "add": "(n + m) mod p",
    "sub": "(n - m) mod p",
    "affine": "(A n + B m + C) mod p",
    "square_sum": "(n^2 + m^2) mod p",
    "square_of_sum": "(n + m)^2 mod p",
    "mul": "n m mod p",
    "div": "n / m mod p",
}

# weights of the sequence models in the order of their forward pass (stable panel order)
_WEIGHT_ORDER = (
    "W_E",
    "W_pos",
    "W_Q",
    "W_K",
    "W_V",
    "W_O",
    "W_in",
    "W_out",
    "W_U",
    "W_emb",
    "W_hh",
    "W_ih",
    "W_h",
    "W_fc",
)

# hyper-parameters that the header names on lines of their own (or that are not choices)
_HEADER_HYPER = {
    "model",
    "task",
    "p",
    "preset",
    "seed",
    "max_epochs",
    "device",
    "checkpoint",
    "p_defaults",
    "task_params",
    "data_seed",
}

# trained's command-line flags of the TrainConfig fields that have one
_TRAIN_FLAGS = {
    "max_epochs": "--epochs",
    "alpha": "--alpha",
    "lr": "--lr",
    "weight_decay": "--weight-decay",
    "optimizer": "--optimizer",
    "eval_every": "--eval-every",
}

_CSS = """
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%;text-size-adjust:100%}
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;font-size:16px;
line-height:1.45;color:#1a1a1a;margin:0 auto;max-width:1400px;padding:0 14px 3em}
h1{font-size:1.55em;margin:.8em 0 .4em;overflow-wrap:anywhere}
h2{font-size:1.25em;margin:1.6em 0 .4em;border-bottom:1px solid #ddd;padding-bottom:.15em}
p,li,dd,figcaption,summary{overflow-wrap:anywhere}
a{color:#0b57d0}
code,pre{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.88em}
pre{white-space:pre-wrap;overflow-wrap:anywhere;background:#f5f5f5;padding:.45em .7em;margin:0}
.banner{margin:.8em 0;padding:.7em 1em;border-left:6px solid;border-radius:3px}
.banner.bad{background:#fdecea;border-color:#c62828}
.banner.warn{background:#fff4e5;border-color:#ef6c00}
.banner.good{background:#e8f5e9;border-color:#2e7d32}
.banner.info{background:#e8f0fe;border-color:#1a73e8}
.banner strong{display:block;font-size:1.1em}
dl.header{display:grid;grid-template-columns:minmax(7em,max-content) minmax(0,1fr);
gap:.3em 1em;margin:.6em 0}
dl.header dt{font-weight:600;color:#444}
dl.header dd{margin:0;min-width:0}
.tablewrap{max-width:100%;overflow-x:auto}
table{border-collapse:collapse;width:100%;margin:.5em 0;font-size:.95em}
td,th{border:1px solid #ccc;padding:4px 7px;text-align:left;vertical-align:top;
overflow-wrap:break-word}
th{background:#f0f0f0}
td.num{font-variant-numeric:tabular-nums}
span.cite{display:block;color:#666;font-size:.82em;font-weight:400}
ul.notes{font-size:.9em;color:#333;padding-left:1.2em}
nav.toc ol{padding-left:1.6em;margin:.3em 0}
p.caption{background:#fafafa;border-left:3px solid #bbb;padding:.4em .7em;margin:.4em 0 .8em}
.grid{display:grid;gap:14px;grid-template-columns:repeat(auto-fill,minmax(min(100%,420px),1fr))}
figure{margin:0;min-width:0}
figure a.zoom{display:block;cursor:zoom-in}
figure img{display:block;width:100%;height:auto;border:1px solid #ddd;background:#fff}
figure figcaption{font-size:.85em;color:#444;margin-top:.2em}
figure a.close{display:none}
figure:target{position:fixed;inset:0;z-index:10;margin:0;padding:8px;background:rgba(0,0,0,.9);
display:flex;align-items:center;justify-content:center}
figure:target a.zoom{cursor:default}
figure:target img{width:calc(100vw - 16px);height:calc(100vh - 16px);object-fit:contain;
border:none;background:transparent}
figure:target figcaption{display:none}
figure:target a.close{display:block;position:fixed;inset:0;z-index:11;color:#fff;
text-align:right;padding:10px 16px;font-size:1.3em;text-decoration:none;cursor:zoom-out}
details.scorecard{margin:.5em 0}
details.scorecard summary{cursor:pointer;font-weight:600}
ul.kv{list-style:none;padding:0;margin:.4em 0;font-size:.88em}
ul.kv li{padding:.1em 0;border-bottom:1px solid #eee}
footer{margin-top:2em;color:#666;font-size:.85em;overflow-wrap:anywhere}
@media (max-width:640px){
body{padding:0 10px 2em}
dl.header{grid-template-columns:minmax(0,1fr);gap:0}
dl.header dd{margin-bottom:.45em}
table.rt thead{display:none}
table.rt,table.rt tbody,table.rt tr,table.rt td{display:block;width:100%}
table.rt tr{border:1px solid #ccc;margin:0 0 .5em;padding:.2em 0}
table.rt td{border:none;padding:1px 8px}
table.rt td.first{font-weight:600}
table.rt td.num::before{content:attr(data-label) ": ";color:#555}
}
"""


# --------------------------------------------------------------------------------------------
# formatting


def _fmt(v, digits=4) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        v = float(v)
        if not np.isfinite(v):
            return "n/a"
        if v != 0 and (abs(v) < 1e-3 or abs(v) >= 1e5):
            return f"{v:.2e}"
        return f"{v:.{digits}f}"
    if isinstance(v, (list, tuple)):
        if not v:
            return "none"
        text = ", ".join(_fmt(x) if isinstance(x, float) else str(x) for x in v[:16])
        return text + (f", ... ({len(v)} in all)" if len(v) > 16 else "")
    return str(v)


def _pct(v) -> str:
    return "n/a" if v is None else f"{100 * float(v):.1f} %"


def _get(card: dict | None, *keys):
    cur = card
    for k in keys:
        if not isinstance(cur, dict) or k not in cur:
            return None
        cur = cur[k]
    return cur


def _svd_ticks_text(ticks) -> str | None:
    if not isinstance(ticks, dict) or not ticks:
        return None
    parts = []
    for level, r in sorted(ticks.items(), key=lambda kv: float(kv[0])):
        parts.append(f"{100 * float(level):g} % variance: r = {r}")
    return "; ".join(parts)


# --------------------------------------------------------------------------------------------
# the table


def scorecard_rows(
    card: dict, theory: dict | None = None, split: dict | None = None
) -> list[tuple[str, str, str, str]]:
    """(measure, theory, network, reference) rows of the report table.

    Parameters
    ----------
    card : dict
        A :func:`compare.score` scorecard.
    theory : dict, optional
        The scorecard of the analytic network; default ``card["theory"]``.
    split : dict, optional
        ``{"train": a, "test": b}``: the accuracies on the training and test pairs (e.g. from
        metrics.jsonl), used when the card has no ``accuracy_split``.

    Returns
    -------
    list of tuple of str
        Train and test accuracy come first and apart: the accuracy over all p^2 pairs mixes the
        two (a network that memorized a 50 % training set scores about 0.5 there) and is
        labelled so. Key frequencies are listed strongest first; each row cites the paper of
        the scored model.

    Examples
    --------
    >>> card = {"accuracy": 0.5, "meta": {"model": "rnn"}, "frequencies": {"key": [5, 2]}}
    >>> for row in scorecard_rows(card, split={"train": 1.0, "test": 0.0}):
    ...     print(row)
    ('train accuracy', 'n/a', '1.0000', 'Rangamani et al. 2025 Sec. II')
    ('test accuracy', 'n/a', '0.0000', 'Rangamani et al. 2025 Sec. II')
    ('accuracy over all pairs (train + test mixed)', 'n/a', '0.5000', 'Rangamani et al. 2025 Sec. II')
    ('key frequencies, strongest first', 'n/a', '5, 2', 'Nanda et al. 2023; Rangamani Fig. 2')
    """  # noqa: E501
    if not isinstance(card, dict):
        raise TypeError(f"`card` must be a scorecard dict; got {type(card).__name__}")
    if theory is None:
        theory = card.get("theory")
    model = _get(card, "meta", "model") or "mlp"
    cite = _NETWORK.get(model, (None, None, ""))[2]
    rows: list[tuple[str, str, str, str]] = []
    acc_split = card.get("accuracy_split") if isinstance(card.get("accuracy_split"), dict) else {}
    train = acc_split.get("train", (split or {}).get("train"))
    test = acc_split.get("test", (split or {}).get("test"))
    all_pairs = acc_split.get("all", card.get("accuracy"))
    theory_acc = _get(theory, "accuracy")
    if train is not None or test is not None:
        rows.append(("train accuracy", "n/a", _fmt(train), cite))
        rows.append(("test accuracy", "n/a", _fmt(test), cite))
        label = "accuracy over all pairs (train + test mixed)"
    else:
        label = "accuracy over all defined pairs"
    if all_pairs is not None or theory_acc is not None:
        rows.append((label, _fmt(theory_acc), _fmt(all_pairs), cite))
    freq_cite = "Rangamani Fig. 2" if model == "mlp" else "Nanda et al. 2023; Rangamani Fig. 2"
    key_label = "key frequencies, strongest first" + (" (readout)" if model == "mlp" else "")
    spec = [
        (
            "idealized accuracy (neurons -> cosine fits)",
            ("idealized_accuracy",),
            "docs/conventions.md",
        ),
        (key_label, ("frequencies", "key"), freq_cite),
        ("number of key frequencies", ("frequencies", "n_key"), freq_cite),
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
        (
            "energy-weighted fit error, all blocks",
            ("fit_error", "energy_weighted"),
            "docs/conventions.md",
        ),
        ("margin (correct logit minus runner-up)", ("margin",), cite),
    ]
    for label, keys, ref in spec:
        net_v = _get(card, *keys)
        theory_v = _get(theory, *keys)
        if net_v is None and theory_v is None:
            continue
        rows.append((label, _fmt(theory_v), _fmt(net_v), ref))
    net_ranks = card.get("low_rank") or {}
    theory_ranks = (theory or {}).get("low_rank") or {}
    order = _matrix_order({*net_ranks, *theory_ranks})
    for name in [n for n in order if n in net_ranks]:
        for label, key, ref in (
            (f"minimal rank {name} (full accuracy)", "rank", "Rangamani Fig. 3"),
            (f"energy share at that rank, {name}", "energy_share", "Rangamani Fig. 3"),
            (f"accuracy of {name}'s complement", "accuracy_complement", "Rangamani Sec. III-B"),
        ):
            net_v = _get(card, "low_rank", name, key)
            theory_v = _get(theory, "low_rank", name, key)
            if net_v is None and theory_v is None:
                continue
            rows.append((label, _fmt(theory_v), _fmt(net_v), ref))
    # matrices whose rank was not searched in the network: the theory's ranks in one row
    only_theory = [
        n for n in order if n not in net_ranks and _get(theory_ranks, n, "rank") is not None
    ]
    if only_theory:
        text = ", ".join(f"{n} {theory_ranks[n]['rank']}" for n in only_theory)
        rows.append(("minimal rank per matrix (network not searched)", text, "n/a",
                     "Rangamani Fig. 3"))  # fmt: skip
    width = _get(card, "meta", "width")
    if width is not None:
        rows.append(
            (
                "width N",
                _fmt(_get(theory, "width") or _get(theory, "meta", "width")),
                _fmt(width),
                cite,
            )
        )
    if _get(card, "phase", "not_applicable"):
        rows.append(("phases", "n/a", card["phase"]["not_applicable"], "Gromov Fig. 3"))
    if "positional_correlation" in card:
        rows.append(
            (
                "positional correlation",
                _fmt(_get(theory, "positional_correlation")),
                _fmt(card["positional_correlation"]),
                "Syrkis Fig. 7",
            )
        )
    if _get(card, "hidden_state_fit", "median_relative_error") is not None:
        v = card["hidden_state_fit"]["median_relative_error"]
        t = _get(theory, "hidden_state_fit", "median_relative_error")
        rows.append(
            (
                "hidden-state fit, median relative error",
                _fmt(t),
                _fmt(v),
                "Rangamani Table II",
            )
        )
    if _get(card, "active_frequencies_W_E", "frequencies") is not None:
        v = card["active_frequencies_W_E"]["frequencies"]
        t = _get(theory, "active_frequencies_W_E", "frequencies")
        rows.append(
            (
                "W_E active frequencies (vs permutation null)",
                _fmt(t),
                _fmt(v),
                "Syrkis 2024 Fig. 11-13",
            )
        )
    if "svd_ticks_W_E" in card:
        rows.append(
            (
                "W_E singular vectors for 50 % / 90 % of the variance",
                _svd_ticks_text(_get(theory, "svd_ticks_W_E")) or "n/a",
                _svd_ticks_text(card["svd_ticks_W_E"]) or "n/a",
                "Syrkis 2024 Fig. 8",
            )
        )
    if _get(theory, "frequencies_used") is not None:
        rows.append(
            ("frequencies used by the theory", _fmt(theory["frequencies_used"]), "", "closedform")
        )
    twin = card.get("twin") if isinstance(card.get("twin"), dict) else None
    if twin:
        name = f"analytic twin ({twin.get('model') or model})"
        if twin.get("accuracy") is not None:
            rows.append((f"{name}: accuracy", _fmt(twin["accuracy"]), "", "closedform"))
        if twin.get("logit_variance_explained") is not None:
            rows.append(
                (
                    "share of the network's logit variance the twin explains",
                    "",
                    _fmt(twin["logit_variance_explained"]),
                    "closedform",
                )
            )
        if twin.get("frequencies") is not None:
            rows.append((f"{name}: frequencies", _fmt(twin["frequencies"]), "", "closedform"))
    return rows


def _table_notes(card: dict, theory: dict | None) -> list[str]:
    """Long texts that belong under the table: rank rules, the twin's frequency rule, why the
    theory column is empty."""
    notes = []
    reason = _get(theory, "not_applicable")
    if isinstance(reason, dict):  # some measures have no theory value, each with its reason
        notes += [f"Theory, {k.replace('_', ' ')}: {v}" for k, v in reason.items() if v]
    elif reason:  # no analytic network at all
        notes.append(f"Theory column: {reason}")
    for who, c in (("this network", card), ("theory", theory)):
        rules = {n: _get(c, "low_rank", n, "rank_rule") for n in ((c or {}).get("low_rank") or {})}
        rules = {n: r for n, r in rules.items() if r}
        if len(set(rules.values())) == 1:
            notes.append(f"Minimal rank ({who}, every matrix): {next(iter(rules.values()))}")
        else:
            notes += [f"Minimal rank of {n} ({who}): {r}" for n, r in rules.items()]
    rule = _get(card, "twin", "frequencies_rule")
    if rule:
        notes.append(f"Frequencies of the analytic twin: {rule}")
    return notes


# --------------------------------------------------------------------------------------------
# one run: what it is, how to reproduce it, whether it generalized


@dataclass
class _Figure:
    anchor: str
    title: str
    caption: str
    images: list = field(default_factory=list)  # (file name, short caption)


@dataclass
class _Run:
    path: Path
    label: str
    config: dict
    weights: dict
    epoch: int | None
    metrics: list
    task: object = None
    card: dict = field(default_factory=dict)
    theory: dict | None = None
    figures: list = field(default_factory=list)

    @property
    def model(self) -> str:
        return str(self.config.get("model"))

    @property
    def trained(self) -> bool:
        return self.config.get("source") != "analytic"

    @property
    def hyper(self) -> dict:
        h = self.config.get("hyper")
        return h if isinstance(h, dict) else {}

    @property
    def threshold(self) -> float:
        t = self.hyper.get("target_acc")
        return float(t) if isinstance(t, (int, float)) and 0 < t <= 1 else 0.99

    @property
    def grok_epoch(self) -> int | None:
        from ._figures import grok_epoch

        return grok_epoch(self.metrics, self.threshold) if self.metrics else None

    @property
    def record(self) -> dict | None:
        """The metrics record of the reported weights (the checkpoint's epoch, else the last)."""
        if not self.metrics:
            return None
        if self.epoch is None:
            return self.metrics[-1]
        before = [m for m in self.metrics if m["epoch"] <= self.epoch]
        return before[-1] if before else None

    @property
    def split(self) -> dict | None:
        """Train and test accuracy: the card's when it has them, else metrics.jsonl's."""
        s = self.card.get("accuracy_split")
        if isinstance(s, dict) and (s.get("train") is not None or s.get("test") is not None):
            return {
                "train": s.get("train"),
                "test": s.get("test"),
                "source": "recomputed from the weights",
            }
        rec = self.record
        if rec is None or rec.get("train_acc") is None:
            return None
        test = rec.get("test_acc_min", rec.get("test_acc"))
        return {
            "train": rec["train_acc"],
            "test": test,
            "source": f"metrics.jsonl, epoch {rec['epoch']}",
        }


def _task_text(task_dict: dict, p) -> str:
    name = task_dict.get("name", "?")
    params = task_dict.get("params") or {}
    formula = _TASK_FORMULA.get(name, "")
    extra = ", ".join(f"{k} = {v}" for k, v in params.items())
    text = f"{name} mod {p}"
    if formula:
        text += f": {formula.replace(' mod p', f' mod {p}')}"
    return text + (f" ({extra})" if extra else "")


def _network_text(run: _Run) -> str:
    short, long, cite = _NETWORK.get(run.model, (run.model, run.model, ""))
    kind = "trained" if run.trained else "analytic (closed form)"
    return f"{kind} {long} ({cite})" if cite else f"{kind} {long}"


def _title(run: _Run) -> str:
    short = _NETWORK.get(run.model, (run.model,))[0]
    task = run.config.get("task", {}).get("name", "?")
    p = run.config.get("p")
    if not run.trained:
        return f"Analytic {short} (closed form): {task} mod {p}"
    at = f" at epoch {run.epoch} (checkpoint)" if run.epoch is not None else ""
    seed = run.config.get("seed")
    preset = run.hyper.get("preset")
    extra = ", ".join(
        x
        for x in (f"seed {seed}" if seed is not None else "", f"preset {preset}" if preset else "")
        if x
    )
    return f"Trained {short}{at}: {task} mod {p}" + (f" ({extra})" if extra else "")


def _json_value(v) -> str:
    if isinstance(v, str):
        try:
            json.loads(v)
        except json.JSONDecodeError:
            return v  # a plain string round-trips through trained's --set parser
    return json.dumps(v, separators=(",", ":"))


def _train_command(run: _Run) -> str:
    h = run.hyper
    cfg = run.config
    task = cfg.get("task", {})
    args = [
        "modfourier",
        "train",
        "--model",
        run.model,
        "--task",
        str(task.get("name")),
        "--p",
        str(cfg.get("p")),
    ]
    if h.get("preset"):
        args += ["--preset", str(h["preset"])]
    seed = h.get("seed", cfg.get("seed"))
    if seed is not None:
        args += ["--seed", str(seed)]
    for key, flag in _TRAIN_FLAGS.items():
        if h.get(key) is not None:
            args += [flag, str(h[key])]
    if h.get("device") not in (None, "auto"):
        args += ["--device", str(h["device"])]
    sets = []
    if task.get("params"):
        sets.append(("task_params", task["params"]))
    if h.get("data_seed") is not None and h.get("data_seed") != seed:
        sets.append(("data_seed", h["data_seed"]))
    if h.get("checkpoint") is False:
        sets.append(("checkpoint", False))
    for key in sorted(h):
        if key in _HEADER_HYPER or key in _TRAIN_FLAGS or h[key] is None:
            continue
        sets.append((key, h[key]))
    for key, value in sets:
        args += ["--set", f"{key}={_json_value(value)}"]
    args += ["--out", f"{run.path.name}-rerun"]
    return shlex.join(args)


def _construct_argv(run: _Run) -> list[str]:
    """``modfourier construct`` with the choices recorded in the run's config and weights."""
    cfg = run.config
    task = cfg.get("task", {})
    name, params = task.get("name"), task.get("params") or {}
    args = ["modfourier", "construct", "--model", run.model, "--task", str(name)]
    args += ["--p", str(cfg.get("p"))]
    if name == "affine":
        args += [x for k in ("A", "B", "C") if k in params for x in (f"--{k}", str(params[k]))]
    if run.model == "mlp":
        freqs = run.weights.get("frequencies")
        ks = [] if freqs is None else sorted({int(k) for k in np.asarray(freqs).ravel() if k > 0})
        scheme = cfg.get("scheme", "random")
        if ks and len(ks) < run.task.M // 2:  # the default is every frequency
            args += ["--frequencies", *map(str, ks)]
        args += ["--phases", str(scheme)]
        if scheme != "exact":
            args += ["--width", str(cfg.get("width")), "--seed", str(cfg.get("seed") or 0)]
        args += ["--activation", str(cfg.get("activation", "quadratic"))]
        args += ["--branches", str(cfg.get("branches", "all"))]
        return args
    if cfg.get("frequencies"):
        args += ["--frequencies", *map(str, cfg["frequencies"])]
    flags = (("d_hidden", "--d-hidden"), ("d_embed", "--d-embed"), ("alpha", "--alpha"),
             ("d_model", "--d-model"), ("heads", "--heads"), ("d_mlp", "--d-mlp"))  # fmt: skip
    for key, flag in flags:
        if cfg.get(key) is not None and (key in ("d_hidden", "d_embed", "alpha")) == (
            run.model == "rnn"
        ):
            args += [flag, str(cfg[key])]
    return args


def _same_weights(run: _Run, net) -> bool:
    weights = getattr(net, "weights", None) or {"W1": net.W1, "W2": net.W2}
    mine = run.weights
    return all(
        k in mine and np.shape(mine[k]) == np.shape(v) and np.allclose(mine[k], v)
        for k, v in weights.items()
    )


def _rebuilds(run: _Run, argv: list[str]) -> bool:
    """Whether ``argv`` (a construct command) rebuilds the run's weights exactly."""
    import argparse

    import closedform
    from closedform import _cli as construct_cli

    parser = argparse.ArgumentParser()
    construct_cli.add_parser(parser.add_subparsers(dest="verb"))
    try:
        args = parser.parse_args(argv[1:])
        params = {k: getattr(args, k) for k in ("A", "B", "C") if getattr(args, k) is not None}
        net = construct_cli._build(args, closedform.get_task(args.task, args.p, **params))
        return _same_weights(run, net)
    except (SystemExit, ValueError, TypeError, AttributeError, KeyError):
        return False


# the constructors' choices, primary first; derived ones (recorded rounded) are passed only when
# the primary ones do not rebuild the weights
_CONSTRUCTOR = {
    "mlp": ("analytic_mlp", ("width", "activation", "branches", "seed"), ()),
    "rnn": (
        "analytic_rnn",
        ("d_hidden", "d_embed", "alpha", "gain", "hidden_norm"),
        ("n_phases", "bias"),
    ),
    "transformer": (
        "analytic_transformer",
        ("d_model", "heads", "d_mlp", "activation", "attention", "attention_scale", "scale"),
        ("neurons_per_frequency",),
    ),
}


def _analytic_command(run: _Run) -> str:
    """``modfourier construct ...`` when it rebuilds the weights, else the constructor call with
    the recorded choices (checked the same way)."""
    import closedform

    out = f"{run.path.name}-rebuilt"
    argv = _construct_argv(run)
    if _rebuilds(run, argv):
        return shlex.join([*argv, "--out", out])
    cfg = run.config
    task = cfg.get("task", {})
    fn, primary, derived = _CONSTRUCTOR.get(run.model, _CONSTRUCTOR["mlp"])
    kwargs = {}
    freqs = cfg.get("frequencies")
    if freqs is None and run.weights.get("frequencies") is not None:
        freqs = sorted({int(k) for k in np.asarray(run.weights["frequencies"]).ravel() if k > 0})
    if freqs:
        kwargs["frequencies"] = list(freqs)
    if run.model == "mlp":
        kwargs["phases"] = cfg.get("scheme", "random")
    kwargs.update({k: cfg[k] for k in primary if cfg.get(k) is not None})
    ok = False
    for extra in ((), derived):
        kw = {**kwargs, **{k: cfg[k] for k in extra if cfg.get(k) is not None}}
        try:
            ok = _same_weights(run, getattr(closedform, fn)(run.task, **kw))
        except (ValueError, TypeError, AttributeError):
            ok = False
        if ok:
            break
    params = task.get("params") or {}
    task_args = ", ".join(
        [repr(task.get("name")), str(cfg.get("p"))] + [f"{k}={v!r}" for k, v in params.items()]
    )
    code = (
        f"import closedform; closedform.{fn}(closedform.get_task({task_args}), "
        f"{', '.join(f'{k}={v!r}' for k, v in kw.items())}).save({out!r})"
    )
    note = "" if ok else "  # recorded choices; the weights may differ in the last digits"
    return shlex.join(["python", "-c", code]) + note


def _reproduce_command(run: _Run) -> str:
    """The command that rebuilds the run: ``modfourier train`` with every recorded choice, or
    ``modfourier construct`` / the closedform constructor for an analytic network."""
    return _train_command(run) if run.trained else _analytic_command(run)


def _report_command(runs: list[_Run], reference, epoch, low_rank) -> str:
    args = ["modfourier", "report", *[str(r.path) for r in runs]]
    if epoch is not None:
        args += ["--epoch", str(epoch)]
    if reference is not None:
        args += ["--reference", str(reference.path)]
    if not low_rank:
        args.append("--no-low-rank")
    return shlex.join(args)


def _hyper_text(run: _Run) -> str:
    h = run.hyper
    by_p = set(h.get("p_defaults") or ())
    parts = []
    for key in sorted(h):
        if key in _HEADER_HYPER or h[key] is None:
            continue
        if key.startswith("grokfast_") and h.get("grokfast") in (None, "none"):
            continue
        value = h[key]
        text = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
        parts.append(f"{key} = {text}" + (" (p-aware default)" if key in by_p else ""))
    return "; ".join(parts)


def _verdict(run: _Run) -> tuple[str, str, str]:
    """(kind, css class, sentence) of what the network learned (at the reported checkpoint)."""
    kind, css, text = _verdict_of_weights(run)
    if run.epoch is not None:
        text = f"At this checkpoint (epoch {run.epoch}): {text}"
    return kind, css, text


def _verdict_of_weights(run: _Run) -> tuple[str, str, str]:
    health = run.card.get("health")
    if isinstance(health, dict) and health.get("status") not in (None, "ok"):
        status = str(health["status"]).replace("_", " ")
        detail = str(health.get("detail") or "no detail given").rstrip(". ")
        return (
            str(health["status"]),
            "bad",
            f"Broken network ({status}): {detail}. Its measures are not computed; the figures "
            "show its training only.",
        )
    split = run.split
    if not run.trained or split is None:
        acc = run.card.get("accuracy")
        if acc is None:
            return ("unknown", "info", "No accuracy is known for this network.")
        if acc >= 1.0:
            return (
                "exact",
                "good",
                f"Exact: every defined pair (n, m) is answered correctly (accuracy {_pct(acc)}).",
            )
        return (
            "inexact",
            "warn",
            f"Accuracy {_pct(acc)} over all defined pairs: this network is not exact.",
        )
    train, test = split.get("train"), split.get("test")
    if train is None or test is None:
        return ("unknown", "info", "Train or test accuracy is missing.")
    grok = run.grok_epoch
    where = f" ({split['source']})"
    if train < 0.9:
        return (
            "not_fit",
            "bad",
            f"Did not fit: train accuracy {_pct(train)}, test {_pct(test)}{where}. The "
            "network has not learned the training pairs; its Fourier measures describe "
            "an unfinished network.",
        )
    if train >= 0.99 and test < 0.9:
        return (
            "memorized",
            "bad",
            f"Memorized, did not generalize: train accuracy {_pct(train)}, test "
            f"{_pct(test)}{where}. It fits the training pairs without the Fourier "
            "algorithm; compare its measures with the theory column accordingly.",
        )
    if test >= run.threshold:
        when = f", test accuracy {_pct(run.threshold)} first at epoch {grok}" if grok else ""
        return (
            "generalized",
            "good",
            f"Generalized: train accuracy {_pct(train)}, test {_pct(test)}{where}{when}.",
        )
    return (
        "partial",
        "warn",
        f"Partly generalized: train accuracy {_pct(train)}, test {_pct(test)}{where}; "
        f"the test accuracy is below {_pct(run.threshold)}.",
    )


def _header(run: _Run) -> list[tuple[str, str]]:
    """(label, value) lines: everything needed to know and reproduce the run."""
    cfg = run.config
    rows = [
        ("network", _network_text(run)),
        ("task", _task_text(cfg.get("task", {}), cfg.get("p"))),
    ]
    if run.trained:
        h = run.hyper
        total = cfg.get("epochs")
        if run.epoch is not None:
            rows.append(("weights", f"checkpoint at epoch {run.epoch} (of {total} trained)"))
        else:
            rows.append(("weights", f"final, after {total} epochs"))
        rows.append(("preset", str(h.get("preset") or "n/a")))
        rows.append(("hyper-parameters", _hyper_text(run) or "n/a"))
        seed = h.get("seed", cfg.get("seed"))
        data_seed = h.get("data_seed")
        seed_text = str(seed) + (
            f" (split seed {data_seed})" if data_seed not in (None, seed) else ""
        )
        rows.append(("seed", seed_text))
        rows.append(("epochs", f"{total} of at most {h.get('max_epochs', 'n/a')}"))
        rows.append(("stop reason", str(cfg.get("stopped") or "n/a")))
        grok = run.grok_epoch
        rows.append(
            (
                "grok epoch",
                f"{grok} (first test accuracy >= {_pct(run.threshold)})"
                if grok is not None
                else f"none: test accuracy never reached {_pct(run.threshold)}",
            )
        )
        split = run.split or {}
        where = f" ({split['source']})" if split.get("source") else ""
        rows.append(("train accuracy", _pct(split.get("train")) + where))
        rows.append(("test accuracy", _pct(split.get("test")) + where))
        if cfg.get("status") not in (None, "done"):
            rows.append(("status", str(cfg["status"])))
    else:
        construction = ", ".join(
            f"{k} = {_fmt(cfg[k])}"
            for k in (
                "scheme",
                "width",
                "frequencies",
                "activation",
                "branches",
                "d_hidden",
                "d_model",
                "heads",
                "d_mlp",
                "n_phases",
                "neurons_per_frequency",
                "attention",
            )
            if cfg.get(k) is not None
        )
        rows.append(("construction", construction or "n/a"))
        rows.append(("accuracy", f"{_pct(run.card.get('accuracy'))} of all defined pairs"))
    rows.append(("library version", str(cfg.get("library_version", "n/a"))))
    rows.append(("directory", str(run.path)))
    rows.append(("command to reproduce", _reproduce_command(run)))
    return rows


# --------------------------------------------------------------------------------------------
# figures of one run


def _frequency_series(run: _Run, key: list[int]) -> dict | None:
    """Share of W_E's energy at the key frequencies over the checkpoints (RNN/transformer)."""
    from ._spectra import frequency_norms

    if not key:
        return None
    out = {
        "epoch": [],
        "frequencies": list(key[:6]),
        "share": [[] for _ in key[:6]],
        "key_share": [],
        "what": "W_E",
    }
    for epoch in rundir.list_checkpoints(run.path):
        w = rundir.load_checkpoint(run.path, epoch)
        if "W_E" not in w or not np.all(np.isfinite(w["W_E"])):
            continue
        W_E = np.asarray(w["W_E"], dtype=np.float64)
        if run.model == "transformer":  # Nanda's layout (d_model, d_vocab)
            W_E = W_E.T
        norms = frequency_norms(W_E[: run.task.p], axis=0, task=run.task, block="n")
        energy = norms**2
        total = energy.sum()
        if total <= 0:
            continue
        out["epoch"].append(epoch)
        for i, k in enumerate(out["frequencies"]):
            out["share"][i].append(float(energy[k] / total))
        out["key_share"].append(float(energy[[k for k in key if k < len(energy)]].sum() / total))
    return out if out["epoch"] else None


def _matrix_order(names) -> list[str]:
    """Weight names in the papers' order (``_WEIGHT_ORDER``), unknown ones after, sorted."""
    names = set(names)
    known = [k for k in _WEIGHT_ORDER if k in names]
    return known + sorted(names - set(known))


def _ordered_matrices(weights: dict) -> dict:
    mats = {k: v for k, v in weights.items() if np.ndim(v) == 2}
    return {k: mats[k] for k in _matrix_order(mats)}


def _sequence_hidden(model_dir, epoch=None) -> dict:
    """Hidden states of an RNN (h2, h3) or transformer (mlp_post) through ``trained`` (lazy)."""
    import trained

    hidden = trained.load_model(model_dir, epoch=epoch).hidden()
    keep = [k for k in ("h2", "h3", "mlp_post") if k in hidden]
    return {k: np.asarray(hidden[k], dtype=np.float64) for k in keep}


def _ablation_order(W2, task) -> tuple[list[int], list[int]]:
    """Every frequency 1..M/2, strongest readout energy first; and the key frequencies."""
    from ._spectra import frequency_norms, key_frequencies

    norms = frequency_norms(W2, axis=0, task=task, block="out")
    order = [int(k) for k in np.argsort(-norms[1:], kind="stable") + 1]
    return order, [int(k) for k in key_frequencies(norms)]


def _draw_run_figures(run: _Run, out: Path, ref_weights: dict | None) -> None:
    from . import _figures as F
    from ._ablation import mlp_frequency_ablation
    from ._network import activation_fn
    from ._phases import neuron_phases, phase_residual
    from ._score import ipr_series, phase_series

    figs = run.figures
    grok, mark = run.grok_epoch, run.epoch
    task = run.task
    healthy = run.card.get("health", {}).get("status", "ok") == "ok"

    def section(anchor, title, caption):
        fig = _Figure(anchor, title, caption)
        figs.append(fig)
        return fig

    def draw(fig, file_name, short, fn, /, *args, **kwargs):
        fn(*args, out / file_name, **kwargs)
        fig.images.append((file_name, short))

    if run.metrics:
        loss = {"mse": "MSE on one-hot targets", "cross_entropy": "cross-entropy"}.get(
            run.hyper.get("loss"), "training loss"
        )
        s = section(
            "curves",
            "Training curves (Gromov Fig. 1)",
            "Theory: a network that groks fits the training pairs first and reaches "
            f"{_pct(run.threshold)} test accuracy only later (the dotted line marks "
            "that grok epoch); a test curve that never rises means memorization. Weight "
            "decay shrinks the norms while the Fourier solution forms.",
        )
        for panel, short in (("accuracy", "accuracy"), ("loss", "loss"), ("norms", "norms")):
            draw(
                s,
                f"curves_{panel}.png",
                f"{short} against epoch",
                F.plot_training_curves,
                run.metrics,
                loss_name=loss,
                panels=[panel],
                threshold=run.threshold,
                mark_epoch=mark,
            )
    if not healthy:
        return
    W = run.weights
    has_checkpoints = run.trained and bool(rundir.list_checkpoints(run.path))
    if run.model == "mlp":
        W1, W2 = W["W1"], W["W2"]
        phases_ok = "not_applicable" not in run.card.get("phase", {})
        if has_checkpoints:
            s = section(
                "series",
                "Measures over the checkpoints (Gromov Fig. 3, 6)",
                "Theory: every block's IPR tends to 1 (the exact network's value, "
                "dashed) as each neuron becomes a single cosine, rising most steeply "
                "around the grok epoch (Gromov Fig. 6); the phase alignment R tends to "
                "1 as phi3 = phi1 + phi2 (eq. 12) takes hold.",
            )
            draw(
                s,
                "series_ipr.png",
                "mean IPR_2 per block against epoch",
                F.plot_ipr_series,
                ipr_series(run.path),
                metrics=run.metrics or None,
                panels=["ipr"],
                threshold=run.threshold,
                mark_epoch=mark,
            )
            if phases_ok:
                draw(
                    s,
                    "series_phase.png",
                    "phase alignment R against epoch",
                    F.plot_phase_series,
                    phase_series(run.path),
                    grok_epoch=grok,
                    mark_epoch=mark,
                )
        s = section(
            "preactivations",
            "Preactivations of single neurons (Gromov Fig. 2)",
            "Theory: a neuron of the exact network is cos(2 pi k n/p + phi1) + "
            "cos(2 pi k m/p + phi2): stripes along n and along m, and a Fourier image "
            "with peaks at (+-k, 0) and (0, +-k) only. Shown: the largest neuron of "
            "each of the strongest frequencies.",
        )
        neurons = F.preactivation_neurons(W1, task)
        # all h(n, m) first, then all Fourier images: on a wide page they line up in columns
        for panel, short in (("preactivation", "h(n, m)"), ("fourier", "Fourier image")):
            for i in neurons:
                draw(
                    s,
                    f"neuron_{i}_{panel}.png",
                    f"neuron {i}: {short}",
                    F.plot_preactivations,
                    W1,
                    task,
                    neurons=[i],
                    panels=[panel],
                )
        if phases_ok:
            res = phase_residual(neuron_phases(W1, W2, task))
            ref_res = None
            if ref_weights is not None and "W1" in ref_weights:
                ref_res = phase_residual(neuron_phases(ref_weights["W1"], ref_weights["W2"], task))
            s = section(
                "phases",
                "Phase residual (Gromov Fig. 3)",
                "Theory: delta = phi1 + phi2 - phi3 = 0 for every neuron (eq. 12), "
                "so R = 1 and the histogram is one spike at 0. The axis zooms on the "
                "data's spread when it is narrow (the label says so).",
            )
            draw(
                s,
                "phase_residual.png",
                "phase residual per neuron",
                F.plot_phase_histogram,
                res,
                label="this network",
                reference=ref_res,
            )
        s = section(
            "spectra",
            "Fourier spectrum of every neuron (Gromov Fig. 2)",
            "Theory: one bright column per neuron (a single frequency k), the same k in "
            "the n-, m- and readout blocks; a neuron smeared over many k is noise.",
        )
        label = "analytic" if not run.trained else "trained"
        for block in ("n", "m", "out"):
            draw(
                s,
                f"spectrum_{block}.png",
                f"{block}-block",
                F.plot_spectrum_heatmap,
                W1,
                W2,
                task,
                title=label,
                panels=[block],
            )
        n_idx, m_idx = np.divmod(np.arange(task.p * task.p), task.p)
        act = activation_fn(run.config.get("activation", "quadratic"))
        hidden = act(W1[:, n_idx] + W1[:, task.p + m_idx]).T  # (p*p, N)
        s = section(
            "spectrum2d",
            "2-D Fourier spectrum of the hidden layer (Rangamani Fig. 2)",
            "Theory: peaks at (k, k) and (k, -k) for the key frequencies k, where the "
            "network multiplies its n- and m-waves, plus terms on the axes (k, 0), "
            "(0, k); anything else is noise.",
        )
        draw(
            s,
            "spectrum_2d_hidden.png",
            "hidden activations",
            F.plot_spectrum_2d,
            hidden,
            task=task,
            name="the hidden activations",
        )
        s = section(
            "singular",
            "Singular values (Rangamani Fig. 3, Syrkis Fig. 8)",
            "Theory: the exact network on K frequencies has W2 of rank 2K (a cos/sin "
            "pair per frequency) and W1 of rank at most 4K (n- and m-blocks); the "
            "dashed line is the smallest rank that keeps the full accuracy.",
        )
        for name in ("W1", "W2"):
            draw(
                s,
                f"singular_{name}.png",
                name,
                F.plot_singular_values,
                {name: W[name]},
                low_rank=run.card.get("low_rank"),
            )
        order, key = _ablation_order(W2, task)
        if order:
            abl = mlp_frequency_ablation(
                W1,
                W2,
                task,
                order,
                run.config.get("activation", "quadratic"),
                run.config.get("output_scale"),
            )
            run.card["ablation"] = {**abl, "order": "readout energy, strongest first", "key": key}
            s = section(
                "ablation",
                "Frequency ablations (Rangamani Table I)",
                "Theory: each key frequency alone is redundant (removing one barely "
                "hurts), but together they carry the answer: removing the frequencies "
                "one after another, strongest first, drives the accuracy to chance "
                "(1/p) once the key frequencies are gone.",
            )
            for panel, short in (
                ("single", "one frequency removed"),
                ("cumulative", "frequencies removed cumulatively"),
            ):
                draw(
                    s, f"ablation_{panel}.png", short, F.plot_ablation, abl, panels=[panel], key=key
                )
    else:
        key = list(_get(run.card, "frequencies", "key") or [])
        if has_checkpoints:
            series = _frequency_series(run, key)
            if series is not None:
                s = section(
                    "series",
                    "Key frequencies over the checkpoints (Nanda et al. 2023)",
                    "Theory: as the network groks, its token embedding concentrates "
                    "on a few key frequencies (Nanda et al. 2023); the share of W_E's "
                    "energy at the final key frequencies rises towards 1 around the "
                    "grok epoch.",
                )
                draw(
                    s,
                    "series_frequencies.png",
                    "W_E energy at the key frequencies",
                    F.plot_frequency_series,
                    series,
                    grok_epoch=grok,
                    mark_epoch=mark,
                )
        hidden = _sequence_hidden(run.path, run.epoch)
        if hidden:
            s = section(
                "spectrum2d",
                "2-D Fourier spectra of the hidden states (Rangamani Fig. 2, Syrkis Fig. 4)",
                "Theory: peaks at (k, k) and (k, -k) for the key frequencies k, plus "
                "terms on the axes (k, 0), (0, k); a memorizing network shows no such "
                "structure.",
            )
            for name in sorted(hidden, key=("h2", "h3", "mlp_post").index):
                draw(
                    s,
                    f"spectrum_2d_{name}.png",
                    name,
                    F.plot_spectrum_2d,
                    hidden[name].reshape(task.p * task.p, -1),
                    task=task,
                    name=name,
                )
        mats = _ordered_matrices(W)
        if mats:
            s = section(
                "singular",
                "Singular values (Rangamani Fig. 3, Syrkis Fig. 8)",
                "Theory: a network that uses K key frequencies needs about 2K "
                "directions (a cos/sin pair per frequency) in its embedding and "
                "readout; the dotted ticks mark 50 % and 90 % of the variance.",
            )
            for name, w in mats.items():
                draw(
                    s,
                    f"singular_{name}.png",
                    name,
                    F.plot_singular_values,
                    {name: w},
                    low_rank=run.card.get("low_rank"),
                )
    twin = run.card.get("twin")
    if isinstance(twin, dict) and isinstance(twin.get("energy_per_frequency"), dict):
        s = section(
            "twin",
            "Energy per frequency: network vs analytic twin",
            "Theory: the analytic twin puts its energy only on the frequencies it "
            "uses; a network that implements the same algorithm has the same profile "
            "up to noise.",
        )
        draw(s, "twin_energy.png", "energy per frequency", F.plot_twin_energy, twin)


# --------------------------------------------------------------------------------------------
# several runs


def _draw_comparison_figures(runs: list[_Run], out: Path) -> list[_Figure]:
    from . import _figures as F
    from ._score import ipr_series, phase_series

    figs = []
    with_metrics = [(r.label, r.metrics) for r in runs if r.metrics]
    if with_metrics:
        fig = _Figure(
            "curves",
            "Training curves, overlaid (Gromov Fig. 1)",
            "Theory: runs that grok fit the training pairs first and reach the test "
            "threshold later; seeds of one preset should grok at similar epochs "
            "(dotted lines, one colour per run).",
        )
        for panel in ("accuracy", "loss"):
            F.plot_runs_overlay(with_metrics, out / f"overlay_{panel}.png", panel=panel)
            fig.images.append((f"overlay_{panel}.png", f"{panel} of every run"))
        figs.append(fig)
    mlps = [r for r in runs if r.model == "mlp" and r.trained and rundir.list_checkpoints(r.path)]
    if mlps:
        fig = _Figure(
            "series",
            "IPR and phase alignment over the checkpoints, overlaid",
            "Theory: every run's mean IPR and phase alignment R tend to 1 (the exact "
            "network) around its grok epoch (Gromov Fig. 3, 6).",
        )
        ipr = [(r.label, ipr_series(r.path), r.grok_epoch) for r in mlps]
        F.plot_series_overlay(
            [(lab, s["epoch"], s["all"], g) for lab, s, g in ipr],
            out / "overlay_ipr.png",
            ylabel="mean IPR_2, all blocks",
            title="Mean IPR over training",
            reference=1.0,
        )
        fig.images.append(("overlay_ipr.png", "mean IPR_2 of every run"))
        try:
            phases = [(r.label, phase_series(r.path), r.grok_epoch) for r in mlps]
        except ValueError:  # phases undefined for the task (no inner domain)
            phases = []
        if phases:
            F.plot_series_overlay(
                [(lab, s["epoch"], s["R"], g) for lab, s, g in phases],
                out / "overlay_phase.png",
                ylabel="phase alignment R",
                title="Phase alignment R over training",
                reference=1.0,
            )
            fig.images.append(("overlay_phase.png", "phase alignment R of every run"))
        figs.append(fig)
    return figs


# --------------------------------------------------------------------------------------------
# the pages


def _flatten(obj, prefix="") -> list[tuple[str, str]]:
    """key: value lines of a scorecard for the compact view (long lists shortened)."""
    if isinstance(obj, dict):
        items = []
        for k, v in obj.items():
            items += _flatten(v, f"{prefix}.{k}" if prefix else str(k))
        return items
    if isinstance(obj, list):
        if obj and all(isinstance(x, dict) for x in obj):
            if len(obj) > 3:
                return [(prefix, f"{len(obj)} entries (in the JSON file)")]
            items = []
            for i, x in enumerate(obj):
                items += _flatten(x, f"{prefix}[{i}]")
            return items
        if obj and all(isinstance(x, list) for x in obj):
            return [(prefix, f"{len(obj)} lists (in the JSON file)")]
        return [(prefix, _fmt(obj))]
    return [(prefix, _fmt(obj))]


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "x"


def _img_html(out: Path, name: str, short: str, anchor: str) -> str:
    esc = html.escape
    data = base64.b64encode((out / name).read_bytes()).decode("ascii")
    return (
        f'<figure id="{anchor}"><a class="zoom" href="#{anchor}" title="click to zoom">'
        f'<img alt="{esc(short)}" src="data:image/png;base64,{data}"></a>'
        '<a class="close" href="#_" title="close">&#x2715; close</a>'
        f"<figcaption>{esc(short)}</figcaption></figure>"
    )


class _Page:
    """One report as a list of blocks, rendered to HTML and to Markdown from the same blocks
    (so the two carry the same header, verdict, tables and captions)."""

    def __init__(self, title: str):
        self.title = title
        self.top: list[tuple] = []  # verdict banners, right under the title
        self.blocks: list[tuple] = []
        self.toc: list[tuple[str, str]] = []

    def heading(self, anchor, text, level=2):
        self.blocks.append(("h", anchor, text, level))
        self.toc.append((anchor, text))

    def banner(self, css, verdict, text):
        self.top.append(("banner", css, verdict, text))

    def header(self, rows):
        self.blocks.append(("dl", rows))

    def table(self, head, rows, cite=False):
        """``cite``: the last column holds references, shown under the first cell in HTML."""
        self.blocks.append(("table", head, rows, cite))

    def para(self, text, css=None):
        self.blocks.append(("p", text, css))

    def notes(self, items):
        if items:
            self.blocks.append(("notes", items))

    def figure(self, fig: _Figure):
        self.heading(fig.anchor, fig.title)
        self.blocks.append(("p", fig.caption, "caption"))
        self.blocks.append(("grid", fig.images, fig.anchor))

    def scorecard(self, file, card, summary):
        self.blocks.append(("scorecard", file, card, summary))

    # --- HTML
    @staticmethod
    def _table_html(head, rows, cite) -> str:
        esc = html.escape
        cols = list(head[:-1]) if cite else list(head)
        th = "".join(f"<th>{esc(h)}</th>" for h in cols)
        body = []
        for r in rows:
            cells = list(r[:-1]) if cite else list(r)
            tds = []
            for j, c in enumerate(cells):
                inner = esc(c) if c != "" else "&#8212;"  # an em dash: no value here
                if j == 0 and cite and r[-1]:
                    inner += f'<span class="cite">{esc(r[-1])}</span>'
                cls = "first" if j == 0 else "num"
                tds.append(f'<td class="{cls}" data-label="{esc(cols[j])}">{inner}</td>')
            body.append("<tr>" + "".join(tds) + "</tr>")
        return (
            f'<div class="tablewrap"><table class="rt"><thead><tr>{th}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table></div>"
        )

    def html(self, out: Path, footer: str) -> str:
        esc = html.escape
        parts = [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            '<link rel="icon" href="data:,">',
            f"<title>{esc(self.title)}</title>",
            f"<style>{_CSS}</style></head><body>",
            f'<h1 id="top">{esc(self.title)}</h1>',
        ]
        for _, css, verdict, text in self.top:
            parts.append(
                f'<div class="banner {css}" role="status"><strong>{esc(verdict)}</strong>'
                f"{esc(text)}</div>"
            )
        toc = "".join(f'<li><a href="#{a}">{esc(t)}</a></li>' for a, t in self.toc)
        parts.append(
            f'<nav class="toc" aria-label="contents"><strong>Contents</strong><ol>{toc}</ol></nav>'
        )
        for block in self.blocks:
            kind = block[0]
            if kind == "h":
                _, anchor, text, level = block
                parts.append(f'<h{level} id="{anchor}">{esc(text)}</h{level}>')
            elif kind == "dl":
                items = []
                for k, v in block[1]:
                    value = f"<pre>{esc(v)}</pre>" if k.startswith("command") else esc(v)
                    items.append(f"<dt>{esc(k)}</dt><dd>{value}</dd>")
                parts.append(f'<dl class="header">{"".join(items)}</dl>')
            elif kind == "table":
                parts.append(self._table_html(*block[1:]))
            elif kind == "p":
                _, text, css = block
                cls = f' class="{css}"' if css else ""
                parts.append(f"<p{cls}>{esc(text)}</p>")
            elif kind == "notes":
                items = "".join(f"<li>{esc(t)}</li>" for t in block[1])
                parts.append(f'<ul class="notes">{items}</ul>')
            elif kind == "grid":
                _, images, anchor = block
                figs = "".join(
                    _img_html(out, name, short, f"fig-{anchor}-{_slug(Path(name).stem)}")
                    for name, short in images
                )
                parts.append(f'<div class="grid">{figs}</div>')
            elif kind == "scorecard":
                _, file, card, summary = block
                items = "".join(
                    f"<li><code>{esc(k)}</code>: {esc(v)}</li>" for k, v in _flatten(card)
                )
                parts.append(
                    f'<p>The full scorecard as JSON: <a href="{esc(file)}">{esc(file)}</a> '
                    f'(beside this page).</p><details class="scorecard"><summary>{esc(summary)}'
                    f'</summary><ul class="kv">{items}</ul></details>'
                )
        parts.append(f"<footer>{esc(footer)}</footer></body></html>")
        return "\n".join(parts) + "\n"

    # --- Markdown
    def markdown(self, footer: str) -> str:
        def cell(text):
            return str(text).replace("|", "\\|").replace("\n", " ")

        lines = [f"# {self.title}", ""]
        for _, _css, verdict, text in self.top:
            lines += [f"> **{verdict}** {text}", ""]
        lines += ["Contents:", ""]
        lines += [f"{i}. [{t}](#{a})" for i, (a, t) in enumerate(self.toc, 1)]
        lines.append("")
        for block in self.blocks:
            kind = block[0]
            if kind == "h":
                _, anchor, text, level = block
                lines += [f'<a id="{anchor}"></a>', "", f"{'#' * level} {text}", ""]
            elif kind == "dl":
                lines += ["| | |", "|---|---|"]
                for k, v in block[1]:
                    value = f"`{v}`" if k.startswith("command") else cell(v)
                    lines.append(f"| {cell(k)} | {value} |")
                lines.append("")
            elif kind == "table":
                _, head, rows, _cite = block
                lines.append("| " + " | ".join(cell(h) for h in head) + " |")
                lines.append("|" + "---|" * len(head))
                lines += ["| " + " | ".join(cell(c) for c in r) + " |" for r in rows]
                lines.append("")
            elif kind == "p":
                lines += [block[1], ""]
            elif kind == "notes":
                lines += [f"- {t}" for t in block[1]] + [""]
            elif kind == "grid":
                for name, short in block[1]:
                    lines += [f"![{short}]({name})", "", f"*{short}*", ""]
            elif kind == "scorecard":
                _, file, card, summary = block
                lines += [
                    f"The full scorecard as JSON: [{file}]({file}).",
                    "",
                    f"<details><summary>{summary}</summary>",
                    "",
                ]
                lines += [f"- `{k}`: {v}" for k, v in _flatten(card)]
                lines += ["", "</details>", ""]
        lines += ["---", "", footer, ""]
        return "\n".join(lines)


_VERDICT_WORDS = {
    "generalized": "Generalized.",
    "exact": "Exact network.",
    "memorized": "Did not generalize.",
    "not_fit": "Did not fit.",
    "partial": "Partly generalized.",
    "inexact": "Not exact.",
    "non_finite": "Non-finite network.",
    "collapsed": "Collapsed network.",
}


def _verdict_word(kind: str) -> str:
    return _VERDICT_WORDS.get(kind, f"{kind.replace('_', ' ').capitalize()}.")


def _theory_label(reference: _Run | None, run: _Run) -> str:
    if reference is None:
        kind = _NETWORK.get(run.model, (run.model,))[0]
        theory = run.card.get("theory")
        usable = isinstance(theory, dict) and not isinstance(theory.get("not_applicable"), str)
        return f"theory (analytic {kind})" if usable else "theory"
    kind = _NETWORK.get(reference.model, (reference.model,))[0]
    return f"reference (analytic {kind})" if not reference.trained else "reference (trained)"


def _single_page(run: _Run, reference: _Run | None, command: str) -> _Page:
    page = _Page(f"modfourier report: {_title(run)}")
    kind, css, text = _verdict(run)
    page.banner(css, _verdict_word(kind), text)
    page.heading("run", "The run")
    page.header(_header(run) + [("command of this report", command)])
    rows = scorecard_rows(run.card, run.theory, run.split)
    if rows:
        page.heading("scorecard", "Scorecard: theory next to this network")
        text = (
            "Each measure of this network beside its value for the exact analytic network "
            "(docs/compare.md defines them)."
        )
        if run.trained:
            text += " Train and test accuracy are apart: the accuracy over all pairs mixes them."
        page.para(text)
        label = _theory_label(reference, run)
        page.table(("measure", label, "this network", "reference"), rows, cite=True)
        page.notes(_table_notes(run.card, run.theory))
    for fig in run.figures:
        page.figure(fig)
    page.heading("scorecard-json", "The scorecard in full")
    page.scorecard("scorecard.json", run.card, "Show every entry (key: value)")
    return page


def _comparison_values(card, theory, split) -> dict:
    """measure -> value of one run for the side-by-side table: the network's value, or for the
    rows about its analytic twin (no network value) the twin's."""
    out = {}
    for label, theory_v, net_v, _ in scorecard_rows(card, theory, split):
        if label.startswith("accuracy over all"):  # one row for trained and analytic runs
            label = "accuracy over all pairs (for a trained run: train + test mixed)"
        out[label] = net_v if net_v != "" else theory_v
    return out


def _multi_page(runs: list[_Run], reference: _Run | None, command: str, figs) -> _Page:
    tasks = sorted(
        {f"{r.config.get('task', {}).get('name')} mod {r.config.get('p')}" for r in runs}
    )
    page = _Page(f"modfourier report: {len(runs)} runs compared ({', '.join(tasks)})")
    for r in runs:
        kind, css, text = _verdict(r)
        page.banner(css, f"{r.label}: {_verdict_word(kind)}", text)
    page.heading("runs", "The runs")
    head = (
        "run",
        "network",
        "preset",
        "seed",
        "epochs",
        "stop reason",
        "grok epoch",
        "train acc.",
        "test acc.",
        "verdict",
    )
    rows = []
    for r in runs:
        split = r.split or {}
        rows.append(
            (
                r.label,
                _network_text(r),
                str(r.hyper.get("preset") or "n/a"),
                _fmt(r.hyper.get("seed", r.config.get("seed"))),
                _fmt(r.config.get("epochs")),
                str(r.config.get("stopped") or "n/a"),
                "none" if r.grok_epoch is None else str(r.grok_epoch),
                _pct(split.get("train")),
                _pct(split.get("test")),
                _verdict(r)[0].replace("_", " "),
            )
        )
    page.table(head, rows)
    page.header(
        [(f"command of {r.label}", _reproduce_command(r)) for r in runs]
        + [("command of this report", command)]
    )
    page.heading("comparison", "Scorecards side by side")
    page.para(
        "Every run's measures in one table (the accuracy over all pairs mixes train and "
        "test pairs)."
    )
    all_rows = [_comparison_values(r.card, r.theory, r.split) for r in runs]
    labels = list(dict.fromkeys(label for rows_ in all_rows for label in rows_))
    theory_rows = {}
    if reference is not None:
        theory_rows = _comparison_values(reference.card, None, None)
    head = (
        ("measure",)
        + ((_theory_label(reference, runs[0]),) if reference else ())
        + tuple(r.label for r in runs)
    )
    table = []
    for label in labels:
        cells = [rows_.get(label, "") for rows_ in all_rows]
        if reference is not None:
            cells = [theory_rows.get(label, "")] + cells
        if any(c not in ("", "n/a") for c in cells):
            table.append((label, *cells))
    page.table(head, table)
    for fig in figs:
        page.figure(fig)
    page.para("Each run's own figures: modfourier report RUN.")
    page.heading("scorecard-json", "The scorecards in full")
    for i, r in enumerate(runs, 1):
        page.scorecard(f"scorecard_{i}.json", r.card, f"{r.label}: every entry (key: value)")
    return page


# --------------------------------------------------------------------------------------------
# building


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _check_out(out: Path) -> None:
    """Refuse a target that holds anything a report does not write (it is replaced whole)."""
    for parent in [out, *out.parents]:
        if parent.exists() and not parent.is_dir():
            raise ValueError(f"`out_dir` {out} is or lies under a file ({parent})")
    if out.is_dir():
        foreign = sorted(
            e.name for e in out.iterdir() if not (e.is_file() and _REPORT_FILE.match(e.name))
        )
        if foreign:
            raise ValueError(
                f"`out_dir` {out} holds {foreign[0]!r}"
                f"{f' and {len(foreign) - 1} more' if len(foreign) > 1 else ''}, which a report "
                "does not write; choose a new directory or a previous report's"
            )


def _build_into(out: Path, build) -> None:
    """Run ``build(tmp)`` in a temporary directory beside ``out`` and rename it to ``out``."""
    created = []
    for parent in reversed(out.parents):
        if not parent.exists():
            parent.mkdir()
            created.append(parent)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    old = None
    try:
        build(tmp)
        mask = _umask()
        for f in tmp.iterdir():
            os.chmod(f, 0o666 & ~mask)
        os.chmod(tmp, 0o777 & ~mask)
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".old", dir=out.parent))
            os.rename(out, old / "report")
            try:
                os.rename(tmp, out)
            except OSError:
                os.rename(old / "report", out)
                raise
        else:
            os.rename(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if old is not None and not (old / "report").exists():
            shutil.rmtree(old, ignore_errors=True)
        for d in reversed(created):
            try:
                d.rmdir()
            except OSError:
                break
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _load_run(path, epoch, label) -> _Run:
    d = rundir.load_model_dir(path, epoch)
    return _Run(
        path=Path(path),
        label=label,
        config=d.config,
        weights=dict(d.weights),
        epoch=d.epoch,
        metrics=rundir.read_metrics(path),
        task=d.task,
    )


def _score_run(run: _Run, low_rank: bool, with_theory: bool) -> None:
    """Score the run's weights (the checkpoint's through a temporary model directory)."""
    from ._score import jsonable, score

    if run.epoch is None:
        run.card = score(run.path, low_rank=low_rank, reference=with_theory)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            config = {k: v for k, v in run.config.items() if k not in ("format_version",)}
            rundir.save_model_dir(Path(tmp) / "model", config, run.weights)
            run.card = score(Path(tmp) / "model", low_rank=low_rank, reference=with_theory)
        run.card.setdefault("meta", {})["epoch"] = run.epoch
    run.card = jsonable(run.card)
    run.theory = run.card.get("theory")


def _labels(paths: list[Path]) -> list[str]:
    labels = [p.name or str(p) for p in paths]
    if len(set(labels)) < len(labels):
        labels = [f"{p.parent.name}/{p.name}" for p in paths]
    if len(set(labels)) < len(labels):
        labels = [str(p) for p in paths]
    return labels


def _check_paths(model_dir) -> list[Path]:
    if isinstance(model_dir, (str, os.PathLike)):
        return [Path(model_dir)]
    if isinstance(model_dir, (list, tuple)) and model_dir:
        for i, p in enumerate(model_dir):
            if not isinstance(p, (str, os.PathLike)):
                raise TypeError(f"`model_dir[{i}]` must be a path; got {type(p).__name__}")
        paths = [Path(p) for p in model_dir]
        resolved = [p.resolve() for p in paths]
        if len(set(resolved)) < len(resolved):
            raise ValueError(f"`model_dir` names a directory twice: {[str(p) for p in paths]}")
        return paths
    raise TypeError(
        "`model_dir` must be a path or a non-empty list of paths; "
        f"got {type(model_dir).__name__} {model_dir!r}"
    )


def _check_reference(reference: _Run, runs: list[_Run]) -> None:
    for run in runs:
        ref_task = (reference.config.get("task"), reference.config.get("p"))
        run_task = (run.config.get("task"), run.config.get("p"))
        if ref_task != run_task:
            raise ValueError(
                f"`reference_dir` {reference.path} is {_task_text(*ref_task)} but "
                f"{run.path} is {_task_text(*run_task)}: the reference must solve the same "
                "task with the same p"
            )


def write_report(
    model_dir,
    out_dir=None,
    reference_dir=None,
    low_rank: bool = True,
    *,
    epoch: int | None = None,
) -> Path:
    """Write a self-contained report of one run (or several side by side): HTML, Markdown, JSON,
    PNGs.

    Parameters
    ----------
    model_dir : str, os.PathLike or list of them
        A run or model directory (config.json, weights.safetensors, optionally metrics.jsonl
        and checkpoints/), analytic or trained. Several directories make one comparison page
        (seeds or presets side by side: a header row per run, their scorecards in one table,
        training curves and the MLPs' IPR/phase series overlaid).
    out_dir : str or os.PathLike, optional
        Where to write (default ``<model_dir>/report``; required for several runs). It must be
        new, empty, or a previous report (which is replaced whole).
    reference_dir : str or os.PathLike, optional
        A model directory for the theory column, solving the same task with the same p; an
        analytic one is labelled "reference (analytic ...)", a trained one "reference
        (trained)". Default: the exact analytic network of the scorecard (``score``'s
        "theory").
    low_rank : bool
        Include the minimal-rank search (the slowest part).
    epoch : int, optional
        Report the checkpoint of this epoch instead of the final weights (one run only); the
        time series mark it.

    Returns
    -------
    pathlib.Path
        The report directory: report.html (every figure embedded, no external resource),
        report.md (the same header, table and captions), scorecard.json (one run) or
        scorecard_1.json, ... (several runs), and the PNGs.

    Raises
    ------
    TypeError, ValueError
        A non-path argument, a directory named twice, an ``epoch`` that is no checkpoint or
        comes with several runs, a reference for another task or p, an ``out_dir`` that holds
        other files.
    FileNotFoundError
        A missing directory or weights.

    Notes
    -----
    The report is built in a temporary directory beside ``out_dir`` and renamed into place at
    the end: a failure leaves nothing behind (not even an empty directory), and a previous
    report is replaced only by a complete one.
    """
    paths = _check_paths(model_dir)
    for name, value in (("out_dir", out_dir), ("reference_dir", reference_dir)):
        if value is not None and not isinstance(value, (str, os.PathLike)):
            raise TypeError(f"`{name}` must be a path; got {type(value).__name__}")
    if not isinstance(low_rank, bool):
        raise TypeError(f"`low_rank` must be a bool; got {low_rank!r}")
    if epoch is not None:
        if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
            raise TypeError(f"`epoch` must be an integer >= 0 or None; got {epoch!r}")
        if len(paths) > 1:
            raise ValueError(f"`epoch` applies to one run; got {len(paths)} runs")
    if out_dir is None and len(paths) > 1:
        raise ValueError("`out_dir` is required for a report of several runs")
    out = Path(out_dir) if out_dir is not None else paths[0] / "report"
    if epoch is not None:
        rundir.read_config(paths[0])  # a missing or foreign directory says so first
        available = rundir.list_checkpoints(paths[0])
        if epoch not in available:
            raise ValueError(
                f"`epoch` {epoch} is not a checkpoint of {paths[0]}; its checkpoints are "
                f"{available or 'none'}"
            )
    runs = [_load_run(p, epoch, label) for p, label in zip(paths, _labels(paths), strict=True)]
    reference = None
    if reference_dir is not None:
        reference = _load_run(reference_dir, None, "reference")
        _check_reference(reference, runs)
    _check_out(out)
    command = _report_command(runs, reference, epoch, low_rank)

    def build(tmp: Path) -> None:
        ref_weights = None
        if reference is not None:
            _score_run(reference, low_rank, with_theory=False)
            ref_weights = reference.weights
        for run in runs:
            _score_run(run, low_rank, with_theory=reference is None)
            if reference is not None:
                run.theory = reference.card
                run.card["theory"] = reference.card
        version = rundir.library_version()
        today = datetime.date.today().isoformat()
        footer = f"Written {today} by modfourier {version}: {command}"
        if len(runs) == 1:
            run = runs[0]
            _draw_run_figures(run, tmp, ref_weights)
            page = _single_page(run, reference, command)
            (tmp / "scorecard.json").write_text(json.dumps(run.card, indent=1) + "\n")
        else:
            figs = _draw_comparison_figures(runs, tmp)
            page = _multi_page(runs, reference, command, figs)
            for i, run in enumerate(runs, 1):
                (tmp / f"scorecard_{i}.json").write_text(json.dumps(run.card, indent=1) + "\n")
        (tmp / "report.md").write_text(page.markdown(footer))
        (tmp / "report.html").write_text(page.html(tmp, footer))

    _build_into(out, build)
    return out
