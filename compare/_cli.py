"""``modfourier compare | report``: the scorecard and the report of a model directory.

Nothing heavy at import: numpy/compare are imported inside ``run``; torch only through
``trained``, when a sequence model must be run.
"""

from __future__ import annotations

import argparse
import sys

VERBS = ("compare", "report")


def add_parser(subparsers) -> None:
    """Add the verbs of compare to the ``modfourier`` parser."""
    p = subparsers.add_parser(
        "compare", help="print the scorecard of a model directory against the analytic network"
    )
    p.add_argument("run_dir", metavar="RUN_DIR", help="model directory (trained or analytic)")
    p.add_argument("--json", action="store_true", help="print the scorecard as JSON")
    p.add_argument("--no-low-rank", action="store_true", help="skip the minimal-rank search")

    r = subparsers.add_parser(
        "report", help="write a Markdown + HTML report with figures for a model directory"
    )
    r.add_argument("run_dir", metavar="RUN_DIR")
    r.add_argument("--out", default=None, help="report directory (default RUN_DIR/report)")
    r.add_argument("--reference", default=None, help="analytic model directory for theory")
    r.add_argument("--no-low-rank", action="store_true", help="skip the minimal-rank search")


def run(args: argparse.Namespace) -> int:
    """Run one verb; returns the exit status (2 with a one-line message on bad input)."""
    try:
        return _run(args)
    except (ValueError, TypeError, FileNotFoundError) as exc:
        print(f"modfourier {args.verb}: error: {exc}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace) -> int:
    if args.verb == "compare":
        return _compare(args)
    if args.verb == "report":
        from ._report import write_report

        out = write_report(
            args.run_dir, args.out, reference_dir=args.reference, low_rank=not args.no_low_rank
        )
        print(f"report: {out / 'report.html'}")
        print(f"        {out / 'report.md'}")
        return 0
    raise ValueError(f"unknown verb {args.verb!r}; compare handles {VERBS}")


def _compare(args) -> int:
    import json

    from ._report import scorecard_rows
    from ._score import score

    card = score(args.run_dir, low_rank=not args.no_low_rank)
    if args.json:
        print(json.dumps(card, indent=1))
        return 0
    rows = scorecard_rows(card)
    width = max(len(r[0]) for r in rows)
    print(f"{'measure':<{width}}  {'theory':>14}  {'this network':>14}")
    for label, theory, trained, _ in rows:
        print(f"{label:<{width}}  {theory:>14}  {trained:>14}")
    return 0
