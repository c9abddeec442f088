"""Gromov Fig. 4b: test accuracy against width, trained (from a sweep) beside analytic.

    python docs/scripts/fig4b_combined.py SWEEP_DIR ANALYTIC_JSON OUT.png

SWEEP_DIR holds the results.json of `modfourier sweep docs/sweeps/fig4b_width.toml`;
ANALYTIC_JSON is written by `docs/scripts/width_table.py --p 31 --out ...`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np


def main(sweep_dir: str, analytic_json: str, out: str) -> None:
    rows = json.loads((Path(sweep_dir) / "results.json").read_text())
    analytic = json.loads(Path(analytic_json).read_text())
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    widths = [r["width"] for r in analytic["rows"]]
    ax.plot(
        widths,
        [r["mean"] for r in analytic["rows"]],
        "k--o",
        label=f"analytic, random phases ({analytic['seeds']} seeds)",
    )
    for opt in sorted({r["optimizer"] for r in rows}):
        by_w: dict = {}
        for r in rows:
            if r["optimizer"] == opt:
                by_w.setdefault(r["width"], []).append(r["final_test_acc"])
        ws = sorted(by_w)
        mean = [np.mean(by_w[w]) for w in ws]
        line = ax.plot(ws, mean, marker="o", label=f"trained, {opt}")[0]
        ax.fill_between(
            ws,
            [min(by_w[w]) for w in ws],
            [max(by_w[w]) for w in ws],
            color=line.get_color(),
            alpha=0.2,
        )
    ax.set_xscale("log", base=2)
    ax.set_xlabel("width N (neurons)")
    ax.set_ylabel("test accuracy")
    ax.set_ylim(0, 1.05)
    ax.set_title(f"Accuracy vs width, add mod {analytic['p']} (Gromov Fig. 4b, CPU-scaled)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    print(out)


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    main(*sys.argv[1:])
