"""Reproduce Gromov 2023 ("Grokking modular arithmetic"): Fig. 1, 3, 4b, 6 and App. D, E.

    python docs/reproductions/gromov.py                       # all parts, CPU-sized
    python docs/reproductions/gromov.py --only fig6 fig3      # some parts
    python docs/reproductions/gromov.py --only fig1_paper     # Fig. 1 at the paper's size (~12 min)
    python docs/reproductions/gromov.py --only fig3_paper     # Fig. 3 at the paper's size
    python docs/reproductions/gromov.py --only fig4b_gd       # Fig. 4b's GD curve (p = 97)
    python docs/reproductions/gromov.py --only appe1 appe2    # App. E: transformers (~70 min)
    python docs/reproductions/gromov.py --full                # the paper's sizes (use a GPU)
    python docs/reproductions/gromov.py --smoke --out DIR     # every part, tiny (seconds)

Each part writes ``<part>.json`` (its numbers, the configs, seeds, wall time, command, library
version and date) and ``<part>.png`` under ``--out`` (default docs/reproductions/results/gromov/).
docs/reproductions.md puts them next to the published values. Training uses `trained` (MLP of
Gromov eq. 1-2, MSE on one-hot targets, mean-field parametrization unless said); the measures
come from `compare` and the analytic networks from `closedform`. Run directories go to
``<out>/runs/<part>/`` (reused or resumed by a later call; deleted once the part is written
unless ``--keep-runs``).

CPU sizes (the default): Fig. 1 and the GD half of Fig. 3 at p = 31, N = 128, alpha = 0.7
(full-batch GD groks there in ~800 epochs; at the paper's alpha = 0.49 it is below GD's critical
alpha at this p, see docs/sweeps.md); Fig. 4b, Fig. 6, the AdamW half of Fig. 3 and App. D at the
paper's p = 97, N = 512, alpha = 0.5. App. E (transformers, not part of the default run): see
:func:`appe1` and :func:`appe2`.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from _common import (
    Context,
    Curve,
    fig4b_figure,
    new_figure,
    read_json,
    reproduction_parser,
    run_main,
    save_figure,
)

PARTS = ("fig1", "fig3", "fig4b", "fig6", "appd", "fig1_paper", "fig3_paper", "fig4b_gd",
         "appe1", "appe2")  # fmt: skip
OUT = Path(__file__).parent / "results" / "gromov"

# The sizes of each part: smoke (tiny, for the test suite), cpu (the default), full (--full).
# GD's learning rate grows with p (the MSE gradient shrinks as 1/p); at p = 7 lr 1 is stable.
FIG1 = {
    "smoke": dict(p=7, width=16, alpha=0.7, lr=1.0, epochs=120),
    "cpu": dict(p=31, width=128, alpha=0.7, lr=500.0, epochs=4000),
    "full": dict(p=97, width=512, alpha=0.49, lr=2000.0, epochs=100000),
}
# the paper's size on the CPU: the gromov-gd preset; it groks at ~8000 (~12 min, one thread)
FIG1_PAPER = {
    "smoke": FIG1["smoke"],
    "cpu": dict(p=97, width=512, alpha=0.49, lr=2000.0, epochs=12000),
}
FIG1_PAPER["full"] = FIG1_PAPER["cpu"]
FIG3 = {
    "smoke": dict(
        net=dict(p=7, width=16, alpha=0.7),
        gd=dict(optimizer="gd", lr=1.0, weight_decay=0.0, max_epochs=40),
        adamw_epochs=40,
    ),
    "cpu": dict(
        net=dict(p=31, width=128, alpha=0.7),
        gd=dict(optimizer="gd", lr=500.0, weight_decay=0.0, max_epochs=4000),
        adamw_epochs=3000,
    ),
    "full": dict(
        net=dict(p=97, width=512, alpha=0.5),
        gd=dict(optimizer="gd", lr=2000.0, weight_decay=0.0, max_epochs=100000, alpha=0.49),
        adamw_epochs=3000,
    ),
}
FIG3_PAPER = {
    "smoke": FIG3["smoke"],
    "cpu": dict(
        net=dict(p=97, width=512, alpha=0.5),
        gd=dict(optimizer="gd", lr=2000.0, weight_decay=0.0, max_epochs=10000, alpha=0.49),
        adamw_epochs=3000,
    ),
}
FIG3_PAPER["full"] = FIG3_PAPER["cpu"]
FIG4B = {
    "smoke": dict(p=7, widths=[4, 8], epochs=30, analytic_seeds=2),
    "cpu": dict(p=97, widths=[16, 32, 64, 128, 256, 512], epochs=3000, analytic_seeds=5),
    "full": dict(p=97, widths=[16, 32, 64, 128, 256, 512, 1024], epochs=3000, analytic_seeds=5),
}
# GD at lr (lr_at_128) N / 128: the scaling of our GD sweeps (docs/sweeps.md); 2000 at N = 512
# is the gromov-gd preset
FIG4B_GD = {
    "smoke": dict(p=7, widths=[4, 8], lr_at_128=8.0, epochs=30, eval_every=10),
    "cpu": dict(p=97, widths=[16, 32, 64, 128, 256, 512], lr_at_128=500.0, epochs=10000,
                eval_every=100),
}  # fmt: skip
FIG4B_GD["full"] = FIG4B_GD["cpu"]
FIG6 = {
    "smoke": dict(net=dict(p=7, width=16), epochs=40, every=10),
    "cpu": dict(net={}, epochs=1500, every=25),
    "full": dict(net={}, epochs=3000, every=25),
}
APPD = {"smoke": dict(p=7, width=16, epochs=30), "cpu": dict(p=97, width=512, epochs=3000)}
APPD["full"] = APPD["cpu"]
TRANSIENT = 100  # Fig. 1: the first epochs are the large GD step's initial transient

# App. E: the Gromov group's transformer code (d-doshi/Grokking, Grokking_with_transformer.ipynb):
# the sequence n, m without '=' (the last position is m's), d = 128, no LayerNorm, AdamW lr 1e-2,
# betas (0.9, 0.98), weight decay 0.5, alpha = 0.5; MSE on one-hot targets (App. E.1). The rest
# is trained's transformer (Nanda's initialization, causal attention, 10 warm-up steps).
APPE_OPT = dict(
    preset="nanda", task="add", alpha=0.5, d_model=128, eq_token=False, loss="mse", lr=1e-2,
    betas=(0.9, 0.98), weight_decay=0.5,
)  # fmt: skip
# CPU sizes, from timing pilots on this project's machine (docs/reproductions.md, App. E): the
# transformer groks add mod 97 in ~2000-2500 epochs (~0.3 s each); one attention-only epoch at
# p = 97 costs ~2.7x one at p = 59 (4704 training pairs against 1740), so the whole Fig. 13 grid
# runs at p = 59 and one family (one softmax block) at the paper's p = 97.
EPOCHS_E1 = 3000
P_E2, EPOCHS_E2 = 59, 1200
HEADS_97, EPOCHS_97, FAMILIES_97 = [1, 2, 4, 8, 16, 32], 1000, [("softmax", 1)]
APPE1 = {
    "smoke": dict(p=7, d_model=16, heads=2, d_mlp=32, epochs=40, eval_every=5),
    "cpu": dict(p=97, heads=4, d_mlp=512, epochs=EPOCHS_E1, eval_every=10),
}
APPE1["full"] = APPE1["cpu"]
# (attention, layers) of Gromov Fig. 13's three panels
APPE2_FAMILIES = (("linear", 1), ("softmax", 1), ("softmax", 2))
APPE2 = {
    "smoke": dict(
        grid=dict(p=7, d_model=8, heads=[1, 2], epochs=10, eval_every=5),
        subset=dict(p=11, d_model=8, heads=[2], epochs=5, eval_every=5, families=[("softmax", 1)]),
    ),
    "cpu": dict(
        grid=dict(p=P_E2, heads=[1, 2, 4, 8, 16, 32], epochs=EPOCHS_E2, eval_every=10),
        subset=dict(p=97, heads=HEADS_97, epochs=EPOCHS_97, eval_every=10, families=FAMILIES_97),
    ),
    "full": dict(
        grid=dict(p=97, heads=[1, 2, 4, 8, 16, 32], epochs=10000, eval_every=10), subset=None,
    ),
}  # fmt: skip


def _first_at_least(history, key, value):
    return next((r["epoch"] for r in history if r[key] >= value), None)


def _phase_summary(run_dir: Path) -> dict:
    import closedform
    import compare

    d = closedform.load_model_dir(run_dir)
    res = compare.phase_residual(compare.neuron_phases(d.weights["W1"], d.weights["W2"], d.task))
    return {**res.to_dict(), "delta": res.delta.tolist()}


# ---------------------------------------------------------------------------------------------
def fig1(ctx: Context) -> dict:
    """Dynamics under full-batch GD with MSE (Gromov Fig. 1), CPU size (``--full``: paper size)."""
    return _fig1(ctx, "fig1", **FIG1[ctx.size])


def fig1_paper(ctx: Context) -> dict:
    """Gromov Fig. 1 at the paper's size on the CPU: add mod 97, N = 512, alpha = 0.49, GD with
    lr 2000 (the ``gromov-gd`` preset), 12 000 epochs (it groks at ~8000; ~12 min, one thread)."""
    return _fig1(ctx, "fig1_paper", **FIG1_PAPER[ctx.size])


def _fig1(ctx: Context, name: str, p, width, alpha, lr, epochs) -> dict:
    from trained import TrainConfig

    cfg = TrainConfig(
        model="mlp", task="add", p=p, width=width, alpha=alpha, loss="mse", optimizer="gd",
        lr=lr, weight_decay=0.0, max_epochs=epochs, eval_every=10, target_acc=2.0, seed=0,
        device=ctx.device,
    )  # fmt: skip
    run = ctx.runs.train(cfg, "gd")
    h = run.history
    grok = run.grok_epoch(0.99)
    onset = _first_at_least(h, "test_acc", 0.1)  # test accuracy starts to rise
    # The first ~100 epochs are the large step's initial transient (the loss jumps, then falls
    # by two decades); the paper's statements are about the plateau after it.
    late = [r for r in h if r["epoch"] >= TRANSIENT]
    peak = max(late, key=lambda r: r["test_loss"])
    at_grok = next((r for r in h if r["epoch"] == grok), None)
    # the same without a fixed transient length: the largest test loss between the lowest test
    # loss before the onset (the end of the transient) and the onset
    before = [r for r in h if onset is None or r["epoch"] <= onset]
    low = min(before, key=lambda r: r["test_loss"])["epoch"]
    local = max((r for r in before if r["epoch"] >= low), key=lambda r: r["test_loss"])
    size = f"add mod {p}, N = {width}, alpha = {alpha}, lr {lr:g}"
    _plot_fig1(h, ctx.out / f"{name}.png", grok, size)
    return {
        "test_loss_min_before_onset_epoch": low,
        "test_loss_local_max_before_onset_epoch": local["epoch"],
        "config": run.config.to_dict(),
        "grok_epoch": grok,
        "onset_epoch_test_acc_10pct": onset,
        "test_loss_global_max_epoch": max(h, key=lambda r: r["test_loss"])["epoch"],
        "test_loss_peak_epoch_after_100": peak["epoch"],
        "test_loss_peak_before_onset": onset is not None and peak["epoch"] <= onset,
        "final": {k: h[-1][k] for k in ("train_acc", "test_acc", "train_loss", "test_loss")},
        "weight_norms_start": {k: h[0][k] for k in ("norm_W1", "norm_W2")},
        "weight_norms_min_W1_epoch": min(h, key=lambda r: r["norm_W1"])["epoch"],
        "weight_norms_at_grok": (
            {k: at_grok[k] for k in ("norm_W1", "norm_W2")} if at_grok else None
        ),
        "weight_norms_end": {k: h[-1][k] for k in ("norm_W1", "norm_W2")},
        "grad_norm_peak_epoch_after_100": max(late, key=lambda r: r["grad_norm"])["epoch"],
        "history": h,
    }


def _plot_fig1(h, path, grok, size):
    e = np.array([r["epoch"] for r in h]) + 1
    fig, axes = new_figure(4, size=(16, 3.6))
    panels = (
        ("(a) MSE loss", (("train_loss", "train"), ("test_loss", "test")), True),
        ("(b) weight norms", (("norm_W1", "W1"), ("norm_W2", "W2")), False),
        ("(c) accuracy", (("train_acc", "train"), ("test_acc", "test")), False),
        ("(d) gradient norm", (("grad_norm", "full-batch gradient"),), True),
    )
    for ax, (title, keys, logy) in zip(axes[0], panels, strict=True):
        for key, label in keys:
            ax.plot(e, [r[key] for r in h], label=label)
        if grok is not None:
            ax.axvline(grok + 1, color="k", ls=":", lw=1, label="test acc >= 99 %")
        ax.set_xscale("log")
        if logy:
            ax.set_yscale("log")
        ax.set_title(title)
        ax.set_xlabel("epoch + 1")
        ax.legend(fontsize=7)
    fig.suptitle(f"Gromov Fig. 1: full-batch GD, MSE ({size})")
    save_figure(fig, path, dpi=110)


def fig3(ctx: Context) -> dict:
    """Distribution of phi1 + phi2 - phi3 for GD and AdamW solutions (Gromov Fig. 3)."""
    return _fig3(ctx, "fig3", **FIG3[ctx.size])


def fig3_paper(ctx: Context) -> dict:
    """Gromov Fig. 3 at the paper's size on the CPU: add mod 97, N = 512; GD lr 2000 at
    alpha = 0.49 (the ``gromov-gd`` preset, grokking at ~8000) for 10 000 epochs and AdamW (the
    ``gromov`` preset, alpha = 0.5) for 3000; the seeds of each train as one batched ensemble."""
    return _fig3(ctx, "fig3_paper", **FIG3_PAPER[ctx.size], ensemble=True)


def _fig3(ctx: Context, tag: str, net: dict, gd: dict, adamw_epochs: int, ensemble=False) -> dict:
    import compare
    from trained import TrainConfig

    seeds = ctx.seeds
    results = {}
    adamw = dict(preset="gromov", max_epochs=adamw_epochs)
    for name, extra in (("gd", gd), ("adamw", adamw)):
        cfg = TrainConfig(
            model="mlp", task="add", **{**net, **extra}, loss="mse", eval_every=10,
            target_acc=2.0, seed=seeds[0], device=ctx.device,
        )  # fmt: skip
        if ensemble:
            runs = ctx.runs.train_ensemble(cfg, seeds, name)
        else:
            runs = [ctx.runs.train(cfg.replace(seed=s), f"{name}_{s}") for s in seeds]
        per_seed = []
        for seed, run in zip(seeds, runs, strict=True):
            per_seed.append(
                {
                    "seed": seed,
                    "grok_epoch": run.grok_epoch(0.99),
                    "final_test_acc": run.history[-1]["test_acc"],
                    **_phase_summary(run.run_dir),
                }
            )
        results[name] = {
            "config": runs[-1].config.to_dict(),
            "R_per_seed": [r["R"] for r in per_seed],
            "R_mean": float(np.mean([r["R"] for r in per_seed])),
            **per_seed[0],  # the histogram shows the first seed
            "per_seed": [{k: v for k, v in r.items() if k != "delta"} for r in per_seed],
        }
    fig, axes = new_figure(2, size=(10, 3.8), sharey=True)
    bins = np.linspace(-np.pi, np.pi, 38)
    for ax, name in zip(axes[0], ("gd", "adamw"), strict=True):
        d = np.asarray(results[name]["delta"])
        ax.hist(d, bins=bins, weights=np.full(len(d), 1 / max(len(d), 1)), alpha=0.8)
        ax.axvline(0, color="k", ls="--", lw=1)
        ax.set_title(
            f"{name.upper()}: R = {results[name]['R']:.3f}, "
            f"mean = {results[name]['circular_mean']:+.3f} rad (n = {len(d)})",
            fontsize=9,
        )
        ax.set_xlabel("phi1 + phi2 - phi3 (rad)")
    axes[0, 0].set_ylabel("share of neurons")
    size = f"add mod {net['p']}, N = {net['width']}"
    fig.suptitle(f"Gromov Fig. 3: phase residuals of trained networks ({size}; theory: all at 0)")
    save_figure(fig, ctx.out / f"{tag}.png")
    compare.plot_phase_histogram(
        np.asarray(results["adamw"]["delta"]), ctx.out / f"{tag}_adamw.png", label="AdamW"
    )
    for r in results.values():
        r["delta"] = [round(x, 6) for x in r["delta"]]
    results["adamw_more_peaked_every_seed"] = all(
        a > g
        for a, g in zip(results["adamw"]["R_per_seed"], results["gd"]["R_per_seed"], strict=True)
    )
    return results


def fig4b(ctx: Context) -> dict:
    """Test accuracy against width: analytic random phases vs AdamW (Gromov Fig. 4b)."""
    from closedform import analytic_mlp, get_task
    from trained import TrainConfig

    size = FIG4B[ctx.size]
    p, seeds = size["p"], ctx.seeds
    task = get_task("add", p)
    rows = []
    for N in size["widths"]:
        analytic = [
            analytic_mlp(task, width=N, seed=s).accuracy() for s in range(size["analytic_seeds"])
        ]
        cfg = TrainConfig(
            model="mlp", preset="gromov", p=p, width=N, alpha=0.5, max_epochs=size["epochs"],
            eval_every=10, target_acc=1.0, device=ctx.device,
        )  # fmt: skip
        t0 = time.perf_counter()
        runs = ctx.runs.train_ensemble(cfg, seeds, f"N{N}")
        rows.append(
            {
                "width": N,
                "analytic_mean": float(np.mean(analytic)),
                "analytic_per_seed": analytic,
                "adamw_final_test_acc": [r.history[-1]["test_acc"] for r in runs],
                "adamw_grok_epoch": [r.grok_epoch(0.99) for r in runs],
                "adamw_epochs": [r.epochs for r in runs],
                "seconds": round(time.perf_counter() - t0, 1),
            }
        )
        print(f"  fig4b N={N}: analytic {rows[-1]['analytic_mean']:.3f}, AdamW "
              f"{np.mean(rows[-1]['adamw_final_test_acc']):.3f}", flush=True)  # fmt: skip
    result = {
        "p": p, "alpha": 0.5, "seeds": seeds, "analytic_seeds": size["analytic_seeds"],
        "rows": rows,
    }  # fmt: skip
    _draw_fig4b(ctx.out, adamw=result)
    return result


def fig4b_gd(ctx: Context) -> dict:
    """The GD curve of Gromov Fig. 4b: add mod 97, alpha = 0.5, full-batch GD with lr 500 N/128
    (the scaling of our GD sweeps, docs/sweeps.md; 2000 at N = 512 is the ``gromov-gd`` preset),
    the first seed only, until test accuracy >= 99 % or 10 000 epochs (~25 min on one thread).
    Redraws ``fig4b.png`` with the AdamW and analytic curves of ``fig4b.json`` when present."""
    from trained import TrainConfig

    size = FIG4B_GD[ctx.size]
    p, seed = size["p"], ctx.seeds[0]
    rows = []
    for N in size["widths"]:
        cfg = TrainConfig(
            model="mlp", task="add", p=p, width=N, alpha=0.5, loss="mse", optimizer="gd",
            lr=size["lr_at_128"] * N / 128, weight_decay=0.0, max_epochs=size["epochs"],
            eval_every=size["eval_every"], target_acc=0.99, seed=seed, device=ctx.device,
        )  # fmt: skip
        t0 = time.perf_counter()
        run = ctx.runs.train(cfg, f"N{N}")
        rows.append(
            {
                "width": N,
                "lr": cfg.lr,
                "gd_final_test_acc": run.history[-1]["test_acc"],
                "gd_grok_epoch": run.grok_epoch(0.99),
                "gd_epochs": run.epochs,
                "seconds": round(time.perf_counter() - t0, 1),
            }
        )
        print(f"  fig4b_gd N={N}: GD {rows[-1]['gd_final_test_acc']:.3f} at epoch {run.epochs}",
              flush=True)  # fmt: skip
    result = {"p": p, "alpha": 0.5, "seed": seed, "max_epochs": size["epochs"], "rows": rows}
    _draw_fig4b(ctx.out, gd=result)
    return result


def _draw_fig4b(out: Path, adamw: dict | None = None, gd: dict | None = None) -> None:
    """Draw ``fig4b.png`` from the analytic and AdamW curves (``fig4b``) and the GD curve
    (``fig4b_gd``): each from the part just run, the other from its JSON in ``out`` when that
    exists at the same p. Without the analytic and AdamW curves there is nothing to draw."""
    if adamw is None and (out / "fig4b.json").is_file():
        adamw = read_json(out / "fig4b.json")
    if gd is None and (out / "fig4b_gd.json").is_file():
        gd = read_json(out / "fig4b_gd.json")
    if adamw is None:
        return
    p = adamw["p"]
    rows = adamw["rows"]
    reference = Curve(
        "analytic (random phases, eq. 6-7)", {r["width"]: r["analytic_per_seed"] for r in rows}
    )
    curves = [
        Curve("AdamW (gromov preset)", {r["width"]: r["adamw_final_test_acc"] for r in rows}, "s")
    ]
    if gd is not None and gd["p"] == p:
        first = gd["rows"][0]
        rule = f"lr {first['lr'] * 128 / first['width']:g} N/128"
        budget = f", to 99 % or {gd['max_epochs']:,} epochs" if "max_epochs" in gd else ""
        curves.append(
            Curve(
                f"GD ({rule}{budget}, seed {gd['seed']})",
                {r["width"]: [r["gd_final_test_acc"]] for r in gd["rows"]},
                "^",
            )
        )
    fig4b_figure(out / "fig4b.png", p, reference, curves, setting=f"alpha = {adamw['alpha']}")


def fig6(ctx: Context) -> dict:
    """Mean IPR over training against accuracy, with the analytic IPR (Gromov Fig. 6)."""
    import closedform
    import compare
    from trained import TrainConfig

    size = FIG6[ctx.size]
    cfg = TrainConfig(
        model="mlp", preset="gromov", **size["net"], max_epochs=size["epochs"], eval_every=10,
        target_acc=2.0, seed=0, device=ctx.device,
    )  # fmt: skip
    run = ctx.runs.train(cfg, "adamw", every=size["every"])
    series = compare.ipr_series(run.run_dir)
    metrics = closedform.rundir.read_metrics(run.run_dir)
    compare.plot_ipr_series(series, ctx.out / "fig6.png", metrics=metrics)
    grok = run.grok_epoch(0.99)
    full = _first_at_least(run.history, "test_acc", 1.0)
    ipr_all = dict(zip(series["epoch"], series["all"], strict=True))

    def at(epoch):
        if epoch is None:
            return None
        e = min(ipr_all, key=lambda x: abs(x - epoch))
        return {"epoch": e, "ipr_all": ipr_all[e]}

    return {
        "config": run.config.to_dict(),
        "grok_epoch": grok,
        "first_epoch_test_acc_1": full,
        "ipr_start": at(0),
        "ipr_at_grok": at(grok),
        "ipr_end": at(series["epoch"][-1]),
        "ipr_reference_exact": series["reference"]["all"],
        "series": {k: series[k] for k in ("epoch", "n", "m", "out", "all")},
    }


def appd(ctx: Context) -> dict:
    """Other tasks (Gromov App. D): analytic and trained accuracy."""
    from closedform import analytic_mlp, get_task
    from trained import TrainConfig

    size = APPD[ctx.size]
    p, N = size["p"], size["width"]
    results = {}
    for name in ("square_sum", "square_of_sum", "mul"):
        task = get_task(name, p)
        entry = {
            "analytic_exact_all_branches": analytic_mlp(task, phases="exact").accuracy(),
            f"analytic_random_N{N}": analytic_mlp(task, width=N, seed=0).accuracy(),
        }
        if name == "square_of_sum":
            entry["analytic_exact_one_branch"] = analytic_mlp(
                task, phases="exact", branches="one"
            ).accuracy()
        cfg = TrainConfig(
            model="mlp", preset="gromov-code", task=name, p=p, width=N,
            max_epochs=size["epochs"], eval_every=10, target_acc=1.0, seed=0, device=ctx.device,
        )  # fmt: skip
        t0 = time.perf_counter()
        run = ctx.runs.train(cfg, name)
        entry.update(
            trained_config=run.config.to_dict(),
            trained_grok_epoch=run.grok_epoch(0.99),
            trained_final_test_acc=run.history[-1]["test_acc"],
            trained_epochs=run.epochs,
            trained_seconds=round(time.perf_counter() - t0, 1),
        )
        results[name] = entry
        print(f"  appd {name}: {entry['trained_final_test_acc']:.4f}", flush=True)
    # n^3 + n m^2 + m: not of the form F(f1(n) + f2(m)); the paper finds no generalization
    # even at alpha = 0.9. Same network and optimizer, a long budget.
    cfg = TrainConfig(
        model="mlp", preset="gromov-code", task="cubic", p=p, width=N, alpha=0.9,
        max_epochs=size["epochs"], eval_every=10, target_acc=1.0, seed=0, device=ctx.device,
    )  # fmt: skip
    t0 = time.perf_counter()
    run = ctx.runs.train(cfg, "cubic")
    results["cubic"] = {
        "trained_config": run.config.to_dict(),
        "trained_final_train_acc": run.history[-1]["train_acc"],
        "trained_final_test_acc": run.history[-1]["test_acc"],
        "trained_max_test_acc": max(r["test_acc"] for r in run.history),
        "chance": 1 / p,
        "trained_epochs": run.epochs,
        "trained_seconds": round(time.perf_counter() - t0, 1),
    }
    print(f"  appd cubic: test {results['cubic']['trained_final_test_acc']:.4f}", flush=True)
    return results


# ---------------------------------------------------------------------------------------------
# App. E: transformers


def _only(d: dict, *keys) -> dict:
    return {k: d[k] for k in keys if k in d}


def _loss_spikes(history, factor: float = 10.0) -> dict:
    """Slingshots (Thilak et al. 2022) as spikes of the logged training loss: how often it grows
    by more than ``factor`` between two evaluations, and its largest rise above its running
    minimum (a spike that builds up over several evaluations shows there)."""
    loss = np.array([r["train_loss"] for r in history], dtype=float)
    step = loss[1:] / loss[:-1]
    rise = loss[1:] / np.minimum.accumulate(loss)[:-1]
    return {
        "factor": factor,
        "count": int((step > factor).sum()),
        "largest_step_ratio": float(step.max()) if len(step) else None,
        "largest_rise_over_running_min": float(rise.max()) if len(rise) else None,
        "epoch_of_largest_rise": int(history[1 + int(rise.argmax())]["epoch"])
        if len(rise)
        else None,
    }


def _energy_1d(W: np.ndarray) -> np.ndarray:
    """Energy of each row of W (rows, p) at k = 1..(p-1)/2 (|c_k|^2 + |c_{p-k}|^2; the constant
    left out): (rows, (p-1)/2)."""
    p = W.shape[-1]
    c = np.abs(np.fft.fft(W, axis=-1)) ** 2
    ks = np.arange(1, (p - 1) // 2 + 1)
    return c[:, ks] + c[:, p - ks]


def _energy_2d(a: np.ndarray, p: int) -> tuple[np.ndarray, np.ndarray]:
    """Energy of each channel of activations a (p*p, C) over (n, m) at each frequency k: the
    2-D Fourier components built from k alone, (+-k, 0), (0, +-k), (+-k, +-k) (where the
    Fourier multiplication algorithm puts its waves; Gromov Fig. 2 and 11), and the
    non-constant energy of each channel: ((C, (p-1)/2), (C,))."""
    import compare

    spec = compare.activation_spectrum_2d(a, p=p) ** 2  # (C, p, p)
    ks = np.arange(1, (p - 1) // 2 + 1)
    per_k = np.zeros((spec.shape[0], len(ks)))
    for j, k in enumerate(ks):
        idx = {(x % p, y % p) for x in (0, k, -k) for y in (0, k, -k)} - {(0, 0)}
        rows, cols = zip(*sorted(idx), strict=True)
        per_k[:, j] = spec[:, list(rows), list(cols)].sum(-1)
    total = spec.reshape(len(spec), -1).sum(-1) - spec[:, 0, 0]
    return per_k, total


def _concentration(per_k: np.ndarray, total: np.ndarray, top: int) -> dict:
    """How much of the Fourier energy sits on few frequencies: the share of all channels'
    energy at the ``top`` strongest frequencies, and the mean over channels of the share of a
    channel's energy at its own strongest one."""
    agg = per_k.sum(0)
    order = np.argsort(agg)[::-1]
    keep = total > 0
    return {
        "share_top": float(agg[order[:top]].sum() / total.sum()),
        "top_frequencies": (order[:top] + 1).tolist(),
        "mean_channel_top1_share": float((per_k[keep].max(1) / total[keep]).mean()),
    }


