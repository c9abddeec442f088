"""Sweeps over training runs: grid, random and Optuna (TPE) searches on Optuna's RDB storage.

A sweep is an Optuna study. Grid and random sweeps enqueue every point when the study is
created; Optuna sweeps ask TPE for new points until ``n_trials`` have finished. Any number of
workers may join at any moment and every point runs exactly once: creating the study,
enqueueing, claiming (WAITING -> RUNNING), failing stale trials and writing the results happen
under one lock per database (a file lock beside an SQLite file, a PostgreSQL advisory lock).
Workers heartbeat their trials; a dead worker's trial is failed and enqueued again, a worker
stopping on an error or Ctrl-C fails and re-enqueues its own, and a retried point's run
directories resume from their last checkpoints. The study and the sweep folder (``spec.json``)
keep the canonical spec; a different one is refused, naming what changed. Storage: an SQLite
file in the sweep folder by default, or PostgreSQL for many machines.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import itertools
import json
import math
import os
import sqlite3
import threading
import time
import tomllib
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = [
    "SpecChangedError",
    "SweepError",
    "SweepSpec",
    "load_spec",
    "parse_spec",
    "plot_sweep",
    "run_sweep",
    "spec_from_study",
    "sweep_results",
]

MODES = ("grid", "random", "optuna")
OBJECTIVES = {  # name -> direction
    "epochs_to_grok": "minimize",
    "final_test_acc": "maximize",
    "final_test_loss": "minimize",
}
_KINDS = ("grid", "choices", "range", "log_range")
_SPEC_KEYS = {
    "name",
    "mode",
    "seeds",
    "n_trials",
    "sampler_seed",
    "objective",
    "threshold",
    "base",
    "vary",
    "heartbeat_interval",
    "grace_period",
    "max_retry",
    "score",
    "batch",
}


def _train_fields() -> dict:
    from trained._config import TrainConfig

    return {f.name: f for f in dataclasses.fields(TrainConfig)}


@dataclass(frozen=True)
class Dimension:
    """One swept field: a finite list (grid/choices) or a range (linear or log, int or float)."""

    name: str
    kind: str
    values: tuple = ()
    low: float | None = None
    high: float | None = None
    step: float | None = None
    num: int | None = None

    @property
    def categorical(self) -> bool:
        return self.kind == "choices" or (
            self.kind == "grid" and not all(_is_number(v) for v in self.values)
        )

    @property
    def labels(self) -> list:
        """What the study and the results record: the value, or a table choice's own field."""
        return [v[self.name] if isinstance(v, dict) else v for v in self.values]

    def expand(self, label) -> dict:
        """The TrainConfig fields one recorded value stands for."""
        for v in self.values:
            if isinstance(v, dict) and v[self.name] == label:
                return dict(v)
        return {self.name: label}

    def grid(self) -> list:
        """Finite values for a grid sweep."""
        if self.kind in ("grid", "choices"):
            return self.labels
        if self.kind == "range" and self.step is not None:
            n = int(math.floor((self.high - self.low) / self.step + 1e-9)) + 1
            vals = [self.low + i * self.step for i in range(n)]
            return [int(v) for v in vals] if _all_int(self.low, self.step) else vals
        if self.num is not None:
            space = np.geomspace if self.kind == "log_range" else np.linspace
            vals = space(self.low, self.high, self.num).tolist()
            return [int(round(v)) for v in vals] if _all_int(self.low, self.high) else vals
        raise ValueError(f"`vary.{self.name}`: a {self.kind} needs `step` or `num` in a grid sweep")

    def sample(self, rng: np.random.Generator):
        """One random value (random sweeps)."""
        if self.kind in ("grid", "choices"):
            return self.labels[int(rng.integers(len(self.values)))]
        if self.kind == "range" and self.step is not None:
            return self.grid()[int(rng.integers(len(self.grid())))]
        if self.kind == "log_range":
            v = float(np.exp(rng.uniform(np.log(self.low), np.log(self.high))))
        else:
            v = float(rng.uniform(self.low, self.high))
        return int(round(v)) if _all_int(self.low, self.high) else v

    def suggest(self, trial):
        """The Optuna suggestion for this dimension (optuna sweeps)."""
        if self.kind in ("grid", "choices"):
            return trial.suggest_categorical(self.name, self.labels)
        if _all_int(self.low, self.high) and (self.step is None or float(self.step).is_integer()):
            step = int(self.step) if self.step else 1
            return trial.suggest_int(
                self.name,
                int(self.low),
                int(self.high),
                step=step,
                log=self.kind == "log_range" and step == 1,
            )
        return trial.suggest_float(
            self.name,
            float(self.low),
            float(self.high),
            log=self.kind == "log_range",
            step=self.step,
        )


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _all_int(*vs) -> bool:
    return all(isinstance(v, int) and not isinstance(v, bool) for v in vs if v is not None)


