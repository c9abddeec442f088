"""Per-neuron frequencies and phases of an MLP and the phase residual (Gromov Fig. 3)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._network import check_task, inner_index, to_inner_domain
from ._spectra import wave_fit
from ._validate import as_real_array, check_mlp

__all__ = ["NeuronPhases", "PhaseResidual", "neuron_phases", "phase_residual", "wrap"]


def wrap(angle) -> np.ndarray:
    """Wrap angles to (-pi, pi].

    Examples
    --------
    >>> wrap([np.pi, -np.pi, 3 * np.pi / 2]).round(4)
    array([ 3.1416,  3.1416, -1.5708])
    """
    a = np.asarray(angle, dtype=np.float64)
    out = np.pi - np.mod(np.pi - a, 2 * np.pi)
    return out


@dataclass(frozen=True)
class NeuronPhases:
    """Dominant frequency, phase and amplitude of each neuron's three blocks.

    Attributes
    ----------
    k1, k2, k3 : ndarray of int, shape (N,)
        Dominant frequency (1..floor(M/2)) of the n-block, m-block and readout column; -1 for an
        all-zero block.
    phi1, phi2, phi3 : ndarray, shape (N,)
        Phases in (-pi, pi] of the fits A cos(2 pi k x / M + phi) of the three blocks.
    A1, A2, A3 : ndarray, shape (N,)
        Amplitudes of the fits.
    fit_error : ndarray, shape (N, 3)
        Relative residual sqrt(1 - energy share) of each block's fit (docs/conventions.md).
    agree : ndarray of bool, shape (N,)
        Whether the three blocks share one dominant frequency.
    """

    k1: np.ndarray
    k2: np.ndarray
    k3: np.ndarray
    phi1: np.ndarray
    phi2: np.ndarray
    phi3: np.ndarray
    A1: np.ndarray
    A2: np.ndarray
    A3: np.ndarray
    fit_error: np.ndarray
    agree: np.ndarray

    @property
    def frequency(self) -> np.ndarray:
        """The shared frequency where the blocks agree, -1 elsewhere."""
        return np.where(self.agree, self.k1, -1)


def neuron_phases(W1, W2, task) -> NeuronPhases:
    """Fit each block of each neuron by one wave and read off its frequency and phase.

    Parameters
    ----------
    W1 : array_like, shape (N, 2p)
        First layer (columns 0..p-1 read n, p..2p-1 read m).
    W2 : array_like, shape (p, N)
        Readout.
    task : closedform.Task
        The blocks are reindexed to the inner variables first: n -> f1(n), m -> f2(m),
        q -> F^{-1}(q) (``to_inner_domain``); so for sub the m-block is read at -m and for mul/div
        at log_g m. Phases are then comparable with the analytic neuron
        cos(2 pi k f1(n)/M + phi1), cos(2 pi k f2(m)/M + phi2), cos(2 pi k r/M + phi3).

    Returns
    -------
    NeuronPhases

    Raises
    ------
    ValueError
        Shapes inconsistent with ``task.p``, or a map of the task that is not a bijection onto
        Z_M (square_sum's n^2, square_of_sum's s^2): phases are not defined there.

    Notes
    -----
    A frequency k > M/2 is reported as M - k with negated phase (the same wave), consistently in
    the three blocks, so the phase residual of an aliased neuron is the negated residual.

    Examples
    --------
    >>> import closedform
    >>> from compare._network import analytic_mlp
    >>> task = closedform.get_task("add", 7)
    >>> net = analytic_mlp(task, frequencies=[2])
    >>> ph = neuron_phases(net.W1, net.W2, task)
    >>> ph.k1.tolist(), bool(ph.agree.all())
    ([2, 2, 2, 2, 2, 2], True)
    """
    check_task(task)
    W1, W2 = check_mlp(W1, W2, task.p)
    p = task.p
    fits = []
    for block, w in (("n", W1[:, :p]), ("m", W1[:, p:]), ("out", W2.T)):
        if inner_index(task, block) is None:  # e.g. square_of_sum's readout: two branches
            raise ValueError(
                f"block {block!r} of task {task.name!r} is not a bijection onto Z_{task.M}; "
                "phases are not defined for it"
            )
        fits.append(wave_fit(to_inner_domain(w, task, block)))
    f1, f2, f3 = fits
    agree = (f1.frequency == f2.frequency) & (f2.frequency == f3.frequency) & (f1.frequency > 0)
    return NeuronPhases(
        k1=f1.frequency,
        k2=f2.frequency,
        k3=f3.frequency,
        phi1=f1.phase,
        phi2=f2.phase,
        phi3=f3.phase,
        A1=f1.amplitude,
        A2=f2.amplitude,
        A3=f3.amplitude,
        fit_error=np.stack([f1.fit_error, f2.fit_error, f3.fit_error], axis=1),
        agree=agree,
    )


@dataclass(frozen=True)
class PhaseResidual:
    """Summary of the phase residuals delta = wrap(phi1 + phi2 - phi3).

    Attributes
    ----------
    delta : ndarray, shape (n,)
        Residuals in (-pi, pi] of the neurons used.
    circular_mean : float
        arg(mean e^{i delta}) in (-pi, pi] (NaN when no neuron is used).
    R : float
        Mean resultant length |mean e^{i delta}|: 1 aligned, ~0 uniform.
    rayleigh_p : float
        p-value of the Rayleigh test of uniformity (small: the phases are aligned).
    n : int
        Number of neurons used.
    share_agree : float
        Fraction of all neurons whose blocks agree on a frequency (NaN if unknown).
    """

    delta: np.ndarray
    circular_mean: float
    R: float
    rayleigh_p: float
    n: int
    share_agree: float

    def to_dict(self) -> dict:
        return {
            "circular_mean": self.circular_mean,
            "R": self.R,
            "rayleigh_p": self.rayleigh_p,
            "n": self.n,
            "share_agree": self.share_agree,
        }


def _rayleigh_p(n: int, R: float) -> float:
    """Rayleigh test p-value (Zar, Biostatistical Analysis, eq. 27.4), chi2 limit for large n."""
    from scipy import stats

    if n == 0:
        return float("nan")
    Rn = n * R
    p = np.exp(np.sqrt(1 + 4 * n + 4 * (n**2 - Rn**2)) - (1 + 2 * n))
    if n > 1000:  # the asymptotic law 2 n R^2 ~ chi2(2) is accurate there
        p = stats.chi2.sf(2 * n * R**2, 2)
    return float(np.clip(p, 0.0, 1.0))


def phase_residual(phases, phi2=None, phi3=None, *, mask=None) -> PhaseResidual:
    """delta = wrap(phi1 + phi2 - phi3) and its circular statistics (Gromov Fig. 3).

    Parameters
    ----------
    phases : NeuronPhases or array_like of shape (N,)
        Either the result of :func:`neuron_phases` (then ``phi2``/``phi3`` must be None and only
        neurons whose blocks agree are used), or phi1 with ``phi2`` and ``phi3`` given.
    phi2, phi3 : array_like, shape (N,), optional
    mask : array_like of bool, shape (N,), optional
        Neurons to use (combined with the agreement mask of a NeuronPhases).

    Returns
    -------
    PhaseResidual

    Notes
    -----
    The analytic neuron has phi3 = phi1 + phi2 (docs/conventions.md), so delta = 0 and R = 1.
    R = |(1/n) sum_j exp(i delta_j)|; the Rayleigh p-value uses Zar's approximation
    exp(sqrt(1 + 4n + 4(n^2 - (nR)^2)) - (1 + 2n)) (chi-square limit 2nR^2 ~ chi2_2, scipy, for
    n > 1000).

    Examples
    --------
    >>> res = phase_residual(np.array([0.1, 0.2]), np.array([0.3, 0.1]), np.array([0.4, 0.3]))
    >>> round(res.R, 6), round(res.circular_mean, 6)
    (1.0, 0.0)
    """
    if isinstance(phases, NeuronPhases):
        if phi2 is not None or phi3 is not None:
            raise TypeError("`phi2`/`phi3` must be None when `phases` is a NeuronPhases")
        p1, p2, p3 = phases.phi1, phases.phi2, phases.phi3
        use = phases.agree.copy()
        share = float(phases.agree.mean()) if len(use) else float("nan")
    else:
        if phi2 is None or phi3 is None:
            raise TypeError("`phi2` and `phi3` are required when `phases` is an array of phi1")
        p1 = as_real_array("phi1", phases, (1,))
        p2 = as_real_array("phi2", phi2, (1,))
        p3 = as_real_array("phi3", phi3, (1,))
        if not (p1.shape == p2.shape == p3.shape):
            raise ValueError(
                f"`phi1`, `phi2`, `phi3` must have one shape; got {p1.shape}, {p2.shape}, "
                f"{p3.shape}"
            )
        use = np.ones(p1.shape, dtype=bool)
        share = float("nan")
    if mask is not None:
        mask = np.asarray(mask)
        if mask.dtype != bool or mask.shape != use.shape:
            raise ValueError(f"`mask` must be a boolean array of shape {use.shape}")
        use &= mask
    use &= np.isfinite(p1) & np.isfinite(p2) & np.isfinite(p3)
    delta = wrap(p1[use] + p2[use] - p3[use])
    n = int(use.sum())
    if n == 0:
        return PhaseResidual(delta, float("nan"), float("nan"), float("nan"), 0, share)
    z = np.exp(1j * delta).mean()
    R = float(min(abs(z), 1.0))
    mean = float(wrap(np.angle(z))) if R > 1e-12 else float("nan")
    return PhaseResidual(delta, mean, R, _rayleigh_p(n, R), n, share)