def _appe1_arrays(W: dict, hidden: dict, p: int) -> dict:
    return {
        "W_E": np.asarray(W["W_E"], dtype=float)[:, :p],  # (d, p): a row per embedding dim
        "W_U": np.asarray(W["W_U"], dtype=float),  # (d, p): a row per residual dim
        "mlp_pre": np.asarray(hidden["mlp_pre"], dtype=float),  # (p*p, d_mlp)
        "mlp_post": np.asarray(hidden["mlp_post"], dtype=float),
    }


def _energies(name: str, X: np.ndarray, p: int):
    """Per-channel energy at each k and non-constant total: 2-D over (n, m) for activations,
    1-D over the token axis for weights."""
    if name.startswith("mlp"):
        return _energy_2d(X, p)
    per_k = _energy_1d(X)
    return per_k, per_k.sum(1)


def _appe1_measures(arrays: dict, initial: dict, p: int) -> dict:
    """Fourier concentration of W_E (over tokens), W_U (over outputs) and the MLP's
    activations (over (n, m)), trained and at initialization (the same network at epoch 0).

    ``top`` is the number of key frequencies of the MLP pre-activations (energy >= 10 % of the
    strongest, :func:`compare.key_frequencies`); every array is scored at its own ``top``
    strongest frequencies and at the MLP's. W_E and W_U also get their rows' mean IPR_2
    (Gromov eq. 28).
    """
    import compare

    per_k, _ = _energies("mlp_pre", arrays["mlp_pre"], p)
    key = compare.key_frequencies(np.concatenate([[0.0], np.sqrt(per_k.sum(0))]))
    top = max(len(key), 1)
    out = {"mlp_key_frequencies": key.tolist(), "top": top}
    for name in arrays:
        entry = {}
        for when, X in (("trained", arrays[name]), ("init", initial[name])):
            pk, tot = _energies(name, X, p)
            entry[when] = {
                **_concentration(pk, tot, top),
                "share_at_mlp_key_frequencies": float(pk[:, key - 1].sum() / tot.sum()),
            }
            if not name.startswith("mlp"):
                entry[when]["mean_ipr2"] = float(np.nanmean(compare.ipr(X)))
        out[name] = entry
    return out


