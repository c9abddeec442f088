"""``modfourier demo``: the main job in one command: construct -> train -> report.

The application layer: it builds the exact network with :mod:`closedform`, trains Gromov's MLP
with :mod:`trained` and scores and reports it with :mod:`compare`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

VERBS = ("demo",)


def add_parser(subparsers) -> None:
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


def _analytic_dir(task, path: Path) -> Path:
    """The exact network's model directory: written once, reused when it is already there."""
    import closedform

    if not path.exists():
        return Path(closedform.analytic_mlp(task, phases="exact").save(path))
    saved = closedform.load_model_dir(path)
    if saved.source != "analytic" or saved.config.get("task") != closedform.task_to_dict(task):
        raise ValueError(
            f"{path} holds another network ({saved.config.get('task')}, p = {saved.p}); "
            "choose another `out`"
        )
    return path


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
        ``epochs``, ``analytic_accuracy``.
    """
    import closedform
    import compare
    import trained  # loads torch

    if isinstance(p, bool) or not isinstance(p, int) or p < 3:
        raise ValueError(f"`p` must be an integer >= 3; got {p!r}")
    out = Path(out)
    task = closedform.get_task("add", p)
    config = trained.TrainConfig(
        model="mlp", task="add", p=p, seed=seed, max_epochs=max_epochs, preset=preset
    )
    total = config.resolve().max_epochs
    out.mkdir(parents=True, exist_ok=True)
    analytic_dir = _analytic_dir(task, out / "analytic")
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
    try:
        result = trained.train(config, out_dir=run_dir, resume=resume, progress=on_record)
    finally:
        if bar is not None:
            bar.close()
    history = result.history
    final = history[-1] if history else {}
    report = compare.write_report(run_dir, out / "report", reference_dir=analytic_dir)
    card = compare.score(run_dir, low_rank=False, reference=False)
    return {
        "report": report,
        "scorecard": card,
        "grokked": bool(final.get("test_acc", 0.0) >= 0.99),
        "epochs": int(final.get("epoch", 0)),
        "analytic_accuracy": float(closedform.analytic_mlp(task, phases="exact").accuracy()),
    }


def run(args: argparse.Namespace) -> int:
    try:
        res = demo(
            args.p, args.out, args.seed, args.max_epochs, not args.no_progress, preset=args.preset
        )
    except (ValueError, TypeError, FileNotFoundError) as exc:
        print(f"modfourier demo: error: {exc}", file=sys.stderr)
        return 2
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
