"""Accuracy of Gromov's random-phase network against width (Gromov Fig. 4b, analytic curve).

    python docs/scripts/width_table.py [--p 97] [--seeds 5] [--out FILE.json]

Prints a Markdown table (mean, min and max accuracy over seeds per width) and writes JSON.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from closedform import analytic_mlp, get_task


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--p", type=int, default=97)
    ap.add_argument("--task", default="add")
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--widths", type=int, nargs="+", default=None)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    p = args.p
    widths = args.widths or [4, 8, 16, 24, 32, 48, 64, 97, 128, 194, 388]
    task = get_task(args.task, p)
    t0 = time.perf_counter()
    rows = []
    for w in widths:
        accs = [analytic_mlp(task, width=w, seed=s).accuracy() for s in range(args.seeds)]
        rows.append(
            {
                "width": w,
                "mean": float(np.mean(accs)),
                "min": min(accs),
                "max": max(accs),
                "per_seed": accs,
            }
        )
    seconds = time.perf_counter() - t0
    print(f"Random-phase analytic network, task {args.task}, p = {p}, seeds 0..{args.seeds - 1}")
    print()
    print("| width N | N / p | mean accuracy | min | max |")
    print("|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['width']} | {r['width'] / p:.2f} | {r['mean']:.4f} | {r['min']:.4f} "
            f"| {r['max']:.4f} |"
        )
    print(f"\n({seconds:.1f} s)")
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "task": args.task,
            "p": p,
            "seeds": args.seeds,
            "rows": rows,
            "command": "python docs/scripts/width_table.py",
        }
        Path(args.out).write_text(json.dumps(payload, indent=2) + "\n")


if __name__ == "__main__":
    main()
