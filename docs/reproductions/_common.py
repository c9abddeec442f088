"""Shared helpers of the reproduction scripts (imported as ``_common`` from their folder)."""

from __future__ import annotations

import shutil
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
