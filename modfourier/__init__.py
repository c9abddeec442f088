"""modfourier: exact Fourier solutions of modular-arithmetic networks; how close trained ones get.

The distribution holds three packages: :mod:`closedform` (exact weights, numpy only),
:mod:`trained` (torch training) and :mod:`compare` (scores and figures). This small
package carries only the version and the ``modfourier`` console command.
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