def appe1(ctx: Context) -> dict:
    """Gromov App. E.1: a one-layer transformer trained with MSE on one-hot targets groks add
    mod p without slingshots; its MLP activations are periodic (Fig. 11), W_E and W_U are not.

    The Gromov group's transformer code (sequence n, m; d = 128, 4 heads, MLP 512; AdamW lr 1e-2,
    weight decay 0.5; ``APPE_OPT``) with MSE, p = 97, alpha = 0.5, a fixed number of epochs.
    """
    import compare
    from trained import TrainConfig, load_model

    size = APPE1[ctx.size]
    p = size["p"]
    cfg = TrainConfig(
        model="transformer", **{**APPE_OPT, **_only(size, "d_model")}, p=p,
        heads=size["heads"], d_mlp=size["d_mlp"], attn_only=False,
        max_epochs=size["epochs"], eval_every=size["eval_every"], target_acc=2.0, seed=0,
        device=ctx.device,
    )  # fmt: skip
    t0 = time.perf_counter()
    run = ctx.runs.train(cfg, "transformer_mse")
    seconds = round(time.perf_counter() - t0, 1)
    h = run.history
    model = load_model(run.run_dir)
    hidden = model.hidden()
    arrays = _appe1_arrays(model.weights, hidden, p)
    init = load_model(run.run_dir, epoch=0)
    measures = _appe1_measures(arrays, _appe1_arrays(init.weights, init.hidden(), p), p)
    compare.plot_training_curves(
        h, ctx.out / "appe1_training.png", loss_name="MSE on one-hot targets",
        panels=("loss", "accuracy"),
    )  # fmt: skip
    compare.plot_spectrum_2d(
        hidden["mlp_pre"], ctx.out / "appe1_mlp_spectrum.png", name="MLP pre-activations"
    )
    _plot_fig11(arrays, p, ctx.out / "appe1.png")
    return {
        "config": run.config.to_dict(),
        "grok_epoch": run.grok_epoch(0.99),
        "memorized_epoch": _first_at_least(h, "train_acc", 0.99),
        "epochs": run.epochs,
        "train_seconds": seconds,
        "final": {k: h[-1][k] for k in ("train_acc", "test_acc", "train_loss", "test_loss")},
        "loss_spikes": _loss_spikes(h),
        "fourier": measures,
        "history": [
            {k: r[k] for k in ("epoch", "train_loss", "test_loss", "train_acc", "test_acc")}
            for r in h
        ],
    }


