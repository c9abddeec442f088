"""The ``modfourier`` console command: one verb per job, each module imported lazily.

``construct`` never loads torch; ``train`` does; ``compare``/``report`` load it only when they
must run a torch model; ``demo`` and ``sweep`` orchestrate the packages from above.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import warnings

# verb -> module providing ``add_parser(subparsers)`` and ``run(args) -> int``
VERBS = {
    "construct": "closedform._cli",
    "train": "trained._cli",
    "compare": "compare._cli",
    "report": "compare._cli",
    "demo": "modfourier._demo",
    "sweep": "modfourier._sweep_cli",
    "sweep-plot": "modfourier._sweep_cli",
}


def build_parser(modules) -> argparse.ArgumentParser:
    from modfourier import __version__

    parser = argparse.ArgumentParser(
        prog="modfourier",
        description="Exact Fourier networks for modular arithmetic, training, and comparison.",
    )
    parser.add_argument("--version", action="version", version=f"modfourier {__version__}")
    parser.add_argument(
        "--debug", action="store_true", help="show the traceback of an error (for bug reports)"
    )
    sub = parser.add_subparsers(dest="verb", required=True, metavar="VERB")
    for module in dict.fromkeys(modules):
        importlib.import_module(module).add_parser(sub)
    return parser


def exit_status(exc: BaseException) -> int:
    """2 for a usage error (a bad value), 1 for a fault (files, disks, divergence), 130 for an
    interruption."""
    from closedform.rundir import DirectoryInUseError, RunDirError

    if isinstance(exc, KeyboardInterrupt):
        return 130
    if isinstance(exc, DirectoryInUseError):  # pointed at the wrong directory: usage
        return 2
    if isinstance(exc, (RunDirError, OSError, FloatingPointError, MemoryError)):
        return 1
    if isinstance(exc, (ValueError, TypeError)):
        return 2
    if type(exc).__name__ == "TrainingInterrupted":
        return 130
    return 1


def _message(exc: BaseException) -> str:
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted"
    if isinstance(exc, OSError) and exc.strerror:
        where = f": {exc.filename}" if exc.filename else ""
        return f"{exc.strerror}{where}"
    if isinstance(exc, MemoryError):
        return f"out of memory ({exc})" if str(exc) else "out of memory"
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0] if text.count("\n") > 3 else text


def main(argv: list[str] | None = None) -> int:
    """Run the console command; every error ends in one line on stderr and an exit status
    (2 usage, 1 fault, 130 interrupted), with the traceback only under ``--debug``."""
    argv = sys.argv[1:] if argv is None else list(argv)
    # Only import the module that owns the requested verb, so `construct` never imports torch.
    first = next((a for a in argv if not a.startswith("-")), None)
    modules = [VERBS[first]] if first in VERBS else list(VERBS.values())
    args = build_parser(modules).parse_args(argv)

    def one_line_warning(message, category, filename, lineno, file=None, line=None):
        print(f"modfourier {args.verb}: warning: {message}", file=sys.stderr)

    with warnings.catch_warnings():
        if not args.debug:  # the command's own display: each warning once, on one line
            warnings.simplefilter("default")
            warnings.showwarning = one_line_warning
        try:
            return int(importlib.import_module(VERBS[args.verb]).run(args) or 0)
        except (Exception, KeyboardInterrupt) as exc:
            if args.debug:
                raise
            print(f"modfourier {args.verb}: error: {_message(exc)}", file=sys.stderr)
            return exit_status(exc)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