@dataclass(frozen=True)
class SweepSpec:
    """A validated sweep specification (see :func:`parse_spec` for the TOML layout)."""

    name: str
    mode: str
    base: dict
    dimensions: tuple
    seeds: tuple = (0,)
    n_trials: int | None = None
    sampler_seed: int = 0
    objective: str = "epochs_to_grok"
    threshold: float = 0.99
    heartbeat_interval: int = 10
    grace_period: int = 30
    max_retry: int = 3
    score: bool = True
    batch: int = 32
    raw: dict = field(default_factory=dict, compare=False)

    @property
    def direction(self) -> str:
        return OBJECTIVES[self.objective]

    def points(self) -> list[dict]:
        """Every point of a grid sweep, or the pre-drawn points of a random sweep."""
        if self.mode == "grid":
            names = [d.name for d in self.dimensions]
            grids = [d.grid() for d in self.dimensions]
            return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*grids)]
        if self.mode == "random":
            rng = np.random.default_rng(self.sampler_seed)
            return [{d.name: d.sample(rng) for d in self.dimensions} for _ in range(self.n_trials)]
        raise ValueError("optuna sweeps have no fixed list of points")

    def config(self, params: dict, seed: int):
        """The TrainConfig of one run."""
        from trained._config import TrainConfig

        values = dict(self.base)
        dims = {d.name: d for d in self.dimensions}
        for key, value in params.items():
            values.update(dims[key].expand(value) if key in dims else {key: value})
        values["seed"] = seed
        if "betas" in values and isinstance(values["betas"], list):
            values["betas"] = tuple(values["betas"])
        return TrainConfig(**values)

    def canonical(self) -> dict:
        """The spec in one normal form, every default filled in: what a study stores and what a
        rerun is compared with.

        Returns
        -------
        dict
            A valid raw spec (``parse_spec(spec.canonical())`` gives this spec back) with every
            top-level key, ``[base]`` sorted by field and ``[vary]`` in the spec's order (which
            fixes the order, and so the names, of the grid points).

        Examples
        --------
        >>> spec = parse_spec({"base": {"p": 7}, "vary": {"alpha": [0.5, 0.8]}})
        >>> spec.canonical()["vary"], spec.canonical()["seeds"]
        ({'alpha': {'grid': [0.5, 0.8]}}, [0])
        >>> parse_spec(spec.canonical()) == spec
        True
        """
        vary = {}
        for d in self.dimensions:
            entry = {d.kind: list(d.values) if d.values else [d.low, d.high]}
            if d.step is not None:
                entry["step"] = d.step
            if d.num is not None:
                entry["num"] = d.num
            vary[d.name] = entry
        out = {
            "name": self.name,
            "mode": self.mode,
            "seeds": list(self.seeds),
            "n_trials": self.n_trials,
            "sampler_seed": self.sampler_seed,
            "objective": self.objective,
            "threshold": self.threshold,
            "heartbeat_interval": self.heartbeat_interval,
            "grace_period": self.grace_period,
            "max_retry": self.max_retry,
            "score": self.score,
            "batch": self.batch,
            "base": dict(sorted(self.base.items())),
            "vary": vary,
        }
        if self.n_trials is None:
            del out["n_trials"]
        return json.loads(json.dumps(out))  # tuples -> lists: the form JSON storage gives back


def _err(msg: str) -> ValueError:
    return ValueError(f"sweep spec: {msg}")


def _parse_dimension(name: str, entry) -> Dimension:
    where = f"`vary.{name}`"
    if not isinstance(entry, dict):
        if isinstance(entry, list):
            entry = {"grid": entry}
        else:
            raise _err(f"{where} must be a table such as {{ grid = [...] }}; got {entry!r}")
    kinds = [k for k in _KINDS if k in entry]
    if len(kinds) != 1:
        raise _err(f"{where} must have exactly one of {list(_KINDS)}; got keys {sorted(entry)}")
    kind = kinds[0]
    unknown = set(entry) - {kind, "step", "num"}
    if unknown:
        raise _err(f"{where} has unknown keys {sorted(unknown)} (allowed: {kind}, step, num)")
    if kind in ("grid", "choices"):
        values = entry[kind]
        if not isinstance(values, list) or not values:
            raise _err(f"{where}.{kind} must be a non-empty list; got {values!r}")
        if any(isinstance(v, dict) for v in values):
            fields = _train_fields()
            for v in values:
                if not isinstance(v, dict) or name not in v:
                    raise _err(f"{where}: every table choice must set `{name}` (its label)")
                bad = sorted(set(v) - set(fields))
                if bad:
                    raise _err(f"{where}: unknown field(s) {bad} in a choice")
            labels = [v[name] for v in values]
            if len(set(map(str, labels))) != len(labels):
                raise _err(f"{where}: choice labels must be distinct; got {labels}")
        return Dimension(name, kind, values=tuple(values))
    bounds = entry[kind]
    if (
        not isinstance(bounds, list)
        or len(bounds) != 2
        or not all(map(_is_number, bounds))
        or not bounds[0] < bounds[1]
    ):
        raise _err(f"{where}.{kind} must be [low, high] numbers with low < high; got {bounds!r}")
    low, high = bounds
    if kind == "log_range" and low <= 0:
        raise _err(f"{where}.log_range needs low > 0; got {low}")
    step, num = entry.get("step"), entry.get("num")
    if step is not None and (not _is_number(step) or step <= 0 or kind == "log_range"):
        raise _err(f"{where}.step must be a positive number (not with log_range); got {step!r}")
    if num is not None and (not _all_int(num) or num < 2):
        raise _err(f"{where}.num must be an integer >= 2; got {num!r}")
    return Dimension(name, kind, low=low, high=high, step=step, num=num)


