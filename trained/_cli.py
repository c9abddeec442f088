"""``modfourier train``: train a paper's model from the command line.

Importing this module never loads torch (the ``modfourier`` dispatcher imports it to build its
parser); torch is imported inside :func:`run`.
"""

from __future__ import annotations

import argparse
import json
import sys

VERBS = ("train",)


def add_parser(subparsers) -> None:
    """Add the ``train`` verb to the dispatcher's sub-parsers."""
    from closedform import TASK_NAMES

    from ._config import EXTRA_TASKS, MODELS, PRESETS

    ap = subparsers.add_parser(
        "train",
        help="train an MLP, RNN or transformer full batch on a modular task",
        description="Full-batch training with log-spaced checkpoints into a run directory.",
    )
    ap.add_argument("--model", choices=MODELS, default="mlp")
    ap.add_argument("--task", choices=(*TASK_NAMES, *EXTRA_TASKS), default=None)
    ap.add_argument("--p", type=int, default=None, help="modulus (default: the preset's)")
    ap.add_argument("--preset", choices=tuple(PRESETS), default=None)
    ap.add_argument("--epochs", type=int, default=None, help="max epochs (full-batch steps)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--alpha", type=float, default=None, help="training fraction in (0, 1)")
    ap.add_argument("--lr", type=float, default=None)
    ap.add_argument("--weight-decay", type=float, default=None)
    ap.add_argument("--optimizer", default=None, help="gd, momentum, adam or adamw")
    ap.add_argument("--eval-every", type=int, default=None)
    ap.add_argument("--device", default="auto", help="auto, cpu or cuda")
    ap.add_argument("--out", required=True, help="run directory")
    ap.add_argument("--resume", action="store_true", help="continue from the last checkpoint")
    ap.add_argument("--json", action="store_true", help="no progress bar; print one JSON summary")
    ap.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="any TrainConfig field (repeatable; VALUE as JSON, else a string), e.g. "
        '--set width=256 --set betas=[0.9,0.98] --set \'task_params={"variant":"masked"}\'',
    )


def _parse_set(items: list[str]) -> dict:
    """``["width=256", "grokfast=ema"]`` -> ``{"width": 256, "grokfast": "ema"}``."""
    import dataclasses

    from ._config import TrainConfig

    names = {f.name for f in dataclasses.fields(TrainConfig)}
    out = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or key not in names:
            raise ValueError(
                f"`--set` takes FIELD=VALUE with a TrainConfig field; got {item!r} "
                f"(fields: {', '.join(sorted(names))})"
            )
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            value = text
        if isinstance(value, list):
            value = tuple(value)
        out[key] = value
    return out


def run(args: argparse.Namespace) -> int:
    """Run the ``train`` verb; returns the exit status.

    Before training it prints (to stderr) the preset values the run takes because they were
    left unset, p-aware ones marked (:func:`trained._config.defaults_line`), and a warning for
    each measured reason the configuration is not expected to generalize
    (:func:`trained._config.generalization_warnings`); after training, the run's verdict
    (:func:`trained._verdict.verdict`).
    """
    from ._config import TrainConfig, defaults_line, generalization_warnings
    from ._train import train
    from ._verdict import assess, verdict_threshold

    try:
        extra = _parse_set(args.set)
        flags = dict(
            model=args.model,
            task=args.task,
            p=args.p,
            preset=args.preset,
            max_epochs=args.epochs,
            seed=args.seed,
            alpha=args.alpha,
            lr=args.lr,
            weight_decay=args.weight_decay,
            optimizer=args.optimizer,
            eval_every=args.eval_every,
            device=args.device,
        )
        both = sorted(k for k in extra if k in flags and flags[k] is not None)
        if both and any(extra[k] != flags[k] for k in both):
            raise ValueError(f"`--set` repeats field(s) {both} given by their own flags")
        config = TrainConfig(**{**flags, **extra})
        resolved = config.resolve()
    except (ValueError, TypeError) as exc:
        print(f"modfourier train: error: {exc}", file=sys.stderr)
        return 2

    # stderr: with --json, stdout carries the summary alone
    line = defaults_line(config)
    if line is not None:
        print(line, file=sys.stderr)
    warnings = generalization_warnings(resolved)
    for text in warnings:
        print(f"modfourier train: warning: {text}", file=sys.stderr)

    bar = None
    progress = None
    if not args.json and sys.stderr.isatty():
        from tqdm import tqdm

        total = resolved.max_epochs
        bar = tqdm(total=total, unit="epoch", file=sys.stderr)

        def progress(rec):
            bar.update(rec["epoch"] - bar.n)
            bar.set_postfix(
                train_acc=f"{rec['train_acc']:.3f}",
                test_acc=f"{rec['test_acc']:.3f}",
                loss=f"{rec['train_loss']:.3g}",
            )

    try:  # errors go to the dispatcher: one line, 2 for usage, 1 for faults, 130 interrupted
        result = train(config, out_dir=args.out, resume=args.resume, progress=progress)
    finally:
        if bar is not None:
            bar.close()
    last = result.history[-1]
    target = result.config.target_acc
    outcome = assess(result.history, verdict_threshold(target))
    summary = {
        "run_dir": str(result.run_dir),
        "model": result.config.model,
        "task": result.config.task,
        "p": result.config.p,
        "preset": result.config.preset,
        "seed": result.config.seed,
        "epochs": result.epochs,
        "stopped": result.stopped,
        "grok_epoch": result.grok_epoch(),
        "train_acc": last["train_acc"],
        "test_acc": last["test_acc"],
        "train_loss": last["train_loss"],
        "test_loss": last["test_loss"],
        "p_defaults": list(result.config.p_defaults or ()),
        "warnings": warnings,
        "verdict": outcome.message,
        "verdict_kind": outcome.kind,
    }
    if args.json:
        print(json.dumps(summary))
    else:
        print(
            f"{summary['model']} {summary['task']} p={summary['p']} ({summary['preset']}): "
            f"{summary['epochs']} epochs ({summary['stopped']}), train acc "
            f"{summary['train_acc']:.4f}, test acc {summary['test_acc']:.4f} -> "
            f"{summary['run_dir']}"
        )
        print(outcome.message)
    return 0
