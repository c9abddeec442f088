"""Shared helpers of the reproduction scripts (imported as ``_common`` from their folder)."""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path


def train_dense(cfg, run_dir: Path, every: int):
    """Train ``cfg`` with a weight checkpoint every ``every`` epochs.

    Runs segments of ``every`` epochs, each resumed from the last; on the CPU the result is
    bitwise equal to one uninterrupted run (tested in tests/trained). Stops early when the run
    reaches its target.
    """
    from trained import train

    if run_dir.exists():
        shutil.rmtree(run_dir)
    run = None
    for stop in range(every, cfg.max_epochs + every, every):
        stop = min(stop, cfg.max_epochs)
        run = train(cfg.replace(max_epochs=stop), out_dir=run_dir, resume=run is not None)
        if run.stopped == "target" or stop == cfg.max_epochs:
            break
    return run


def run_parts(parts: dict, args, out: Path) -> int:
    """Run ``parts[name](args, out)`` for each name in ``args.only``; write ``<name>.json``
    (the part's result plus ``part``, ``full`` and ``wall_seconds``) to ``out``, then delete
    the run directories this call created under ``out/runs`` (checkpoints are not committed;
    another script running into the same ``out`` keeps its own)."""
    out.mkdir(parents=True, exist_ok=True)
    runs = out / "runs"
    before = set(runs.iterdir()) if runs.is_dir() else set()
    for part in args.only:
        print(f"{part} ...", flush=True)
        t0 = time.perf_counter()
        result = {"part": part, "full": args.full, **parts[part](args, out)}
        result["wall_seconds"] = round(time.perf_counter() - t0, 1)
        (out / f"{part}.json").write_text(json.dumps(result, indent=1, default=str) + "\n")
        print(f"{part}: {result['wall_seconds']} s -> {out / (part + '.json')}", flush=True)
    if runs.is_dir():
        for path in set(runs.iterdir()) - before:
            shutil.rmtree(path, ignore_errors=True)
        if not any(runs.iterdir()):
            runs.rmdir()
    return 0


def reproduction_parser(doc: str, parts, full_help: str) -> argparse.ArgumentParser:
    """The reproduction scripts' shared options: ``--only PART ...`` and ``--full``."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--only", nargs="+", choices=parts, default=list(parts))
    ap.add_argument("--full", action="store_true", help=full_help)
    return ap


def run_main(ap, argv, parts: dict, out_default: Path, full_name: str) -> int:
    """Add ``--device`` and ``--out``, parse ``argv`` and run the chosen parts into ``--out``
    (default ``out_default``; with ``--full``, its sibling ``full_name``)."""
    ap.add_argument("--device", default="auto")
    ap.add_argument("--out", default=None, help=f"results folder (default {out_default})")
    args = ap.parse_args(argv)
    out = Path(args.out) if args.out else out_default
    if args.full and not args.out:
        out = out.with_name(full_name)
    return run_parts(parts, args, out)