def parse_spec(raw: dict, default_name: str = "sweep") -> SweepSpec:
    """Validate a sweep specification (the parsed TOML) before any run starts.

    Layout::

        name = "fig4a"                 # study name (default: the file's stem)
        mode = "grid"                  # grid | random | optuna
        seeds = [0, 1, 2]              # every point trains each seed (one row each)
        n_trials = 20                  # random / optuna
        objective = "epochs_to_grok"   # or final_test_acc, final_test_loss
        threshold = 0.99               # test accuracy that counts as grokked
        batch = 32                     # most runs per batched ensemble (grid / random MLP)

        [base]                         # any trained.TrainConfig field
        model = "mlp"
        p = 23

        [vary]                         # fields to sweep
        alpha = { grid = [0.3, 0.5, 0.7] }
        optimizer = { choices = ["gd", "momentum", "adamw"] }
        lr = { log_range = [1e-3, 1e-1], num = 3 }   # num/step make ranges finite for a grid
        width = { range = [32, 128], step = 32 }

    Raises
    ------
    ValueError
        Naming the offending field: unknown keys or TrainConfig fields, empty grids, bad ranges,
        a mode/objective not allowed, or a point whose TrainConfig is invalid.
    """
    if not isinstance(raw, dict):
        raise _err("the spec must be a TOML table")
    unknown = set(raw) - _SPEC_KEYS
    if unknown:
        raise _err(f"unknown top-level keys {sorted(unknown)}; allowed {sorted(_SPEC_KEYS)}")
    mode = raw.get("mode", "grid")
    if mode not in MODES:
        raise _err(f"`mode` must be one of {MODES}; got {mode!r}")
    objective = raw.get("objective", "epochs_to_grok")
    if objective not in OBJECTIVES:
        raise _err(f"`objective` must be one of {tuple(OBJECTIVES)}; got {objective!r}")
    name = raw.get("name", default_name)
    if not isinstance(name, str) or not name or not all(c.isalnum() or c in "-_." for c in name):
        raise _err(f"`name` must be letters, digits, '-', '_' or '.'; got {name!r}")
    seeds = raw.get("seeds", [0])
    if (
        not isinstance(seeds, list)
        or not seeds
        or not all(_all_int(s) and s >= 0 for s in seeds)
        or len(set(seeds)) != len(seeds)
    ):
        raise _err(f"`seeds` must be a non-empty list of distinct integers >= 0; got {seeds!r}")
    n_trials = raw.get("n_trials")
    if mode in ("random", "optuna"):
        if not _all_int(n_trials) or n_trials is None or n_trials < 1:
            raise _err(f"`n_trials` must be an integer >= 1 for mode {mode!r}; got {n_trials!r}")
    elif n_trials is not None:
        raise _err("`n_trials` applies to random and optuna sweeps, not grid")
    threshold = raw.get("threshold", 0.99)
    if not _is_number(threshold) or not 0 < threshold <= 1:
        raise _err(f"`threshold` must be in (0, 1]; got {threshold!r}")
    ints = {}
    for key, default, low in (
        ("sampler_seed", 0, 0),
        ("heartbeat_interval", 10, 1),
        ("grace_period", 30, 2),
        ("max_retry", 3, 0),
        ("batch", 32, 1),
    ):
        v = raw.get(key, default)
        if not _all_int(v) or v < low:
            raise _err(f"`{key}` must be an integer >= {low}; got {v!r}")
        ints[key] = v
    if ints["grace_period"] <= ints["heartbeat_interval"]:
        raise _err("`grace_period` must exceed `heartbeat_interval`")
    score = raw.get("score", True)
    if not isinstance(score, bool):
        raise _err(f"`score` must be true or false; got {score!r}")

    fields = _train_fields()
    base = raw.get("base", {})
    if not isinstance(base, dict):
        raise _err("`base` must be a table of TrainConfig fields")
    vary = raw.get("vary", {})
    if not isinstance(vary, dict) or not vary:
        raise _err("`vary` must name at least one field to sweep")
    for section, keys in (("base", base), ("vary", vary)):
        bad = sorted(set(keys) - set(fields))
        if bad:
            raise _err(
                f"unknown field(s) {bad} in [{section}]; TrainConfig fields are {sorted(fields)}"
            )
    for reserved in ("seed",):
        if reserved in base or reserved in vary:
            raise _err("`seed` is set by `seeds`, not in [base] or [vary]")
    both = sorted(set(base) & set(vary))
    if both:
        raise _err(f"field(s) {both} appear in both [base] and [vary]")
    dims = tuple(_parse_dimension(k, v) for k, v in vary.items())
    spec = SweepSpec(
        name=name,
        mode=mode,
        base=dict(base),
        dimensions=dims,
        seeds=tuple(seeds),
        n_trials=n_trials,
        objective=objective,
        threshold=float(threshold),
        score=score,
        raw=raw,
        **ints,
    )
    # every run's config must be valid before the first one starts
    if mode == "grid":
        candidates = spec.points()
    else:  # ranges: both ends; lists: every value
        candidates = [{}]
        for d in dims:
            vals = d.labels if d.values else [d.low, d.high]
            if _all_int(d.low, d.high) and not d.values:
                vals = [int(v) for v in vals]
            candidates = [dict(c, **{d.name: v}) for c in candidates for v in vals][:256]
    for params in candidates:
        try:
            spec.config(params, spec.seeds[0]).resolve()
        except (TypeError, ValueError) as exc:
            raise _err(f"point {params} is not a valid training config: {exc}") from None
    return spec


def spec_from_study(name: str, storage: str) -> SweepSpec:
    """The spec a study was created with (stored in it), for ``--join`` workers.

    Parameters
    ----------
    name : str
        The study's name (the spec's ``name``).
    storage : str
        The database URL (``sqlite:///PATH`` or ``postgresql://...``).

    Returns
    -------
    SweepSpec

    Raises
    ------
    ValueError
        A storage URL that is not SQLite or PostgreSQL, no such study, or a study that was not
        created by ``modfourier sweep``.
    SweepError
        The database cannot be reached or opened.
    """
    url = _check_storage_url(storage)
    if _backend(url) == "sqlite" and not Path(_sqlite_path(url)).is_file():
        raise ValueError(f"`--join`: no SQLite database at {_sqlite_path(url)}")
    lock = _DatabaseLock(url)
    with lock.hold():
        rdb = _storage(None, url)
        study = _load_study(name, rdb, url)
    raw = study.user_attrs.get("spec")
    if not raw:
        raise ValueError(f"study {name!r} was not created by modfourier sweep (no spec stored)")
    return parse_spec(raw, default_name=name)


def load_spec(path) -> SweepSpec:
    """Read and validate a TOML sweep specification (see :func:`parse_spec`).

    Raises
    ------
    FileNotFoundError
        No file at ``path``.
    ValueError
        The file is not UTF-8 TOML, or the spec is invalid.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no sweep spec at {path}")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise _err(f"{path} is not a TOML file (not UTF-8 text)") from None
    except tomllib.TOMLDecodeError as exc:
        raise _err(f"{path} is not valid TOML: {exc}") from None
    return parse_spec(raw, default_name=path.stem)


# -- storage, locks and workers ---------------------------------------------------------------


class SweepError(RuntimeError):
    """A fault outside the spec: the database cannot be reached or opened, its driver is not
    installed, the sweep folder cannot be written. The CLI exits 1 on it (2 on a ValueError)."""


class SpecChangedError(ValueError):
    """The spec differs from the one the study (or the sweep folder) was created with."""


# Keys a worker may set for itself: they change how it groups its claims, not what runs.
_WORKER_KEYS = frozenset({"batch"})
_BACKENDS = ("sqlite", "postgresql")
# pg_advisory_xact_lock key shared by every modfourier sweep worker ("modfou" in ASCII)
_PG_LOCK_KEY = 0x6D6F64666F75
# server-side keepalives of the lock's connection: 10 s idle, then 3 probes 5 s apart
_PG_KEEPALIVES = (
    ("tcp_keepalives_idle", 10),
    ("tcp_keepalives_interval", 5),
    ("tcp_keepalives_count", 3),
)


def _shown(url: str) -> str:
    """The URL with its password masked, for messages and spec.json."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def _backend(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).get_backend_name()


def _sqlite_path(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).database


