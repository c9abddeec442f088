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
  baseline and the run without the Grokfast filter (lambda = 0); per-task grokking epochs (paper:
  q = 2, 3, 5, 7 first), positional correlation (paper: -0.64), token-embedding spectra against
  the baseline.

Run directories go to ``<out>/runs/<part>/`` (reused or resumed by a later call; deleted once
the part is written unless ``--keep-runs``).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from _common import Context, new_figure, reproduction_parser, run_main, save_figure

PARTS = ("nanda", "miiii")
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
        SMOKE_NET, alpha=0.8, dropout=0.0, lr=1e-3, weight_decay=1.0, grokfast_lamb=2.0,
        warmup=0, max_epochs=20, eval_every=10,
    ),
    "cpu": dict(
        p=29, alpha=0.8, d_model=256, d_mlp=1024, heads=4, dropout=0.0, lr=1e-3,
        weight_decay=1.0, grokfast_lamb=2.0, warmup=10, max_epochs=3000, eval_every=50,
    ),
    "full": {},  # the miiii preset
}  # fmt: skip


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


def parser():
    ap = reproduction_parser(__doc__, PARTS, "the papers' presets (for a GPU)", OUT)
    ap.add_argument("--epochs", type=int, default=None, help="override the epoch budget")
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
