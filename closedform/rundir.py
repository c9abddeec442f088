"""The run directory: the one on-disk format of every network, analytic or trained.

Every package reads and writes model and run directories through this module only; it needs
numpy and safetensors, nothing above the bottom layer. Layout::

    RUN/
      config.json                      format version, model, task, p, hyper-parameters, seed,
                                       library version, status ("running" / "done" / "failed")
      weights.safetensors              the final (or analytic) weights, named as in the papers
      metrics.jsonl                    one JSON object per evaluation: {"epoch": int, ...}
      checkpoints/epoch_XXXXXXX.safetensors   weights at log-spaced epochs (7-digit epoch)
      state/epoch_XXXXXXX.safetensors         optimizer / filter / RNG state of that checkpoint

Contract (who writes what):

- ``modfourier construct`` and ``AnalyticMLP.save`` *create* a model directory: config.json and
  weights.safetensors, in a directory that is new or empty.
- ``modfourier train`` *creates* a run directory (new or empty), then only *extends* it:
  metrics lines, checkpoints with their state, and at the end weights.safetensors and the final
  config.json. ``--resume`` extends a run directory it created; nothing else does.
- ``compare``, ``report`` and ``demo``'s scoring only *read* (reports go to their own folder).
- No verb overwrites a file it did not write: a writer refuses a directory that holds anything
  else and names the file it found (:func:`claim_new_dir`).

Crash consistency: every file is written atomically (temp file, fsync, rename), a checkpoint's
state sidecar is written before its weights, and a metrics record is appended before the
checkpoint that covers it; so a run killed at any moment resumes from its last checkpoint with no
record lost (a kill can tear only the last metrics line, which readers skip and say so).
Only JSON and safetensors are ever read; nothing is pickled.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = [
    "CONFIG_NAME",
    "DirectoryInUseError",
    "FORMAT_VERSION",
    "METRICS_NAME",
    "WEIGHTS_NAME",
    "ModelDir",
    "RunDirError",
    "TornMetricsWarning",
    "append_metrics",
    "as_model_dir",
    "atomic_write_bytes",
    "checkpoint_path",
    "claim_new_dir",
    "finish_run_dir",
    "foreign_entries",
    "library_version",
    "list_checkpoints",
    "load_checkpoint",
    "load_model_dir",
    "load_weights",
    "read_config",
    "read_metrics",
    "refuse_pickles",
    "remove_stale_temp_files",
    "save_checkpoint",
    "save_model_dir",
    "save_weights",
    "write_config",
    "write_metrics",
]

FORMAT_VERSION = 1
CONFIG_NAME = "config.json"
WEIGHTS_NAME = "weights.safetensors"
METRICS_NAME = "metrics.jsonl"
CHECKPOINT_DIR = "checkpoints"
STATE_DIR = "state"
REQUIRED_KEYS = ("model", "p", "task")
_CKPT_RE = re.compile(r"^epoch_(\d{7})\.safetensors$")
_TEMP_RE = re.compile(r"^\..+\.[A-Za-z0-9_]+\.tmp$")
_PICKLE_SUFFIXES = (".pt", ".pth", ".pkl", ".pickle", ".bin", ".ckpt", ".npy", ".npz")
# what a run directory may hold (anything else is not ours: writers refuse to touch it)
_OWN_NAMES = {CONFIG_NAME, WEIGHTS_NAME, METRICS_NAME, CHECKPOINT_DIR, STATE_DIR}


class RunDirError(ValueError):
    """A model or run directory that is missing, foreign, corrupt or of another version."""


class DirectoryInUseError(RunDirError):
    """A writer was pointed at a directory that holds something it did not create."""


class TornMetricsWarning(UserWarning):
    """metrics.jsonl ended in a torn line (a write cut by a kill); that line was skipped."""


def library_version() -> str:
    """The installed modfourier version (package metadata), or ``"unknown"`` when not installed."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("modfourier")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "unknown"


# ---------------------------------------------------------------------------------------------
# atomic files


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically: temp file in the same folder, fsync, rename.

    A reader sees either the old file or the complete new one, never a torn write; the temp file
    is removed if the write fails (a full disk, a read-only folder).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes 0600; give the file normal permissions
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
    try:  # make the rename durable too
        dfd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:  # pragma: no cover - some filesystems refuse fsync on folders
        pass


def _json_text(obj, what: str) -> str:
    try:
        return json.dumps(obj, indent=2, sort_keys=True, allow_nan=False) + "\n"
    except (TypeError, ValueError) as exc:
        raise TypeError(f"`{what}` must be JSON-serializable without NaN/inf: {exc}") from None