def _check_storage_url(storage) -> str:
    """Validate a ``--storage`` URL up front: SQLite files and PostgreSQL only, because the
    exactly-once guarantee rests on their locks (a file lock; an advisory lock)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    allowed = "sqlite:///PATH or postgresql://USER@HOST[:PORT]/DB"
    if not isinstance(storage, str) or not storage.strip():
        raise ValueError(f"`--storage` must be a database URL ({allowed}); got {storage!r}")
    try:
        url = make_url(storage)
    except ArgumentError:
        raise ValueError(f"`--storage` {storage!r} is not a database URL; use {allowed}") from None
    backend = url.get_backend_name()
    if backend not in _BACKENDS:
        raise ValueError(
            f"`--storage`: the scheme {url.drivername!r} is not supported; use {allowed}"
        )
    try:
        url.get_dialect()
    except ArgumentError:  # NoSuchModuleError: postgresql+nodriver
        raise ValueError(
            f"`--storage`: SQLAlchemy knows no driver {url.drivername!r}; use {allowed}"
        ) from None
    if backend == "sqlite" and url.database in (None, "", ":memory:"):
        raise ValueError(
            "`--storage`: an in-memory SQLite database cannot be shared by workers; give a "
            "file, sqlite:///PATH"
        )
    if url.drivername == "postgresql":
        # SQLAlchemy 2.1 reads a bare postgresql:// as psycopg 3; the `postgres` extra
        # installs psycopg2, so use it where it is the driver at hand
        import importlib.util

        if importlib.util.find_spec("psycopg") is None and importlib.util.find_spec("psycopg2"):
            return url.set(drivername="postgresql+psycopg2").render_as_string(hide_password=False)
    return storage


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class _DatabaseLock:
    """One lock per database, held while a worker creates the study and enqueues its points,
    claims trials, fails stale ones and writes the results, so that these read-then-write steps
    never interleave across workers.

    SQLite: an exclusive file lock (``flock``) on ``DB.lock`` beside the database file (SQLite
    itself ignores ``SELECT ... FOR UPDATE``, so a claim's read and write could otherwise
    interleave). PostgreSQL: a transaction-level advisory lock on its own connection. Both are
    released by the operating system or the server when the worker dies.
    """

    def __init__(self, url: str):
        self.url = url
        self.backend = _backend(url)
        self._engine = None

    @contextmanager
    def hold(self):
        if self.backend == "sqlite":
            from filelock import FileLock

            path = Path(f"{_sqlite_path(self.url)}.lock")
            try:
                lock = FileLock(path)
                lock.acquire()
            except OSError as exc:
                raise SweepError(f"cannot create the lock file {path}: {exc.strerror}") from None
            try:
                yield
            finally:
                lock.release()
            return
        import sqlalchemy

        try:
            if self._engine is None:
                self._engine = sqlalchemy.create_engine(
                    self.url, poolclass=sqlalchemy.pool.NullPool, **_engine_kwargs(self.url)
                )
            conn = self._engine.connect()
            # a worker machine that vanishes while it holds the lock (milliseconds at a time)
            # is dropped by the server within about 25 s, not at the OS default of hours
            for setting, value in _PG_KEEPALIVES:
                conn.execute(sqlalchemy.text(f"SET {setting} = {value}"))
            conn.execute(sqlalchemy.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
        except ImportError as exc:
            raise _driver_error(self.url, exc) from None
        except sqlalchemy.exc.SQLAlchemyError as exc:
            raise SweepError(
                f"cannot reach the database {_shown(self.url)}: {_first_line(exc)}"
            ) from None
        try:
            yield
        finally:
            try:
                conn.rollback()  # ends the transaction, which releases the lock
                conn.close()
            except Exception:  # noqa: BLE001 - a lost connection released the lock already
                pass


class _SQLiteConnection(sqlite3.Connection):
    """SQLite in WAL mode: readers never block the writer, and with ``synchronous=NORMAL`` a
    commit costs no fsync (the WAL is synced at checkpoints; a power cut may lose the last
    commits, never corrupt the file). WAL needs every worker on one machine, as SQLite's
    locks do anyway."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.execute("PRAGMA journal_mode=WAL")
        self.execute("PRAGMA synchronous=NORMAL")


def _engine_kwargs(url: str) -> dict:
    from sqlalchemy.engine import make_url

    u = make_url(url)
    if u.get_backend_name() == "sqlite":
        # workers write one at a time; wait for the file rather than fail with "locked"
        return {"connect_args": {"timeout": 120, "factory": _SQLiteConnection}}
    if u.get_driver_name() in ("psycopg2", "psycopg"):
        return {"connect_args": {"connect_timeout": 10}}  # an unreachable host fails in 10 s
    return {}


def _driver_error(url: str, exc: BaseException) -> SweepError:
    return SweepError(
        f"the database driver for {_shown(url)} is not installed ({_first_line(exc)}); "
        "pip install -e '.[postgres]' installs psycopg2, for postgresql:// and "
        "postgresql+psycopg2:// URLs"
    )


@contextmanager
def _quiet_optuna():
    """Optuna flags heartbeats and stale-trial handling as experimental; we rely on them
    knowingly (tests pin the behaviour), so only that warning category is silenced, here."""
    import optuna

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        yield


def _storage(spec: SweepSpec | None, url: str):
    """Optuna's RDB storage (creates its tables; call with the database lock held)."""
    import optuna
    import sqlalchemy
    from optuna.storages import RDBStorage

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    beat = {}
    if spec is not None:
        beat = {
            "heartbeat_interval": spec.heartbeat_interval,
            "grace_period": spec.grace_period,
            "heartbeat_stale_trial_callback": _Retry(spec.max_retry),
        }
    try:
        with _quiet_optuna():
            return RDBStorage(url, engine_kwargs=_engine_kwargs(url), **beat)
    except ImportError as exc:
        raise _driver_error(url, exc) from None
    except (sqlalchemy.exc.SQLAlchemyError, optuna.exceptions.StorageInternalError) as exc:
        raise SweepError(f"cannot open the database {_shown(url)}: {_first_line(exc)}") from None


class _Retry:
    """Enqueue a failed trial again (same point, same fixed values), at most ``max_retry``
    times per point: Optuna's stale-trial callback, and what a worker does with the trials it
    holds when it stops on an error or an interrupt."""

    def __init__(self, max_retry: int):
        self.max_retry = max_retry

    def __call__(self, study, trial) -> None:
        import optuna
        from optuna.trial import TrialState

        system_attrs = {"failed_trial": trial.number, "retry_history": [], **trial.system_attrs}
        system_attrs["retry_history"] = [*system_attrs["retry_history"], trial.number]
        if len(system_attrs["retry_history"]) > self.max_retry:
            return
        user_attrs = {k: v for k, v in trial.user_attrs.items() if k not in ("error", "rows")}
        study.add_trial(
            optuna.create_trial(
                state=TrialState.WAITING,
                params=trial.params,
                distributions=trial.distributions,
                user_attrs=user_attrs,
                system_attrs=system_attrs,
            )
        )


