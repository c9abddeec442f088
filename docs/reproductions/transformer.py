"""Reproduce the one-layer transformer results of Nanda et al. 2023 and Syrkis & Søgaard 2024.

    python docs/reproductions/transformer.py                 # CPU-sized
    python docs/reproductions/transformer.py --only nanda   # ~15 min on one CPU thread
    python docs/reproductions/transformer.py --full          # the papers' presets (use a GPU)
    python docs/reproductions/transformer.py --smoke --out DIR  # both parts, tiny (seconds)

Parts (each writes ``<part>.json`` and PNGs under ``--out``, default
docs/reproductions/results/transformer/):

- ``nanda``: add mod 113, 30 % train, Nanda's setting (the ``nanda`` preset; 10 000 epochs on
  the CPU, 50 000 with ``--full``). Key frequencies of the token embedding, the restricted
  and excluded loss over training (Nanda's progress measures) and the correlation of the two
  operand positions' embeddings (Syrkis Fig. 7: 0.95).
- ``miiii``: Syrkis's multitask x0 + x1 p mod q for every prime q < p, the shuffled-label
  baseline, the task ablation without q = 2, 3, 5, 7 (``masked``) and the run without the
  Grokfast filter (lambda = 0); per-task grokking epochs (paper:
  q = 2, 3, 5, 7 first), positional correlation (paper: -0.64), token-embedding spectra against
  the baseline.
- ``miiii_scan``: the paper's Table 2 (the ``miiii`` preset) with only p and the training
  fraction changed, one resumable run per (p, alpha) (``--scan P:ALPHA:EPOCHS ...`` sets the
  grid, ``--max-seconds`` caps each run's wall time); per-task validation accuracy and the epoch
  at which each head generalizes.
- ``miiii_paper``: the ``miiii`` preset as it is (p = 113), trained in chunks into a resumable
  run directory; the same call with a larger ``--epochs`` and ``--keep-runs`` continues it.

Run directories go to ``<out>/runs/<part>/`` (reused or resumed by a later call; deleted once
the part is written unless ``--keep-runs``).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from _common import Context, new_figure, reproduction_parser, run_main, save_figure

PARTS = ("nanda", "miiii", "miiii_scan", "miiii_paper")
OUT = Path(__file__).parent / "results" / "transformer"

# smoke: a tiny network on p = 11 (miiii: the tasks q = 2, 3, 5, 7), a few epochs
SMOKE_NET = dict(p=11, d_model=32, heads=2, d_mlp=64)
NANDA = {  # epochs and the spacing of the dense checkpoints (the progress measures)
    "smoke": dict(net=SMOKE_NET, epochs=40, every=20),
    "cpu": dict(net={}, epochs=10000, every=250),
    "full": dict(net={}, epochs=50000, every=1000),
}
# no CPU-sized miiii groks (docs/reproductions.md); the cpu size is the most complete one we found
MIIII = {
    "smoke": dict(
        SMOKE_NET, p=13, alpha=0.8, dropout=0.0, lr=1e-3, weight_decay=1.0, grokfast_lamb=2.0,
        warmup=0, max_epochs=20, eval_every=10,
    ),
    "cpu": dict(
        p=29, alpha=0.8, d_model=256, d_mlp=1024, heads=4, dropout=0.0, lr=1e-3,
        weight_decay=1.0, grokfast_lamb=2.0, warmup=10, max_epochs=3000, eval_every=50,
    ),
    "full": {},  # the miiii preset
}  # fmt: skip
# miiii_scan: the miiii preset (Syrkis Table 2) with only p and alpha changed: (p, alpha, epochs)
# per run, trained in chunks of `chunk` epochs (the wall-time cap is checked between chunks).
# cpu: the runs docs/reproductions.md quotes (about 45 min on one shared CPU thread)
MIIII_SCAN = {
    "smoke": dict(
        net=dict(d_model=32, heads=2, d_mlp=64), grid=((11, 0.3, 20), (13, 0.5, 20)), chunk=10
    ),
    "cpu": dict(
        net={},
        grid=((37, 0.3, 19000), (37, 0.6, 8000), (37, 0.9, 8000), (53, 0.3, 1000)),
        chunk=500,
    ),
    "full": dict(net={}, grid=((37, 0.3, 50000), (53, 0.3, 50000), (71, 0.3, 50000)), chunk=1000),
}
# miiii_paper: the miiii preset as it is (p = 113): the epochs one call trains up to, in chunks
MIIII_PAPER = {
    "smoke": dict(net=SMOKE_NET, epochs=20, chunk=10),
    "cpu": dict(net={}, epochs=2000, chunk=250),
    "full": dict(net={}, epochs=50000, chunk=1000),
}
GROKKED = 0.99  # validation accuracy from which a head counts as generalized


def _embedding_rows(weights, p):
    """Token embedding as (token, d_model) rows for the p number tokens (ours: W_E (d, V))."""
    return np.asarray(weights["W_E"]).T[:p]


def nanda(ctx: Context) -> dict:
    from closedform import get_task, rundir
    from compare import active_frequencies, positional_correlation, restricted_excluded_loss
    from trained import TrainConfig, load_model, make_dataset

    # Nanda's own setting (the `nanda` preset) groks at epoch 6500 in ~9 min on one CPU thread;
    # `--nanda-preset nanda-cpu` adds the Grokfast filter (epoch ~4600)
    size = NANDA[ctx.size]
    cfg = TrainConfig(
        model="transformer", preset=ctx.args.nanda_preset, **size["net"], seed=0,
        device=ctx.device,
    )  # fmt: skip
    epochs = ctx.args.epochs or size["epochs"]
    cfg = cfg.resolve().replace(target_acc=2.0, max_epochs=epochs)
    t0 = time.perf_counter()
    run = ctx.runs.train(cfg, "nanda", every=size["every"])
    train_seconds = time.perf_counter() - t0
    run_dir = run.run_dir
    model = load_model(run_dir)
    p = cfg.p
    task = get_task("add", p)
    freq = active_frequencies(_embedding_rows(model.weights, p), p=p)
    keys = [int(k) for k in freq["frequencies"]]
    ds = make_dataset("add", p, cfg.alpha, cfg.data_seed)
    train_mask = np.zeros((p, p), dtype=bool)
    n, m = ds.inputs[ds.train].T
    train_mask[n, m] = True
    series = {"epoch": [], "loss": [], "restricted_loss": [], "excluded_loss": [], "test_acc": []}
    for epoch in rundir.list_checkpoints(run_dir):
        w = rundir.load_checkpoint(run_dir, epoch)
        logits = model.logits(w)
        res = restricted_excluded_loss(logits, task, keys, mask=train_mask)
        series["epoch"].append(epoch)
        for k in ("loss", "restricted_loss", "excluded_loss"):
            series[k].append(float(res[k]))
        pred = logits.argmax(1).reshape(p, p)
        series["test_acc"].append(float((pred == task.table)[~train_mask].mean()))
    _plot_progress(series, run.grok_epoch(0.99), ctx.out / "nanda_progress.png")
    _plot_spectrum(freq, ctx.out / "nanda_embedding_spectrum.png", f"token embedding, add mod {p}")
    return {
        "config": run.config.to_dict(),
        "grok_epoch": run.grok_epoch(0.99),
        "epochs": run.epochs,
        "train_seconds": round(train_seconds, 1),
        "final_test_acc": run.history[-1]["test_acc"],
        "key_frequencies": keys,
        "positional_correlation": positional_correlation(model.weights["W_pos"]),
        "progress": series,
    }


def _plot_progress(series, grok, path):
    fig, axes = new_figure(size=(6.8, 4.2))
    ax = axes[0, 0]
    e = np.asarray(series["epoch"]) + 1
    for key, label in (
        ("loss", "train loss"),
        ("restricted_loss", "restricted loss (key frequencies only)"),
        ("excluded_loss", "excluded loss (key frequencies removed)"),
    ):
        ax.plot(e, series[key], marker=".", label=label)
    if grok is not None:
        ax.axvline(grok + 1, color="k", ls=":", lw=1, label="test acc >= 99 %")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("epoch + 1")
    ax.set_ylabel("cross-entropy on the training pairs")
    ax.set_title("Nanda's progress measures over training")
    ax.legend(fontsize=8)
    save_figure(fig, path)


def _plot_spectrum(freq, path, title, baseline=None):
    fig, axes = new_figure(size=(7.5, 3.6))
    ax = axes[0, 0]
    norms = np.asarray(freq["norms"])
    ax.bar(np.arange(len(norms)), norms, color="tab:blue", label="trained")
    if baseline is not None:
        b = np.asarray(baseline["norms"])
        ax.plot(np.arange(len(b)), b, color="tab:gray", lw=1, label="shuffled-label baseline")
    ax.axhline(freq["threshold"], color="k", ls="--", lw=1, label="threshold")
    ax.set_xlabel("frequency k")
    ax.set_ylabel("norm of the embedding at k")
    ax.set_title(f"{title}: active {[int(k) for k in freq['frequencies']]}", fontsize=9)
    ax.legend(fontsize=8)
    save_figure(fig, path)


def miiii(ctx: Context) -> dict:
    from compare import active_frequencies, positional_correlation
    from trained import TrainConfig, load_model

    base = TrainConfig(
        model="transformer", task="miiii", preset="miiii", **MIIII[ctx.size], seed=0,
        device=ctx.device,
    )  # fmt: skip
    base = base.resolve().replace(target_acc=2.0)
    if ctx.args.epochs:
        base = base.replace(max_epochs=ctx.args.epochs)
    runs = {}
    variants = {
        "full": base,
        "shuffled": base.replace(task_params={"variant": "shuffled"}),
        # Syrkis's task ablation: the heads q = 2, 3, 5, 7 masked away
        "masked": base.replace(task_params={"variant": "masked"}),
        # lambda = 0 (Syrkis: "did not converge when lambda = 0"); grokfast=None would mean
        # "take it from the preset" and bring the filter back
        "no_grokfast": base.replace(grokfast_lamb=0.0),
    }
    result = {}
    for name, cfg in variants.items():
        t0 = time.perf_counter()
        run = ctx.runs.train(cfg, name)
        runs[name] = (run, load_model(run.run_dir))
        last = run.history[-1]
        qs = [int(k.split("_q")[1]) for k in last if k.startswith("test_acc_q")]
        per_task = {}
        for q in qs:
            per_task[q] = next(
                (r["epoch"] for r in run.history if r.get(f"valid_acc_q{q}", 0) >= 0.99), None
            )
        result[name] = {
            "config": run.config.to_dict(),
            "epochs": run.epochs,
            "seconds": round(time.perf_counter() - t0, 1),
            "grok_epoch_all_tasks": run.grok_epoch(0.99),
            "final_test_acc_mean": last["test_acc"],
            "final_test_acc_min": last.get("test_acc_min"),
            "final_valid_acc_min": last.get("valid_acc_min"),
            "valid_grok_epoch_per_task": per_task,
            "positional_correlation": positional_correlation(runs[name][1].weights["W_pos"]),
        }
        print(f"  miiii {name}: test min {last.get('test_acc_min')}", flush=True)
    p = base.p
    base_freq = active_frequencies(_embedding_rows(runs["shuffled"][1].weights, p), p=p)
    freq = active_frequencies(
        _embedding_rows(runs["full"][1].weights, p), p=p,
        baseline=_embedding_rows(runs["shuffled"][1].weights, p),
    )  # fmt: skip
    result["full"]["active_frequencies_vs_baseline"] = [int(k) for k in freq["frequencies"]]
    result["shuffled"]["active_frequencies_vs_permutation"] = [
        int(k) for k in base_freq["frequencies"]
    ]
    _plot_spectrum(freq, ctx.out / "miiii_embedding_spectrum.png", f"miiii p={p}", base_freq)
    order = sorted(
        (e, q) for q, e in result["full"]["valid_grok_epoch_per_task"].items() if e is not None
    )
    result["full"]["task_order"] = [q for _, q in order]
    return result


def _epochs_done(run_dir: Path) -> int:
    """The last epoch a run directory can resume from (0 when there is none)."""
    from closedform import rundir

    if not (run_dir / rundir.CONFIG_NAME).is_file():
        return 0
    saved = rundir.list_checkpoints(run_dir, with_state=True)
    return saved[-1] if saved else 0


def _train_capped(ctx: Context, cfg, name: str, chunk: int, max_seconds: float | None):
    """Train ``cfg`` into the run ``name`` in chunks of ``chunk`` epochs, each resumed from the
    last, until ``cfg.max_epochs``, the target, or ``max_seconds`` of wall time (checked between
    chunks, so a chunk is never cut). Returns the ``trained.Run``, why it stopped
    ('max_epochs', 'target' or 'wall'), this call's seconds and this call's epochs."""
    t0 = time.perf_counter()
    first = done = _epochs_done(ctx.runs.path(name))
    why = "max_epochs"
    while True:
        # chunks end on multiples of `chunk` (a run interrupted between them realigns); a run
        # already trained past cfg.max_epochs is reused where it stands
        stop = max(done, min((done // chunk + 1) * chunk, cfg.max_epochs))
        run = ctx.runs.train(cfg.replace(max_epochs=stop), name)
        done = run.epochs
        if run.stopped == "target":
            why = "target"
            break
        if done >= cfg.max_epochs:
            break
        if max_seconds is not None and time.perf_counter() - t0 >= max_seconds:
            why = "wall"
            break
    return run, why, time.perf_counter() - t0, max(done - first, 0)


def _per_task(history: list[dict]) -> dict:
    """Per head q: the final validation accuracy, the first epoch at >= GROKKED, and the heads
    that are at >= GROKKED at the end; plus the first epoch at which every head is."""
    last = history[-1]
    qs = sorted(int(k.split("_q")[1]) for k in last if k.startswith("valid_acc_q"))
    first = {
        q: next((r["epoch"] for r in history if r.get(f"valid_acc_q{q}", 0) >= GROKKED), None)
        for q in qs
    }
    return {
        "final_train_acc": last.get("train_acc"),
        "final_valid_acc": {q: round(last[f"valid_acc_q{q}"], 4) for q in qs},
        "valid_grok_epoch": first,
        "grokked_at_end": [q for q in qs if last[f"valid_acc_q{q}"] >= GROKKED],
        "all_grokked_epoch": next(
            (r["epoch"] for r in history if r.get("valid_acc_min", 0) >= GROKKED), None
        ),
        "order": [q for _, q in sorted((e, q) for q, e in first.items() if e is not None)],
    }


def _positional_correlation(run) -> float:
    """Pearson correlation of the x0 and x1 position embeddings (Syrkis Fig. 7)."""
    from compare import positional_correlation
    from trained import load_model

    return positional_correlation(load_model(run.run_dir).weights["W_pos"])


def _valid_series(history: list[dict]) -> dict:
    """Epoch and per-head validation accuracy of every logged record."""
    qs = sorted(int(k.split("_q")[1]) for k in history[-1] if k.startswith("valid_acc_q"))
    out = {"epoch": [r["epoch"] for r in history]}
    for q in qs:
        out[f"valid_acc_q{q}"] = [round(r[f"valid_acc_q{q}"], 4) for r in history]
    return out


def _miiii_config(ctx: Context, net: dict, **fields):
    from trained import TrainConfig

    cfg = TrainConfig(
        model="transformer", task="miiii", preset="miiii", **net, seed=0, device=ctx.device,
        **fields,
    )  # fmt: skip
    return cfg.resolve()


def _plot_per_task(ax, series: dict, title: str) -> None:
    from matplotlib import colormaps

    qs = [int(k.split("_q")[1]) for k in series if k.startswith("valid_acc_q")]
    colors = colormaps["viridis"](np.linspace(0, 0.95, len(qs)))
    for q, color in zip(qs, colors, strict=True):
        ax.plot(series["epoch"], series[f"valid_acc_q{q}"], color=color, lw=1, label=f"q={q}")
    ax.axhline(GROKKED, color="k", ls=":", lw=0.8)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("epoch")
    ax.set_ylabel("validation accuracy")
    ax.set_title(title, fontsize=9)


def miiii_scan(ctx: Context) -> dict:
    size = MIIII_SCAN[ctx.size]
    grid = ctx.args.scan or size["grid"]
    rows = []
    for p, alpha, epochs in grid:
        cfg = _miiii_config(ctx, size["net"], p=p, alpha=alpha).replace(max_epochs=epochs)
        name = f"p{p}_a{alpha:.2f}"
        run, why, seconds, trained = _train_capped(
            ctx, cfg, name, size["chunk"], ctx.args.max_seconds
        )
        per_task = _per_task(run.history)
        row = {
            "name": name,
            "p": p,
            "alpha": alpha,
            "n_train": int(round(alpha * p * p)),
            "n_tasks": len(per_task["final_valid_acc"]),
            "epochs": run.epochs,
            "stopped": why,
            "seconds_this_call": round(seconds, 1),
            "ms_per_epoch_this_call": round(1000 * seconds / trained, 1) if trained else None,
            **per_task,
            "positional_correlation": _positional_correlation(run),
            "series": _valid_series(run.history),
        }
        rows.append(row)
        print(
            f"  miiii_scan {name}: epoch {run.epochs} ({why}), grokked {row['grokked_at_end']}",
            flush=True,
        )
    fig, axes = new_figure(ncols=len(rows), size=(3.4 * len(rows), 3.4), sharey=True)
    for ax, row in zip(axes[0], rows, strict=True):
        _plot_per_task(ax, row["series"], f"p={row['p']}, alpha={row['alpha']}")
    axes[0, -1].legend(fontsize=6, ncol=2)
    save_figure(fig, ctx.out / "miiii_scan.png")
    return {"config": _miiii_config(ctx, size["net"]).to_dict(), "rows": rows}


def miiii_paper(ctx: Context) -> dict:
    size = MIIII_PAPER[ctx.size]
    epochs = ctx.args.epochs or size["epochs"]
    cfg = _miiii_config(ctx, size["net"]).replace(max_epochs=epochs)
    run, why, seconds, trained = _train_capped(
        ctx, cfg, "miiii", size["chunk"], ctx.args.max_seconds
    )
    series = _valid_series(run.history)
    fig, axes = new_figure(size=(6.8, 4.2))
    _plot_per_task(axes[0, 0], series, f"miiii preset, p={cfg.p}: epoch {run.epochs}")
    axes[0, 0].legend(fontsize=6, ncol=3)
    save_figure(fig, ctx.out / "miiii_paper.png")
    return {
        "config": run.config.to_dict(),
        "epochs": run.epochs,
        "stopped": why,
        "seconds_this_call": round(seconds, 1),
        "ms_per_epoch_this_call": round(1000 * seconds / trained, 1) if trained else None,
        **_per_task(run.history),
        "positional_correlation": _positional_correlation(run),
        "series": series,
    }


def _scan_entry(text: str) -> tuple[int, float, int]:
    try:
        p, alpha, epochs = text.split(":")
        return int(p), float(alpha), int(epochs)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected P:ALPHA:EPOCHS (e.g. 37:0.3:3000); got {text!r}"
        ) from None


def parser():
    ap = reproduction_parser(__doc__, PARTS, "the papers' presets (for a GPU)", OUT)
    ap.add_argument("--epochs", type=int, default=None, help="override the epoch budget")
    ap.add_argument(
        "--scan",
        nargs="+",
        type=_scan_entry,
        default=None,
        metavar="P:ALPHA:EPOCHS",
        help="miiii_scan: the runs (default: the size's grid)",
    )
    ap.add_argument(
        "--max-seconds",
        type=float,
        default=None,
        help="miiii_scan, miiii_paper: stop each run after this much wall time (between chunks)",
    )
    ap.add_argument(
        "--nanda-preset",
        default="nanda",
        choices=["nanda", "nanda-cpu"],
        help="nanda: Nanda's setting (default); nanda-cpu: plus the Grokfast EMA filter",
    )
    return ap


def main(argv=None) -> int:
    parts = {name: globals()[name] for name in PARTS}
    return run_main(parser(), argv, parts, OUT, "transformer_full", __file__)


if __name__ == "__main__":
    raise SystemExit(main())
