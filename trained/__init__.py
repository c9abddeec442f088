"""trained: the papers' models (Gromov MLP, Rangamani RNN, Nanda/Syrkis transformer), trained fast.

Full-batch training on every closedform task with checkpoints that resume exactly, presets with
each paper's hyper-parameters, and loading of run directories for analysis. The configuration
and datasets import without torch; the rest loads torch on first use (so ``trained._cli``, and
the ``modfourier`` dispatcher through it, stay torch-free until training starts).
"""

import importlib

from ._config import (
    ENSEMBLE_FIELDS,
    P_AWARE_DEFAULTS,
    PRESETS,
    TrainConfig,
    defaults_for_p,
    generalization_warnings,
)
from ._data import Dataset, make_dataset
from ._verdict import Verdict, assess, verdict

__all__ = [
    "P_AWARE_DEFAULTS",
    "PRESETS",
    "Dataset",
    "ENSEMBLE_FIELDS",
    "LoadedModel",
    "NonFiniteLossError",
    "Run",
    "TrainConfig",
    "TrainingInterrupted",
    "Verdict",
    "assess",
    "checkpoint_epochs",
    "defaults_for_p",
    "from_hooked_transformer",
    "generalization_warnings",
    "grokfast_ema",
    "grokfast_ma",
    "load_model",
    "make_dataset",
    "to_hooked_transformer",
    "train",
    "train_ensemble",
    "verdict",
]

_LAZY = {
    "LoadedModel": "._load",
    "load_model": "._load",
    "grokfast_ema": "._optim",
    "grokfast_ma": "._optim",
    "NonFiniteLossError": "._train",
    "TrainingInterrupted": "._loop",
    "Run": "._train",
    "checkpoint_epochs": "._train",
    "from_hooked_transformer": "._lens",
    "to_hooked_transformer": "._lens",
    "train": "._train",
    "train_ensemble": "._ensemble",
}


def __getattr__(name):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'trained' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
