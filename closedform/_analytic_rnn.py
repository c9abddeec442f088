"""Closed-form weights of Rangamani's tanh RNN for every task of the analytic class.

The network is the Elman RNN of Rangamani et al. (2025) Sec. II, Fig. 1, in the shapes that
``trained`` trains: tokens n, m, '=' (index p); h_t = tanh(W_ih W_E[x_t] + b_ih + W_hh h_{t-1}
+ b_hh); the last state is L2-normalized and read out by W_fc. The construction (this
project's) carries cos/sin of f1(n) exactly in h1, forms Gromov-style product neurons in h2
around a tanh bias, copies them through a second tanh into h3 and reads them out with the
phase readout of Gromov (2023) eq. 7, 12. Phase averaging over a lattice of J phases per
frequency removes every wave of the composite neuron but f1(n) + f2(m) - r up to a high order;
what survives is bounded by :meth:`AnalyticRNN.certificate`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
from scipy.optimize import minimize_scalar

from ._evaluate import _TIE_ULPS, Evaluation, _Tally, check_pairs
from ._numtheory import _check_int
from ._tasks import Task

__all__ = ["AnalyticRNN", "analytic_rnn", "rnn_forward"]

# tanh of a pre-activation of at least this size rounds to exactly +-1 in float32 and float64
_SATURATION = 20.0
# amplitude of block A: h1 carries rho cos / rho sin of omega f1(n), exactly (arctanh table)
_RHO = 0.5
# fewest phases per frequency: from J = 8 on, every unwanted wave of order 1 and 2 cancels
_MIN_PHASES = 8
# beyond 64 phases the approximation error is below float64 resolution for alpha <= 0.3
_MAX_PHASES = 64
_DEFAULT_N_FREQUENCIES = 6  # Rangamani et al. 2025 Sec. III-A and III-E find 6 to 8
_AMPLITUDE_STEP = 0.05  # readout amplitudes 1 / (1 + 0.05 i): distinct singular values of W_fc
_BIAS_RANGE = (-2.0, -0.25)  # the automatic bias search; below -2 the signal fades in float32
_DESIGN_GRID = 64  # Fourier grid of the design search (per angle)
_BOUND_GRID = 256  # Fourier grid of the certificate (aliasing far below float64 resolution)
_ZERO = {"embed": 4 * _SATURATION, "bias": -_SATURATION, "recur": 2 * _SATURATION}
_HIDDEN_NORMS = ("l2", "none")
# alpha=None: the largest of these whose error bound is at most 1/4 of the ideal margin
_ALPHA_LADDER = (0.3, 0.2, 0.1, 0.05, 0.02)
_ALPHA_SAFETY = 4.0


@dataclass(frozen=True, eq=False)
class AnalyticRNN:
    """A closed-form Elman tanh RNN (Rangamani et al. 2025 Fig. 1) for a modular task.

    Attributes
    ----------
    task : Task
    weights : dict of str -> ndarray
        ``W_E`` (p+1, d_e), ``W_ih`` (d_h, d_e), ``W_hh`` (d_h, d_h), ``b_ih`` (d_h,),
        ``b_hh`` (d_h,), ``W_fc`` (p, d_h), ``b_fc`` (p,): float64, read-only, named and shaped
        as ``trained`` names and shapes them (docs/trained.md).
    frequencies : ndarray of int, shape (K,)
        k_i mod M, one block of hidden units each.
    phases : ndarray, shape (J, 3)
        (phi1, phi2, phi3 = phi1 + phi2) of the J units of every frequency.
    phase_lattice : tuple of int
        (a, b, c): the phases are the annihilator of the lattice spanned by (a, 0) and (b, c)
        (a c = J): phi1 = 2 pi i / a, phi2 = 2 pi (j - b i / a) / c.
    alpha, bias, gain : float
        Input amplitude, the bias of the product neurons (h2) and the h2 -> h3 gain.
    amplitudes : ndarray, shape (K,)
        Readout amplitude A_i of each frequency.
    d_hidden, d_embed : int
    hidden_norm : {'l2', 'none'}
    layout : dict of str -> (start, stop)
        Hidden coordinates of block ``'A'`` (2 per frequency: cos, sin of omega f1(n)),
        ``'B'`` (J per frequency: product neurons), ``'C'`` (J per frequency: readout units),
        ``'zero'`` (mul/div only); the rest is unused (always 0).
    meta : dict
        The error bound and the ideal margin (see :meth:`certificate`).
    """

    task: Task
    weights: dict
    frequencies: np.ndarray
    phases: np.ndarray
    phase_lattice: tuple
    alpha: float
    bias: float
    gain: float
    amplitudes: np.ndarray
    d_hidden: int
    d_embed: int
    hidden_norm: str
    layout: dict
    meta: dict = field(default_factory=dict)

    def __repr__(self) -> str:
        return (
            f"AnalyticRNN({self.task!r}, frequencies={self.frequencies.tolist()}, "
            f"n_phases={self.n_phases}, alpha={self.alpha})"
        )

    @property
    def n_phases(self) -> int:
        """J, the units per frequency in each of blocks B and C."""
        return len(self.phases)

    @property
    def width_per_frequency(self) -> dict:
        """Hidden units per frequency in each block: ``{'A': 2, 'B': J, 'C': J}``."""
        return {"A": 2, "B": self.n_phases, "C": self.n_phases}

    def logits(self, n=None, m=None) -> np.ndarray:
        """Logits (float64) for the pairs (n, m), shape (B, p): the numpy twin of
        ``trained``'s forward. Both None: all p^2 pairs, row ``n * p + m``."""
        n, m = self._pairs(n, m)
        return _forward(self.weights, self.task.p, n, m, self.hidden_norm, np.float64)[0]

    def hidden(self) -> dict:
        """Hidden states over all p^2 pairs (row ``n * p + m``): ``'h1'``, ``'h2'``, ``'h3'``,
        each (p^2, d_hidden), h3 before normalization (as ``trained``'s ``hidden=True``)."""
        n, m = self._pairs(None, None)
        return _forward(self.weights, self.task.p, n, m, self.hidden_norm, np.float64)[1]

    def evaluate(self, dtype=np.float64) -> Evaluation:
        """Accuracy and margin over all p^2 pairs, as :func:`closedform.evaluate_mlp` counts them.

        Parameters
        ----------
        dtype : {numpy.float64, numpy.float32}
            Precision of the forward pass (float32: the precision ``trained`` runs in).

        Returns
        -------
        Evaluation
            A pair is correct when its logit beats every other by more than 64 ulp of the
            largest logit the readout can produce (ties are wrong); ``margin`` in logit units.
        """
        return _evaluate(self, dtype)

    def accuracy(self) -> float:
        """Share of defined pairs classified correctly (argmax, ties wrong)."""
        return self.evaluate().accuracy

    def certificate(self) -> dict:
        """The error bound of the construction against its ideal Fourier logits.

        Returns
        -------
        dict
            ``error_bound``: epsilon, the bound on each frequency's unwanted waves relative to
            its wanted wave (sum of |c_l| over the surviving unwanted waves l of the composite
            unit, divided by c_(1,1)); ``ideal_margin``: min over occurring s and q != F(s) of
            the ideal logit gap, in units of sum_i A_i; ``required_margin``: the gap the error
            can close at most (2 epsilon for an invertible F); ``certified``: ideal_margin >
            required_margin on every such (s, q) (then every decomposed pair is correct in
            exact arithmetic); ``harmful_order`` and ``norm_order``: the lowest order of a
            surviving unwanted wave in the logits and in ||h3||^2; ``c11``: the wanted
            coefficient; ``unit_max``: max |G| = the largest |h3| in block C; mul/div also
            ``zero_error_bound``: the wave logits of a pair with a zero factor, relative to
            the zero unit's logit (certified needs < 1).
        """
        return dict(self.meta)

    def config(self) -> dict:
        """The JSON config of this network's model directory (``trained.load_model`` reads it)."""
        from ._tasks import task_to_dict

        return {
            "model": "rnn",
            "source": "analytic",
            "p": self.task.p,
            "task": task_to_dict(self.task),
            "d_hidden": self.d_hidden,
            "d_embed": self.d_embed,
            "hidden_norm": self.hidden_norm,
            "n_classes": [self.task.p],
            "frequencies": self.frequencies.tolist(),
            "n_phases": self.n_phases,
            "phase_lattice": list(self.phase_lattice),
            "alpha": self.alpha,
            "bias": self.bias,
            "gain": self.gain,
            "rho": _RHO,
            "saturation": _SATURATION,
            "amplitudes": self.amplitudes.tolist(),
            "layout": {k: list(v) for k, v in self.layout.items()},
            "error_bound": self.meta["error_bound"],
            "certified": self.meta["certified"],
        }

    def save(self, path) -> str:
        """Write a model directory (config.json + weights.safetensors); returns its path.

        ``trained.load_model(path)`` runs it with ``trained``'s own forward.
        """
        from . import save_model_dir  # the public name, wherever the module lives

        return str(save_model_dir(path, self.config(), dict(self.weights)))

    def _pairs(self, n, m):
        return check_pairs(n, m, self.task.p, all_if_none=True)


