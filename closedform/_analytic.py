"""Closed-form weights of Gromov's two-layer MLP for every task of the analytic class.

Gromov (2023) Claim I (eq. 6-7), Claim II and the Corollary, App. A (complex weights),
App. B (other activations), App. D (other tasks); the `exact` phase design and the zero
neuron for mul/div are this library's (docs/conventions.md), proved in :mod:`closedform.proof`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ._activations import check_activation
from ._evaluate import Evaluation, evaluate_mlp, mlp_logits
from ._numtheory import _check_int
from ._tasks import Task
from .rundir import save_model_dir

__all__ = ["AnalyticMLP", "analytic_mlp", "analytic_complex_mlp", "EXACT_PHASES"]

# The six (phi1, phi2) of the exact scheme: (2 pi j / 6, 2 pi 4 j / 6), j = 0..5; phi3 = phi1 + phi2
EXACT_PHASES = np.array([(2 * np.pi * j / 6, 2 * np.pi * 4 * j / 6) for j in range(6)])
_SCHEMES = ("random", "exact")


@dataclass(frozen=True, eq=False)
class AnalyticMLP:
    """A closed-form two-layer network: out = output_scale * W2 phi(W1 x) (Gromov eq. 1-2).

    Attributes
    ----------
    task : Task
    W1 : ndarray, shape (N, 2p)
        Row i: cos(2 pi k_i f1(n) / M + phi1_i) over n, then cos(2 pi k_i f2(m) / M + phi2_i)
        over m (eq. 6; 0 where f1 or f2 is undefined). Complex for App. A.
    W2 : ndarray, shape (p, N)
        W2[q, i] = sum over branches r of F^{-1}(q) of cos(2 pi k_i r / M + phi3_i) (eq. 7 and
        the Corollary; one branch only with ``branches='one'``).
    frequencies : ndarray of int, shape (N,)
        k_i mod M of each neuron; -1 for the zero neuron of mul/div.
    phases : ndarray, shape (N, 3)
        (phi1, phi2, phi3) with phi3 = phi1 + phi2 (eq. 12); nan for the zero neuron.
    activation, scheme, branches : str
    seed : int or None
    output_scale : float
        2 / N (mean-field eq. 2).
    """

    task: Task
    W1: np.ndarray
    W2: np.ndarray
    frequencies: np.ndarray
    phases: np.ndarray
    activation: str = "quadratic"
    scheme: str = "random"
    branches: str = "all"
    seed: int | None = None
    complex_weights: bool = False
    meta: dict = field(default_factory=dict)

    @property
    def width(self) -> int:
        """N, the number of hidden neurons (the zero neuron included)."""
        return self.W1.shape[0]

    @property
    def output_scale(self) -> float:
        return 2.0 / self.width

    def logits(self, n, m) -> np.ndarray:
        """Logits for pairs (n, m): shape (B, p). See :func:`closedform.mlp_logits`."""
        return mlp_logits(self.W1, self.W2, n, m, self.activation, self.output_scale)

    def evaluate(self, chunk_bytes: int | None = None) -> Evaluation:
        """Accuracy and margin over all p^2 pairs (:func:`closedform.evaluate_mlp`)."""
        kw = {} if chunk_bytes is None else {"chunk_bytes": chunk_bytes}
        return evaluate_mlp(self.W1, self.W2, self.task, self.activation, self.output_scale, **kw)

    def accuracy(self) -> float:
        """Share of defined pairs classified correctly (argmax, ties wrong)."""
        return self.evaluate().accuracy

    def config(self) -> dict:
        """The JSON config of this network's model directory."""
        from ._tasks import task_to_dict

        return {
            "model": "mlp",
            "source": "analytic",
            "p": self.task.p,
            "task": task_to_dict(self.task),
            "width": self.width,
            "activation": self.activation,
            "parametrization": "mean_field",
            "output_scale": self.output_scale,
            "scheme": self.scheme,
            "branches": self.branches,
            "seed": self.seed,
            "complex_weights": self.complex_weights,
        }

    def save(self, path) -> str:
        """Write a model directory (config.json + weights.safetensors); returns its path.

        Weights: ``W1``, ``W2``, ``frequencies`` and ``phases`` (complex weights as
        ``W1.real``/``W1.imag``).
        """
        weights = {
            "W1": self.W1,
            "W2": self.W2,
            "frequencies": self.frequencies,
            "phases": self.phases,
        }
        return str(save_model_dir(path, self.config(), weights))


