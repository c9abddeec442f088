"""``modfourier compare | report | demo``: the scorecard, the report and the main demo.

Nothing heavy at import: numpy/compare are imported inside ``run``; torch only through
``trained`` inside the demo.
"""

from __future__ import annotations

import argparse
import sys

VERBS = ("compare", "report", "demo")


def add_parser(subparsers) -> None:
    """Add the verbs of compare to the ``modfourier`` parser."""
    p = subparsers.add_parser(
        "compare", help="print the scorecard of a model directory against the analytic network"
    )
    p.add_argument("run_dir", metavar="RUN_DIR", help="model directory (trained or analytic)")
    p.add_argument("--json", action="store_true", help="print the scorecard as JSON")
    p.add_argument("--no-low-rank", action="store_true", help="skip the minimal-rank search")

    r = subparsers.add_parser(
        "report", help="write a Markdown + HTML report with figures for a model directory"
    )
    r.add_argument("run_dir", metavar="RUN_DIR")
    r.add_argument("--out", default=None, help="report directory (default RUN_DIR/report)")
    r.add_argument("--reference", default=None, help="analytic model directory for theory")
    r.add_argument("--no-low-rank", action="store_true", help="skip the minimal-rank search")

    d = subparsers.add_parser(
        "demo",
        help="build the analytic network, train a Gromov MLP on add mod p until it groks, "
        "score it against the theory and write the report",
    )
    d.add_argument("--p", type=int, default=97, help="modulus (default 97)")
    d.add_argument("--out", default="modfourier-demo", help="output directory")
    d.add_argument("--seed", type=int, default=0, help="training seed")
    d.add_argument("--max-epochs", type=int, default=None, help="cap on training epochs")
    d.add_argument("--preset", default=None, help="trained preset (default: the MLP CPU preset)")
    d.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def run(args: argparse.Namespace) -> int:
    """Run one verb; returns the exit status (2 with a one-line message on bad input)."""
    try:
        return _run(args)
    except (ValueError, TypeError, FileNotFoundError) as exc:
        print(f"modfourier {args.verb}: error: {exc}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace) -> int:
    if args.verb == "compare":
        return _compare(args)
    if args.verb == "report":
        from ._report import write_report

        out = write_report(
            args.run_dir, args.out, reference_dir=args.reference, low_rank=not args.no_low_rank
        )
        print(f"report: {out / 'report.html'}")
        print(f"        {out / 'report.md'}")
        return 0
    if args.verb == "demo":
        return _demo(args)
    raise ValueError(f"unknown verb {args.verb!r}; compare handles {VERBS}")


def _compare(args) -> int:
    import json

    from ._report import scorecard_rows
    from ._score import score

    card = score(args.run_dir, low_rank=not args.no_low_rank)
    if args.json:
        print(json.dumps(card, indent=1))
        return 0
    rows = scorecard_rows(card)
    width = max(len(r[0]) for r in rows)
    print(f"{'measure':<{width}}  {'theory':>14}  {'this network':>14}")
    for label, theory, trained, _ in rows:
        print(f"{label:<{width}}  {theory:>14}  {trained:>14}")
    return 0


def demo(
    p: int = 97, out="modfourier-demo", seed: int = 0, max_epochs=None, progress=True, preset=None
):
    """The main job: analytic network, a trained Gromov MLP on add mod p, and their report.

    Parameters
    ----------
    p : int
        Modulus (>= 3).
    out : str or os.PathLike
        Output directory: ``analytic/`` (the exact network's model directory), ``trained/``
        (the run directory; an existing run there is resumed), ``report/`` (report.html,
        report.md, scorecard.json, PNGs).
    seed : int
        Training seed.
    max_epochs : int, optional
        Cap on training epochs (default: trained's MLP CPU preset).
    progress : bool
        Show a tqdm progress bar.
    preset : str, optional
        A ``trained.PRESETS`` name; default the MLP's CPU preset.

    Returns
    -------
    dict
        ``report`` (Path), ``scorecard`` (dict), ``grokked`` (test accuracy >= 0.99),
        ``epochs``.
    """
    from pathlib import Path

    import closedform

    from ._report import write_report
    from ._score import score

    if isinstance(p, bool) or not isinstance(p, int) or p < 3:
        raise ValueError(f"`p` must be an integer >= 3; got {p!r}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    task = closedform.get_task("add", p)
    analytic = closedform.analytic_mlp(task, phases="exact")
    analytic_dir = Path(analytic.save(out / "analytic"))

    import trained  # lazily: loads torch

    config = trained.TrainConfig(
        model="mlp", task="add", p=p, seed=seed, max_epochs=max_epochs, preset=preset
    )
    total = config.resolve().max_epochs
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=total, desc=f"training MLP on add mod {p}", unit="epoch")

    def on_record(rec):
        if bar is not None:
            bar.n = int(rec["epoch"])
            acc = rec.get("test_acc")
            if acc is not None:
                bar.set_postfix(test_acc=f"{acc:.3f}")
            bar.refresh()

    run_dir = out / "trained"
    # a demo interrupted earlier resumes from its last checkpoint (trained checks the config)
    resume = (run_dir / "config.json").is_file()
    result = trained.train(config, out_dir=run_dir, resume=resume, progress=on_record)
    if bar is not None:
        bar.close()
    history = result.history
    final = history[-1] if history else {}
    report = write_report(run_dir, out / "report", reference_dir=analytic_dir)
    card = score(run_dir, low_rank=False, reference=False)
    return {
        "report": report,
        "scorecard": card,
        "grokked": bool(final.get("test_acc", 0.0) >= 0.99),
        "epochs": int(final.get("epoch", 0)),
        "analytic_accuracy": float(analytic.accuracy()),
    }


def _demo(args) -> int:
    res = demo(
        args.p, args.out, args.seed, args.max_epochs, not args.no_progress, preset=args.preset
    )
    card = res["scorecard"]
    status = "grokked" if res["grokked"] else "did NOT grok"
    R = card["phase"].get("R")
    print(
        f"trained MLP on add mod {args.p}: {status} after {res['epochs']} epochs; "
        f"accuracy {card['accuracy']:.4f} (analytic {res['analytic_accuracy']:.4f}), "
        f"idealized {card['idealized_accuracy']:.4f}, phase R "
        f"{'n/a' if R is None else f'{R:.3f}'} (analytic 1), "
        f"IPR {card['ipr']['all']:.3f} (analytic 1), "
        f"median fit error {card['fit_error']['all']:.3f} (analytic 0)"
    )
    print(f"report: {res['report'] / 'report.html'}")
    return 0
