"""Gromov Fig. 4b: test accuracy against width, trained (from sweeps) beside analytic.

    python docs/scripts/fig4b_combined.py OUT.png ANALYTIC_JSON SWEEP_DIR [SWEEP_DIR ...]

Each SWEEP_DIR holds the results.json of a `modfourier sweep` over `width` (its run directories
must still exist: each curve is labelled with the optimizer and learning rate read from them).
ANALYTIC_JSON is written by `docs/scripts/width_table.py --out ...`. Widths where every seed of
a curve diverged are absent from that curve.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np


def _curves(sweep_dir: Path) -> dict:
    """(optimizer, lr rule) -> {width: [final test accuracy per seed]}."""
    groups: dict = {}
    for r in json.loads((sweep_dir / "results.json").read_text()):
        hyper = json.loads((Path(r["run_dir"]) / "config.json").read_text())["hyper"]
        groups.setdefault(hyper["optimizer"], []).append((r["width"], hyper["lr"], r))
    curves = {}
    for opt, items in groups.items():
        lrs = {w: lr for w, lr, _ in items}
        rule = f"lr {next(iter(lrs.values())):g}" if len(set(lrs.values())) == 1 else "lr ∝ N"
        by_w: dict = {}
        for w, _, r in items:
            by_w.setdefault(w, []).append(r["final_test_acc"])
        curves[(opt, rule)] = by_w
    return curves


def main(out: str, analytic_json: str, *sweep_dirs: str) -> None:
    analytic = json.loads(Path(analytic_json).read_text())
    fig, ax = plt.subplots(figsize=(6.6, 4.3))
    widths = [r["width"] for r in analytic["rows"]]
    ax.plot(
        widths,
        [r["mean"] for r in analytic["rows"]],
        "k--o",
        label=f"analytic, random phases ({analytic['seeds']} seeds)",
    )
    for sweep_dir in sweep_dirs:
        for (opt, rule), by_w in sorted(_curves(Path(sweep_dir)).items()):
            ws = sorted(by_w)
            line = ax.plot(
                ws, [np.mean(by_w[w]) for w in ws], marker="o", label=f"trained, {opt}, {rule}"
            )[0]
            ax.fill_between(
                ws,
                [min(by_w[w]) for w in ws],
                [max(by_w[w]) for w in ws],
                color=line.get_color(),
                alpha=0.2,
            )
    ax.set_xscale("log", base=2)
    ax.set_xlabel("width N (neurons)")
    ax.set_ylabel("test accuracy (mean, min-max over seeds)")
    ax.set_ylim(0, 1.05)
    ax.set_title(f"Accuracy vs width, add mod {analytic['p']} (Gromov Fig. 4b, CPU-scaled)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    print(out)


if __name__ == "__main__":
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    main(*sys.argv[1:])