def _rng(seed):
    if isinstance(seed, np.random.Generator):
        return seed, None
    if seed is None or isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"`seed` must be an integer or a numpy Generator; got {seed!r}")
    if seed < 0:
        raise ValueError(f"`seed` must be >= 0; got {seed}")
    return np.random.default_rng(int(seed)), int(seed)


def _check_frequencies(frequencies, M: int) -> np.ndarray:
    k = np.atleast_1d(np.asarray(frequencies))
    if k.ndim != 1 or k.size == 0 or not np.issubdtype(k.dtype, np.integer):
        raise ValueError(
            f"`frequencies` must be a non-empty 1-D list of integers; got {frequencies!r}"
        )
    if (k % M == 0).any():
        bad = int(k[k % M == 0][0])
        raise ValueError(
            f"`frequencies` must not contain a multiple of M = {M} (a constant wave); got {bad}"
        )
    return (k % M).astype(np.int64)


def _waves(task: Task, k, phi1, phi2, branches: str, complex_weights: bool):
    """W1 (N, 2p) and W2 (p, N) for neurons with frequencies k and phases phi1, phi2."""
    p, M = task.p, task.M
    phi3 = phi1 + phi2
    if complex_weights:
        wave = lambda x, phi: np.exp(1j * (2 * np.pi * np.outer(k, x) / M + phi[:, None]))  # noqa: E731
    else:
        wave = lambda x, phi: np.cos(2 * np.pi * np.outer(k, x) / M + phi[:, None])  # noqa: E731
    W1 = np.zeros((len(k), 2 * p), dtype=complex if complex_weights else float)
    for block, f, phi in ((0, task.f1, phi1), (1, task.f2, phi2)):
        ok = f >= 0
        W1[:, block * p + np.flatnonzero(ok)] = wave(f[ok], phi)
    # W2[q, i] = sum_{r: F(r) = q} wave_i(r) with phase phi3 (App. A: conjugate wave)
    r_wave = wave(np.arange(M), phi3)  # (N, M)
    if complex_weights:
        r_wave = np.conj(r_wave)
    keep = np.ones(M, dtype=bool)
    if branches == "one":  # Gromov's single q^{1/2}: the smallest r of each branch set
        keep[:] = False
        for rs in task.branches:
            if rs.size:
                keep[rs[0]] = True
    W2 = np.zeros((p, len(k)), dtype=W1.dtype)
    np.add.at(W2, task.F[keep], r_wave[:, keep].T)
    return W1, W2


def _add_zero_neuron(W1, W2, p: int, weight: float):
    """One neuron reading the n = 0 and m = 0 columns and writing ``weight`` to q = 0."""
    z1 = np.zeros((1, W1.shape[1]), dtype=W1.dtype)
    z1[0, 0] = z1[0, p] = 1.0
    z2 = np.zeros((W2.shape[0], 1), dtype=W2.dtype)
    z2[0, 0] = weight
    return np.vstack([W1, z1]), np.hstack([W2, z2])


