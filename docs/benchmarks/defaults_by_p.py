"""Measure the default presets on add mod p: epochs and seconds to >= 99 % test accuracy.

Each run is ``trained.train(TrainConfig(model=M, task="add", p=p, seed=s))`` with nothing else
set: the model's CPU preset with its p-aware defaults (``trained._config.P_AWARE_DEFAULTS``),
in memory, on the CPU. Prints one line per run as it finishes (with its verdict) and a table;
``--out`` writes every run as JSON. The table in docs/trained.md ("Defaults by modulus") is
this script's output.

Usage::

    python docs/benchmarks/defaults_by_p.py                        # MLP, every prime 23..113
    python docs/benchmarks/defaults_by_p.py --seeds 0 1 2 3 4 --out mlp.json
    python docs/benchmarks/defaults_by_p.py --models rnn transformer --primes 23 31 59 97 113
    python docs/benchmarks/defaults_by_p.py --primes 31 --alpha 0.5 --max-epochs 1000  # a failure
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time

MODELS = ("mlp", "rnn", "transformer")


def _primes(lo: int, hi: int) -> list[int]:
    from closedform import is_prime

    return [q for q in range(lo, hi + 1) if is_prime(q)]


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", nargs="+", choices=MODELS, default=["mlp"])
    ap.add_argument(
        "--primes", nargs="+", type=int, default=None, help="moduli (default: primes 23..113)"
    )
    ap.add_argument("--seeds", nargs="+", type=int, default=[0])
    ap.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    ap.add_argument("--max-epochs", type=int, default=None, help="override the presets' budget")
    ap.add_argument("--alpha", type=float, default=None, help="set alpha (default: the preset's)")
    ap.add_argument(
        "--weight-decay", type=float, default=None, help="set weight decay (default: the preset's)"
    )
    ap.add_argument("--out", default=None, help="write every run as JSON here")
    return ap


def parse_args(argv=None) -> argparse.Namespace:
    ap = parser()
    args = ap.parse_args(argv)
    if args.primes is None:
        args.primes = _primes(23, 113)
    bad = [p for p in args.primes if p < 3]
    if bad:
        ap.error(f"--primes must be >= 3; got {bad}")
    if args.threads < 1:
        ap.error(f"--threads must be >= 1; got {args.threads}")
    return args


def measure(model: str, p: int, seed: int, **fields) -> dict:
    """Train one default run of ``model`` on add mod ``p`` (``fields``: TrainConfig values that
    are not None replace the defaults); return its row."""
    from trained import TrainConfig, train
    from trained._config import generalization_warnings
    from trained._verdict import assess

    cfg = TrainConfig(model=model, task="add", p=p, seed=seed, device="cpu")
    cfg = cfg.replace(**{k: v for k, v in fields.items() if v is not None})
    resolved = cfg.resolve()
    t0 = time.perf_counter()
    run = train(cfg)
    seconds = time.perf_counter() - t0
    outcome = assess(run.history)
    last = run.history[-1]
    return {
        "model": model,
        "p": p,
        "seed": seed,
        "preset": resolved.preset,
        "alpha": resolved.alpha,
        "lr": resolved.lr,
        "weight_decay": resolved.weight_decay,
        "max_epochs": resolved.max_epochs,
        "p_defaults": list(resolved.p_defaults or ()),
        "warnings": generalization_warnings(cfg),
        "grok_epoch": run.grok_epoch(),
        "epochs": run.epochs,
        "seconds": round(seconds, 2),
        "train_acc": last["train_acc"],
        "test_acc": last["test_acc"],
        "verdict": outcome.message,
        "verdict_kind": outcome.kind,
    }


def table(rows: list[dict]) -> str:
    """Markdown table: one line per (model, p) over the seeds measured."""
    out = [
        "| model | p | alpha | seeds | epochs to 99 % test | seconds | verdict |",
        "|---|---|---|---|---|---|---|",
    ]
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault((r["model"], r["p"]), []).append(r)
    for (model, p), rs in groups.items():
        seeds = ",".join(str(r["seed"]) for r in rs)
        ok = [r for r in rs if r["grok_epoch"] is not None and r["verdict_kind"] == "grokked"]
        if len(ok) == len(rs):
            epochs = _span([r["grok_epoch"] for r in rs])
            secs = _span([r["seconds"] for r in rs], "{:.1f}")
            what = "generalizes"
        else:
            epochs = _span([r["grok_epoch"] for r in ok]) if ok else "—"
            secs = _span([r["seconds"] for r in ok], "{:.1f}") if ok else "—"
            failed = "; ".join(f"seed {r['seed']}: {r['verdict']}" for r in rs if r not in ok)
            what = f"does not generalize ({len(rs) - len(ok)} of {len(rs)}: {failed})"
        out.append(f"| {model} | {p} | {rs[0]['alpha']:g} | {seeds} | {epochs} | {secs} | {what} |")
    return "\n".join(out)


def _span(xs, fmt="{}") -> str:
    lo, hi = min(xs), max(xs)
    return fmt.format(lo) if lo == hi else f"{fmt.format(lo)}–{fmt.format(hi)}"


def main(argv=None) -> int:
    args = parse_args(argv)
    import torch

    import modfourier

    torch.set_num_threads(args.threads)
    print(
        f"# modfourier {modfourier.__version__}, torch {torch.__version__}, "
        f"{torch.get_num_threads()} thread(s), {platform.processor() or platform.machine()}",
        flush=True,
    )
    from trained import TrainConfig, train

    rows = []
    for model in args.models:
        # untimed: the first run of a process pays for lazy imports and allocator warm-up
        train(TrainConfig(model=model, task="add", p=11, max_epochs=2, device="cpu"))
        for p in args.primes:
            for seed in args.seeds:
                row = measure(
                    model,
                    p,
                    seed,
                    max_epochs=args.max_epochs,
                    alpha=args.alpha,
                    weight_decay=args.weight_decay,
                )
                rows.append(row)
                print(
                    f"{model} p={p} seed={seed} alpha={row['alpha']:g}: {row['verdict']} "
                    f"[{row['epochs']} epochs, {row['seconds']:.1f} s]",
                    flush=True,
                )
    print(table(rows))
    if args.out:
        meta = {
            "command": " ".join([sys.executable.rsplit("/", 1)[-1], *sys.argv]),
            "modfourier": modfourier.__version__,
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
        }
        with open(args.out, "w") as fh:
            json.dump({"meta": meta, "runs": rows}, fh, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
