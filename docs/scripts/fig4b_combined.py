"""Gromov Fig. 4b: test accuracy against width, trained (from sweeps) beside analytic.

    python docs/scripts/fig4b_combined.py OUT.png ANALYTIC_JSON SWEEP_DIR [SWEEP_DIR ...]

Each SWEEP_DIR holds the results.json of a `modfourier sweep` over `width` (its run directories
must still exist: each curve is labelled with the optimizer and learning rate read from them).
ANALYTIC_JSON is written by `docs/scripts/width_table.py --out ...`. Widths where every seed of
a curve diverged are absent from that curve. The figure is the one docs/reproductions/gromov.py
draws for its Fig. 4b (``_common.fig4b_figure``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "reproductions"))
from _common import Curve, fig4b_figure, read_json  # noqa: E402

from closedform import rundir  # noqa: E402


def sweep_curves(sweep_dir: Path) -> list[Curve]:
    """One curve per optimizer of a sweep: final test accuracy per seed at each width,
    labelled with the learning rate (``lr ∝ N`` when it changes with the width)."""
    groups: dict = {}
    for r in read_json(Path(sweep_dir) / "results.json"):
        hyper = rundir.read_config(r["run_dir"])["hyper"]
        groups.setdefault(hyper["optimizer"], []).append((r["width"], hyper["lr"], r))
    curves = []
    for opt, items in sorted(groups.items()):
        lrs = {lr for _, lr, _ in items}
        rule = f"lr {next(iter(lrs)):g}" if len(lrs) == 1 else "lr ∝ N"
        by_w: dict = {}
        for w, _, r in items:
            if r["final_test_acc"] is not None:  # a diverged seed has no accuracy
                by_w.setdefault(w, []).append(r["final_test_acc"])
        curves.append(Curve(f"trained, {opt}, {rule}", by_w))
    return curves


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", help="PNG to write")
    ap.add_argument("analytic_json", help="written by docs/scripts/width_table.py --out")
    ap.add_argument("sweep_dirs", nargs="+", help="folders of `modfourier sweep` over width")
    return ap


def main(argv=None) -> int:
    ap = parser()
    args = ap.parse_args(argv)
    analytic = read_json(args.analytic_json)
    reference = Curve(
        f"analytic, random phases ({analytic['seeds']} seeds)",
        {r["width"]: r["per_seed"] for r in analytic["rows"]},
    )
    curves = [c for d in args.sweep_dirs for c in sweep_curves(Path(d))]
    print(fig4b_figure(args.out, analytic["p"], reference, curves, setting="CPU-scaled"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