def _plot_fig11(arrays: dict, p: int, path: Path) -> None:
    """Gromov Fig. 11: three MLP neurons' pre-activations over (n, m) and their 2-D Fourier
    magnitudes; on the right, the share of the Fourier energy at each frequency k of the MLP
    pre-activations (top) and of W_E and W_U (bottom)."""
    pre = arrays["mlp_pre"]
    neurons = np.argsort(pre.var(0))[::-1][:3]  # the most active ones
    fig, axes = new_figure(4, 2, size=(15, 7))
    ks = np.arange(p) - p // 2
    ext = (ks[0] - 0.5, ks[-1] + 0.5, ks[0] - 0.5, ks[-1] + 0.5)
    per_k, _ = _energy_2d(pre[:, neurons], p)
    for col, i in enumerate(neurons):
        grid = pre[:, i].reshape(p, p)
        axes[0, col].imshow(grid, origin="lower", cmap="RdBu_r")
        axes[0, col].set_title(f"(a) neuron {i}: pre-activation", fontsize=9)
        axes[0, col].set_xlabel("m")
        axes[0, col].set_ylabel("n")
        f2 = np.abs(np.fft.fft2(grid))
        f2[0, 0] = 0.0  # the mean dwarfs every wave
        axes[1, col].imshow(np.fft.fftshift(f2), origin="lower", extent=ext)
        top = int(np.argmax(per_k[col])) + 1
        axes[1, col].set_title(f"(b) its |2-D DFT| (strongest k = {top})", fontsize=9)
        axes[1, col].set_xlabel("k_m")
        axes[1, col].set_ylabel("k_n")
    k = np.arange(1, (p - 1) // 2 + 1)
    for ax, names in ((axes[0, 3], ("mlp_pre",)), (axes[1, 3], ("W_E", "W_U"))):
        for shift, name in zip((-0.2, 0.2) if len(names) == 2 else (0.0,), names, strict=True):
            pk, tot = _energies(name, arrays[name], p)
            ax.bar(k + shift, pk.sum(0) / tot.sum(), width=0.4 if shift else 0.8, label=name)
        ax.set_xlabel("frequency k")
        ax.set_ylabel("share of the Fourier energy")
        ax.legend(fontsize=8)
    axes[0, 3].set_title("MLP pre-activations (2-D, by k)", fontsize=9)
    axes[1, 3].set_title("W_E (over tokens), W_U (over outputs)", fontsize=9)
    fig.suptitle(f"Gromov Fig. 11: a one-layer transformer trained with MSE, add mod {p}")
    save_figure(fig, path)


def appe2(ctx: Context) -> dict:
    """Gromov App. E.2 / Fig. 13: attention-only models at fixed d = 128 with 1 ... 32 heads
    (head size 128 / heads): one linear block, one softmax block, two softmax blocks; final
    train and test accuracy against the number of heads.

    The settings of :func:`appe1` without the MLP (``APPE_OPT``: the Gromov group's code, MSE).
    Each run stops once test accuracy >= 99 % (the paper's "early stopping") or after its
    epochs. CPU size: the whole grid at a smaller p, and the paper's p = 97 for a subset.
    """
    size = APPE2[ctx.size]
    rows = _appe2_grid(ctx, "grid", size["grid"], APPE2_FAMILIES)
    if size.get("subset"):
        sub = size["subset"]
        rows += _appe2_grid(ctx, "subset", sub, [tuple(f) for f in sub["families"]])
    result = {"rows": rows, "transition": _appe2_transitions(rows)}
    _plot_fig13(rows, ctx.out / "appe2.png")
    return result


def _appe2_grid(ctx: Context, tag: str, size: dict, families) -> list[dict]:
    from trained import TrainConfig

    p = size["p"]
    rows = []
    for attention, layers in families:
        for heads in size["heads"]:
            opt = {**APPE_OPT, **_only(size, "d_model")}
            cfg = TrainConfig(
                model="transformer", **opt, p=p, heads=heads, attn_only=True,
                attention=attention, layers=layers, max_epochs=size["epochs"],
                eval_every=size["eval_every"], target_acc=0.99, seed=0, device=ctx.device,
            )  # fmt: skip
            t0 = time.perf_counter()
            run = ctx.runs.train(cfg, f"p{p}_{attention}_L{layers}_h{heads}")
            h = run.history
            rows.append(
                {
                    "set": tag,
                    "p": p,
                    "attention": attention,
                    "layers": layers,
                    "heads": heads,
                    "d_head": run.config.d_model // heads,
                    "final_train_acc": h[-1]["train_acc"],
                    "final_test_acc": h[-1]["test_acc"],
                    "best_test_acc": max(r["test_acc"] for r in h),
                    "final_train_loss": h[-1]["train_loss"],
                    "memorized_epoch": _first_at_least(h, "train_acc", 0.99),
                    "grok_epoch": run.grok_epoch(0.99),
                    "epochs": run.epochs,
                    "max_epochs": size["epochs"],
                    "seconds": round(time.perf_counter() - t0, 1),
                    "config": run.config.to_dict(),
                }
            )
            r = rows[-1]
            print(f"  appe2 p={p} {attention} L{layers} heads={heads}: train "
                  f"{r['final_train_acc']:.3f} test {r['final_test_acc']:.3f} "
                  f"({r['epochs']} epochs, {r['seconds']} s)", flush=True)  # fmt: skip
    return rows


def _appe2_transitions(rows: list[dict]) -> list[dict]:
    """Per (p, family): the fewest heads from which every larger count reaches 99 % test
    accuracy, and the same for 99 % train accuracy (None: not within the counts run)."""
    out = []
    keys = sorted({(r["p"], r["attention"], r["layers"]) for r in rows})
    for p, attention, layers in keys:
        mine = sorted(
            (r for r in rows if (r["p"], r["attention"], r["layers"]) == (p, attention, layers)),
            key=lambda r: r["heads"],
        )

        def first_from(key, mine=mine):
            ok = [r[key] >= 0.99 for r in mine]
            return next((mine[i]["heads"] for i in range(len(mine)) if all(ok[i:])), None)

        out.append(
            {
                "p": p, "attention": attention, "layers": layers,
                "heads": [r["heads"] for r in mine],
                "test_from_heads": first_from("final_test_acc"),
                "train_from_heads": first_from("final_train_acc"),
            }
        )  # fmt: skip
    return out


def _plot_fig13(rows: list[dict], path: Path) -> None:
    """Gromov Fig. 13: final train and test accuracy against the number of heads, one panel per
    family (linear; softmax; two softmax blocks), one line style per modulus."""
    fig, axes = new_figure(3, size=(15, 4.2), sharey=True)
    for ax, (attention, layers) in zip(axes[0], APPE2_FAMILIES, strict=True):
        for i, p in enumerate(sorted({r["p"] for r in rows})):
            mine = sorted(
                (
                    r
                    for r in rows
                    if (r["p"], r["attention"], r["layers"]) == (p, attention, layers)
                ),
                key=lambda r: r["heads"],
            )
            if not mine:
                continue
            heads = [r["heads"] for r in mine]
            style = dict(ls="-" if i == 0 else "--", marker="o" if i == 0 else "s")
            ax.plot(heads, [r["final_train_acc"] for r in mine], color="C0",
                    label=f"train, p = {p}", **style)  # fmt: skip
            ax.plot(heads, [r["final_test_acc"] for r in mine], color="C3",
                    label=f"test, p = {p}", **style)  # fmt: skip
        ax.set_xscale("log", base=2)
        ax.set_xlabel("heads (d_model = 128 fixed; head size 128 / heads)")
        blocks = "one block" if layers == 1 else "two blocks"
        ax.set_title(f"{attention} attention, {blocks}")
        ax.set_ylim(-0.03, 1.05)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    axes[0, 0].set_ylabel("final accuracy")
    fig.suptitle("Gromov Fig. 13: attention-only models on add, accuracy against heads (MSE)")
    save_figure(fig, path)


# ---------------------------------------------------------------------------------------------
def parser():
    ap = reproduction_parser(__doc__, PARTS, "the paper's sizes (for a GPU)", OUT)
    ap.add_argument("--seeds", type=int, nargs="+", default=None, help="default 0 1 2 (smoke: 0)")
    return ap


def main(argv=None) -> int:
    parts = {name: globals()[name] for name in PARTS}
    return run_main(parser(), argv, parts, OUT, "gromov_full", __file__)


if __name__ == "__main__":
    raise SystemExit(main())