def _point_key(params: dict) -> str:
    text = json.dumps(params, sort_keys=True, default=str)
    return hashlib.sha1(text.encode()).hexdigest()[:10]


def _samplers(spec: SweepSpec):
    import optuna

    sampler = optuna.samplers.TPESampler(
        seed=spec.sampler_seed, n_startup_trials=min(10, max(1, (spec.n_trials or 10) // 3))
    )
    pruner = optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=0)
    return sampler, pruner


def _load_study(name: str, rdb, url: str, spec: SweepSpec | None = None):
    import optuna

    kwargs = dict(zip(("sampler", "pruner"), _samplers(spec), strict=True)) if spec else {}
    try:
        return optuna.load_study(study_name=name, storage=rdb, **kwargs)
    except KeyError:
        raise ValueError(f"`--join`: no study named {name!r} in {_shown(url)}") from None


def _open_study(spec: SweepSpec, rdb, url: str, create: bool):
    """Create (or load) the study and check it holds this spec; call with the lock held."""
    import optuna

    if not create:
        study = _load_study(spec.name, rdb, url, spec)
    else:
        sampler, pruner = _samplers(spec)
        study = optuna.create_study(
            storage=rdb,
            study_name=spec.name,
            sampler=sampler,
            pruner=pruner,
            direction=spec.direction,
            load_if_exists=True,
        )
    stored = study.user_attrs.get("spec")
    where = f"study {spec.name!r} in {_shown(url)}"
    if stored is None:
        if study.get_trials(deepcopy=False) or not create:
            raise ValueError(
                f"{where} was not created by modfourier sweep (it stores no spec); "
                "give the sweep another `name`"
            )
        study.set_user_attr("spec", spec.canonical())
        return study
    try:
        old = parse_spec(stored, default_name=spec.name).canonical()
    except ValueError as exc:
        raise ValueError(f"{where} stores a spec this version cannot read: {exc}") from None
    _refuse_changes(where, old, spec.canonical())
    return study


def _fmt(value) -> str:
    return "(not set)" if value is _MISSING else json.dumps(value)


_MISSING = object()


def _spec_changes(old: dict, new: dict) -> list[str]:
    """What differs between two canonical specs, one ``key: old -> new`` item per field, in
    JSON terms (so 1 and 1.0, which name different grid points, count as a change)."""
    same = lambda a, b: json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)  # noqa: E731
    changes = []
    for key in [*old, *(k for k in new if k not in old)]:
        if key in _WORKER_KEYS:
            continue
        a, b = old.get(key, _MISSING), new.get(key, _MISSING)
        if key in ("base", "vary") and isinstance(a, dict) and isinstance(b, dict):
            for field_name in [*a, *(k for k in b if k not in a)]:
                fa, fb = a.get(field_name, _MISSING), b.get(field_name, _MISSING)
                if fa is _MISSING or fb is _MISSING or not same(fa, fb):
                    changes.append(f"{key}.{field_name}: {_fmt(fa)} -> {_fmt(fb)}")
            if key == "vary":
                order_a = [k for k in a if k in b]
                order_b = [k for k in b if k in a]
                if order_a != order_b:
                    changes.append(f"order of [vary]: {order_a} -> {order_b}")
        elif a is _MISSING or b is _MISSING or not same(a, b):
            changes.append(f"{key}: {_fmt(a)} -> {_fmt(b)}")
    return changes


def _refuse_changes(where: str, old: dict, new: dict) -> None:
    changes = _spec_changes(old, new)
    if changes:
        raise SpecChangedError(
            f"{where} was created from another spec ({'; '.join(changes)}). To continue it, "
            "run its spec unchanged; to run this one, give it a new `name` and a new --out "
            "folder (the finished runs stay where they are)"
        )


def _sweep_folder(out_dir) -> Path:
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ValueError(f"`--out` {out} exists and is not a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise ValueError(f"`--out` {out}: a parent of it is a file") from None
    except OSError as exc:
        raise SweepError(f"cannot create the sweep folder {out}: {exc.strerror}") from None
    return out


def _check_folder(spec: SweepSpec, out: Path, url: str) -> None:
    """A sweep folder belongs to one sweep: ``spec.json`` records it at the first run, and a
    run of another spec (or another study) in that folder is refused. Lock held."""
    from closedform.rundir import atomic_write_bytes

    path = out / "spec.json"
    mine = {"study": spec.name, "storage": _shown(url), "spec": spec.canonical()}
    if path.exists():
        try:
            held = json.loads(path.read_text(encoding="utf-8"))
            old = held["spec"]
            name = held["study"]
        except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
            raise SweepError(f"{path} is not a sweep folder's spec.json: {exc}") from None
        if name != spec.name:
            raise SpecChangedError(
                f"the sweep folder {out} holds the sweep {name!r}, not {spec.name!r}; "
                "give this sweep its own --out folder"
            )
        _refuse_changes(f"the sweep {name!r} in the folder {out}", old, spec.canonical())
        return
    try:
        atomic_write_bytes(path, (json.dumps(mine, indent=1) + "\n").encode())
    except OSError as exc:
        raise SweepError(f"cannot write {path}: {exc.strerror}") from None


def _enqueue_points(spec: SweepSpec, study) -> None:
    """Enqueue every point not yet in the study, keyed by index and value, so that a second
    enqueuer (or a rerun) adds nothing. Lock held."""
    existing = {t.user_attrs.get("point") for t in study.get_trials(deepcopy=False)}
    for i, params in enumerate(spec.points()):
        key = f"{i:04d}-{_point_key(params)}"
        if key not in existing:
            study.enqueue_trial(params, user_attrs={"point": key})


def _fail_stale(study) -> None:
    """Fail the trials of dead workers and enqueue their points again. Lock held: on SQLite
    two workers could otherwise both fail (and both re-enqueue) one trial."""
    import optuna

    with _quiet_optuna():
        optuna.storages.fail_stale_trials(study)


def _claim_waiting(study, limit: int, accept=None) -> list:
    """Move up to ``limit`` WAITING trials (those ``accept`` takes) to RUNNING, oldest first.

    Call with the database lock held: the lock makes the read of the WAITING trials and the
    state change one step for every worker on the database. Each trial's heartbeat is recorded
    before it turns RUNNING, so that a worker killed at any moment leaves no RUNNING trial
    without a heartbeat (which Optuna would never find stale).
    """
    import optuna
    from optuna.trial import TrialState

    storage = study._storage  # the RDBStorage we built; public BaseStorage methods only
    out = []
    for t in study.get_trials(deepcopy=False, states=(TrialState.WAITING,)):
        if len(out) >= limit:
            break
        if accept is not None and not accept(t):
            continue
        storage.record_heartbeat(t._trial_id)
        if storage.set_trial_state_values(t._trial_id, state=TrialState.RUNNING):
            out.append(optuna.trial.Trial(study, t._trial_id))
    return out


def _ask(study, spec: SweepSpec) -> list:
    """An Optuna sweep's next trial (a retried one first), or none when ``n_trials`` are
    finished or running. Lock held, so that concurrent workers do not overshoot."""
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False)
    waiting = any(t.state == TrialState.WAITING for t in trials)
    taken = sum(
        t.state in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING) for t in trials
    )
    if not waiting and taken >= spec.n_trials:
        return []
    with warnings.catch_warnings():  # we heartbeat the asked trial ourselves
        warnings.filterwarnings("ignore", message="Heartbeat of storage")
        trial = study.ask()
    study._storage.record_heartbeat(trial._trial_id)
    return [trial]


