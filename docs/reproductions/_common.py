"""Shared pieces of the scripts under docs/ that publish numbers and figures.

The reproduction scripts import this module as ``_common`` from their folder; the scripts in
docs/scripts and docs/benchmarks put this folder on ``sys.path`` first. It holds, once:

- the command line: ``--only``, ``--full`` / ``--smoke`` (the size), ``--out``, ``--device``,
  ``--keep-runs`` (:func:`reproduction_parser`, :func:`run_main`);
- run directories (:class:`Runs`): every trained network gets its own directory under
  ``<out>/runs/<part>/``, which is reused when it holds the finished run, resumed when it holds
  an unfinished one, and otherwise must be new or empty (``closedform.rundir`` refuses anything
  else, so nothing the user put there is ever overwritten or deleted);
- JSON results and PNG figures, written atomically (:func:`write_json`, :func:`save_figure`);
  figures use matplotlib's object API on an Agg canvas, never pyplot's global state;
- Gromov's Fig. 4b, accuracy against width (:func:`fig4b_figure`), the one place it is drawn.

Sizes: ``cpu`` (the default), ``full`` (the papers' sizes, for a GPU) and ``smoke`` (p <= 13, a
few epochs, one seed: runs every script end to end in seconds; the test suite uses it, always
with ``--out`` so the committed results are never touched).
"""

from __future__ import annotations

import argparse
import datetime
import io
import json
import shlex
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

from closedform import rundir

ROOT = Path(__file__).resolve().parents[2]  # the repository
# keys every part's JSON gets from run_parts; a part must not return them itself
META_KEYS = ("part", "size", "wall_seconds", "command", "library_version", "date")
SMOKE_HELP = (
    "tiny sizes (p <= 13, a few epochs, one seed): runs end to end in seconds to check the "
    "script; needs --out"
)


# ---------------------------------------------------------------------------------------------
# command line


