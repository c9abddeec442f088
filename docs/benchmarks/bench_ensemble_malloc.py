"""Ensemble vs sequential wall time under two glibc malloc settings (see docs/trained.md).

    python docs/benchmarks/bench_ensemble_malloc.py default
    MALLOC_MMAP_THRESHOLD_=67108864 MALLOC_TRIM_THRESHOLD_=268435456 \\
        python docs/benchmarks/bench_ensemble_malloc.py malloc-tuned

Prints (batched s, sequential s, ratio) for 3 repeats: 8 seeds of the MLP, add mod 23, 200 epochs.
"""

from __future__ import annotations

import sys
import time

import trained
from trained import TrainConfig, train


def main() -> None:
    cfg = TrainConfig(
        model="mlp", task="add", p=23, alpha=0.8, max_epochs=200, target_acc=2.0, device="cpu"
    )
    seeds = list(range(8))
    trained.train_ensemble(cfg.replace(max_epochs=2), seeds)  # warm-up
    rows = []
    for _ in range(3):
        t0 = time.perf_counter()
        trained.train_ensemble(cfg, seeds)
        batched = time.perf_counter() - t0
        t0 = time.perf_counter()
        for s in seeds:
            train(cfg.replace(seed=s))
        seq = time.perf_counter() - t0
        rows.append((round(batched, 3), round(seq, 3), round(batched / seq, 3)))
    print(sys.argv[1:], rows)


if __name__ == "__main__":
    main()