def _abandon(study, lock: _DatabaseLock, trials: list, exc: BaseException) -> None:
    """A worker stopping between claim and tell (an error, Ctrl-C): mark its trials failed,
    with the reason, and enqueue their points again (at most ``max_retry`` times), so that no
    trial stays RUNNING. Where even that fails (the database is gone), the heartbeat stops and
    the next worker finds the trials stale."""
    from optuna.trial import TrialState

    storage = study._storage
    reason = f"{type(exc).__name__}: {exc}".strip().rstrip(":")
    try:
        with lock.hold():
            for t in trials:
                if storage.get_trial(t._trial_id).state != TrialState.RUNNING:
                    continue  # told already
                storage.set_trial_user_attr(t._trial_id, "error", reason[:2000])
                if storage.set_trial_state_values(t._trial_id, state=TrialState.FAIL):
                    storage.get_heartbeat_stale_trial_callback()(
                        study, storage.get_trial(t._trial_id)
                    )
    except Exception:  # noqa: BLE001 - the original error is the one to report
        pass


@contextmanager
def _heartbeat(study, trials, interval: int):
    """Record heartbeats of ``trials`` (one trial or a list) every ``interval`` seconds."""
    storage = study._storage
    trials = trials if isinstance(trials, list) else [trials]
    stop = threading.Event()

    def beat_all():
        for t in trials:
            storage.record_heartbeat(t._trial_id)

    def beat():
        while not stop.wait(interval):
            beat_all()

    beat_all()
    thread = threading.Thread(target=beat, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def _ensemble_key(spec: SweepSpec, params: dict) -> str | None:
    """Runs of points with the same key can train as one batched ensemble: MLPs whose
    resolved configs differ only in :data:`trained.ENSEMBLE_FIELDS`. None: not batchable."""
    from trained._config import ENSEMBLE_FIELDS

    cfg = spec.config(params, spec.seeds[0]).resolve()
    if cfg.model != "mlp" or cfg.dropout:
        return None
    shared = {k: v for k, v in cfg.to_dict().items() if k not in ENSEMBLE_FIELDS}
    return json.dumps(shared, sort_keys=True, default=str)


def _point_dir(out: Path, trial, params: dict) -> tuple[str, Path]:
    key = trial.user_attrs.get("point") or f"t{trial.number:04d}-{_point_key(params)}"
    return key, out / "runs" / key


def _run_point(spec: SweepSpec, trial, params: dict, out: Path, prune: bool) -> tuple[float, list]:
    """Train every seed of one point one run after another; return the objective and one row
    per seed. Runs resume from their last checkpoint when the point is retried after a crash;
    in an Optuna sweep the first seed reports to the pruner."""
    import shutil

    import optuna

    from closedform.rundir import list_checkpoints
    from trained import train

    _, point_dir = _point_dir(out, trial, params)
    runs, seconds = [], []
    sign = -1.0 if spec.direction == "minimize" else 1.0
    for seed in spec.seeds:
        run_dir = point_dir / f"seed_{seed}"
        progress = None
        if prune and seed == spec.seeds[0]:

            def progress(rec, _trial=trial):
                _trial.report(sign * rec["test_acc"], step=rec["epoch"])
                if _trial.should_prune():
                    raise optuna.TrialPruned(f"pruned at epoch {rec['epoch']}")

        t1 = time.perf_counter()
        resume = (run_dir / "config.json").exists()
        if resume and not list_checkpoints(run_dir):  # killed before its first checkpoint
            shutil.rmtree(run_dir)
            resume = False
        runs.append(
            train(spec.config(params, seed), out_dir=run_dir, resume=resume, progress=progress)
        )
        seconds.append(time.perf_counter() - t1)
    return _point_result(spec, trial, params, out, runs, seconds, batched=False)


def _run_group(spec: SweepSpec, group: list, out: Path) -> list:
    """Train every seed of every point in ``group`` (``[(trial, params), ...]``, all with one
    ensemble key) as one batched ensemble (:func:`trained.train_ensemble`), each run into its
    own directory ``runs/<point>/seed_<s>``. Returns ``[(value or exception, rows), ...]`` per
    point; a point with a diverged run gets a :class:`NonFiniteLossError`. A retried group
    resumes from its members' checkpoints when it has the same members as the killed one;
    otherwise (another grouping, or killed before its first checkpoint) its points restart."""
    import shutil

    from trained._config import ENSEMBLE_FIELDS
    from trained._ensemble import train_ensemble
    from trained._train import NonFiniteLossError

    base = spec.config(group[0][1], spec.seeds[0])
    settings, dirs, wanted, point_dirs = [], [], [], []
    for trial, params in group:
        _, point_dir = _point_dir(out, trial, params)
        point_dirs.append(point_dir)
        for seed in spec.seeds:
            cfg = spec.config(params, seed)
            settings.append(
                {k: getattr(cfg, k) for k in ENSEMBLE_FIELDS if getattr(cfg, k) is not None}
            )
            dirs.append(point_dir / f"seed_{seed}")
            wanted.append(cfg.resolve())
    t0 = time.perf_counter()
    runs = None
    if all((d / "config.json").exists() for d in dirs):  # a killed ensemble of these members
        try:
            runs = train_ensemble(base, settings=settings, member_dirs=dirs, resume=True)
        except ValueError:
            runs = None
    if runs is None:
        for point_dir in point_dirs:
            if point_dir.exists():
                shutil.rmtree(point_dir)
        runs = train_ensemble(base, settings=settings, member_dirs=dirs)
    per_run = (time.perf_counter() - t0) / len(runs)
    if [r.config for r in runs] != wanted:  # pragma: no cover - guarded by _ensemble_key
        raise RuntimeError("batched ensemble members differ from the points' configs")
    results, k = [], 0
    for trial, params in group:
        mine = runs[k : k + len(spec.seeds)]
        k += len(spec.seeds)
        failed = [r for r in mine if r.stopped == "non_finite"]
        if failed:
            err = NonFiniteLossError(
                f"training stopped: non-finite loss at epoch {failed[0].epochs} "
                f"(lr={failed[0].config.lr}, optimizer={failed[0].config.optimizer})"
            )
            results.append((err, []))
            continue
        results.append(
            _point_result(spec, trial, params, out, mine, [per_run] * len(mine), batched=True)
        )
    return results


def _point_result(spec, trial, params, out, runs, seconds, batched) -> tuple[float, list]:
    key, point_dir = _point_dir(out, trial, params)
    rows, values = [], []
    for seed, run, sec in zip(spec.seeds, runs, seconds, strict=True):
        run_dir = point_dir / f"seed_{seed}"
        grok = run.grok_epoch(spec.threshold)
        last = run.history[-1] if run.history else {}
        row = {
            "trial": trial.number,
            "point": key,
            **params,
            "seed": seed,
            "epochs_to_grok": grok,
            "epochs": run.epochs,
            "stopped": run.stopped,
            "final_train_acc": last.get("train_acc"),
            "final_test_acc": last.get("test_acc"),
            "final_test_loss": last.get("test_loss"),
            "seconds": round(sec, 3),
            "batched": batched,
            "run_dir": str(run_dir),
        }
        if spec.score:
            row["score"] = _score(run_dir)
        rows.append(row)
        if spec.objective == "epochs_to_grok":
            # a run that never groks is censored at its budget (documented in docs/sweeps.md)
            values.append(float(grok if grok is not None else run.config.max_epochs))
        else:
            values.append(float(row[spec.objective]))
    return float(np.mean(values)), rows


def _score(run_dir: Path) -> dict | None:
    """compare's scorecard of a finished run, where compare can score it."""
    try:
        import compare
    except ImportError:  # pragma: no cover - compare ships with the distribution
        return None
    if not hasattr(compare, "score"):
        return None
    try:
        card = compare.score(run_dir)
    except (ValueError, TypeError, NotImplementedError, KeyError) as exc:
        return {"error": str(exc)}
    return json.loads(json.dumps(card, default=str))


def _counts(study) -> dict:
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False)
    count = lambda s: sum(t.state == s for t in trials)  # noqa: E731
    return {
        "done": count(TrialState.COMPLETE),
        "running": count(TrialState.RUNNING),
        "waiting": count(TrialState.WAITING),
        "failed": count(TrialState.FAIL),
        "pruned": count(TrialState.PRUNED),
    }


