"""``modfourier sweep`` and ``modfourier sweep-plot`` (torch and optuna imported in run())."""

from __future__ import annotations

import argparse
import json
import sys

VERBS = ("sweep", "sweep-plot")


def add_parser(subparsers) -> None:
    sp = subparsers.add_parser(
        "sweep",
        help="run, resume or join a grid / random / optuna sweep of training runs",
        description="Run a sweep from a TOML spec (docs/sweeps.md). Interrupted sweeps resume: "
        "finished trials are kept, a trial killed mid-way is retried from its checkpoints.",
    )
    sp.add_argument("spec", nargs="?", default=None, help="SPEC.toml (not needed with --join)")
    sp.add_argument("--out", default=None, help="sweep folder (default: sweeps/NAME)")
    sp.add_argument(
        "--storage",
        default=None,
        help="Optuna RDB URL, e.g. postgresql://user@host/db (default: SQLite in --out)",
    )
    sp.add_argument(
        "--join",
        default=None,
        metavar="NAME",
        help="join the existing study NAME in --storage as one more worker",
    )
    sp.add_argument("--max-trials", type=int, default=None, help="stop this worker after N trials")
    sp.add_argument(
        "--json", action="store_true", help="print the summary as JSON, no progress bar"
    )

    pp = subparsers.add_parser(
        "sweep-plot", help="plot a sweep's results (swept field vs objective)"
    )
    pp.add_argument("results", help="sweep folder or its results.json")
    pp.add_argument("--x", default=None, help="swept field on the x axis (default: first numeric)")
    pp.add_argument("--y", default="epochs_to_grok", help="result column (default epochs_to_grok)")
    pp.add_argument("--by", default=None, help="categorical field, one line each (default: first)")
    pp.add_argument("--out", default=None, help="PNG path")


def run(args: argparse.Namespace) -> int:
    """Run the verb; a one-line error and exit 2 on bad input (the spec, a URL, a changed
    spec), exit 1 on a fault (database unreachable, folder not writable), never a traceback."""
    from ._sweep import SweepError, load_spec, plot_sweep, run_sweep, spec_from_study

    try:
        if args.verb == "sweep-plot":
            print(plot_sweep(args.results, x=args.x, y=args.y, by=args.by, out=args.out))
            return 0
        if args.max_trials is not None and args.max_trials < 0:
            raise ValueError(f"`--max-trials` must be >= 0; got {args.max_trials}")
        if args.join:
            if not args.storage:
                raise ValueError("`--join` needs `--storage` (the shared database URL)")
            if args.spec:
                raise ValueError("give a SPEC.toml or `--join NAME`, not both")
            spec = spec_from_study(args.join, args.storage)
        else:
            if not args.spec:
                raise ValueError("give a SPEC.toml, or --join NAME --storage URL")
            spec = load_spec(args.spec)
        out = args.out or f"sweeps/{spec.name}"
        summary = run_sweep(
            spec,
            out,
            storage=args.storage,
            join=bool(args.join),
            progress=False if args.json else None,
            max_trials=args.max_trials,
        )
    except (ValueError, TypeError, FileNotFoundError, IsADirectoryError) as exc:
        return _fail(args.verb, exc, 2)
    except (SweepError, OSError) as exc:
        return _fail(args.verb, exc, 1)
    except Exception as exc:
        if not _is_storage_fault(exc):
            raise
        return _fail(args.verb, f"the database failed: {_one_line(exc.__cause__ or exc)}", 1)
    if args.json:
        print(json.dumps(summary, default=str))
    else:
        print(
            f"sweep {summary['study']}: {summary['done']} done, {summary['running']} running, "
            f"{summary['waiting']} waiting, {summary['failed']} failed, {summary['pruned']} pruned"
        )
        if summary["best"]:
            print(f"  best {summary['best']['value']} at {summary['best']['params']}")
        print(f"  results: {summary['results']}")
    return 0


def _one_line(exc) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _fail(verb: str, exc, code: int) -> int:
    print(f"modfourier {verb}: error: {_one_line(exc)}", file=sys.stderr)
    return code


def _is_storage_fault(exc: Exception) -> bool:
    """A database lost mid-run (SQLAlchemy's errors, or Optuna's wrapper of them)."""
    import optuna
    import sqlalchemy

    return isinstance(exc, (sqlalchemy.exc.SQLAlchemyError, optuna.exceptions.StorageInternalError))
