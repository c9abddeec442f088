"""Benchmark: evaluate Gromov's random-phase network on the whole table at p = 1009.

Prints the achieved GFLOP/s of the chunked evaluation (2 N p^3 flops for the readout matmul,
the dominant cost) beside this machine's own float32 matmul rate, measured in the same
process on the same shapes, and the peak memory. Target: >= 50 % of the matmul
rate with < 2 GB peak memory.

    python docs/benchmarks/bench_closedform.py [--p 1009] [--width 1024] [--repeat 3]
    python docs/benchmarks/bench_closedform.py --smoke --out DIR   # tiny (p = 11), seconds

``--json`` prints the result as one JSON line; ``--out DIR`` also writes it to
``DIR/bench_closedform.json`` with the command, library version and date.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "reproductions"))
from _common import SMOKE_HELP, provenance, write_json  # noqa: E402

from closedform import analytic_mlp, evaluate_mlp, get_task  # noqa: E402

SMOKE = dict(p=11, width=16, repeat=1)


def matmul_rate(rows: int, N: int, p: int, repeat: int) -> float:
    """Best-of float32 GFLOP/s of (rows x N) @ (N x p), the chunk's matmul alone."""
    rng = np.random.default_rng(0)
    Z = rng.standard_normal((rows, N), dtype=np.float32)
    W = rng.standard_normal((N, p), dtype=np.float32)
    Z @ W  # warm up
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        Z @ W
        best = min(best, time.perf_counter() - t0)
    return 2 * rows * N * p / best / 1e9


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--p", type=int, default=1009)
    ap.add_argument("--width", type=int, default=1024)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--chunk-mb", type=int, default=64)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--out", default=None, help="folder for bench_closedform.json")
    ap.add_argument("--smoke", action="store_true", help=SMOKE_HELP)
    return ap


def main(argv=None) -> int:
    ap = parser()
    args = ap.parse_args(argv)
    if args.smoke:
        vars(args).update(SMOKE)

    task = get_task("add", args.p)
    net = analytic_mlp(task, width=args.width, seed=0)
    W1 = net.W1.astype(np.float32)
    W2 = net.W2.astype(np.float32)
    N, p = W1.shape[0], task.p
    chunk = args.chunk_mb * 2**20
    rows = max(1, min(p, chunk // (p * N * 4))) * p

    evaluate_mlp(W1, W2, task, chunk_bytes=chunk)  # warm up
    times = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        ev = evaluate_mlp(W1, W2, task, chunk_bytes=chunk)
        times.append(time.perf_counter() - t0)
    tracemalloc.start()
    evaluate_mlp(W1, W2, task, chunk_bytes=chunk)
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    flops = 2 * N * p**3
    ours = flops / min(times) / 1e9
    machine = matmul_rate(rows, N, p, args.repeat)
    result = {
        "p": p,
        "width": N,
        "pairs": p * p,
        "accuracy": ev.accuracy,
        "seconds_best": round(min(times), 3),
        "gflops_evaluation": round(ours, 1),
        "gflops_matmul_same_shape": round(machine, 1),
        "ratio": round(ours / machine, 3),
        "peak_traced_mb": round(traced_peak / 2**20, 1),
        "max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "chunk_rows": rows,
    }
    if args.out:
        path = Path(args.out) / "bench_closedform.json"
        write_json(path, {**result, **provenance(__file__, argv)})
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"p = {p}, N = {N}, {p * p} pairs, accuracy {ev.accuracy:.4%}")
    print(f"evaluation   {min(times):.2f} s  ->  {ours:.1f} GFLOP/s (2 N p^3 flops)")
    print(f"matmul alone ({rows} x {N}) @ ({N} x {p}) float32: {machine:.1f} GFLOP/s")
    print(f"ratio        {ours / machine:.1%}  (target >= 50 %)")
    print(
        f"peak memory  {result['peak_traced_mb']} MB traced by numpy, "
        f"{result['max_rss_mb']} MB max RSS of the process (target < 2048 MB)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