# ----------------------------------------------------------------------------- forward pass
def _linear(X, W):
    """X @ W.T over the input columns W reads: a zero weight adds an exact 0, so skipping
    it changes no result beyond the summation order (which BLAS and torch choose anyway)."""
    cols = np.flatnonzero(W.any(axis=0))
    if len(cols) == W.shape[1]:
        return X @ W.T
    return X[:, cols] @ W[:, cols].T


def _forward(W, p, n, m, hidden_norm, dtype):
    """trained._models.forward for model 'rnn', in numpy, in the order of its operations."""
    W = {k: np.asarray(v, dtype=dtype) for k, v in W.items()}
    E = _linear(W["W_E"], W["W_ih"]) + W["b_ih"]  # (p+1, d_h): input of a step, per token
    H1 = np.tanh(E[:p] + W["b_hh"])
    h1 = H1[n]
    h2 = np.tanh(E[m] + _linear(H1, W["W_hh"])[n] + W["b_hh"])
    h3 = np.tanh(E[p] + _linear(h2, W["W_hh"]) + W["b_hh"])
    if hidden_norm == "l2":  # Rangamani Sec. II: the last hidden state is normalized
        norm = np.linalg.norm(h3, axis=-1, keepdims=True)
        h3n = h3 / np.maximum(norm, dtype(1e-12))
    else:
        h3n = h3
    logits = _linear(h3n, W["W_fc"]) + W["b_fc"]
    return logits, {"h1": h1, "h2": h2, "h3": h3}


