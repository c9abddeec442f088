"""``modfourier compare | report``: the scorecard and the report of a model directory.

Nothing heavy at import: numpy/compare are imported inside ``run``; torch only through
``trained``, when a sequence model must be run.
"""

from __future__ import annotations

import argparse

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
        "report",
        help="write an HTML + Markdown report with figures of one run, a checkpoint, or runs "
        "side by side",
        description="Write report.html (self-contained), report.md, the scorecard as JSON and "
        "the figures. One RUN_DIR: its header, verdict, scorecard against the theory and the "
        "papers' figures; several: one comparison page (seeds or presets side by side).",
    )
    r.add_argument("run_dir", metavar="RUN_DIR", nargs="+", help="model or run directories")
    r.add_argument(
        "--out",
        default=None,
        help="report directory (default RUN_DIR/report; required for several runs); a previous "
        "report there is replaced",
    )
    r.add_argument(
        "--reference",
        default=None,
        help="model directory for the theory column (same task and p; an analytic one is the "
        "theory, a trained one is labelled 'reference (trained)')",
    )
    r.add_argument(
        "--epoch",
        type=int,
        default=None,
        help="report this checkpoint instead of the final weights (one run)",
    )
    r.add_argument("--no-low-rank", action="store_true", help="skip the minimal-rank search")


def run(args: argparse.Namespace) -> int:
    """Run one verb; returns the exit status. Errors propagate to the ``modfourier`` dispatcher,
    which prints one line and maps them to an exit status (2 for a bad value, 1 for a fault
    such as a missing or corrupt run directory)."""
    return _run(args)


def _run(args: argparse.Namespace) -> int:
    if args.verb == "compare":
        return _compare(args)
    if args.verb == "report":
        from ._report import write_report

        runs = args.run_dir[0] if len(args.run_dir) == 1 else args.run_dir
        out = write_report(
            runs,
            args.out,
            reference_dir=args.reference,
            low_rank=not args.no_low_rank,
            epoch=args.epoch,
        )
        print(f"report: {out / 'report.html'}")
        print(f"        {out / 'report.md'}")
        return 0
    raise ValueError(f"unknown verb {args.verb!r}; compare handles {VERBS}")


def _compare(args) -> int:
    import json
    import sys

    from ._report import scorecard_rows
    from ._score import health_warning, score

    card = score(args.run_dir, low_rank=not args.no_low_rank)
    warning = health_warning(card)
    if warning:
        print(warning, file=sys.stderr)
    if args.json:
        print(json.dumps(card, indent=1))
        return 0
    rows = scorecard_rows(card)
    width = max(len(r[0]) for r in rows)
    print(f"{'measure':<{width}}  {'theory':>14}  {'this network':>14}")
    for label, theory, trained, _ in rows:
        print(f"{label:<{width}}  {theory:>14}  {trained:>14}")
    return 0