def reproduction_parser(
    doc: str, parts: Sequence[str], full_help: str, out_default: Path
) -> argparse.ArgumentParser:
    """The part-based scripts' options: ``--only PART ...``, the size (``--full``/``--smoke``)
    and the output options (:func:`add_output_options`)."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--only", nargs="+", choices=parts, default=list(parts))
    add_size_options(ap, full_help)
    add_output_options(ap, out_default)
    return ap


def add_size_options(ap: argparse.ArgumentParser, full_help: str | None = None) -> None:
    """``--smoke`` and, when ``full_help`` is given, ``--full`` (mutually exclusive)."""
    group = ap.add_mutually_exclusive_group()
    if full_help is not None:
        group.add_argument("--full", action="store_true", help=full_help)
    group.add_argument("--smoke", action="store_true", help=SMOKE_HELP)


def add_output_options(ap: argparse.ArgumentParser, out_default: Path) -> None:
    """``--device``, ``--out`` and ``--keep-runs``."""
    ap.add_argument("--device", default="auto")
    ap.add_argument("--out", default=None, help=f"results folder (default {out_default})")
    ap.add_argument(
        "--keep-runs",
        action="store_true",
        help="keep the run directories this call creates (default: deleted once the part's "
        "JSON is written; a later call with the same --out reuses kept ones)",
    )


def size_of(args: argparse.Namespace) -> str:
    """``'smoke'``, ``'full'`` or ``'cpu'`` from the parsed flags."""
    if getattr(args, "smoke", False):
        return "smoke"
    return "full" if getattr(args, "full", False) else "cpu"


def output_folder(
    ap: argparse.ArgumentParser, args: argparse.Namespace, out_default: Path, full_name=None
) -> Path:
    """``--out``, else ``out_default`` (with ``--full``: its sibling ``full_name``); a smoke run
    must name its folder (it would otherwise overwrite the committed results)."""
    if args.out:
        return Path(args.out)
    if size_of(args) == "smoke":
        ap.error("--smoke needs --out DIR (a smoke run never writes into the committed results)")
    if size_of(args) == "full" and full_name:
        return out_default.with_name(full_name)
    return out_default


def command_line(script: str | Path, argv: Sequence[str]) -> str:
    """The command as the docs cite it: ``python <path from the repository root> ARGS``."""
    path = Path(script).resolve()
    try:
        path = path.relative_to(ROOT)
    except ValueError:  # pragma: no cover - a copy of the script outside the repository
        pass
    return shlex.join(["python", str(path), *argv])


def provenance(script: str | Path, argv: Sequence[str] | None) -> dict:
    """``command``, ``library_version`` and ``date`` of a result."""
    argv = list(sys.argv[1:] if argv is None else argv)
    return {
        "command": command_line(script, argv),
        "library_version": rundir.library_version(),
        "date": datetime.date.today().isoformat(),
    }


# ---------------------------------------------------------------------------------------------
# parts


@dataclass
class Context:
    """What a part gets: the parsed options, the results folder, the size and its runs."""

    args: argparse.Namespace
    out: Path
    size: str
    runs: Runs

    @property
    def device(self) -> str:
        return self.args.device

    @property
    def seeds(self) -> list[int]:
        """``--seeds`` where the script has it; else 0 1 2 (smoke: 0)."""
        seeds = getattr(self.args, "seeds", None)
        return list(seeds) if seeds else ([0] if self.size == "smoke" else [0, 1, 2])


def run_main(
    ap: argparse.ArgumentParser,
    argv,
    parts: dict[str, Callable[[Context], dict]],
    out_default: Path,
    full_name: str,
    script: str | Path,
) -> int:
    """Parse ``argv`` with ``ap`` (from :func:`reproduction_parser`) and run the chosen parts
    (:func:`run_parts`) into ``--out``."""
    args = ap.parse_args(argv)
    out = output_folder(ap, args, out_default, full_name)
    return run_parts(parts, args, out, provenance(script, argv))


def run_parts(parts: dict, args: argparse.Namespace, out: Path, meta: dict) -> int:
    """Run ``parts[name](context)`` for each name in ``args.only`` and write ``<name>.json``
    under ``out``: ``part``, ``size``, the part's result, ``wall_seconds`` and ``meta``.

    A part's run directories live in ``out/runs/<name>/``; once its JSON is written, the ones
    this call created are deleted unless ``--keep-runs`` (checkpoints are not committed).
    """
    out.mkdir(parents=True, exist_ok=True)
    size = size_of(args)
    for name in args.only:
        print(f"{name} ...", flush=True)
        runs = Runs(out / "runs" / name)
        t0 = time.perf_counter()
        result = parts[name](Context(args=args, out=out, size=size, runs=runs))
        clash = sorted(set(result) & set(META_KEYS))
        if clash:
            raise ValueError(f"part {name!r} returned the reserved keys {clash}")
        doc = {"part": name, "size": size, **result}
        doc["wall_seconds"] = round(time.perf_counter() - t0, 1)
        doc.update(meta)
        path = write_json(out / f"{name}.json", doc)
        runs.clean_up(keep=args.keep_runs)
        print(f"{name}: {doc['wall_seconds']} s -> {path}", flush=True)
    return 0


# ---------------------------------------------------------------------------------------------
# run directories


class Runs:
    """The run directories of one part, all under ``folder`` (created on first use).

    :meth:`train` and :meth:`train_ensemble` give each named run its own directory: a finished
    run with the same configuration is reused as it is, an unfinished one is resumed (on the
    CPU bitwise equal to an uninterrupted run), and a directory that holds anything else is
    refused by ``closedform.rundir`` (the error names what it found). :meth:`clean_up` deletes
    only the directories this object created.
    """

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self.created: list[Path] = []
        self.earlier: list[Path] = []

    def path(self, name: str) -> Path:
        return self.folder / name

    def _note(self, path: Path) -> None:
        if path in self.created or path in self.earlier:
            return
        fresh = not path.exists() or (path.is_dir() and not any(path.iterdir()))
        (self.created if fresh else self.earlier).append(path)

    def train(self, cfg, name: str, *, every: int | None = None):
        """Train ``cfg`` into ``<folder>/<name>`` (or reuse/resume it); returns a ``trained.Run``.

        With ``every``, training runs in segments of ``every`` epochs, each resumed from the
        last, so that the directory holds a weight checkpoint every ``every`` epochs (on the
        CPU bitwise equal to one uninterrupted run); it stops early when the run reaches its
        target.
        """
        run_dir = self.path(name)
        self._note(run_dir)
        if every is None:
            return _train_or_reuse(cfg, run_dir)
        saved = _saved_hyper(run_dir)
        done_to = saved["max_epochs"] if saved else 0
        run = None
        for stop in range(every, cfg.max_epochs + every, every):
            stop = min(stop, cfg.max_epochs)
            if stop < done_to:  # segments an earlier call finished
                continue
            run = _train_or_reuse(cfg.replace(max_epochs=stop), run_dir)
            if run.stopped == "target" or stop == cfg.max_epochs:
                break
        return run if run is not None else _train_or_reuse(cfg, run_dir)

    def train_ensemble(self, cfg, seeds: Sequence[int], name: str) -> list:
        """Train the seeds of ``cfg`` as one batched ensemble into ``<folder>/<name>/seed_<s>``
        (or reuse/resume them); returns the ``trained.Run`` of each seed."""
        from trained import train_ensemble

        folder = self.path(name)
        self._note(folder)
        seeds = list(seeds)
        if not folder.exists() or not any(folder.iterdir()):
            return train_ensemble(cfg, seeds=seeds, out_dir=folder)
        finished = [_finished_run(folder / f"seed_{s}", cfg.replace(seed=s)) for s in seeds]
        if all(r is not None for r in finished):
            return finished
        return train_ensemble(cfg, seeds=seeds, out_dir=folder, resume=True)

    def clean_up(self, keep: bool = False) -> None:
        """Delete the directories this object created (unless ``keep``), then its folder and
        ``runs/`` above it when they are empty. Directories from an earlier call stay."""
        if not keep:
            for path in self.created:
                _remove_runs(path)
        for folder in (self.folder, self.folder.parent):
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
        if self.earlier:
            print(
                f"  kept {len(self.earlier)} run directories an earlier call left under "
                f"{self.folder} (delete them when no longer needed)",
                flush=True,
            )


def _saved_hyper(run_dir: Path) -> dict | None:
    if not (run_dir / rundir.CONFIG_NAME).is_file():
        return None
    return rundir.read_config(run_dir).get("hyper")


def _same_config(saved: dict, cfg) -> bool:
    """Whether a saved run's hyper-parameters are ``cfg``'s (the device may differ)."""
    from trained import TrainConfig

    want = cfg.resolve().to_dict()
    have = TrainConfig.from_dict(saved).to_dict()
    return all(have[k] == v for k, v in want.items() if k != "device")


def _finished_run(run_dir: Path, cfg):
    """The finished run in ``run_dir`` as a ``trained.Run`` if it was trained with ``cfg``;
    None if the directory is missing, unfinished or holds another configuration."""
    from trained import Run, TrainConfig

    if not (run_dir / rundir.CONFIG_NAME).is_file():
        return None
    saved = rundir.read_config(run_dir)
    if saved.get("status") != "done" or not _same_config(saved["hyper"], cfg):
        return None
    return Run(
        config=TrainConfig.from_dict(saved["hyper"]),
        history=rundir.read_metrics(run_dir),
        weights=rundir.load_model_dir(run_dir).weights,
        run_dir=run_dir,
        epochs=saved["epochs"],
        stopped=saved["stopped"],
    )


def _train_or_reuse(cfg, run_dir: Path):
    from trained import train

    if not (run_dir / rundir.CONFIG_NAME).is_file():
        return train(cfg, out_dir=run_dir)  # refuses a directory that holds anything
    finished = _finished_run(run_dir, cfg)
    if finished is not None:
        return finished
    # unfinished, or finished with other resumable settings (more epochs); train() refuses
    # a run of another configuration and says which fields differ
    return train(cfg, out_dir=run_dir, resume=True)


def _remove_runs(path: Path) -> None:
    """Delete a run directory, or a folder of them (an ensemble), that this script created;
    anything that is not part of a run directory is left where it is."""
    if not path.is_dir():
        return
    if (path / rundir.CONFIG_NAME).is_file():
        foreign = rundir.foreign_entries(path)
        if foreign:
            print(f"  keeping {path}: it also holds {foreign}", flush=True)
            return
        shutil.rmtree(path)
        return
    for child in path.iterdir():
        if child.is_dir():
            _remove_runs(child)
    if not any(path.iterdir()):
        path.rmdir()


# ---------------------------------------------------------------------------------------------
# JSON and figures


def _json_default(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    return str(obj)  # paths, enums: their text


def write_json(path: str | Path, obj) -> Path:
    """Write ``obj`` as indented JSON, atomically (a reader never sees a torn file)."""
    path = Path(path)
    text = json.dumps(obj, indent=1, default=_json_default) + "\n"
    rundir.atomic_write_bytes(path, text.encode())
    return path


def read_json(path: str | Path):
    return json.loads(Path(path).read_text())


def new_figure(ncols: int = 1, nrows: int = 1, *, size=(6.4, 4.2), sharey: bool = False):
    """A matplotlib ``Figure`` on an Agg canvas (no pyplot state) and its axes, shape
    ``(nrows, ncols)``; ``size`` is the whole figure's, in inches."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, ncols, sharey=sharey, squeeze=False)
    return fig, axes


