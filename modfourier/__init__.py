"""modfourier: exact Fourier solutions of modular-arithmetic networks; how close trained ones get.

The distribution holds three packages: :mod:`closedform` (exact weights, numpy only),
:mod:`trained` (torch training) and :mod:`compare` (scores and figures). This package is the
application layer above them: the ``modfourier`` console command, the demo (construct -> train
-> report) and sweeps of training runs. Its names load their packages on first use.
"""

import importlib

__version__ = "0.1.0"
__all__ = [
    "SpecChangedError",
    "SweepError",
    "SweepSpec",
    "__version__",
    "demo",
    "load_spec",
    "parse_spec",
    "plot_sweep",
    "run_sweep",
    "spec_from_study",
    "sweep_results",
]

_LAZY = {
    "demo": "._demo",
    "SpecChangedError": "._sweep",
    "SweepError": "._sweep",
    "SweepSpec": "._sweep",
    "load_spec": "._sweep",
    "parse_spec": "._sweep",
    "plot_sweep": "._sweep",
    "run_sweep": "._sweep",
    "spec_from_study": "._sweep",
    "sweep_results": "._sweep",
}


def __getattr__(name):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'modfourier' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