def _logit_bound(net: AnalyticRNN) -> float:
    """Largest |logit| the construction can produce: W_fc reads block C, where |h3| <= max|G|,
    and the zero unit (|h3| = 1); block B of h3 is exactly 1, so ||h3|| >= sqrt(K J)."""
    W_fc = np.abs(net.weights["W_fc"])
    C = slice(*net.layout["C"])
    bound = W_fc[:, C].sum(axis=1) * net.meta["unit_max"]
    if "zero" in net.layout:
        bound = bound + W_fc[:, slice(*net.layout["zero"])].sum(axis=1)
    if net.hidden_norm == "l2":
        n_B = net.layout["B"][1] - net.layout["B"][0]
        bound = np.minimum(bound / np.sqrt(n_B), np.linalg.norm(W_fc, axis=1))
    return float(bound.max())


def _evaluate(net: AnalyticRNN, dtype) -> Evaluation:
    if dtype not in (np.float64, np.float32):
        raise ValueError(f"`dtype` must be numpy.float64 or numpy.float32; got {dtype!r}")
    dtype = np.dtype(dtype).type
    task, p = net.task, net.task.p
    tol = _TIE_ULPS * np.finfo(dtype).eps * _logit_bound(net)
    rows = max(1, min(p, 2**22 // max(1, p * max(p, net.d_hidden))))
    tally = _Tally(task, tol)
    grid = np.arange(p)
    for n0 in range(0, p, rows):
        n1 = min(p, n0 + rows)
        n = np.repeat(grid[n0:n1], p)
        m = np.tile(grid, n1 - n0)
        L = _forward(net.weights, p, n, m, net.hidden_norm, dtype)[0].astype(np.float64)
        tally.add(n0, n1, L)
    return tally.result()


# ------------------------------------------------------------------------ the phase design
@lru_cache(maxsize=8)
def _wave_grid(N: int):
    """Signed wave numbers (l1, l2) of an N x N FFT, and cos th1 + cos th2 on its grid."""
    ell = np.fft.fftfreq(N, 1.0 / N).round().astype(np.int64)
    L1, L2 = np.meshgrid(ell, ell, indexing="ij")
    th = 2 * np.pi * np.arange(N) / N
    return L1, L2, np.cos(th)[:, None] + np.cos(th)[None, :]


def _unit(u, bias: float, gain: float):
    """The composite unit G(u) = tanh(gain (tanh(bias + u) - tanh(bias))): h2 -> h3."""
    return np.tanh(gain * (np.tanh(bias + u) - np.tanh(bias)))


def _unit_coefficients(alpha: float, bias: float, gain: float, N: int) -> np.ndarray:
    """c[l1, l2]: G(alpha (cos th1 + cos th2)) = sum_l c_l e^{i (l1 th1 + l2 th2)} (real, even)."""
    cc = _wave_grid(N)[2]
    return (np.fft.fft2(_unit(alpha * cc, bias, gain)) / N**2).real


def _lattices(J: int):
    """Every sublattice of Z^2 of index J, in Hermite normal form (a, b, c): rows (a, 0), (b, c)."""
    return [(a, b, J // a) for a in range(1, J + 1) if J % a == 0 for b in range(a)]


def _in_lattice(lat, d1, d2):
    a, b, c = lat
    return (d2 % c == 0) & ((d1 - b * (d2 // c)) % a == 0)


@lru_cache(maxsize=64)
def _survivor_masks(lat, N: int):
    """Waves that the phase average keeps: in the logits, (l1, l2) in (1, 1) + lattice, minus
    (1, 1) itself (harmful); in ||h3||^2, the lattice minus 0."""
    L1, L2, _ = _wave_grid(N)
    harmful = _in_lattice(lat, L1 - 1, L2 - 1) & ~((L1 == 1) & (L2 == 1))
    norm = _in_lattice(lat, L1, L2) & ~((L1 == 0) & (L2 == 0))
    return harmful, norm


@lru_cache(maxsize=128)
def _lattice_key(lat):
    harmful, norm = _survivor_masks(lat, _DESIGN_GRID)
    L1, L2, _ = _wave_grid(_DESIGN_GRID)
    order = np.abs(L1) + np.abs(L2)
    h0 = int(order[harmful].min())
    n0 = int(order[norm].min())
    return h0, n0, -int((order[harmful] == h0).sum())


def _relative_error(c, harmful) -> float:
    return float(np.abs(c[harmful]).sum() / abs(c[1, 1]))


@lru_cache(maxsize=256)
def _design(J: int, alpha: float, gain: float, bias: float | None):
    """Choose the phase lattice (and the bias, when None) that minimize the error bound.

    Candidates: the 8 lattices of index J whose lowest surviving unwanted orders are highest;
    bias: a 40-point grid over _BIAS_RANGE refined by bounded Brent search.
    """
    lats = sorted(_lattices(J), key=_lattice_key, reverse=True)[:8]
    masks = [_survivor_masks(lat, _DESIGN_GRID)[0] for lat in lats]
    grid = np.linspace(*_BIAS_RANGE, 40) if bias is None else np.array([bias])
    best = None
    for i, b in enumerate(grid):
        c = _unit_coefficients(alpha, b, gain, _DESIGN_GRID)
        for lat, mask in zip(lats, masks, strict=True):
            e = _relative_error(c, mask)
            if best is None or e < best[0]:
                best = (e, i, lat, mask)
    _, i, lat, mask = best
    if bias is not None:
        return lat, float(bias)
    lo, hi = grid[max(i - 1, 0)], grid[min(i + 1, len(grid) - 1)]
    res = minimize_scalar(
        lambda b: _relative_error(_unit_coefficients(alpha, b, gain, _DESIGN_GRID), mask),
        bounds=(lo, hi),
        method="bounded",
        options={"xatol": 1e-7},
    )
    b = float(res.x) if res.fun <= best[0] else float(grid[i])
    return lat, round(b, 10)


def _phase_table(lat) -> np.ndarray:
    """(J, 3): phi1, phi2, phi3 = phi1 + phi2, the annihilator of the lattice ``lat``."""
    a, b, c = lat
    i, j = np.meshgrid(np.arange(a), np.arange(c), indexing="ij")
    phi1 = 2 * np.pi * i.ravel() / a
    phi2 = 2 * np.pi * (j.ravel() - b * i.ravel() / a) / c
    return np.stack([phi1, phi2, phi1 + phi2], axis=1)


# ------------------------------------------------------------------------------ validation
def _check_frequencies(frequencies, M: int) -> np.ndarray:
    k = np.atleast_1d(np.asarray(frequencies))
    if k.ndim != 1 or k.size == 0 or not np.issubdtype(k.dtype, np.integer):
        raise ValueError(
            f"`frequencies` must be a non-empty 1-D list of integers; got {frequencies!r}"
        )
    k = k.astype(np.int64)
    if (k % M == 0).any():
        bad = int(k[k % M == 0][0])
        raise ValueError(
            f"`frequencies` must not contain a multiple of M = {M} (a constant wave); got {bad}"
        )
    folded = np.minimum(k % M, (-k) % M)  # k and M - k are the same wave
    if len(np.unique(folded)) != len(k):
        raise ValueError(
            f"`frequencies` must be distinct modulo M = {M} up to sign (k and M - k are one "
            f"frequency); got {k.tolist()}"
        )
    return k % M


def _check_float(name: str, value, low: float, high: float, *, allow_zero: bool = True) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"`{name}` must be a real number; got {type(value).__name__} {value!r}")
    v = float(value)
    if not np.isfinite(v) or not low <= v <= high or (not allow_zero and v == 0):
        zero = ", non-zero" if not allow_zero else ""
        raise ValueError(f"`{name}` must be finite{zero}, in [{low}, {high}]; got {value!r}")
    return v


def _max_frequencies(d_hidden: int, d_embed: int, extra: int, n_phases: int | None) -> int:
    J = _MIN_PHASES if n_phases is None else n_phases
    by_hidden = (d_hidden - extra) // (2 + 2 * J)
    by_embed = (d_embed - 1 - extra) // 4
    return max(0, min(by_hidden, by_embed))


def _default_frequencies(task: Task, K: int, invertible: bool) -> np.ndarray:
    """The full set 1..floor(M/2) for a non-invertible F (the branch readout needs it, Gromov
    Corollary); otherwise K frequencies chosen greedily, from k = 1, to maximize the ideal
    margin min_{t != 0} sum_k (1 - cos(2 pi k t / M))."""
    M = task.M
    pool = np.arange(1, M // 2 + 1)
    if not invertible:
        return pool
    t = np.arange(1, M)
    gaps = 1 - np.cos(2 * np.pi * np.outer(pool, t) / M)  # (candidates, t)
    chosen = [0]
    total = gaps[0].copy()
    while len(chosen) < min(K, len(pool)):
        score = (total[None, :] + gaps).min(axis=1)
        score[chosen] = -np.inf
        i = int(np.argmax(score))
        chosen.append(i)
        total += gaps[i]
    return pool[np.sort(chosen)]


# -------------------------------------------------------------------------- construction
def analytic_rnn(
    task: Task,
    frequencies=None,
    *,
    d_hidden: int = 256,
    d_embed: int = 256,
    n_phases: int | None = None,
    alpha: float | None = None,
    bias: float | None = None,
    gain: float = 1.0,
    hidden_norm: str = "l2",
) -> AnalyticRNN:
    """Closed-form weights of Rangamani's tanh RNN (Rangamani et al. 2025 Sec. II) for ``task``.

    Parameters
    ----------
    task : Task
        A task of the analytic class (:func:`closedform.get_task`, :func:`closedform.custom_task`).
    frequencies : int array, optional
        The set K (k and M - k count as one; no multiple of M). Default: for an invertible F,
        min(6, the most that fit, floor(M/2)) frequencies chosen greedily from k = 1 to
        maximize the ideal margin; for a non-invertible F, all of 1..floor(M/2) (the branch
        readout is a delta only with every frequency, Gromov Corollary).
    d_hidden, d_embed : int
        The RNN's state and embedding sizes (Rangamani: 256 and 256). Each frequency takes
        2 + 2 J hidden units and 4 embedding features; mul/div one more of each, and '=' one
        more embedding feature.
    n_phases : int, optional
        J, the units per frequency in blocks B and C, >= 8. Default: the most that fit
        ``d_hidden``, at most 64.
    alpha : float, optional
        Input amplitude of the product neurons, in (0, 1]. Smaller: closer to an exact
        quadratic (error bound ~ alpha^(order - 2)) but a smaller margin and a hidden state
        farther from a trained network's O(1) scale; float32 resolution limits how small.
        Default: the largest of 0.3, 0.2, 0.1, 0.05, 0.02 whose error bound needs at most a
        quarter of the ideal margin (0.02 if none does).
    bias : float, optional
        Bias of the product neurons (nonzero, |bias| <= 5): tanh has a quadratic term only
        around a nonzero bias. Default: the value in [-2, -0.25] that minimizes the error
        bound.
    gain : float
        Weight of the h2 -> h3 copy, in (0, 4].
    hidden_norm : {'l2', 'none'}
        Normalize h3 before the readout (Rangamani Sec. II) or not.

    Returns
    -------
    AnalyticRNN

    Raises
    ------
    TypeError
        ``task`` is not a Task; a non-numeric parameter.
    ValueError
        Frequencies that are not distinct modulo M up to sign or contain a multiple of M; a
        frequency set that does not fit ``d_hidden``/``d_embed`` (the message gives the largest
        number that fits); J < 8 or J too large to fit; an out-of-range parameter.

    Notes
    -----
    Hidden coordinates, per frequency k (omega = 2 pi k / M), with units j = 1..J:

    - A (2): h1 = rho (cos omega f1(n), sin omega f1(n)) exactly: the embedding row of token n
      is arctanh of that (rho = 1/2).
    - B (J): h2_j = tanh(bias + alpha cos(omega f1(n) + phi1_j) + alpha cos(omega f2(m) +
      phi2_j)), the f1 part through W_hh from A, the f2 part from the embedding.
    - C (J): h3_j = tanh(gain (h2_j - tanh bias)) = G(u_j), read out by
      W_fc[q, j] = A_k sum_{r: F(r) = q} cos(omega r + phi3_j), phi3 = phi1 + phi2.

    W_hh maps A -> B and B -> C only; so block B at step 1 only reaches block C of h2, and
    block A of h2 only reaches block B of h3, which the '=' token saturates to exactly 1; W_fc
    reads C alone, b_fc = 0. With G(alpha (cos th1 + cos th2)) = sum_l c_l e^{i l.th}, the
    logit of q is, before normalization, sum_k A_k J sum_{l in S} c_l cos(omega (l1 f1(n) +
    l2 f2(m) - r)), S = (1, 1) + Lambda, Lambda the phase lattice: every other wave cancels
    exactly. The wanted wave is l = (1, 1); the others in S start at a high order and add
    up to at most epsilon = sum |c_l| / c_(1,1) (:meth:`AnalyticRNN.certificate`).
    mul/div: a 'zero' unit saturates to +1 when n = 0 or m = 0 and to -1 otherwise, and
    W_fc writes it to q = 0 with a weight above every wave logit.

    Examples
    --------
    >>> from closedform import get_task
    >>> net = analytic_rnn(get_task("add", 31), frequencies=[3, 7])
    >>> net.weights["W_hh"].shape, net.accuracy()
    ((256, 256), 1.0)
    >>> net.width_per_frequency, net.certificate()["certified"]
    ({'A': 2, 'B': 63, 'C': 63}, True)
    """
    if not isinstance(task, Task):
        raise TypeError(f"`task` must be a closedform.Task; got {type(task).__name__}")
    d_hidden = _check_int("d_hidden", d_hidden, 1)
    d_embed = _check_int("d_embed", d_embed, 1)
    if n_phases is not None:
        n_phases = _check_int("n_phases", n_phases, _MIN_PHASES)
    if alpha is not None:
        alpha = _check_float("alpha", alpha, 0.0, 1.0, allow_zero=False)
    if bias is not None:
        bias = _check_float("bias", bias, -5.0, 5.0, allow_zero=False)
    gain = _check_float("gain", gain, 0.0, 4.0, allow_zero=False)
    if hidden_norm not in _HIDDEN_NORMS:
        raise ValueError(f"`hidden_norm` must be one of {_HIDDEN_NORMS}; got {hidden_norm!r}")
    M = task.M
    if M < 2:
        raise ValueError(
            f"task {task.name!r} has M = {M}: Z_M has no non-constant wave to build from "
            "(every decomposed pair has the same answer)"
        )
    invertible = task.invertible
    zero = bool(task.in_log_domain)
    extra = int(zero)
    K_max = _max_frequencies(d_hidden, d_embed, extra, n_phases)
    J_text = f"J = {n_phases}" if n_phases is not None else f"J >= {_MIN_PHASES}"
    if frequencies is None:
        K = min(_DEFAULT_N_FREQUENCIES, max(K_max, 1), M // 2)
        ks = _default_frequencies(task, K, invertible)
        if not invertible and len(ks) > K_max:
            raise ValueError(
                f"task {task.name!r} has a non-invertible F: the branch readout needs every "
                f"frequency 1..{M // 2} ({len(ks)}), but at most {K_max} fit d_hidden = "
                f"{d_hidden}, d_embed = {d_embed} ({J_text}); raise d_hidden to "
                f"{len(ks) * (2 + 2 * _MIN_PHASES) + extra} or pass `frequencies`"
            )
    else:
        ks = _check_frequencies(frequencies, M)
    K = len(ks)
    if K > K_max:
        raise ValueError(
            f"{K} frequencies do not fit d_hidden = {d_hidden}, d_embed = {d_embed}: each takes "
            f"2 + 2J hidden units ({J_text}) and 4 embedding features; at most {K_max} fit"
        )
    J = min(((d_hidden - extra) // K - 2) // 2, _MAX_PHASES) if n_phases is None else n_phases
    # distinct singular values of W_fc per frequency (Table II reads them one by one); equal
    # amplitudes keep the full-set delta of a non-invertible F
    amplitudes = 1.0 / (1.0 + _AMPLITUDE_STEP * np.arange(K)) if invertible else np.ones(K)
    for a in _ALPHA_LADDER if alpha is None else (alpha,):
        lat, beta = _design(J, a, gain, bias)
        meta = _certificate(task, ks, amplitudes, a, beta, gain, lat, zero)
        if meta["certified"] and meta["ideal_margin"] >= _ALPHA_SAFETY * meta["required_margin"]:
            break
    alpha = a
    phases = _phase_table(lat)
    weights, layout = _weights(
        task, ks, phases, amplitudes, alpha, beta, gain, d_hidden, d_embed, zero, meta
    )
    return AnalyticRNN(
        task=task,
        weights=weights,
        frequencies=ks.astype(np.int64),
        phases=phases,
        phase_lattice=tuple(int(v) for v in lat),
        alpha=alpha,
        bias=beta,
        gain=gain,
        amplitudes=amplitudes,
        d_hidden=d_hidden,
        d_embed=d_embed,
        hidden_norm=hidden_norm,
        layout=layout,
        meta=meta,
    )


def _certificate(task: Task, ks, amplitudes, alpha, beta, gain, lat, zero: bool) -> dict:
    c = _unit_coefficients(alpha, beta, gain, _BOUND_GRID)
    harmful, norm = _survivor_masks(lat, _BOUND_GRID)
    eps = _relative_error(c, harmful)
    L1, L2, _ = _wave_grid(_BOUND_GRID)
    order = np.abs(L1) + np.abs(L2)
    # ideal logits over the inner sums that occur: I[s, q] = sum_{F(r) = q} sum_k A_k cos(w (s-r))
    M, p = task.M, task.p
    occurring = np.unique(task.inner_sum[task.decomposed])
    r = np.arange(M)
    psi = np.cos(2 * np.pi * np.subtract.outer(occurring, r)[..., None] * ks / M) @ amplitudes
    ideal = np.zeros((len(occurring), p))
    np.add.at(ideal.T, task.F, psi.T)
    branches = np.bincount(task.F, minlength=p)
    target = task.F[occurring]
    rows = np.arange(len(occurring))
    gap = ideal[rows, target][:, None] - ideal
    need = eps * amplitudes.sum() * (branches[target][:, None] + branches[None, :])
    wrong = np.ones_like(gap, dtype=bool)
    wrong[rows, target] = False
    total = amplitudes.sum()
    certified = bool((gap[wrong] > need[wrong]).all())
    out = {
        "error_bound": eps,
        "ideal_margin": float(gap[wrong].min() / total) if wrong.any() else float("inf"),
        "required_margin": float(need[wrong].max() / total) if wrong.any() else 0.0,
        "harmful_order": int(order[harmful].min()),
        "norm_order": int(order[norm].min()),
        "c11": float(c[1, 1]),
        "unit_max": float(np.abs(_unit(np.array([-2 * alpha, 2 * alpha]), beta, gain)).max()),
    }
    if zero:
        # n = 0 (or m = 0): h2_j = tanh(bias + alpha cos th2_j) alone, G(alpha cos th) =
        # sum_l d_l e^{i l th}; the readout keeps l with (-1, l - 1) in the lattice (and the
        # mirror for m = 0), so each wave logit is at most J sum_k A_k zero_bound c_(1,1)
        N = _BOUND_GRID
        d = np.abs(np.fft.fft(_unit(alpha * np.cos(2 * np.pi * np.arange(N) / N), beta, gain)))
        ell = np.fft.fftfreq(N, 1.0 / N).round().astype(np.int64)
        keep = _in_lattice(lat, np.full_like(ell, -1), ell - 1)
        keep |= _in_lattice(lat, ell - 1, np.full_like(ell, -1))
        out["zero_error_bound"] = float(d[keep].sum() / N / abs(c[1, 1]))
        # the zero unit writes J c_(1,1) sum_k A_k, a correct wave logit, to q = 0
        certified &= out["zero_error_bound"] < 1.0
    out["certified"] = certified
    return out


def _weights(task, ks, phases, amplitudes, alpha, beta, gain, d_h, d_e, zero, meta):
    """The seven named arrays and the hidden layout (see analytic_rnn's Notes)."""
    p, M = task.p, task.M
    K, J = len(ks), len(phases)
    phi1, phi2, phi3 = phases.T
    sign = np.sign(meta["c11"])  # the wanted wave enters with the sign of c_(1,1)
    A0, B0 = 0, 2 * K
    C0 = B0 + K * J
    Z0 = C0 + K * J
    layout = {"A": (A0, B0), "B": (B0, C0), "C": (C0, Z0)}
    if zero:
        layout["zero"] = (Z0, Z0 + 1)
    # embedding features (columns of W_E): per frequency arctanh(rho cos), arctanh(rho sin)
    # (block A, scaled by 1/rho), cos, sin (block B); then '=' and, for mul/div, the token 0
    f_eq, f_zero = 4 * K, 4 * K + 1
    W_E = np.zeros((p + 1, d_e))
    W_ih = np.zeros((d_h, d_e))
    W_hh = np.zeros((d_h, d_h))
    b_hh = np.zeros(d_h)
    W_fc = np.zeros((p, d_h))
    ok1, ok2 = task.f1 >= 0, task.f2 >= 0
    W_E[p, f_eq] = 1.0
    for i, k in enumerate(ks):
        w = 2 * np.pi * k / M
        x = w * task.f1[ok1]
        y = w * task.f2[ok2]
        W_E[np.flatnonzero(ok1), 4 * i] = np.arctanh(_RHO * np.cos(x)) / _RHO
        W_E[np.flatnonzero(ok1), 4 * i + 1] = np.arctanh(_RHO * np.sin(x)) / _RHO
        W_E[np.flatnonzero(ok2), 4 * i + 2] = np.cos(y)
        W_E[np.flatnonzero(ok2), 4 * i + 3] = np.sin(y)
        a = A0 + 2 * i
        W_ih[a, 4 * i] = W_ih[a + 1, 4 * i + 1] = _RHO
        B = B0 + i * J + np.arange(J)
        C = C0 + i * J + np.arange(J)
        # alpha cos(y + phi2) = alpha (cos phi2 cos y - sin phi2 sin y)
        W_ih[B, 4 * i + 2] = alpha * np.cos(phi2)
        W_ih[B, 4 * i + 3] = -alpha * np.sin(phi2)
        # '=' saturates block B at step 3 (|rest| <= alpha + |beta|): h3_B = 1 exactly
        W_ih[B, f_eq] = _SATURATION + alpha + abs(beta)
        W_ih[C, f_eq] = -gain * np.tanh(beta)  # centres the copy: C = G(u)
        b_hh[B] = beta
        # alpha cos(x + phi1) from h1_A = rho (cos x, sin x)
        W_hh[B, a] = alpha / _RHO * np.cos(phi1)
        W_hh[B, a + 1] = -alpha / _RHO * np.sin(phi1)
        W_hh[C, B] = gain
        # readout: sum over every branch r of F^{-1}(q) (Gromov Corollary)
        wave = sign * amplitudes[i] * np.cos(w * np.arange(M)[:, None] + phi3[None, :])
        block = np.zeros((p, J))
        np.add.at(block, task.F, wave)
        W_fc[:, C] = block
    if zero:
        # +1 at step 1 iff n = 0, then OR with m = 0 at step 2, kept at step 3; every
        # pre-activation is at least _SATURATION away from 0
        z = Z0
        W_E[0, f_zero] = 1.0
        W_ih[z, f_zero] = _ZERO["embed"]
        W_ih[z, f_eq] = _SATURATION
        b_hh[z] = _ZERO["bias"]
        W_hh[z, z] = _ZERO["recur"]
        # the logit of a correct wave answer, J c_(1,1) sum_k A_k: above every wave logit of
        # a zero pair (certificate's zero_error_bound < 1); -1 puts q = 0 below every other
        # pair's correct logit
        W_fc[0, z] = J * abs(meta["c11"]) * amplitudes.sum()
    weights = {
        "W_E": W_E,
        "W_ih": W_ih,
        "W_hh": W_hh,
        "b_ih": np.zeros(d_h),
        "b_hh": b_hh,
        "W_fc": W_fc,
        "b_fc": np.zeros(p),
    }
    for v in weights.values():
        v.setflags(write=False)
    return weights, layout


def rnn_forward(weights: dict, p: int, n, m, *, hidden_norm: str = "l2", dtype=np.float64):
    """Rangamani's tanh RNN in numpy: logits and hidden states for pairs (n, m).

    The same function of the same named weights as ``trained``'s RNN forward (Rangamani et al.
    2025 Sec. II, Fig. 1), in the same order of operations, so analytic and trained RNNs are
    evaluated alike without torch.

    Parameters
    ----------
    weights : dict of str -> ndarray
        ``W_E (p+1, d_e)``, ``W_ih (d_h, d_e)``, ``W_hh (d_h, d_h)``, ``b_ih``, ``b_hh (d_h,)``,
        ``W_fc (n_out, d_h)``, ``b_fc (n_out,)``.
    p : int
        Modulus; token p is '='.
    n, m : int arrays, shape (B,)
    hidden_norm : {'l2', 'none'}
        Divide h3 by its L2 norm before the readout (Rangamani Sec. II) or not.
    dtype : numpy float dtype
        Arithmetic precision (``np.float32`` reproduces the trained model's numbers).

    Returns
    -------
    logits : ndarray (B, n_out)
    hidden : dict
        ``h1``, ``h2``, ``h3`` (B, d_h), h3 before the normalization.

    Examples
    --------
    >>> from closedform import analytic_rnn, get_task
    >>> net = analytic_rnn(get_task("add", 7), [1], d_hidden=64, d_embed=16)
    >>> logits, hidden = rnn_forward(net.weights, 7, [3], [5])
    >>> int(logits.argmax()), hidden["h3"].shape
    (1, (1, 64))
    """
    if hidden_norm not in ("l2", "none"):
        raise ValueError(f"`hidden_norm` must be 'l2' or 'none'; got {hidden_norm!r}")
    n, m = check_pairs(n, m, p)
    return _forward(weights, p, n, m, hidden_norm, np.dtype(dtype).type)