def save_figure(fig, path: str | Path, dpi: int = 120) -> Path:
    """Render ``fig`` as PNG and write it atomically."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    rundir.atomic_write_bytes(path, buf.getvalue())
    return Path(path)


# ---------------------------------------------------------------------------------------------
# Gromov Fig. 4b


class Curve(NamedTuple):
    """One curve of :func:`fig4b_figure`: ``values[width]`` = accuracies, one per seed."""

    label: str
    values: dict
    marker: str = "o"


def fig4b_figure(
    path: str | Path, p: int, reference: Curve | None, curves: Sequence[Curve], setting: str = ""
) -> Path:
    """Gromov Fig. 4b: test accuracy against width N at modulus ``p``, drawn to ``path``.

    ``reference`` is the analytic random-phase network (Gromov eq. 6-7), dashed in black;
    ``curves`` are trained networks. Each curve is the mean over seeds with the min-max band;
    widths missing from a curve (every seed diverged) are left out of it.
    """
    fig, axes = new_figure(size=(6.6, 4.3))
    ax = axes[0, 0]
    styled = [(c, {"color": "k", "ls": "--"}) for c in [reference] if c is not None]
    styled += [(c, {}) for c in curves]
    for curve, style in styled:
        widths = sorted(w for w, v in curve.values.items() if len(v))
        vals = [np.asarray(curve.values[w], dtype=float) for w in widths]
        line = ax.plot(
            widths, [v.mean() for v in vals], marker=curve.marker, label=curve.label, **style
        )[0]
        if any(len(v) > 1 for v in vals):
            ax.fill_between(
                widths,
                [v.min() for v in vals],
                [v.max() for v in vals],
                color=line.get_color(),
                alpha=0.2,
            )
    ax.set_xscale("log", base=2)
    ax.set_xlabel("width N (neurons)")
    ax.set_ylabel("test accuracy (mean, min-max over seeds)")
    ax.set_ylim(0, 1.05)
    setting = f", {setting}" if setting else ""
    ax.set_title(f"Gromov Fig. 4b: accuracy against width, add mod {p}{setting}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return save_figure(fig, path)