def run_sweep(
    spec: SweepSpec,
    out_dir,
    storage: str | None = None,
    join: bool = False,
    progress: bool | None = None,
    max_trials: int | None = None,
) -> dict:
    """Run (or join, or resume) a sweep; return the summary and write results.csv/json.

    Any number of workers may run this on one study at any moment (same folder on one machine
    with SQLite; any folders with PostgreSQL): the study is created and its points enqueued
    once, and every point runs on exactly one worker (docs/sweeps.md, "Many workers").

    Parameters
    ----------
    spec : SweepSpec
    out_dir : path
        Sweep folder: ``study.db`` (the default SQLite storage), ``spec.json`` (the sweep it
        belongs to), ``runs/`` (one run directory per point and seed), ``results.csv`` and
        ``results.json``.
    storage : str, optional
        A database URL, ``sqlite:///PATH`` or ``postgresql://user@host/db``; default
        ``sqlite:///OUT/study.db``.
    join : bool
        Join an existing study of that name instead of creating it (other workers' machines).
    progress : bool, optional
        Show a progress bar (default: when stderr is a terminal).
    max_trials : int, optional
        Stop this worker after that many trials (for tests and for splitting work).

    Returns
    -------
    dict
        ``study``, ``storage`` (password masked), ``trials_run_here``,
        ``trials_lost_here`` (trials this worker finished after another had failed them as
        stale: their points were re-enqueued, and the retry's result counts), the study's
        ``done``, ``running``, ``waiting``, ``failed`` and ``pruned`` counts, ``best`` and
        ``results`` (the path of results.csv).

    Raises
    ------
    ValueError
        ``out_dir`` is a file, ``storage`` is not an SQLite or PostgreSQL URL, ``join`` names no
        study; :class:`SpecChangedError` (a ValueError) when the study or the folder was
        created from another spec, naming what changed.
    SweepError
        The database cannot be reached or opened, or the folder cannot be written.

    Notes
    -----
    The points are enqueued, claimed (WAITING -> RUNNING), failed when stale, and the results
    written under one lock per database (a file lock beside an SQLite file; a PostgreSQL
    advisory lock). A worker that stops between claiming and finishing a trial (an error,
    Ctrl-C) marks it failed and enqueues its point again; a killed worker's trials are found
    stale by their heartbeat and enqueued again. ``max_retry`` bounds both.

    Examples
    --------
    >>> import tempfile
    >>> spec = parse_spec({"name": "ex", "score": False, "seeds": [0],
    ...     "base": {"model": "mlp", "p": 5, "width": 8, "max_epochs": 2, "eval_every": 2},
    ...     "vary": {"alpha": [0.5, 0.8]}})
    >>> with tempfile.TemporaryDirectory() as d:
    ...     summary = run_sweep(spec, d, progress=False)
    >>> summary["done"], summary["trials_run_here"], summary["failed"]
    (2, 2, 0)
    """
    import optuna
    from optuna.trial import TrialState

    from trained._train import NonFiniteLossError

    if max_trials is not None and (not _all_int(max_trials) or max_trials < 0):
        raise ValueError(f"`max_trials` must be an integer >= 0 or None; got {max_trials!r}")
    url = _check_storage_url(storage) if storage is not None else None
    out = _sweep_folder(out_dir)
    url = url or f"sqlite:///{(out / 'study.db').resolve()}"
    if join and _backend(url) == "sqlite" and not Path(_sqlite_path(url)).is_file():
        raise ValueError(f"`--join`: no SQLite database at {_sqlite_path(url)}")
    lock = _DatabaseLock(url)
    with lock.hold():  # one creator, one enqueuer, whatever the number of workers
        rdb = _storage(spec, url)
        study = _open_study(spec, rdb, url, create=not join)
        _check_folder(spec, out, url)
        _fail_stale(study)
        if spec.mode in ("grid", "random") and not join:
            _enqueue_points(spec, study)
    show = progress if progress is not None else os.isatty(2)
    bar = None
    if show:
        from tqdm.auto import tqdm

        total = len(spec.points()) if spec.mode != "optuna" else spec.n_trials
        bar = tqdm(total=total, desc=f"sweep {spec.name}", unit="trial")
    ran = lost = 0
    try:
        while max_trials is None or ran + lost < max_trials:
            with lock.hold():
                _fail_stale(study)
                trials = _ask(study, spec) if spec.mode == "optuna" else _claim_waiting(study, 1)
            if not trials:
                break
            trial = trials[0]
            try:
                # enqueued points come back as the fixed values of these suggestions
                params = {d.name: d.suggest(trial) for d in spec.dimensions}
                group = [(trial, params)]
                key = None if spec.mode == "optuna" else _ensemble_key(spec, params)
                if key is not None:  # more points of this architecture join one ensemble
                    limit = spec.batch // len(spec.seeds) - 1
                    if max_trials is not None:
                        limit = min(limit, max_trials - ran - lost - 1)

                    def same_key(t, key=key):
                        fixed = {**t.system_attrs.get("fixed_params", {}), **t.params}
                        try:
                            return _ensemble_key(spec, fixed) == key
                        except (TypeError, ValueError, KeyError):
                            return False

                    if limit > 0:
                        with lock.hold():
                            more = _claim_waiting(study, limit, accept=same_key)
                        trials.extend(more)
                        group += [
                            (t, {d.name: d.suggest(t) for d in spec.dimensions}) for t in more
                        ]
                with _heartbeat(study, trials, spec.heartbeat_interval):
                    try:
                        if key is None:
                            outcomes = [
                                _run_point(spec, trial, params, out, prune=spec.mode == "optuna")
                            ]
                        else:
                            outcomes = _run_group(spec, group, out)
                    except optuna.TrialPruned:
                        outcomes = None
                    except NonFiniteLossError as exc:  # divergence is an outcome, not a crash
                        outcomes = [(exc, [])]
                if outcomes is None:
                    try:
                        study.tell(trial, state=TrialState.PRUNED)
                        ran += 1
                    except optuna.exceptions.UpdateFinishedTrialError:
                        lost += 1
                    continue
                for t, (value, rows) in zip(trials, outcomes, strict=True):
                    try:
                        if isinstance(value, NonFiniteLossError):
                            t.set_user_attr("error", str(value))
                            study.tell(t, state=TrialState.FAIL)
                        else:
                            t.set_user_attr("rows", rows)
                            study.tell(t, value)
                    except optuna.exceptions.UpdateFinishedTrialError:
                        # this worker was silent past the grace period (paused, starved):
                        # another one failed the trial and re-enqueued its point; the retry's
                        # result is the one that counts
                        lost += 1
                        continue
                    ran += 1
            except BaseException as exc:
                _abandon(study, lock, trials, exc)
                raise
            if bar is not None:
                c = _counts(study)
                best = _best(study)
                bar.n = c["done"] + c["pruned"]
                bar.set_postfix(running=c["running"], failed=c["failed"], best=best, refresh=False)
                bar.refresh()
    finally:
        if bar is not None:
            bar.close()
    with lock.hold():  # the last worker to write sees every finished trial
        write_results(sweep_results(study), out)
        counts, best = _counts(study), _best(study)
    return {
        "study": spec.name,
        "storage": _shown(url),
        "trials_run_here": ran,
        "trials_lost_here": lost,
        **counts,
        "best": best,
        "results": str(out / "results.csv"),
    }


