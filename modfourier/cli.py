"""The ``modfourier`` console command: one verb per package, each imported lazily.

``construct`` never loads torch; ``train`` does; ``compare``/``report``/``demo`` load it only
when they must run a torch model.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# verb -> module providing ``add_parser(subparsers)`` and ``run(args) -> int``
_VERBS = {
    "construct": "closedform._cli",
}


def _optional_verbs() -> dict[str, str]:
    """Verbs of packages that may not be filled yet; found by their ``_cli`` modules."""
    verbs = {}
    for module in ("trained._cli", "trained._sweep_cli", "compare._cli"):
        try:
            spec = importlib.util.find_spec(module)
        except ModuleNotFoundError:
            spec = None
        if spec is not None:
            mod = importlib.import_module(module)
            for verb in getattr(mod, "VERBS", ()):
                verbs[verb] = module
    return verbs


def build_parser(verbs: dict[str, str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="modfourier",
        description="Exact Fourier networks for modular arithmetic, training, and comparison.",
    )
    from modfourier import __version__

    parser.add_argument("--version", action="version", version=f"modfourier {__version__}")
    sub = parser.add_subparsers(dest="verb", required=True, metavar="VERB")
    seen = set()
    for module in verbs.values():
        if module in seen:
            continue
        seen.add(module)
        importlib.import_module(module).add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    verbs = dict(_VERBS)
    # Only load the package that owns the requested verb, so `construct` never imports torch.
    first = next((a for a in argv if not a.startswith("-")), None)
    if first in verbs:
        selected = {first: verbs[first]}
    else:
        verbs.update(_optional_verbs())
        selected = {first: verbs[first]} if first in verbs else verbs
    parser = build_parser(selected)
    args = parser.parse_args(argv)
    module = importlib.import_module(selected.get(args.verb, verbs.get(args.verb)))
    return int(module.run(args) or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