def remove_stale_temp_files(run_dir: str | os.PathLike) -> list[Path]:
    """Delete temp files left by writes that a kill interrupted; return what was removed.

    Only this module's temp names (``.<name>.<random>.tmp``) in the directory, ``checkpoints/``
    and ``state/`` are touched.
    """
    removed = []
    root = Path(run_dir)
    for folder in (root, root / CHECKPOINT_DIR, root / STATE_DIR):
        if not folder.is_dir():
            continue
        for f in folder.iterdir():
            if f.is_file() and _TEMP_RE.match(f.name):
                try:
                    f.unlink()
                    removed.append(f)
                except FileNotFoundError:  # pragma: no cover - raced with another cleaner
                    pass
    return removed


# ---------------------------------------------------------------------------------------------
# weights


def _check_weights(weights) -> dict[str, np.ndarray]:
    if not isinstance(weights, dict) or not weights:
        raise TypeError("`weights` must be a non-empty dict of name -> numpy array")
    out = {}
    for name, value in weights.items():
        if not isinstance(name, str) or not name:
            raise TypeError(f"`weights` keys must be non-empty strings; got {name!r}")
        arr = np.asarray(value)
        if arr.dtype == object or not (
            np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_
        ):
            raise TypeError(f"`weights[{name!r}]` must be a numeric array; got dtype {arr.dtype}")
        if np.iscomplexobj(arr):  # safetensors has no complex dtype: store parts
            out[f"{name}.real"] = np.ascontiguousarray(arr.real)
            out[f"{name}.imag"] = np.ascontiguousarray(arr.imag)
        else:
            out[name] = np.ascontiguousarray(arr)
    return out


def save_weights(path: str | os.PathLike, weights: dict[str, np.ndarray], metadata=None) -> None:
    """Write named arrays to a safetensors file atomically (complex arrays as .real/.imag)."""
    from safetensors.numpy import save

    meta = None if metadata is None else {str(k): str(v) for k, v in metadata.items()}
    atomic_write_bytes(path, save(_check_weights(weights), metadata=meta))


