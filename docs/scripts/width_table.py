"""Accuracy of Gromov's random-phase network against width (Gromov Fig. 4b, analytic curve).

    python docs/scripts/width_table.py [--p 97] [--seeds 5] [--out FILE.json]
    python docs/scripts/width_table.py --smoke --out FILE.json     # tiny (p = 7, seconds)

Prints a Markdown table (mean, min and max accuracy over seeds per width) and writes JSON
(``task``, ``p``, ``seeds``, ``rows``, ``command``, ``library_version``, ``date``); the JSON is
the analytic curve that docs/scripts/fig4b_combined.py draws.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "reproductions"))
from _common import SMOKE_HELP, provenance, write_json  # noqa: E402

from closedform import analytic_mlp, get_task  # noqa: E402

WIDTHS = [4, 8, 16, 24, 32, 48, 64, 97, 128, 194, 388]
SMOKE = dict(p=7, seeds=2, widths=[2, 4, 8])


def width_rows(task, widths, seeds: int) -> list[dict]:
    """Accuracy of ``analytic_mlp(task, width=N, seed=s)`` for s < ``seeds``, per width."""
    rows = []
    for w in widths:
        accs = [analytic_mlp(task, width=w, seed=s).accuracy() for s in range(seeds)]
        rows.append(
            {
                "width": w,
                "mean": float(np.mean(accs)),
                "min": min(accs),
                "max": max(accs),
                "per_seed": accs,
            }
        )
    return rows


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--p", type=int, default=None, help="modulus (default 97; smoke: 7)")
    ap.add_argument("--task", default="add")
    ap.add_argument("--seeds", type=int, default=None, help="seeds 0..S-1 (default 5; smoke: 2)")
    ap.add_argument("--widths", type=int, nargs="+", default=None)
    ap.add_argument("--out", default=None, help="JSON file to write")
    ap.add_argument("--smoke", action="store_true", help=SMOKE_HELP)
    return ap


def main(argv=None) -> int:
    ap = parser()
    args = ap.parse_args(argv)
    if args.smoke and not args.out:
        ap.error("--smoke needs --out FILE")
    p = args.p or (SMOKE["p"] if args.smoke else 97)
    seeds = args.seeds or (SMOKE["seeds"] if args.smoke else 5)
    widths = args.widths or (SMOKE["widths"] if args.smoke else WIDTHS)
    task = get_task(args.task, p)
    t0 = time.perf_counter()
    rows = width_rows(task, widths, seeds)
    seconds = time.perf_counter() - t0
    print(f"Random-phase analytic network, task {args.task}, p = {p}, seeds 0..{seeds - 1}")
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
        payload = {"task": args.task, "p": p, "seeds": seeds, "rows": rows}
        write_json(args.out, {**payload, **provenance(__file__, argv)})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