def _best(study):
    try:
        return {"value": study.best_value, "params": study.best_params}
    except ValueError:
        return None


def sweep_results(study) -> list[dict]:
    """One row per finished run (point x seed), from the study's completed trials."""
    from optuna.trial import TrialState

    rows = []
    for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        rows.extend(t.user_attrs.get("rows", []))
    return sorted(rows, key=lambda r: (r["point"], r["seed"]))


def write_results(rows: list[dict], out: Path) -> None:
    """results.json (everything, scorecards included) and results.csv (flat columns)."""
    from closedform.rundir import atomic_write_bytes

    atomic_write_bytes(
        out / "results.json", (json.dumps(rows, indent=1, default=str) + "\n").encode()
    )
    flat_keys: list[str] = []
    flat_rows = []
    for r in rows:
        flat = {k: v for k, v in r.items() if k != "score"}
        for k, v in (r.get("score") or {}).items():
            if isinstance(v, (int, float, str, bool)) or v is None:
                flat[f"score.{k}"] = v
        flat_rows.append(flat)
        flat_keys += [k for k in flat if k not in flat_keys]
    import io

    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=flat_keys)
    writer.writeheader()
    writer.writerows(flat_rows)
    atomic_write_bytes(out / "results.csv", buf.getvalue().encode())


def plot_sweep(
    results_path, x: str | None = None, y: str = "epochs_to_grok", by: str | None = None, out=None
):
    """Plot a sweep folder's (or results.json's) results with :func:`compare.plot_sweep`;
    returns the PNG path (default ``sweep_<y>_vs_<x>.png`` beside results.json)."""
    from compare import plot_sweep as draw

    results_path = Path(results_path)
    if results_path.is_dir():
        results_path = results_path / "results.json"
    if not results_path.is_file():
        raise FileNotFoundError(f"no sweep results at {results_path}")
    try:
        rows = json.loads(results_path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{results_path} is not valid JSON: {exc}") from None
    if not isinstance(rows, list) or not rows:
        raise ValueError(f"{results_path} holds no finished run")
    return draw(rows, x=x, y=y, by=by, out=out, default_dir=results_path.parent)
