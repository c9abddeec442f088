"""Model directories: the one on-disk format shared by analytic and trained networks.

Layout (shared/DESIGN.md): ``config.json`` (format version, model kind, task, p,
hyper-parameters, seed, library version), ``weights.safetensors`` (named tensors),
optionally ``metrics.jsonl`` and ``checkpoints/epoch_XXXXXXX.safetensors``.
Only JSON and safetensors are ever read; nothing is pickled. Writes are atomic.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import numpy as np

__all__ = [
    "FORMAT_VERSION",
    "save_model_dir",
    "load_model_dir",
    "atomic_write_bytes",
    "save_weights",
    "load_weights",
]

FORMAT_VERSION = 1
CONFIG_NAME = "config.json"
WEIGHTS_NAME = "weights.safetensors"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically: temp file in the same folder, fsync, rename.

    A reader sees either the old file or the complete new one, never a torn write.
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
    try:  # make the rename durable too
        dfd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:  # pragma: no cover - some filesystems refuse fsync on folders
        pass


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
    ValueError
        If the file is not a valid safetensors file (a pickle, a truncated or tampered file).
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
        raise ValueError(f"{path} is not a valid safetensors file: {exc}") from None
    out = {}
    for name, arr in raw.items():
        if name.endswith(".real") and name[:-5] + ".imag" in raw:
            out[name[:-5]] = arr + 1j * raw[name[:-5] + ".imag"]
        elif name.endswith(".imag") and name[:-5] + ".real" in raw:
            continue
        else:
            out[name] = arr
    return out


def save_model_dir(path: str | os.PathLike, config: dict, weights: dict[str, np.ndarray]) -> Path:
    """Write a model directory (``config.json`` + ``weights.safetensors``), atomically per file.

    Parameters
    ----------
    path : path-like
        The directory; created if missing.
    config : dict
        JSON-serializable; must name ``model`` (e.g. ``'mlp'``), ``p`` and ``task``.
        ``format_version`` and ``library_version`` are filled in.
    weights : dict of str -> ndarray
        Named arrays (documented per model kind in docs/conventions.md).

    Returns
    -------
    Path of the directory.
    """
    from modfourier import __version__

    if not isinstance(config, dict):
        raise TypeError(f"`config` must be a dict; got {type(config).__name__}")
    missing = [k for k in ("model", "p", "task") if k not in config]
    if missing:
        raise ValueError(f"`config` must contain {missing}")
    weights = _check_weights(weights)
    config = {"format_version": FORMAT_VERSION, **config, "library_version": __version__}
    try:
        text = json.dumps(config, indent=2, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"`config` must be JSON-serializable: {exc}") from None
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    # weights first: a config.json only ever describes weights that are already complete
    save_weights(path / WEIGHTS_NAME, weights)
    atomic_write_bytes(path / CONFIG_NAME, (text + "\n").encode())
    return path


def load_model_dir(path: str | os.PathLike) -> tuple[dict, dict[str, np.ndarray]]:
    """Read a model directory written by :func:`save_model_dir` (or by ``trained``).

    Returns
    -------
    config : dict
    weights : dict of str -> ndarray

    Raises
    ------
    FileNotFoundError
        If ``path`` has no ``config.json`` or ``weights.safetensors``.
    ValueError
        If a file is not valid JSON / safetensors or the format version is unknown.
    """
    path = Path(path)
    cfg_path = path / CONFIG_NAME
    if not cfg_path.is_file():
        raise FileNotFoundError(f"`path` {path} is not a model directory: no {CONFIG_NAME}")
    try:
        config = json.loads(cfg_path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{cfg_path} is not valid JSON: {exc}") from None
    if not isinstance(config, dict):
        raise ValueError(f"{cfg_path} must hold a JSON object")
    version = config.get("format_version")
    if version != FORMAT_VERSION:
        raise ValueError(
            f"{cfg_path}: unsupported format_version {version!r} (this library reads "
            f"{FORMAT_VERSION})"
        )
    return config, load_weights(path / WEIGHTS_NAME)
