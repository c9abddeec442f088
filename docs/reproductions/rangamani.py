"""Reproduce Rangamani et al. 2025 (RNN on modular addition) with modfourier.

    python docs/reproductions/rangamani.py --epochs 12500   # the committed result (~20 min)
    python docs/reproductions/rangamani.py                  # train the `rangamani` preset
    python docs/reproductions/rangamani.py --run DIR          # measure an existing run directory
    python docs/reproductions/rangamani.py --preset rangamani-cpu    # the quick CPU variant
    python docs/reproductions/rangamani.py --smoke --out DIR  # tiny (p = 7, seconds)

Writes ``rangamani.json`` (or ``<preset>.json``) and figures under ``--out`` (default
docs/reproductions/results/rangamani/): key frequencies of W_E, W_fc, h1, h2, h3 (paper: six,
shared); the smallest SVD ranks of W_E, W_fc, W_ih, W_hh that keep the full accuracy with their
energy shares and the complement's accuracy (paper: 12, 12, 12, 32; 85.4 %, 95.5 %, 91.4 %,
89.4 %; complement at chance); the frequencies of W_fc's singular-vector pairs; Table I
(single and cumulative frequency ablation); Table II (fit error of V_fc^T h3 to cos/sin
omega (a + b); paper <~ 1e-2).

The `rangamani` preset is the paper's configuration (Sec. II) with one change: the final state h3
is not normalized during training (``hidden_norm="none"``); with the normalization as written the
network memorizes without generalizing (docs/trained.md). Sec. III-E (alpha from 0.3 to 0.7):
``--alphas 0.4 0.6 [--seed S]`` trains only the sweep (with ``--run DIR``: after measuring DIR,
its rows also in ``<preset>.json``), one run per alpha (to the target, then
on until the test loss is below ``--clean-loss``, at most ``--extra-epochs`` more), counts key
frequencies and ranks, and merges its rows, keyed by alpha and seed, into ``alpha_sweep.json``
(with the figure ``alpha_sweep.png``).

Run directories go to ``<out>/runs/`` (reused or resumed by a later call; deleted once the
results are written unless ``--keep-runs``).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from _common import (
    Runs,
    add_output_options,
    add_size_options,
    new_figure,
    output_folder,
    provenance,
    read_json,
    save_figure,
    size_of,
    write_json,
)

OUT = Path(__file__).parent / "results" / "rangamani"
# smoke: the preset's network shrunk to p = 7, d_h = d_embed = 16, a few epochs
SMOKE = dict(p=7, d_hidden=16, d_embed=16, max_epochs=30, eval_every=10)
SMOKE_EXTRA = dict(chunk=10, extra_epochs=20)  # the alpha sweep's epochs after the target


def measure(run_dir: Path, out: Path | None, tag: str) -> dict:
    """The paper's measures of the run in ``run_dir``; figures ``<tag>_*.png`` go to ``out``
    (none when ``out`` is None)."""
    import compare
    from closedform import get_task
    from trained import load_model

    model = load_model(run_dir)
    cfg = model.config
    p = int(cfg["p"])
    task = get_task("add", p)
    W = model.weights
    weights, accuracy_fn = compare.run_accuracy_fn(run_dir)
    acc = accuracy_fn(weights)
    hid = model.hidden()

    # key frequencies (relative energy >= 0.1 of the strongest; compare.key_frequencies)
    def keys(norms):
        return [int(k) for k in compare.key_frequencies(norms)]

    spectra = {
        "W_E": compare.frequency_norms(W["W_E"][:p], axis=0),
        "W_fc": compare.frequency_norms(W["W_fc"], axis=0),
        "h1": compare.frequency_norms(hid["h1"].reshape(p, p, -1)[:, 0, :], axis=0),
    }
    for name in ("h2", "h3"):  # 2-D spectra: energy on the diagonal (k, k) = waves of a + b
        s2 = compare.activation_spectrum_2d(hid[name], p=p)  # (d, p, p)
        diag = np.sqrt((s2[:, np.arange(p), np.arange(p)] ** 2).sum(0))[: p // 2 + 1]
        spectra[name] = diag
    key = {name: keys(n) for name, n in spectra.items()}
    shared = sorted(set.intersection(*(set(v) for v in key.values())))

    # low rank (Rangamani Fig. 3)
    ranks = {}
    for name in ("W_E", "W_fc", "W_ih", "W_hh"):
        r = compare.minimal_rank(weights, name, accuracy_fn)
        ranks[name] = dict(r)
    svf = compare.singular_vector_frequencies(W["W_fc"], axis=0, n_vectors=2 * len(key["W_fc"]))

    # Table I: remove frequencies from the embedding (token axis) and the readout (output axis)
    order = [int(k) for k in np.argsort(-spectra["W_fc"][1:])[: len(key["W_fc"])] + 1]

    def remove(w, ks):
        w = dict(w)
        w["W_E"] = w["W_E"].copy()
        w["W_E"][:p] = compare.remove_frequencies(w["W_E"][:p], ks, axis=0)
        w["W_fc"] = compare.remove_frequencies(w["W_fc"], ks, axis=0)
        return w

    table1 = compare.frequency_ablation(accuracy_fn, weights, order, remove)

    # Table II: fit of the readout's singular-vector projections of h3 to cos/sin
    table2 = compare.hidden_state_fit(
        hid["h3"], W["W_fc"], task, normalize=cfg.get("hidden_norm", "l2") == "l2"
    )
    if out is not None:
        compare.plot_spectrum_2d(hid["h3"], out / f"{tag}_h3_spectrum.png", name="h3")
        compare.plot_singular_values(
            {k: W[k] for k in ("W_E", "W_fc", "W_ih", "W_hh")}, out / f"{tag}_singular_values.png"
        )
        compare.plot_ablation(table1, out / f"{tag}_ablation.png")
    return {
        "accuracy_all_pairs": acc,
        "key_frequencies": key,
        "key_frequencies_shared": shared,
        "n_shared": len(shared),
        "spectra": {k: np.asarray(v).tolist() for k, v in spectra.items()},
        "low_rank": ranks,
        "W_fc_singular_vectors": {
            "frequency": np.asarray(svf["frequency"]).tolist(),
            "pairs": [list(map(int, t)) for t in svf["pairs"]],
        },
        "table1": table1,
        "table2": table2,
        "table2_max_error": max((r.get("relative_error", np.nan) for r in table2), default=None),
    }


def _config(args, **changes):
    from trained import TrainConfig

    smoke = SMOKE if size_of(args) == "smoke" else {}
    return TrainConfig(
        model="rnn", preset=args.preset, **smoke, seed=args.seed, device=args.device, **changes
    )


def _target_epoch(run) -> int:
    """The epoch where training stopped for its target: ``patience`` regular evaluations
    (every ``eval_every`` epochs) in a row at ``target_acc`` (trained's rule). A run resumed
    after that point is past it; this finds it again in the history."""
    cfg, hits = run.config, 0
    for rec in run.history:
        if rec["epoch"] % cfg.eval_every == 0:
            hits = hits + 1 if rec["test_acc"] >= cfg.target_acc else 0
            if hits >= cfg.patience:
                return rec["epoch"]
    return run.epochs


def alpha_row(args, alpha: float, runs: Runs) -> dict:
    """Sec. III-E: train the preset at ``alpha`` to the target, then on (``--extra-epochs``)."""
    t0 = time.perf_counter()
    cfg = _config(args, alpha=alpha)
    name = f"{args.preset}_alpha{alpha}_seed{args.seed}"
    run = runs.train(cfg, name)  # to the target (test accuracy >= 99 %) ...
    grok_alpha = run.grok_epoch(0.99)
    if args.extra_epochs and run.stopped == "target":
        # ... then on in chunks until the test loss is below --clean-loss (the paper analyzes
        # networks at test loss ~ 0), at most --extra-epochs more. Counted from the epoch the
        # target was reached, so that a call resuming this run stops where the first would have.
        chunk = SMOKE_EXTRA["chunk"] if size_of(args) == "smoke" else 500
        reached = _target_epoch(run)
        cap = reached + args.extra_epochs
        at_least = reached + args.min_extra_epochs

        def more_needed(run):
            dirty = run.history[-1]["test_loss"] >= args.clean_loss
            return (dirty or run.epochs < at_least) and run.epochs < cap

        while more_needed(run):
            more = cfg.replace(max_epochs=min(run.epochs + chunk, cap), target_acc=2.0)
            run = runs.train(more, name)
    m = measure(run.run_dir, None, f"{args.preset}_alpha{alpha}")
    return {
        "alpha": alpha,
        "seed": args.seed,
        "grok_epoch": grok_alpha,
        "epochs": run.epochs,
        "final_test_acc": run.history[-1]["test_acc"],
        "final_test_loss": run.history[-1]["test_loss"],
        "clean": run.history[-1]["test_loss"] < args.clean_loss,
        "min_extra_epochs": args.min_extra_epochs,
        "max_test_loss_after_grok": max(
            (r["test_loss"] for r in run.history if grok_alpha and r["epoch"] >= grok_alpha),
            default=None,
        ),
        "key_frequencies": m["key_frequencies"],
        "n_key_shared": m["n_shared"],
        "low_rank": {k: v["rank"] for k, v in m["low_rank"].items()},
        "train_seconds": round(time.perf_counter() - t0, 1),
    }


def merge_alpha_rows(out: Path, rows: list[dict]) -> Path:
    """Merge rows into ``alpha_sweep.json`` (keyed by alpha and seed); redraw its figure."""
    path = out / "alpha_sweep.json"
    doc = read_json(path) if path.exists() else {"rows": []}
    doc["command"] = "python docs/reproductions/rangamani.py --alphas A [A ...] --seed S"
    doc["note"] = (
        "each alpha: the rangamani preset trained to test accuracy >= 99 %, then on until the "
        "test loss is below 0.01 (rows with clean = true; at most 8000 more epochs); rows "
        "without a 'clean' field: 3000 more epochs (alpha 0.3: the main run at epoch 12500); "
        "key frequencies shared by W_E, W_fc, h1, h2, h3; ranks = smallest SVD rank keeping "
        "the full accuracy"
    )
    keep = {(r["alpha"], r.get("seed", 0)): r for r in doc["rows"]}
    keep.update({(r["alpha"], r["seed"]): r for r in rows})
    doc["rows"] = [dict(keep[k], seed=k[1]) for k in sorted(keep)]
    write_json(path, doc)

    fig, axes = new_figure(size=(5, 3.4))
    ax = axes[0, 0]
    for name, marker in (("W_E", "o"), ("W_fc", "s"), ("W_ih", "^"), ("W_hh", "v")):
        ax.scatter(
            [r["alpha"] for r in doc["rows"]],
            [r["low_rank"][name] for r in doc["rows"]],
            marker=marker,
            label=f"rank {name}",
        )
    ax.plot(
        [r["alpha"] for r in doc["rows"]],
        [2 * r["n_key_shared"] for r in doc["rows"]],
        "k_",
        markersize=18,
        label="2 x shared key freqs",
    )
    ax.set_xlabel("training fraction alpha")
    ax.set_ylabel("rank")
    ax.set_title("Rangamani Sec. III-E")
    ax.legend(fontsize=7)
    save_figure(fig, out / "alpha_sweep.png")
    return path


def parser():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", default=None, help="measure this run directory (no training)")
    ap.add_argument("--preset", default="rangamani", help="rangamani (paper) or rangamani-cpu")
    ap.add_argument("--alphas", type=float, nargs="*", default=[], help="Sec. III-E sweep")
    ap.add_argument(
        "--extra-epochs",
        type=int,
        default=None,
        help="alpha sweep: at most this many epochs trained on after reaching the target "
        f"(default 8000; smoke: {SMOKE_EXTRA['extra_epochs']})",
    )
    ap.add_argument(
        "--min-extra-epochs",
        type=int,
        default=0,
        help="alpha sweep: train at least this many epochs after reaching the target",
    )
    ap.add_argument(
        "--clean-loss",
        type=float,
        default=0.01,
        help="alpha sweep: train on after the target until the test loss is below this",
    )
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--epochs",
        type=int,
        default=None,
        help="train to this epoch without early stopping (the committed result: 12500)",
    )
    add_size_options(ap)
    add_output_options(ap, OUT)
    return ap


def main(argv=None) -> int:
    from closedform import rundir

    ap = parser()
    args = ap.parse_args(argv)
    if args.extra_epochs is None:
        args.extra_epochs = SMOKE_EXTRA["extra_epochs"] if args.smoke else 8000
    out = output_folder(ap, args, OUT)
    out.mkdir(parents=True, exist_ok=True)
    meta = provenance(__file__, argv)
    result = {"preset": args.preset, "size": size_of(args)}
    t0 = time.perf_counter()
    sweep_runs = Runs(out / "runs" / "alpha_sweep")
    if args.alphas and not args.run:
        rows = [alpha_row(args, alpha, sweep_runs) for alpha in args.alphas]
        path = merge_alpha_rows(out, rows)
        sweep_runs.clean_up(keep=args.keep_runs)
        print(f"-> {path}")
        return 0
    runs = Runs(out / "runs" / args.preset)
    if args.run:
        run_dir = Path(args.run)
        metrics = rundir.read_metrics(run_dir)
        result["config"] = rundir.read_config(run_dir)["hyper"]
        result["trained_elsewhere"] = str(run_dir)
    else:
        cfg = _config(args)
        if args.epochs:
            cfg = cfg.replace(max_epochs=args.epochs, target_acc=2.0)
        run = runs.train(cfg, args.preset)
        run_dir = run.run_dir
        metrics = run.history
        result["config"] = run.config.to_dict()
        result["train_seconds"] = round(time.perf_counter() - t0, 1)
    grok = next((r["epoch"] for r in metrics if r["test_acc"] >= 0.99), None)
    zero = next((r["epoch"] for r in metrics if r["test_loss"] < 1e-2), None)
    result.update(
        grok_epoch=grok,
        first_epoch_test_loss_below_0_01=zero,
        final={k: metrics[-1][k] for k in ("epoch", "train_acc", "test_acc", "test_loss")},
    )
    result.update(measure(run_dir, out, args.preset))
    sweep = [alpha_row(args, alpha, sweep_runs) for alpha in args.alphas]
    if sweep:
        result["alpha_sweep"] = sweep
        print(f"-> {merge_alpha_rows(out, sweep)}")
    result["wall_seconds"] = round(time.perf_counter() - t0, 1)
    result.update(meta)
    path = write_json(out / f"{args.preset}.json", result)
    runs.clean_up(keep=args.keep_runs)
    sweep_runs.clean_up(keep=args.keep_runs)
    print(json.dumps({k: result[k] for k in ("grok_epoch", "key_frequencies_shared", "final")}))
    print(f"-> {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