def analytic_mlp(
    task: Task,
    width: int | None = None,
    frequencies=None,
    phases="random",
    seed=0,
    activation: str = "quadratic",
    branches: str = "all",
    zero_neuron: bool | None = None,
    *,
    _complex: bool = False,
) -> AnalyticMLP:
    """Closed-form weights of Gromov's two-layer MLP for ``task``.

    Parameters
    ----------
    task : Task
        A task of the analytic class (:func:`closedform.get_task`, :func:`closedform.custom_task`).
    width : int, optional
        Number of wave neurons (the zero neuron of mul/div comes on top).
        ``'random'``: default 4 p. ``'exact'``: must be 6 x the number of frequencies.
    frequencies : int array, optional
        ``'random'``: neuron i uses frequencies[i mod len]; default k = i + 1 for
        i = 0..N-1, Gromov's sum over k = 1..N (a k that is a multiple of M then gives a
        constant neuron, as written). ``'exact'``: the set K, six neurons each; default
        1..floor(M/2), or the first width/6 of them cycled. No multiple of M allowed.
    phases : {'random', 'exact'} or array of shape (N, 2)
        ``'random'``: phi1, phi2 ~ U[0, 2 pi) (Claim I). ``'exact'``: per frequency, the six
        (phi1, phi2) = (2 pi j / 6, 2 pi 4 j / 6), j = 0..5, which cancel every term of
        eq. 11 except the n + m - q one (:func:`closedform.exactness_certificate`).
        An array gives (phi1, phi2) per neuron (with ``frequencies`` of the same length).
        Always phi3 = phi1 + phi2 (eq. 12).
    seed : int or numpy.random.Generator
        Randomness of the ``'random'`` phases.
    activation : str
        ``'quadratic'`` (exact results), or ``'relu'``, ``'gelu'``, ``'tanh'``, ``'x^k'`` (App. B).
    branches : {'all', 'one'}
        Readout over every branch of F^{-1}(q) (exact for non-invertible F) or Gromov's single
        branch (the smallest r), which gives about 1/b accuracy for b branches (App. D).
    zero_neuron : bool, optional
        Add the neuron that handles n = 0 or m = 0 for mul/div; default: for log-domain tasks.

    Returns
    -------
    AnalyticMLP

    Raises
    ------
    ValueError
        Bad width (< 1, or not 6 |K| for 'exact'), a frequency that is a multiple of M,
        an unknown scheme, activation or branches option.

    Notes
    -----
    Under the exact scheme with the quadratic activation the logits of a decomposed pair
    are exactly (2/N) sum_{r in F^{-1}(q)} sum_{k in K} 3 cos(2 pi k (s - r) / M), with
    s = f1(n) + f2(m): 100 % accuracy whenever that sum peaks only at r = s — for an
    invertible F, whenever gcd(k, M) = 1 for some k in K, or K = {1..floor(M/2)}.

    Examples
    --------
    >>> from closedform import get_task
    >>> analytic_mlp(get_task("add", 13), phases="exact", frequencies=[5]).accuracy()
    1.0
    >>> net = analytic_mlp(get_task("mul", 13), phases="exact")
    >>> net.width, net.accuracy()
    (37, 1.0)
    """
    if not isinstance(task, Task):
        raise TypeError(f"`task` must be a closedform.Task; got {type(task).__name__}")
    activation = check_activation(activation)
    if branches not in ("all", "one"):
        raise ValueError(f"`branches` must be 'all' or 'one'; got {branches!r}")
    M = task.M
    if M < 2:
        raise ValueError(
            f"task {task.name!r} mod p = {task.p} has M = {M}: there is no non-constant wave "
            "to build a network from (use p >= 3)"
        )
    if zero_neuron is not None and not isinstance(zero_neuron, (bool, np.bool_)):
        raise TypeError(f"`zero_neuron` must be True, False or None; got {zero_neuron!r}")
    rng, seed_int = _rng(seed)
    if width is not None:
        width = _check_int("width", width, 1)
    if frequencies is not None:
        frequencies = _check_frequencies(frequencies, M)

    if isinstance(phases, str):
        if phases not in _SCHEMES:
            raise ValueError(
                f"`phases` must be 'random', 'exact' or an (N, 2) array; got {phases!r}"
            )
        scheme = phases
    else:
        scheme = "custom"
        ph = np.asarray(phases, dtype=float)
        if ph.ndim != 2 or ph.shape[1] != 2 or not np.isfinite(ph).all():
            raise ValueError(f"`phases` array must be finite with shape (N, 2); got {ph.shape}")
        if frequencies is None or len(frequencies) != len(ph):
            raise ValueError("`frequencies` must be given with one entry per row of `phases`")
        if width is not None and width != len(ph):
            raise ValueError(f"`width` = {width} must equal the number of phase rows {len(ph)}")
        k, phi1, phi2 = frequencies, ph[:, 0], ph[:, 1]

    if scheme == "random":
        N = 4 * task.p if width is None else width
        if frequencies is None:
            k = np.arange(1, N + 1) % M  # Gromov eq. 6-7: k = 1..N
        else:
            k = frequencies[np.arange(N) % len(frequencies)]
        phi1 = rng.uniform(0, 2 * np.pi, N)
        phi2 = rng.uniform(0, 2 * np.pi, N)
        seed_used = seed_int
    elif scheme == "exact":
        if frequencies is None:
            base = np.arange(1, M // 2 + 1)
            if width is None:
                K = base
            else:
                if width % 6:
                    raise ValueError(
                        f"`width` must be a multiple of 6 for the exact scheme (six phases per "
                        f"frequency); got {width}"
                    )
                K = base[np.arange(width // 6) % len(base)]
        else:
            K = frequencies
            if width is not None and width != 6 * len(K):
                raise ValueError(
                    f"`width` must be 6 x len(frequencies) = {6 * len(K)} for the exact scheme; "
                    f"got {width}"
                )
        k = np.repeat(K, 6)
        phi1 = np.tile(EXACT_PHASES[:, 0], len(K))
        phi2 = np.tile(EXACT_PHASES[:, 1], len(K))
        seed_used = None
    else:
        seed_used = None

    W1, W2 = _waves(task, k, phi1, phi2, branches, _complex)
    freqs = np.asarray(k, dtype=np.int64)
    phase_table = np.stack([phi1, phi2, phi1 + phi2], axis=1)
    if zero_neuron is None:
        zero_neuron = task.in_log_domain
    if zero_neuron:
        # its logit for q = 0, (2/N) * (N_waves / 2) * h^2 with h^2 >= 1, matches the
        # constructive peak of the wave neurons, which are silent on the zero rows (exact
        # scheme) or only noisy there (random scheme)
        W1, W2 = _add_zero_neuron(W1, W2, task.p, weight=len(k) / 2)
        freqs = np.append(freqs, -1)
        phase_table = np.vstack([phase_table, np.full((1, 3), np.nan)])
    return AnalyticMLP(
        task=task,
        W1=W1,
        W2=W2,
        frequencies=freqs,
        phases=phase_table,
        activation=activation,
        scheme=scheme,
        branches=branches,
        seed=seed_used,
        complex_weights=_complex,
    )


def analytic_complex_mlp(
    task: Task, width: int | None = None, frequencies=None, phases="random", seed=0, **kwargs
) -> AnalyticMLP:
    """The complex-weight network of Gromov App. A (eq. 20-26), quadratic activation.

    W1[i, n] = e^{i (2 pi k f1(n) / M + phi1)}, W1[i, p + m] = e^{i (2 pi k f2(m) / M + phi2)},
    W2[q, i] = sum_r e^{-i (2 pi k r / M + phi3)}; the logits are the real part of
    (2/N) W2 (W1 x)^2. With phi3 = phi1 + phi2 (eq. 26) the n + m - q wave adds up
    constructively; the other two (eq. 24) cancel under the exact scheme.

    Parameters are those of :func:`analytic_mlp` (activation fixed to quadratic).

    Examples
    --------
    >>> from closedform import get_task
    >>> analytic_complex_mlp(get_task("add", 11), phases="exact").accuracy()
    1.0
    """
    if "activation" in kwargs and kwargs["activation"] not in ("quadratic", "x^2"):
        raise ValueError("`activation` of the complex network (App. A) must be 'quadratic'")
    kwargs.pop("activation", None)
    return analytic_mlp(task, width, frequencies, phases, seed, _complex=True, **kwargs)
