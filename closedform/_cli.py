"""``modfourier construct``: build a closed-form network, report it, optionally save it."""

from __future__ import annotations

import argparse
import json
import sys
import time

VERBS = ("construct",)


def add_parser(subparsers) -> None:
    sp = subparsers.add_parser(
        "construct",
        help="build the closed-form (analytic) MLP for a task and report its accuracy",
        description="Build Gromov's closed-form two-layer MLP for a modular task and evaluate "
        "it on every pair (n, m).",
    )
    from ._tasks import TASK_NAMES

    sp.add_argument("--task", default="add", choices=TASK_NAMES, help="task (default add)")
    sp.add_argument("--p", type=int, default=97, help="modulus p (default 97)")
    sp.add_argument(
        "--width",
        type=int,
        default=None,
        help="wave neurons N (default: 4p random; all frequencies exact)",
    )
    sp.add_argument("--phases", default="random", choices=("random", "exact"), help="phase scheme")
    sp.add_argument("--frequencies", type=int, nargs="+", default=None, help="frequencies k to use")
    sp.add_argument("--seed", type=int, default=0, help="seed of the random phases")
    sp.add_argument("--activation", default="quadratic", help="quadratic, relu, gelu, tanh or x^k")
    sp.add_argument(
        "--branches", default="all", choices=("all", "one"), help="readout branches of F^-1"
    )
    sp.add_argument("--A", type=int, default=None, help="affine: coefficient of n")
    sp.add_argument("--B", type=int, default=None, help="affine: coefficient of m")
    sp.add_argument("--C", type=int, default=None, help="affine: constant")
    sp.add_argument("--out", default=None, help="write a model directory here")
    sp.add_argument("--json", action="store_true", help="print one JSON object")


def run(args: argparse.Namespace) -> int:
    from ._analytic import analytic_mlp
    from ._tasks import get_task

    params = {k: getattr(args, k) for k in ("A", "B", "C") if getattr(args, k) is not None}
    try:
        if params and args.task != "affine":
            raise ValueError(f"--A/--B/--C apply to --task affine only; got --task {args.task}")
        task = get_task(args.task, args.p, **params)
        t0 = time.perf_counter()
        net = analytic_mlp(
            task,
            width=args.width,
            frequencies=args.frequencies,
            phases=args.phases,
            seed=args.seed,
            activation=args.activation,
            branches=args.branches,
        )
        ev = net.evaluate()
        seconds = time.perf_counter() - t0
        out = net.save(args.out) if args.out else None
    except (ValueError, TypeError) as exc:
        print(f"modfourier construct: error: {exc}", file=sys.stderr)
        return 2
    result = {
        "task": task.name,
        "p": task.p,
        "M": task.M,
        "scheme": net.scheme,
        "width": net.width,
        "n_frequencies": int(len(set(net.frequencies[net.frequencies >= 0].tolist()))),
        **ev.to_dict(),
        "seconds": round(seconds, 3),
        "model_dir": out,
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{task!r}: {net.scheme} phases, width N = {net.width}")
        print(f"  accuracy           {ev.accuracy:.4%} of {ev.n_pairs} defined pairs")
        if task.in_log_domain:
            print(f"  accuracy (n,m != 0) {ev.accuracy_decomposed:.4%}")
        print(f"  margin             {ev.margin:.6g} (normalized {ev.normalized_margin:.4f})")
        print(f"  evaluated in       {seconds:.2f} s")
        if out:
            print(f"  model directory    {out}")
    return 0
