"""One command for a GPU machine: every GPU path of modfourier exercised and timed, in minutes.

    python docs/benchmarks/gpu_check.py --out gpu-check          # on a CUDA machine (< 8 min)
    python docs/benchmarks/gpu_check.py --device cpu --smoke --out /tmp/gpu-check   # dry run

Steps, each with its own time limit inside ``--budget`` seconds (a step that would start past the
budget is recorded as skipped):

1. ``pytest -m gpu`` (the CUDA tests: trained on the GPU vs the CPU, presets);
2. ``docs/benchmarks/bench_train.py --device cuda`` (MLP, transformer, ensembles: ratios against
   straightforward loops run in the same process);
3. ``docs/benchmarks/bench_closedform.py`` (the closed-form evaluation);
4. a timed slice of the full-size ``nanda`` and ``miiii`` presets (ms per epoch, peak memory).

Everything lands in ``--out``: ``summary.json`` (every figure), ``summary.md`` (one page), the
benchmarks' own JSON files and each step's log. Nothing is installed. Without CUDA it runs the same
steps on the CPU at smoke sizes (``--smoke``) so the script itself can be tested anywhere.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        description="Exercise and time modfourier's GPU paths; write summary.json and summary.md."
    )
    ap.add_argument("--out", required=True, help="folder for the summary, logs and JSON")
    ap.add_argument(
        "--device", default="auto", choices=("auto", "cuda", "cpu"), help="default: cuda if any"
    )
    ap.add_argument("--budget", type=float, default=450.0, help="total seconds (default 450)")
    ap.add_argument("--smoke", action="store_true", help="tiny sizes (the CPU dry run)")
    ap.add_argument(
        "--slice-epochs", type=int, default=None, help="epochs of the preset slices (default 200)"
    )
    ap.add_argument(
        "--steps",
        default="pytest,bench_train,bench_closedform,slices",
        help="comma-separated subset of: pytest, bench_train, bench_closedform, slices",
    )
    return ap


def parse_args(argv=None) -> argparse.Namespace:
    ap = parser()
    args = ap.parse_args(argv)
    if args.budget <= 0:
        ap.error(f"--budget must be > 0 seconds; got {args.budget}")
    if args.slice_epochs is not None and args.slice_epochs < 1:
        ap.error(f"--slice-epochs must be >= 1; got {args.slice_epochs}")
    steps = [s.strip() for s in args.steps.split(",") if s.strip()]
    unknown = sorted(set(steps) - set(STEPS))
    if unknown or not steps:
        ap.error(f"--steps takes a subset of {', '.join(STEPS)}; got {args.steps!r}")
    args.steps = steps
    return args


def _device(requested: str) -> tuple[str, str]:
    """(device, description) after checking what this machine has."""
    import torch

    has_cuda = torch.cuda.is_available()
    if requested == "cuda" and not has_cuda:
        raise SystemExit("gpu_check: error: --device cuda but CUDA is not available here")
    device = "cuda" if requested == "cuda" or (requested == "auto" and has_cuda) else "cpu"
    name = torch.cuda.get_device_name(0) if device == "cuda" else "CPU"
    return device, f"{name}, torch {torch.__version__}"


def _run(cmd, log: Path, timeout: float) -> dict:
    """Run ``cmd`` with a timeout; its output goes to ``log``."""
    t0 = time.perf_counter()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with open(log, "w") as fh:
        try:
            rc = subprocess.run(
                cmd, stdout=fh, stderr=subprocess.STDOUT, timeout=timeout, cwd=ROOT, env=env
            ).returncode
        except subprocess.TimeoutExpired:
            rc = "timeout"
    return {"command": " ".join(map(str, cmd)), "rc": rc, "seconds": time.perf_counter() - t0,
            "log": log.name}  # fmt: skip


def step_pytest(args, out: Path, limit: float) -> dict:
    cmd = [sys.executable, "-m", "pytest", "-q", "-m", "gpu", "-p", "no:cacheprovider"]
    res = _run(cmd, out / "pytest_gpu.log", limit)
    tail = (out / "pytest_gpu.log").read_text().strip().splitlines()
    res["result"] = tail[-1] if tail else ""
    return res


def step_bench_train(args, out: Path, limit: float) -> dict:
    folder = out / "bench_train"
    cmd = [sys.executable, str(HERE / "bench_train.py"), "--device", args.device_used]
    cmd += ["--out", str(folder)] + (["--smoke"] if args.smoke else [])
    res = _run(cmd, out / "bench_train.log", limit)
    res["figures"] = _read_json(folder / "bench_train.json")
    return res


def step_bench_closedform(args, out: Path, limit: float) -> dict:
    folder = out / "bench_closedform"
    cmd = [sys.executable, str(HERE / "bench_closedform.py"), "--out", str(folder)]
    cmd += ["--smoke"] if args.smoke else []
    res = _run(cmd, out / "bench_closedform.log", limit)
    res["figures"] = _read_json(folder / "bench_closedform.json")
    return res


def step_slices(args, out: Path, limit: float) -> dict:
    """ms/epoch of the full-size nanda and miiii presets (smoke: tiny p) and peak memory."""
    import torch

    from trained import TrainConfig, train

    epochs = args.slice_epochs or (3 if args.smoke else 200)
    figures = {}
    t_start = time.perf_counter()
    for preset in ("nanda", "miiii"):
        if time.perf_counter() - t_start > limit:
            figures[preset] = {"skipped": "past the step's time limit"}
            continue
        kw = dict(p=11 if preset == "nanda" else 13) if args.smoke else {}
        cfg = TrainConfig(
            model="transformer", preset=preset, max_epochs=epochs, eval_every=epochs,
            device=args.device_used, checkpoint=False, **kw,
        )  # fmt: skip
        if args.device_used == "cuda":
            torch.cuda.reset_peak_memory_stats()
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        run = train(cfg)
        if args.device_used == "cuda":
            torch.cuda.synchronize()
        seconds = time.perf_counter() - t0
        last = run.history[-1]
        figures[preset] = {
            "p": run.config.p,
            "epochs": run.epochs,
            "seconds": seconds,
            "ms_per_epoch": 1000 * seconds / max(run.epochs, 1),
            "train_acc": last.get("train_acc"),
            "test_acc": last.get("test_acc"),
        }
        if args.device_used == "cuda":
            figures[preset]["peak_memory_mb"] = torch.cuda.max_memory_allocated() / 2**20
    return {"seconds": time.perf_counter() - t_start, "rc": 0, "figures": figures}


STEPS = {
    "pytest": step_pytest,
    "bench_train": step_bench_train,
    "bench_closedform": step_bench_closedform,
    "slices": step_slices,
}
# relative shares of the budget (a step may use its share of what the earlier ones left)
SHARE = {"pytest": 0.3, "bench_train": 0.35, "bench_closedform": 0.1, "slices": 0.25}


def _read_json(path: Path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def summary_markdown(summary: dict) -> str:
    lines = [
        f"# GPU check: {summary['device']}",
        "",
        f"{summary['date']}, modfourier {summary['library_version']}, device "
        f"`{summary['device_used']}`{' (smoke sizes)' if summary['smoke'] else ''}; "
        f"{summary['seconds']:.0f} s of a {summary['budget']:.0f} s budget.",
        "",
        "| step | status | seconds | result |",
        "|---|---|---|---|",
    ]
    for name, res in summary["steps"].items():
        status = res.get("skipped") or ("ok" if res.get("rc") == 0 else f"failed ({res['rc']})")
        result = res.get("result", "")
        if name == "slices" and isinstance(res.get("figures"), dict):
            result = "; ".join(
                f"{k}: {v['ms_per_epoch']:.1f} ms/epoch" if "ms_per_epoch" in v else f"{k}: -"
                for k, v in res["figures"].items()
            )
        lines.append(f"| {name} | {status} | {res.get('seconds', 0):.1f} | {result} |")
    lines += ["", "Every figure: summary.json; logs beside it.", ""]
    return "\n".join(lines)


def main(argv=None) -> int:
    args = parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    args.device_used, description = _device(args.device)
    if args.device_used == "cpu" and not args.smoke:
        print("gpu_check: no CUDA device: running the CPU fallback at smoke sizes")
        args.smoke = True
    from closedform.rundir import atomic_write_bytes, library_version

    t0 = time.perf_counter()
    steps = {}
    for i, name in enumerate(args.steps):
        left = args.budget - (time.perf_counter() - t0)
        if left < 5:
            steps[name] = {"skipped": "budget spent", "seconds": 0.0}
            continue
        # this step's share of what is left, among the steps still to run
        limit = left * SHARE[name] / sum(SHARE[s] for s in args.steps[i:])
        print(f"gpu_check: {name} (limit {limit:.0f} s)", flush=True)
        try:
            steps[name] = STEPS[name](args, out, limit)
        except Exception as exc:  # one failing step must not hide the others' figures
            steps[name] = {"rc": f"error: {type(exc).__name__}: {exc}", "seconds": 0.0}
    summary = {
        "date": time.strftime("%Y-%m-%d"),
        "library_version": library_version(),
        "device": description,
        "device_used": args.device_used,
        "smoke": args.smoke,
        "budget": args.budget,
        "seconds": time.perf_counter() - t0,
        "steps": steps,
    }
    atomic_write_bytes(out / "summary.json", (json.dumps(summary, indent=1) + "\n").encode())
    atomic_write_bytes(out / "summary.md", summary_markdown(summary).encode())
    print(summary_markdown(summary))
    ok = all(r.get("rc") == 0 or "skipped" in r for r in steps.values())
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