def load_weights(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read a safetensors file written by :func:`save_weights` (complex parts re-joined).

    Raises
    ------
    FileNotFoundError
        No file at ``path``.
    RunDirError
        The file is not a valid safetensors file (a pickle, a truncated or tampered file).
    """
    from safetensors import SafetensorError
    from safetensors.numpy import load

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no weights file at {path}")
    data = path.read_bytes()
    try:
        raw = load(data)
    except (SafetensorError, ValueError, OSError) as exc:
        raise RunDirError(f"{path} is not a valid safetensors file: {exc}") from None
    out = {}
    for name, arr in raw.items():
        if name.endswith(".real") and name[:-5] + ".imag" in raw:
            out[name[:-5]] = arr + 1j * raw[name[:-5] + ".imag"]
        elif name.endswith(".imag") and name[:-5] + ".real" in raw:
            continue
        else:
            out[name] = arr
    return out


# ---------------------------------------------------------------------------------------------
# config


def write_config(run_dir: str | os.PathLike, config: dict) -> dict:
    """Write ``config.json`` (the one config writer); returns the dict as written.

    ``config`` must name ``model``, ``p`` and ``task``; ``format_version`` and
    ``library_version`` are filled in here.
    """
    if not isinstance(config, dict):
        raise TypeError(f"`config` must be a dict; got {type(config).__name__}")
    missing = [k for k in REQUIRED_KEYS if k not in config]
    if missing:
        raise ValueError(f"`config` must contain {missing}")
    full = {
        **{k: v for k, v in config.items() if k not in ("format_version", "library_version")},
        "format_version": FORMAT_VERSION,
        "library_version": library_version(),
    }
    atomic_write_bytes(Path(run_dir) / CONFIG_NAME, _json_text(full, "config").encode())
    return full


def read_config(run_dir: str | os.PathLike) -> dict:
    """Read and check ``config.json``: valid JSON object, known format version, required keys.

    Raises
    ------
    FileNotFoundError
        ``run_dir`` has no config.json.
    RunDirError
        Not valid JSON, not an object, an unknown format version, a missing or mistyped key
        (the message names the file and the key).
    """
    path = Path(run_dir) / CONFIG_NAME
    if not path.is_file():
        raise FileNotFoundError(f"{run_dir} is not a model directory: it has no {CONFIG_NAME}")
    try:
        config = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RunDirError(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(config, dict):
        raise RunDirError(f"{path} must hold a JSON object; got {type(config).__name__}")
    version = config.get("format_version")
    if version != FORMAT_VERSION:
        raise RunDirError(
            f"{path}: unsupported format_version {version!r} (this library reads {FORMAT_VERSION})"
        )
    missing = [k for k in REQUIRED_KEYS if k not in config]
    if missing:
        raise RunDirError(f"{path} lacks the key(s) {missing}")
    if not isinstance(config["model"], str):
        raise RunDirError(f"{path}: 'model' must be a string; got {config['model']!r}")
    p = config["p"]
    if isinstance(p, bool) or not isinstance(p, int) or p < 2:
        raise RunDirError(f"{path}: 'p' must be an integer >= 2; got {p!r}")
    if not isinstance(config["task"], (dict, str)):
        raise RunDirError(f"{path}: 'task' must be an object; got {config['task']!r}")
    return config


# ---------------------------------------------------------------------------------------------
# metrics


def _record_line(rec: dict) -> str:
    return json.dumps(rec, allow_nan=True) + "\n"


def read_metrics(run_dir: str | os.PathLike) -> list[dict]:
    """The records of ``metrics.jsonl`` in order (empty list when there is none).

    A torn last line (a write cut by a kill) is skipped with a :class:`TornMetricsWarning`;
    anything else that is not a JSON object with an integer ``epoch`` is an error naming the
    file and line, since only a crash mid-write can tear a line and only the last one.

    Raises
    ------
    RunDirError
        A malformed line other than the last, or a file that is not UTF-8 text.
    """
    path = Path(run_dir) / METRICS_NAME
    if not path.is_file():
        return []
    try:
        text = path.read_text()
    except UnicodeDecodeError as exc:
        raise RunDirError(f"{path} is not UTF-8 text: {exc}") from None
    lines = text.split("\n")
    complete = text.endswith("\n") or text == ""
    records = []
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        last = i == len(lines) - 1  # text after the final newline: written partially
        try:
            rec = json.loads(line)
            ok = isinstance(rec, dict) and isinstance(rec.get("epoch"), int)
        except json.JSONDecodeError:
            ok = False
        if ok and not (last and not complete):
            records.append(rec)
        elif last and not complete:
            warnings.warn(
                f"{path}: skipped a torn last line (line {i + 1}, a write cut by a kill)",
                TornMetricsWarning,
                stacklevel=2,
            )
        else:
            raise RunDirError(
                f"{path}, line {i + 1}: not a metrics record (a JSON object with an integer "
                f"'epoch'): {line[:80]!r}"
            )
    return records


def append_metrics(run_dir: str | os.PathLike, records: list[dict]) -> None:
    """Append records to ``metrics.jsonl`` and fsync (a torn last line is cut off first)."""
    path = Path(run_dir) / METRICS_NAME
    text = "".join(_record_line(r) for r in records)
    with open(path, "a+b") as fh:
        size = fh.seek(0, os.SEEK_END)
        if size:
            fh.seek(size - 1)
            if fh.read(1) != b"\n":  # a torn tail: drop it so the file stays one record a line
                fh.seek(0)
                data = fh.read()
                fh.truncate(data.rfind(b"\n") + 1)
        fh.seek(0, os.SEEK_END)
        fh.write(text.encode())
        fh.flush()
        os.fsync(fh.fileno())


def write_metrics(run_dir: str | os.PathLike, records: list[dict]) -> None:
    """Replace ``metrics.jsonl`` atomically with ``records``."""
    text = "".join(_record_line(r) for r in records)
    atomic_write_bytes(Path(run_dir) / METRICS_NAME, text.encode())


# ---------------------------------------------------------------------------------------------
# checkpoints


def checkpoint_path(run_dir: str | os.PathLike, epoch: int, kind: str = "weights") -> Path:
    """Path of the weights (``kind='weights'``) or state sidecar (``'state'``) of ``epoch``."""
    folder = {"weights": CHECKPOINT_DIR, "state": STATE_DIR}[kind]
    return Path(run_dir) / folder / f"epoch_{int(epoch):07d}.safetensors"


def list_checkpoints(run_dir: str | os.PathLike, *, with_state: bool = False) -> list[int]:
    """Epochs of the weight checkpoints in ``run_dir/checkpoints`` (sorted).

    With ``with_state=True`` only those whose state sidecar exists too (resumable ones).

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     for e in (8, 0, 2):
    ...         save_weights(checkpoint_path(tmp, e), {"W": np.zeros(1)})
    ...     list_checkpoints(tmp)
    [0, 2, 8]
    """
    folder = Path(run_dir) / CHECKPOINT_DIR
    if not folder.is_dir():
        return []
    epochs = sorted(int(m.group(1)) for f in folder.iterdir() if (m := _CKPT_RE.match(f.name)))
    if with_state:
        epochs = [e for e in epochs if checkpoint_path(run_dir, e, "state").is_file()]
    return epochs


def save_checkpoint(run_dir, epoch: int, weights: dict, state: dict | None = None) -> None:
    """Write the checkpoint of ``epoch``: the state sidecar first, then the weights, so a
    weights checkpoint is only ever visible with its state complete."""
    if state is not None:
        save_weights(checkpoint_path(run_dir, epoch, "state"), state, metadata={"epoch": epoch})
    save_weights(checkpoint_path(run_dir, epoch), weights, metadata={"epoch": epoch})


def load_checkpoint(run_dir, epoch: int, *, state: bool = False):
    """Weights of the checkpoint of ``epoch`` (and its state sidecar with ``state=True``).

    Raises
    ------
    FileNotFoundError
        No such checkpoint (the message lists the epochs there are).
    RunDirError
        A corrupt file, a missing state sidecar when ``state=True``.
    """
    path = checkpoint_path(run_dir, epoch)
    if not path.is_file():
        raise FileNotFoundError(
            f"{run_dir} has no checkpoint of epoch {epoch}; it has {list_checkpoints(run_dir)}"
        )
    weights = load_weights(path)
    if not state:
        return weights
    spath = checkpoint_path(run_dir, epoch, "state")
    if not spath.is_file():
        raise RunDirError(f"checkpoint {epoch} of {run_dir} has no state sidecar {spath}")
    return weights, load_weights(spath)


def refuse_pickles(run_dir: str | os.PathLike) -> None:
    """RunDirError if a checkpoint folder holds a file that looks pickled (never unpickled)."""
    for sub in (CHECKPOINT_DIR, STATE_DIR):
        folder = Path(run_dir) / sub
        if not folder.is_dir():
            continue
        for f in folder.iterdir():
            if f.suffix.lower() in _PICKLE_SUFFIXES:
                raise RunDirError(
                    f"refusing {run_dir}: {f} looks like a pickled file; run directories hold "
                    "only JSON and safetensors (nothing is ever unpickled)"
                )


# ---------------------------------------------------------------------------------------------
# directories


def claim_new_dir(path: str | os.PathLike, what: str = "`out_dir`") -> Path:
    """Create ``path`` (parents too) or accept it if it is an empty directory.

    Raises
    ------
    DirectoryInUseError
        ``path`` is a file, lies under a file, or is a directory holding anything (the message
        names one entry it found): no writer overwrites what it did not create.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise DirectoryInUseError(f"{what} {path} is an existing file, not a directory")
    for parent in path.parents:
        if parent.exists() and not parent.is_dir():
            raise DirectoryInUseError(f"{what} {path} lies under {parent}, which is a file")
    if path.is_dir():
        entries = sorted(e.name for e in path.iterdir())
        if entries:
            kind = "a model or run" if CONFIG_NAME in entries else "other files"
            raise DirectoryInUseError(
                f"{what} {path} already holds {kind} ({entries[0]}"
                f"{f' and {len(entries) - 1} more' if len(entries) > 1 else ''}); "
                "choose a new or empty directory"
            )
    path.mkdir(parents=True, exist_ok=True)
    return path


def foreign_entries(run_dir: str | os.PathLike) -> list[str]:
    """Entries of ``run_dir`` that a run directory never holds (not ours: never touched)."""
    return sorted(
        e.name
        for e in Path(run_dir).iterdir()
        if e.name not in _OWN_NAMES and not _TEMP_RE.match(e.name)
    )


def save_model_dir(path: str | os.PathLike, config: dict, weights: dict[str, np.ndarray]) -> Path:
    """Write a model directory (``config.json`` + ``weights.safetensors``), atomically per file.

    Parameters
    ----------
    path : path-like
        The directory; created if missing; it must be new or empty (:func:`claim_new_dir`).
    config : dict
        JSON-serializable; must name ``model`` (e.g. ``'mlp'``), ``p`` and ``task``.
        ``format_version`` and ``library_version`` are filled in.
    weights : dict of str -> ndarray
        Named arrays (documented per model kind in docs/conventions.md).

    Returns
    -------
    Path of the directory.

    Raises
    ------
    DirectoryInUseError
        ``path`` already holds files (it is never overwritten).
    """
    if not isinstance(config, dict):
        raise TypeError(f"`config` must be a dict; got {type(config).__name__}")
    missing = [k for k in REQUIRED_KEYS if k not in config]
    if missing:
        raise ValueError(f"`config` must contain {missing}")
    weights = _check_weights(weights)
    _json_text(config, "config")  # fail before touching the disk
    path = claim_new_dir(path, "`path`")
    # weights first: a config.json only ever describes weights that are already complete
    save_weights(path / WEIGHTS_NAME, weights)
    write_config(path, config)
    return path


def finish_run_dir(path: str | os.PathLike, config: dict, weights: dict[str, np.ndarray]) -> None:
    """Complete a run directory that training created: final weights, then the final config."""
    save_weights(Path(path) / WEIGHTS_NAME, weights)
    write_config(path, config)


@dataclass(frozen=True)
class ModelDir:
    """A model or run directory as read from disk (:func:`load_model_dir`).

    Attributes
    ----------
    path : Path
    config : dict
        ``config.json`` as written.
    weights : dict of str -> ndarray
        ``weights.safetensors``, or the checkpoint of ``epoch`` when one was asked for.
    epoch : int or None
        The checkpoint epoch the weights come from (None: the final or analytic weights).
    """

    path: Path
    config: dict
    weights: dict = field(repr=False)
    epoch: int | None = None

    @property
    def model(self) -> str:
        return self.config["model"]

    @property
    def p(self) -> int:
        return int(self.config["p"])

    @property
    def source(self) -> str | None:
        """``'analytic'`` or ``'trained'`` (None for directories written by hand)."""
        return self.config.get("source")

    @property
    def task(self):
        """The closedform Task rebuilt from the config (RunDirError for tasks outside the
        analytic class, such as miiii)."""
        from ._tasks import task_from_dict

        try:
            return task_from_dict(self.config["task"], self.p)
        except (ValueError, TypeError, KeyError) as exc:
            raise RunDirError(f"{self.path / CONFIG_NAME}: task: {exc}") from None

    def metrics(self) -> list[dict]:
        """The records of metrics.jsonl (:func:`read_metrics`)."""
        return read_metrics(self.path)

    def checkpoints(self) -> list[int]:
        """Epochs of the weight checkpoints (:func:`list_checkpoints`)."""
        return list_checkpoints(self.path)

    def checkpoint(self, epoch: int) -> dict:
        """Weights of one checkpoint (:func:`load_checkpoint`)."""
        return load_checkpoint(self.path, epoch)


def load_model_dir(path: str | os.PathLike, epoch: int | None = None) -> ModelDir:
    """Read a model directory (analytic or trained): config and weights.

    Parameters
    ----------
    path : path-like
    epoch : int, optional
        Read the weights of this checkpoint instead of ``weights.safetensors`` (a run that is
        still training, or a point of its history).

    Returns
    -------
    ModelDir

    Raises
    ------
    FileNotFoundError
        No config.json, no weights (a run still training has none yet: pass ``epoch``), or no
        checkpoint of ``epoch``.
    RunDirError
        A corrupt or foreign file, an unknown format version, a config without model/p/task.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     _ = save_model_dir(tmp + "/m", {"model": "mlp", "p": 3, "task": {"name": "add"}},
    ...                        {"W1": np.ones((2, 6)), "W2": np.ones((3, 2))})
    ...     d = load_model_dir(tmp + "/m")
    >>> d.model, d.p, d.weights["W1"].shape, d.task.name
    ('mlp', 3, (2, 6), 'add')
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"`path` must be a path; got {type(path).__name__}")
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise RunDirError(f"{path} is a file, not a model directory")
    config = read_config(path)
    if epoch is not None:
        if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
            raise TypeError(f"`epoch` must be an integer >= 0 or None; got {epoch!r}")
        return ModelDir(path, config, load_checkpoint(path, epoch), epoch)
    wpath = path / WEIGHTS_NAME
    if not wpath.is_file():
        hint = ""
        if list_checkpoints(path):
            hint = f" (a run that has not finished: its checkpoints are {list_checkpoints(path)})"
        raise FileNotFoundError(f"{path} has no {WEIGHTS_NAME}{hint}")
    return ModelDir(path, config, load_weights(wpath))


def as_model_dir(run_dir, epoch: int | None = None) -> ModelDir:
    """``run_dir`` read with :func:`load_model_dir`, or returned as it is if already a
    :class:`ModelDir` (for functions that accept either)."""
    if isinstance(run_dir, ModelDir):
        if epoch is not None:
            raise ValueError("`epoch` applies to a path; this ModelDir is already read")
        return run_dir
    if not isinstance(run_dir, (str, os.PathLike)):
        raise TypeError(f"`run_dir` must be a path or a ModelDir; got {type(run_dir).__name__}")
    return load_model_dir(run_dir, epoch)
