"""The ``modfourier`` console command: one verb per job, each module imported lazily.

``construct`` never loads torch; ``train`` does; ``compare``/``report`` load it only when they
must run a torch model; ``demo`` and ``sweep`` orchestrate the packages from above.
"""

from __future__ import annotations

import argparse
import importlib
import sys

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
    sub = parser.add_subparsers(dest="verb", required=True, metavar="VERB")
    for module in dict.fromkeys(modules):
        importlib.import_module(module).add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    # Only import the module that owns the requested verb, so `construct` never imports torch.
    first = next((a for a in argv if not a.startswith("-")), None)
    modules = [VERBS[first]] if first in VERBS else list(VERBS.values())
    args = build_parser(modules).parse_args(argv)
    return int(importlib.import_module(VERBS[args.verb]).run(args) or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
