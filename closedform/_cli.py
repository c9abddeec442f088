"""``modfourier construct``: build a closed-form network, report it, optionally save it."""

from __future__ import annotations

import argparse
import json
import sys
import time

VERBS = ("construct",)
MODELS = ("mlp", "rnn", "transformer")

# options that only one model reads: (dest, flag) per model; None means "not given"
_MODEL_OPTIONS = {
    "mlp": (
        ("width", "--width"),
        ("phases", "--phases"),
        ("seed", "--seed"),
        ("activation", "--activation"),
        ("branches", "--branches"),
    ),
    "rnn": (("d_hidden", "--d-hidden"), ("d_embed", "--d-embed"), ("alpha", "--alpha")),
    "transformer": (("d_model", "--d-model"), ("heads", "--heads"), ("d_mlp", "--d-mlp")),
}


def add_parser(subparsers) -> None:
    sp = subparsers.add_parser(
        "construct",
        help="build a closed-form (analytic) network for a task and report its accuracy",
        description="Build a closed-form network for a modular task (Gromov's two-layer MLP, "
        "the tanh RNN of Rangamani et al. or the one-layer transformer of Nanda et al.) and "
        "evaluate it on every pair (n, m). Options of one model are an error with another.",
    )
    from ._tasks import TASK_NAMES

    sp.add_argument("--model", default="mlp", choices=MODELS, help="architecture (default mlp)")
    sp.add_argument("--task", default="add", choices=TASK_NAMES, help="task (default add)")
    sp.add_argument("--p", type=int, default=97, help="modulus p (default 97)")
    sp.add_argument("--frequencies", type=int, nargs="+", default=None, help="frequencies k to use")
    sp.add_argument("--A", type=int, default=None, help="affine: coefficient of n")
    sp.add_argument("--B", type=int, default=None, help="affine: coefficient of m")
    sp.add_argument("--C", type=int, default=None, help="affine: constant")
    sp.add_argument("--out", default=None, help="write a model directory here")
    sp.add_argument("--json", action="store_true", help="print one JSON object")
    mlp = sp.add_argument_group("--model mlp")
    mlp.add_argument(
        "--width", type=int, default=None, help="wave neurons N (default: 4p random phases)"
    )
    mlp.add_argument(
        "--phases", default=None, choices=("random", "exact"), help="phase scheme (random)"
    )
    mlp.add_argument("--seed", type=int, default=None, help="seed of the random phases (0)")
    mlp.add_argument(
        "--activation", default=None, help="quadratic (default), relu, gelu, tanh or x^k"
    )
    mlp.add_argument(
        "--branches", default=None, choices=("all", "one"), help="readout branches of F^-1 (all)"
    )
    rnn = sp.add_argument_group("--model rnn")
    rnn.add_argument("--d-hidden", type=int, default=None, help="hidden units (default 256)")
    rnn.add_argument("--d-embed", type=int, default=None, help="embedding size (default 256)")
    rnn.add_argument(
        "--alpha", type=float, default=None, help="input amplitude in (0, 1] (default: automatic)"
    )
    tr = sp.add_argument_group("--model transformer")
    tr.add_argument("--d-model", type=int, default=None, help="residual width (default 128)")
    tr.add_argument("--heads", type=int, default=None, help="attention heads (default 4)")
    tr.add_argument("--d-mlp", type=int, default=None, help="MLP neurons (default 512)")


def _not_applicable(args: argparse.Namespace) -> list[str]:
    """Flags given on the command line that the chosen model does not read."""
    return [
        flag
        for model, options in _MODEL_OPTIONS.items()
        if model != args.model
        for dest, flag in options
        if getattr(args, dest, None) is not None
    ]


def _build(args: argparse.Namespace, task):
    """The analytic network of ``args.model`` with the options given (defaults elsewhere)."""
    given = {
        dest: getattr(args, dest)
        for dest, _ in _MODEL_OPTIONS[args.model]
        if getattr(args, dest) is not None
    }
    if args.model == "mlp":
        from ._analytic import analytic_mlp

        options = {"phases": "random", "seed": 0, "activation": "quadratic", "branches": "all"}
        return analytic_mlp(task, frequencies=args.frequencies, **{**options, **given})
    if args.model == "rnn":
        from ._analytic_rnn import analytic_rnn

        return analytic_rnn(task, args.frequencies, **given)
    from ._analytic_transformer import analytic_transformer

    return analytic_transformer(task, args.frequencies, **given)


def _describe(net, model: str) -> tuple[dict, str]:
    """(JSON fields, one-line summary) of the network's construction."""
    freqs = [int(k) for k in net.frequencies if k >= 0]
    if model == "mlp":
        fields = {"scheme": net.scheme, "width": net.width}
        line = f"{net.scheme} phases, width N = {net.width}"
    elif model == "rnn":
        fields = {
            "d_hidden": net.d_hidden,
            "d_embed": net.d_embed,
            "alpha": net.alpha,
            "n_phases": net.n_phases,
            "certified": bool(net.certificate()["certified"]),
        }
        line = (
            f"tanh RNN, d_hidden = {net.d_hidden}, d_embed = {net.d_embed}, alpha = "
            f"{net.alpha:g}, J = {net.n_phases} units per frequency"
        )
    else:
        fields = {
            "d_model": net.d_model,
            "heads": net.heads,
            "d_mlp": net.d_mlp,
            "neurons_per_frequency": net.neurons_per_frequency,
            "scheme": net.scheme,
            "attention": net.attention,
        }
        line = (
            f"one-layer transformer, d_model = {net.d_model}, {net.heads} heads, d_mlp = "
            f"{net.d_mlp}, {net.neurons_per_frequency} neurons per frequency ({net.scheme}, "
            f"{net.attention} attention)"
        )
    fields["n_frequencies"] = len(set(freqs))
    fields["frequencies"] = sorted(set(freqs))
    return fields, line


def run(args: argparse.Namespace) -> int:
    from ._tasks import get_task

    params = {k: getattr(args, k) for k in ("A", "B", "C") if getattr(args, k) is not None}
    try:
        wrong = _not_applicable(args)
        if wrong:
            raise ValueError(
                f"{', '.join(wrong)} do{'es' if len(wrong) == 1 else ''} not apply to "
                f"--model {args.model}"
            )
        if params and args.task != "affine":
            raise ValueError(f"--A/--B/--C apply to --task affine only; got --task {args.task}")
        task = get_task(args.task, args.p, **params)
        t0 = time.perf_counter()
        net = _build(args, task)
        ev = net.evaluate()
        seconds = time.perf_counter() - t0
        out = net.save(args.out) if args.out else None
    except (ValueError, TypeError) as exc:
        print(f"modfourier construct: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"modfourier construct: error: {exc}", file=sys.stderr)
        return 1
    fields, line = _describe(net, args.model)
    result = {
        "model": args.model,
        "task": task.name,
        "p": task.p,
        "M": task.M,
        **fields,
        **ev.to_dict(),
        "seconds": round(seconds, 3),
        "model_dir": out,
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{task!r}: {line}")
        print(f"  frequencies        {fields['frequencies']}")
        print(f"  accuracy           {ev.accuracy:.4%} of {ev.n_pairs} defined pairs")
        if task.in_log_domain:
            print(f"  accuracy (n,m != 0) {ev.accuracy_decomposed:.4%}")
        print(f"  smallest margin    {ev.margin:.6g} (normalized {ev.normalized_margin:.4f})")
        print(f"  evaluated in       {seconds:.2f} s")
        if out:
            print(f"  model directory    {out}")
    return 0
