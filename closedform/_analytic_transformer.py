"""Closed-form weights of the one-layer transformer of Nanda et al. (2023) (Syrkis & Søgaard 2024).

The network is the one ``trained`` trains (tokens n, m, '=' at positions 0, 1, 2; attention of
the '=' query over the three positions; residual; ReLU MLP without biases; unembedding), with
weights written down instead of learned. The algorithm is the one Nanda et al. (2023) read off
their trained model (Syrkis & Søgaard 2024 eq. 3-5): the embedding is a cos/sin table of each
key frequency, the MLP forms the wave of f1(n) + f2(m), and the unembedding reads
cos(ω (s − r)). Here the MLP's product comes from |x|, the even half of the ReLU
(docs/closedform.md, "One-layer transformer", derives it and bounds the approximate scheme).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ._evaluate import _TIE_ULPS, DEFAULT_CHUNK_BYTES, Evaluation, _Tally, check_pairs
from ._numtheory import _check_int
from ._tasks import Task

__all__ = ["AnalyticTransformer", "analytic_transformer", "transformer_forward"]

_A1 = 4.0 / (3.0 * math.pi)  # |cos x| = 2/π + Σ_n a_n cos(2 n x); a_1 = 4 / (3 π)
_ATTENTION = ("auto", "uniform", "positional")
_DEFAULT_N_FREQUENCIES = 5  # Nanda et al. (2023) found five key frequencies at p = 113
_SAFETY = 1e-9  # relative slack on the alias bound: a margin this thin is rounding, not proof


def alias_bound(J: int) -> float:
    """Sum of the Fourier coefficients of |cos| that alias onto the readout with J phases.

    E(J) = Σ_{n ≥ 2, n ≡ ±1 (mod J)} (4/π) / (4 n² − 1)
         = (cot(π / 2J) − cot(3π / 2J)) / J − 4 / (3π)
    (partial fractions and Σ_{m ∈ Z} 1 / (m + z) = π cot(π z)); E(J) ≈ π / (3 J²).
    """
    return (1 / math.tan(math.pi / (2 * J)) - 1 / math.tan(3 * math.pi / (2 * J))) / J - _A1


def _approximate_ok(J: int, M: int) -> bool:
    """Whether J phases provably separate the classes: a_1 (1 − cos 2π/M) > 2 E(J)."""
    return J >= 3 and _A1 * (1 - math.cos(2 * math.pi / M)) > 2 * alias_bound(J) * (1 + _SAFETY)


def _exact_ok(J: int, M: int) -> bool:
    """J a multiple of M (and >= 3): every aliased harmonic folds onto cos(ω (s − r))."""
    return J >= 3 and J % M == 0


def _self_cancelling(J: int) -> bool:
    """Odd J >= 5: Σ_j cos(2φ_j + x) cos(φ_j + y) = 0 for φ_j = 2π j / J (harmonics 1, 3)."""
    return J % 2 == 1 and J >= 5


def _choose_neurons(budget: int, M: int) -> int:
    """Default J <= budget: exact if a multiple of M fits, else approximate; among those the
    largest whose phases cancel ReLU's linear half by themselves, else the largest."""
    exact = [J for J in range(M, budget + 1, M) if _exact_ok(J, M)]
    if exact:
        odd = [J for J in exact if _self_cancelling(J)]
        return max(odd) if odd else max(exact)
    odd = [J for J in (budget, budget - 1) if _self_cancelling(J) and _approximate_ok(J, M)]
    return odd[0] if odd else budget


def min_neurons_per_frequency(M: int) -> int:
    """Fewest MLP neurons per frequency for which the construction is provably exact in argmax.

    The smallest J >= 3 with a_1 (1 − cos(2π/M)) > 2 E(J) (approximate scheme, about M/2 + 2
    for large M), or the smallest multiple of M that is >= 3 (exact scheme) if that is fewer.

    Examples
    --------
    >>> min_neurons_per_frequency(113), min_neurons_per_frequency(112), min_neurons_per_frequency(3)
    (57, 57, 3)
    """
    M = _check_int("M", M, 2)
    exact = M * math.ceil(3 / M)
    for J in range(3, exact):
        if _approximate_ok(J, M):
            return J
    return exact


def default_frequencies(M: int, K: int) -> np.ndarray:
    """K frequencies coprime with M that keep every pair of classes apart.

    k = 1 first; then, greedily, the unit k <= M/2 that maximises
    min_{t ≠ 0} Σ_k (1 − cos(2π k t / M)), the worst separation of classes t apart (the
    logits' main term, see :func:`analytic_transformer`). Low consecutive frequencies
    separate neighbouring classes poorly: at p = 113 (add) the set 1..5 has a smallest margin
    11 times smaller than this one's (0.50 against 5.78).

    Examples
    --------
    >>> default_frequencies(113, 5).tolist()
    [1, 31, 43, 46, 26]
    """
    M = _check_int("M", M, 2)
    units = np.array([k for k in range(1, M // 2 + 1) if math.gcd(k, M) == 1], dtype=np.int64)
    K = min(_check_int("K", K, 1), len(units))
    t = np.arange(1, M)
    chosen = [0]
    acc = 1 - np.cos(2 * np.pi * t * units[0] / M)
    while len(chosen) < K:
        best, best_val = -1, -np.inf
        for c0 in range(0, len(units), 256):  # chunks bound the (M, 256) table
            sep = 1 - np.cos(2 * np.pi * np.outer(t, units[c0 : c0 + 256]) / M)
            vals = (acc[:, None] + sep).min(0)
            vals[[j - c0 for j in chosen if c0 <= j < c0 + 256]] = -np.inf
            j = int(np.argmax(vals))
            if vals[j] > best_val + 1e-12:  # ties keep the smaller k: reproducible
                best, best_val = c0 + j, float(vals[j])
        chosen.append(best)
        acc = acc + 1 - np.cos(2 * np.pi * t * units[best] / M)
    return units[chosen]


@dataclass(frozen=True, eq=False)
class AnalyticTransformer:
    """A closed-form one-layer transformer in the shapes of ``trained``'s ``"transformer"``.

    Attributes
    ----------
    task : Task
    weights : dict of str -> ndarray (float64)
        ``W_E`` (d, p+1), ``W_pos`` (3, d), ``W_Q``, ``W_K``, ``W_V`` (heads, d/heads, d),
        ``W_O`` (d, d), ``W_in`` (d_mlp, d), ``W_out`` (d, d_mlp), ``W_U`` (d, p).
    frequencies : ndarray of int
        The key frequencies k (mod M), one block of neurons each.
    neurons_per_frequency : int
        J: neuron j of a block has phase φ_j = 2π j / J for odd J >= 5, else π j / J (the
        same set modulo π).
    scheme : {'exact', 'approximate'}
        'exact' when M divides J (the logits are then exactly a positive multiple of
        Σ_k |cos δ_k| cos(ω_k (s − r))); else 'approximate' with the alias bound
        :attr:`alias_error` (correct argmax proved all the same).
    linear_half : {'phases', 'unembedding'}
        What removes the linear half u/2 of ReLU(u): the phases themselves (odd J >= 5), or
        W_U reading the attention output's coordinates with the opposite sign.
    attention : {'uniform', 'positional'}
    attention_scale : float
        L, the score gap of a positional head (unused by uniform attention).
    scale : float
        Factor on W_E, W_in, W_out and the readout of W_U: logits scale as scale⁴.
    shift : float
        τ: the m-token's waves are read at f2(m) + τ (1/2 when M is even, else 0).
    zero_logit : float
        Weight of the zero direction on class 0 (mul/div; 0 otherwise).
    d_model, heads, d_mlp : int
    layout : dict
        Residual coordinates: ``"sum"`` (attention output, 2 per frequency; also the n-token
        embedding), ``"mlp_out"`` (2 per frequency; also the m-token embedding when it is not
        a linear image of the n one), ``"zero"`` and ``"position"``.
    """

    task: Task
    weights: dict = field(repr=False)
    frequencies: np.ndarray
    neurons_per_frequency: int
    scheme: str
    linear_half: str
    attention: str
    attention_scale: float
    scale: float
    shift: float
    zero_logit: float
    d_model: int
    heads: int
    d_mlp: int
    layout: dict = field(default_factory=dict, repr=False)

    @property
    def p(self) -> int:
        return self.task.p

    @property
    def alias_error(self) -> float:
        """E(J) of :func:`alias_bound`, 0 for the exact scheme."""
        if self.scheme == "exact":
            return 0.0
        return alias_bound(self.neurons_per_frequency)

    def logits(self, n=None, m=None) -> np.ndarray:
        """float64 logits (B, p) of pairs (n, m); all p² pairs (row n p + m) when both are None."""
        n, m = self._pairs(n, m)
        return _forward(self.weights, self.p, self.heads, n, m)[0]

    def hidden(self, n=None, m=None) -> dict[str, np.ndarray]:
        """As ``trained``'s ``hidden=True``: ``"attn"`` (B, heads, 3), ``"mlp_pre"``,
        ``"mlp_post"`` (B, d_mlp), at the '=' position."""
        n, m = self._pairs(n, m)
        return _forward(self.weights, self.p, self.heads, n, m, hidden=True)[1]

    def evaluate(self, chunk_bytes: int = DEFAULT_CHUNK_BYTES) -> Evaluation:
        """Accuracy and margin over all p² pairs (ties count as wrong), chunked over n."""
        if isinstance(chunk_bytes, bool) or not isinstance(chunk_bytes, (int, np.integer)):
            raise TypeError(f"`chunk_bytes` must be an integer; got {chunk_bytes!r}")
        if chunk_bytes < 1:
            raise ValueError(f"`chunk_bytes` must be >= 1; got {chunk_bytes}")
        return _evaluate(self, int(chunk_bytes))

    def accuracy(self) -> float:
        """Share of defined pairs classified correctly (argmax, ties wrong)."""
        return self.evaluate().accuracy

    def config(self) -> dict:
        """The JSON config of this network's model directory (read by ``trained.load_model``)."""
        from ._tasks import task_to_dict

        return {
            "model": "transformer",
            "source": "analytic",
            "p": self.task.p,
            "task": task_to_dict(self.task),
            "d_model": self.d_model,
            "heads": self.heads,
            "d_mlp": self.d_mlp,
            "attn_only": False,
            "n_classes": [self.task.p],
            "activation": "relu",
            "frequencies": [int(k) for k in self.frequencies],
            "neurons_per_frequency": self.neurons_per_frequency,
            "scheme": self.scheme,
            "linear_half": self.linear_half,
            "attention": self.attention,
            "attention_scale": self.attention_scale,
            "scale": self.scale,
            "shift": self.shift,
            "zero_logit": self.zero_logit,
        }

    def save(self, path) -> str:
        """Write a model directory (config.json + weights.safetensors); returns its path."""
        from . import save_model_dir  # the package's public writer, wherever it lives

        return str(save_model_dir(path, self.config(), self.weights))

    def _pairs(self, n, m):
        return check_pairs(n, m, self.p, all_if_none=True)


# -- forward and evaluation ------------------------------------------------------------------


def _forward(W: dict, p: int, heads: int, n, m, hidden: bool = False):
    """trained._models.forward for the transformer, in numpy (same order of operations)."""
    W_E, W_pos = W["W_E"], W["W_pos"]
    d = W_E.shape[0]
    d_head = d // heads
    emb = W_E.T  # (p+1, d)
    x2 = emb[p] + W_pos[2]
    q = np.einsum("ihd,d->ih", W["W_Q"], x2) / math.sqrt(d_head)
    qK = np.einsum("ih,ihd->id", q, W["W_K"])
    s_tok = emb @ qK.T  # (p+1, heads)
    s_pos = W_pos @ qK.T  # (3, heads)
    B = len(n)
    scores = np.stack(
        [
            s_tok[n] + s_pos[0],
            s_tok[m] + s_pos[1],
            np.broadcast_to(s_tok[p] + s_pos[2], (B, heads)),
        ],
        -1,
    )
    scores = scores - scores.max(-1, keepdims=True)
    e = np.exp(scores)
    attn = e / e.sum(-1, keepdims=True)  # (B, heads, 3)
    W_OV = np.einsum("dih,ihe->ide", W["W_O"].reshape(d, heads, d_head), W["W_V"])
    ov_tok = np.einsum("ide,ve->vid", W_OV, emb)  # (p+1, heads, d)
    ov_pos = np.einsum("ide,ke->kid", W_OV, W_pos)  # (3, heads, d)
    attn_out = attn[..., 2] @ (ov_tok[p] + ov_pos[2])  # (B, d): heads add up
    for h in range(heads):  # a (B, d) gather per head, not a (B, heads, d) one
        for j, tok in ((0, n), (1, m)):
            table = np.ascontiguousarray(ov_tok[:, h] + ov_pos[j, h])  # (p+1, d)
            attn_out += attn[:, h, j, None] * table[tok]
    resid = x2 + attn_out
    out = {"attn": attn}
    if "W_in" in W:  # attention-only networks have no MLP
        pre = resid @ W["W_in"].T
        post = np.maximum(pre, 0.0)
        resid = resid + post @ W["W_out"].T
        out.update(mlp_pre=pre, mlp_post=post)
    logits = resid @ W["W_U"]
    return logits, (out if hidden else None)


def _logit_bound(W: dict, p: int, heads: int) -> float:
    """Largest possible |logit|: attention weights are convex, so each head's output is bounded
    by its largest value row; ties closer than a few ulp of this are rounding."""
    W_E, W_pos = W["W_E"], W["W_pos"]
    d = W_E.shape[0]
    d_head = d // heads
    W_OV = np.einsum("dih,ihe->ide", W["W_O"].reshape(d, heads, d_head), W["W_V"])
    rows = np.concatenate([W_E.T[:p] + W_pos[0], W_E.T[:p] + W_pos[1], (W_E.T[p] + W_pos[2])[None]])
    values = np.abs(np.einsum("ide,ve->vid", W_OV, rows))  # (2p+1, heads, d)
    r = np.abs(W_E.T[p] + W_pos[2]) + values.max(0).sum(0)
    post = np.abs(W["W_in"]) @ r
    resid = r + np.abs(W["W_out"]) @ post
    return float((np.abs(W["W_U"]).T @ resid).max())


def _evaluate(net: AnalyticTransformer, chunk_bytes: int) -> Evaluation:
    task, p, W = net.task, net.p, net.weights
    tol = _TIE_ULPS * np.finfo(np.float64).eps * _logit_bound(W, p, net.heads)
    width = max(net.heads * net.d_model, net.d_mlp, p)
    rows = max(1, min(p, chunk_bytes // max(1, 8 * p * width)))
    tally = _Tally(task, tol)
    grid = np.arange(p)
    for n0 in range(0, p, rows):
        n1 = min(p, n0 + rows)
        n = np.repeat(np.arange(n0, n1), p)
        m = np.tile(grid, n1 - n0)
        idx = tally.defined(n0, n1)
        if idx.size:
            tally.add(n0, n1, _forward(W, p, net.heads, n[idx], m[idx])[0], defined_only=True)
    return tally.result()


# -- construction ----------------------------------------------------------------------------


def _positive_float(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"`{name}` must be a number; got {type(value).__name__} {value!r}")
    value = float(value)
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"`{name}` must be a positive finite number; got {value}")
    return value


def _second_wave(task: Task) -> str:
    """How the m-token's waves relate to the n-token's: 'same', 'conjugate' or 'own'."""
    f1, f2, M = task.f1, task.f2, task.M
    if np.array_equal(f1, f2):
        return "same"
    both = (f1 >= 0) == (f2 >= 0)
    if both.all() and np.array_equal(np.where(f1 >= 0, (-f1) % M, -1), f2):
        return "conjugate"  # f2 = −f1: (cos, −sin) of the n-token's wave
    return "own"


def _check_frequencies(frequencies, M: int) -> np.ndarray:
    k = np.atleast_1d(np.asarray(frequencies))
    if k.size == 0:
        raise ValueError(f"`frequencies` must be a non-empty 1-D list; got {frequencies!r}")
    if k.dtype == object or not np.issubdtype(k.dtype, np.integer):
        if isinstance(frequencies, (str, bytes)) or not np.issubdtype(k.dtype, np.number):
            raise TypeError(f"`frequencies` must be a list of integers; got {frequencies!r}")
        raise TypeError(f"`frequencies` must hold integers; got {frequencies!r}")
    if k.ndim != 1 or k.size == 0:
        raise ValueError(f"`frequencies` must be a non-empty 1-D list; got {frequencies!r}")
    k = k.astype(np.int64)
    bad = k[k % M == 0]
    if bad.size:
        raise ValueError(
            f"`frequencies` must not contain a multiple of M = {M} (a constant wave); "
            f"got {int(bad[0])}"
        )
    canon = np.minimum(k % M, (-k) % M)  # k and M − k are the same wave up to a reflection
    uniq, counts = np.unique(canon, return_counts=True)
    if (counts > 1).any():
        dup = int(uniq[counts > 1][0])
        raise ValueError(
            f"`frequencies` must be distinct modulo ±M (M = {M}); {dup} appears more than once "
            f"(k and M − k count as the same frequency): got {k.tolist()}"
        )
    return k % M


def _active(k: np.ndarray, d: np.ndarray, M: int, two_tau: int) -> np.ndarray:
    """(len(d), len(k)) bool: cos δ_k ≠ 0 for δ_k = π k (d − τ) / M, in integers:
    cos(π N / 2M) = 0 iff N ≡ M (mod 2M), N = k (2d − 2τ)."""
    N = np.outer(2 * d - two_tau, k)
    return N % (2 * M) != M


def _check_separation(task: Task, k: np.ndarray, two_tau: int) -> None:
    """Every decomposed pair needs active frequencies whose gcd with M is 1 (see Notes)."""
    M = task.M
    f1, f2 = task.f1[task.f1 >= 0], task.f2[task.f2 >= 0]
    if f1.size == 0 or f2.size == 0:
        return
    d = np.unique((f1[:, None] - f2[None, :]) % M)
    act = _active(k, d, M, two_tau)
    for i, di in enumerate(d):
        g = int(np.gcd.reduce(np.append(k[act[i]], M)))
        if g > 1:
            raise ValueError(
                f"`frequencies` {k.tolist()} cannot separate every class of {task!r}: for the "
                f"pairs with f1(n) − f2(m) ≡ {int(di)} (mod {M}) the frequencies with "
                f"cos δ ≠ 0 are {k[act[i]].tolist()}, all multiples of {g} modulo M, so "
                f"s and s + {M // g} tie; include a frequency coprime with M = {M}"
            )


def _capacity(d_model: int, heads: int, d_mlp: int, J_lo: int, z: int, positional: bool):
    """Largest number of frequencies each shape allows: (mlp, residual, heads)."""
    d_head = d_model // heads
    mlp = d_mlp // J_lo
    resid = max(0, (d_model - z - (3 if positional else 0)) // 4)
    groups = heads // 2 if positional else heads
    head = sum(max(0, (d_head - (z if g == 0 else 0)) // 2) for g in range(groups))
    return mlp, resid, head


def _assign_groups(K: int, d_head: int, groups: int, z: int) -> list[list[int]]:
    """Frequencies to head groups, the freest group first (group 0 also carries the zero)."""
    free = [d_head - (z if g == 0 else 0) for g in range(groups)]
    out: list[list[int]] = [[] for _ in range(groups)]
    for i in range(K):
        g = int(np.argmax(free))
        out[g].append(i)
        free[g] -= 2
    return out


def analytic_transformer(
    task: Task,
    frequencies=None,
    *,
    d_model: int = 128,
    heads: int = 4,
    d_mlp: int = 512,
    activation: str = "relu",
    neurons_per_frequency: int | None = None,
    attention: str = "auto",
    attention_scale: float = 4.0,
    scale: float = 1.0,
) -> AnalyticTransformer:
    """Closed-form weights of the one-layer transformer (Nanda et al. 2023) for ``task``.

    Parameters
    ----------
    task : Task
        A task of the analytic class whose outer map F is invertible (every task but
        ``square_of_sum``; custom tasks with an injective F).
    frequencies : int array, optional
        Key frequencies k (distinct modulo ±M, none a multiple of M). Default:
        :func:`default_frequencies` (M, min(5, fit)), ``fit`` being the most these shapes
        hold.
    d_model, heads, d_mlp : int
        The trained model's shapes (Nanda et al. 2023: 128, 4, 512); d_model % heads == 0.
    activation : {'relu'}
        The trained transformer's MLP is ReLU; no other activation is built.
    neurons_per_frequency : int, optional
        J, MLP neurons per frequency. A multiple of M is exact; any
        J >= :func:`min_neurons_per_frequency` is provably correct. Default: the largest
        multiple of M that fits d_mlp, else d_mlp // len(frequencies); in both cases an odd
        J >= 5 is preferred (one neuron less at most, or a smaller odd multiple of M): its
        phases cancel ReLU's linear half by themselves.
    attention : {'auto', 'uniform', 'positional'}
        'uniform': W_Q = W_K = 0, every head averages the three positions (needs f1 = f2 and
        M odd). 'positional': head pairs score position 0 (resp. 1) L higher than the others
        through W_pos, and W_V undoes the softmax's leak exactly (needs heads >= 2).
        'auto': uniform when the task allows it.
    attention_scale : float
        L > 0, the positional heads' score gap: the attention weights are
        (e^L, 1, 1) / (e^L + 2), a leak of 2 / (e^L + 2) <= 2 e^{-L} onto the other positions,
        which W_V compensates exactly. Larger L: larger W_Q, W_K, and W_V closer to a plain
        copy; the logits do not depend on L.
    scale : float
        Factor on W_E, W_in, W_out and the readout of W_U: the logits and the margin scale
        as scale⁴. At scale 1, ‖W_in‖ = ‖W_out‖ = √(K J), which is the norm of the trained
        initialisation N(0, 1/d_model), √d_mlp, when K J ≈ d_mlp; ‖W_E‖ = scale √(K p)
        matches its √(p + 1) at scale = 1/√K.

    Returns
    -------
    AnalyticTransformer

    Raises
    ------
    TypeError
        ``task`` not a Task, a non-integer shape or frequency, a non-numeric scale.
    ValueError
        A non-invertible F, bad shapes (d_model % heads, too small for one frequency), too
        many frequencies for the shapes (the message gives the most that fit), a multiple of
        M or a duplicate frequency, frequencies that cannot separate every class, a J that
        is neither a multiple of M nor >= the proven minimum, an unknown option.

    Notes
    -----
    With attention output w_k = e^{iω f1(n)} + e^{iω (f2(m) + τ)} = 2 cos δ e^{iθ} on two
    residual coordinates per frequency (θ = ω (s + τ) / 2, δ = ω (f1 − f2 − τ) / 2,
    ω = 2π k / M), neuron j computes u_j = 2 cos δ cos(θ + φ_j) (times scale²). ReLU(u) =
    (u + |u|) / 2. Read out with cos(2φ_j + ω (r + τ)), the linear half sums to zero over
    φ_j = 2π j / J for odd J >= 5 (only harmonics 1 and 3 of φ_j appear); for other J
    (φ_j = π j / J) W_U cancels it exactly on the coordinates of w. The even half |u_j|
    gives the second harmonic of |cos(θ + φ)|, a_1 = 4 / (3π):

        logit(F(r)) = scale⁴ Σ_k |cos δ_k| (J / 2) [a_1 cos(ω_k (s − r)) + e_k(r)],

    |e_k(r) − e_k(r')| <= 2 E(J) (:func:`alias_bound`), e_k = 0 and a_1 replaced by a
    positive constant when M divides J. Every term of logit(s) − logit(r) is then 0 or
    >= |cos δ_k| (J/2) [a_1 (1 − cos 2π/M) − 2 E(J)] > 0, and some term is positive when the
    frequencies with cos δ_k ≠ 0 have gcd 1 with M (checked): 100 % accuracy on every
    decomposed pair. τ = 1/2 for even M keeps cos δ_k ≠ 0 for every odd k. For mul/div a zero
    direction of W_E carries [n = 0] + [m = 0] to class 0 with weight
    ``zero_logit`` = scale⁴ len(K) J (a_1 + E(J)) / 2, twice the largest wave logit of a
    pair with one zero factor (|w_k| = 1 there).

    Examples
    --------
    >>> from closedform import get_task
    >>> net = analytic_transformer(get_task("add", 113), [35, 33, 9, 48, 25])
    >>> net.weights["W_E"].shape, net.neurons_per_frequency, net.scheme
    ((128, 114), 101, 'approximate')
    >>> analytic_transformer(get_task("sub", 13), [3]).accuracy()
    1.0
    """
    if not isinstance(task, Task):
        raise TypeError(f"`task` must be a closedform.Task; got {type(task).__name__}")
    if not task.invertible:
        raise ValueError(
            f"`task` {task!r} has a non-invertible outer map F: the logit of a class would sum "
            f"the waves of its branches, and the pair-dependent amplitudes |cos δ_k| of this "
            f"network keep that sum from peaking at the right class (use analytic_mlp)"
        )
    d_model = _check_int("d_model", d_model, 1)
    heads = _check_int("heads", heads, 1)
    d_mlp = _check_int("d_mlp", d_mlp, 1)
    if d_model % heads:
        raise ValueError(f"`d_model` = {d_model} must be divisible by `heads` = {heads}")
    if not isinstance(activation, str):
        raise TypeError(f"`activation` must be a string; got {type(activation).__name__}")
    if activation != "relu":
        raise ValueError(
            f"`activation` must be 'relu' (the trained transformer's MLP); got {activation!r}"
        )
    if not isinstance(attention, str) or attention not in _ATTENTION:
        raise ValueError(f"`attention` must be one of {_ATTENTION}; got {attention!r}")
    attention_scale = _positive_float("attention_scale", attention_scale)
    scale = _positive_float("scale", scale)
    if neurons_per_frequency is not None:
        neurons_per_frequency = _check_int("neurons_per_frequency", neurons_per_frequency, 3)

    p, M = task.p, task.M
    if M < 2:
        raise ValueError(f"`task` {task!r} has M = {M}: no non-constant frequency exists")
    two_tau = 1 if M % 2 == 0 else 0
    second = _second_wave(task)
    symmetric = second == "same" and two_tau == 0
    if attention == "auto":
        attention = "uniform" if symmetric else "positional"
    elif attention == "uniform" and not symmetric:
        why = "f2 differs from f1" if not second == "same" else f"M = {M} is even"
        raise ValueError(
            f"`attention` = 'uniform' cannot build {task!r}: {why}, so the two tokens need "
            f"different maps; use 'positional'"
        )
    positional = attention == "positional"
    if positional and heads < 2:
        raise ValueError(
            f"`heads` must be >= 2 for {task!r} (positional attention: one head per input "
            f"position); got {heads}"
        )
    z = 1 if task.in_log_domain else 0
    d_head = d_model // heads

    J_lo = min_neurons_per_frequency(M) if neurons_per_frequency is None else neurons_per_frequency
    if neurons_per_frequency is not None and not (
        _exact_ok(neurons_per_frequency, M) or _approximate_ok(neurons_per_frequency, M)
    ):
        raise ValueError(
            f"`neurons_per_frequency` must be a multiple of M = {M} (exact) or >= "
            f"{min_neurons_per_frequency(M)} (the alias bound); got {neurons_per_frequency}"
        )
    caps = _capacity(d_model, heads, d_mlp, J_lo, z, positional)
    fit = min(caps)

    def too_many(K: int) -> ValueError:
        return ValueError(
            f"these shapes fit at most {fit} frequencies for {task!r}; got {K}: d_mlp = {d_mlp} "
            f"at >= {J_lo} neurons per frequency fits {caps[0]}, d_model = {d_model} at 4 "
            f"residual dimensions per frequency (+{z} zero, +{3 * positional} position) fits "
            f"{caps[1]}, {heads} heads of {d_head} dimensions fit {caps[2]}"
        )

    if frequencies is None:
        if fit < 1:
            raise too_many(1)
        k = default_frequencies(M, min(_DEFAULT_N_FREQUENCIES, fit))
    else:
        k = _check_frequencies(frequencies, M)
        if len(k) > fit:
            raise too_many(len(k))
    K = len(k)
    _check_separation(task, k, two_tau)

    J = _choose_neurons(d_mlp // K, M) if neurons_per_frequency is None else neurons_per_frequency
    scheme = "exact" if _exact_ok(J, M) else "approximate"
    linear_half = "phases" if _self_cancelling(J) else "unembedding"

    # residual layout: [sum | mlp_out (= m-token waves when 'own') | zero | positions]
    S = np.arange(2 * K)
    O = 2 * K + np.arange(2 * K)
    Z = 4 * K
    P = 4 * K + z + np.arange(3)
    d, tau = d_model, two_tau / 2
    omega = 2 * np.pi * k / M  # (K,)
    W_E = np.zeros((d, p + 1))
    W_pos = np.zeros((3, d))
    W_Q = np.zeros((heads, d_head, d))
    W_K = np.zeros((heads, d_head, d))
    W_V = np.zeros((heads, d_head, d))
    W_O = np.zeros((d, d))
    W_in = np.zeros((d_mlp, d))
    W_out = np.zeros((d, d_mlp))
    W_U = np.zeros((d, p))

    # embedding: the n-token's waves on S, the m-token's on O when they are no linear image
    for f, rows in ((task.f1, S), (task.f2, O) if second == "own" else (None, None)):
        if f is None:
            continue
        ok = np.flatnonzero(f >= 0)
        ang = np.outer(omega, f[ok])  # (K, n_ok)
        W_E[rows[0::2][:, None], ok] = scale * np.cos(ang)
        W_E[rows[1::2][:, None], ok] = scale * np.sin(ang)
    if z:
        W_E[Z, 0] = 1.0  # the zero token (f1, f2 undefined at 0)

    # U, V: embedding -> attention output on S (and Z), for the n and the m position
    U = np.zeros((d, d))
    V = np.zeros((d, d))
    U[S, S] = 1.0
    c, s_ = np.cos(omega * tau), np.sin(omega * tau)
    src = O if second == "own" else S
    refl = -1.0 if second == "conjugate" else 1.0  # (cos, sin) of −f1 is (cos, −sin) of f1
    for i in range(K):
        # rotation by ω τ of the m-token's (cos, sin)
        xc, xs = src[2 * i], src[2 * i + 1]
        V[S[2 * i], xc], V[S[2 * i], xs] = c[i], -s_[i] * refl
        V[S[2 * i + 1], xc], V[S[2 * i + 1], xs] = s_[i], c[i] * refl
    if z:
        U[Z, Z] = V[Z, Z] = 1.0

    groups = _assign_groups(K, d_head, heads // 2 if positional else heads, z)
    if positional:
        q = math.sqrt(attention_scale * math.sqrt(d_head))  # score = q² / √d_head = L
        for j in range(3):
            W_pos[j, P[j]] = 1.0
        hi = math.exp(attention_scale) / (math.exp(attention_scale) + 2)
        lo = 1.0 / (math.exp(attention_scale) + 2)
        det = hi * hi - lo * lo
        # head A weights (hi, lo, lo), head B (lo, hi, lo): solve hi·OV_A + lo·OV_B = U and
        # lo·OV_A + hi·OV_B = V so the leak cancels exactly
        OV_A = (hi * U - lo * V) / det
        OV_B = (hi * V - lo * U) / det
        pairs = [((2 * g, OV_A, 0), (2 * g + 1, OV_B, 1)) for g in range(len(groups))]
    else:
        pairs = [((h, 3.0 * U, None),) for h in range(heads)]  # uniform: 1/3 per position
    for g, members in enumerate(pairs):
        out_rows = np.concatenate([S[[2 * i, 2 * i + 1]] for i in groups[g]] or [[]]).astype(int)
        if z and g == 0:
            out_rows = np.append(out_rows, Z)
        for h, OV, pos in members:
            W_V[h, : len(out_rows)] = OV[out_rows]
            W_O[out_rows, h * d_head + np.arange(len(out_rows))] = 1.0
            if pos is not None:
                W_Q[h, 0, P[2]] = q
                W_K[h, 0, P[pos]] = q

    # MLP: neuron j of block i reads Re(e^{iφ_j} w_i), writes (cos 2φ_j, −sin 2φ_j) to O_i.
    # Odd J >= 5: φ_j = 2π j / J, the same phases as π j' / J modulo π (j' = 2j mod J), and
    # the readout's first and third harmonics sum to zero over them, so ReLU's linear half
    # cancels by itself. Otherwise φ_j = π j / J and W_U cancels it.
    phi = (2 if linear_half == "phases" else 1) * np.pi * np.arange(J) / J
    for i in range(K):
        rows = i * J + np.arange(J)
        W_in[rows, S[2 * i]] = scale * np.cos(phi)
        W_in[rows, S[2 * i + 1]] = -scale * np.sin(phi)
        W_out[O[2 * i], rows] = scale * np.cos(2 * phi)
        W_out[O[2 * i + 1], rows] = -scale * np.sin(2 * phi)
        # readout: class F(r) reads cos(ω (r + τ)), sin(ω (r + τ))
        ang = omega[i] * (np.arange(M) + tau)
        W_U[O[2 * i], task.F] = scale * np.cos(ang)
        W_U[O[2 * i + 1], task.F] = scale * np.sin(ang)
    if linear_half == "unembedding":
        R = W_U.T @ W_out  # (p, d_mlp): the effective readout of the neurons
        # cancel the linear half of ReLU(u) = u/2 + |u|/2 through the coordinates the MLP reads
        W_U[S] = -0.5 * (R @ W_in[:, S]).T
    zero_logit = 0.0
    if z:
        # a pair with one zero has |w_k| = 1: its wave logits are at most
        # scale⁴ Σ_k (J/4)(a_1 + E(J)); twice that keeps class 0 ahead by as much again
        zero_logit = scale**4 * K * J * (_A1 + alias_bound(J)) / 2
        W_U[Z, 0] = zero_logit

    weights = {
        "W_E": W_E,
        "W_pos": W_pos,
        "W_Q": W_Q,
        "W_K": W_K,
        "W_V": W_V,
        "W_O": W_O,
        "W_in": W_in,
        "W_out": W_out,
        "W_U": W_U,
    }
    layout = {
        "sum": S.tolist(),
        "mlp_out": O.tolist(),
        "zero": [Z] if z else [],
        "position": P.tolist() if positional else [],
    }
    return AnalyticTransformer(
        task=task,
        weights=weights,
        frequencies=k.astype(np.int64),
        neurons_per_frequency=int(J),
        scheme=scheme,
        linear_half=linear_half,
        attention=attention,
        attention_scale=attention_scale,
        scale=scale,
        shift=tau,
        zero_logit=float(zero_logit),
        d_model=d_model,
        heads=heads,
        d_mlp=d_mlp,
        layout=layout,
    )


def transformer_forward(weights: dict, p: int, heads: int, n, m, *, hidden: bool = False):
    """The one-layer transformer in numpy: logits (and hidden activations) for pairs (n, m).

    The same function of the same named weights as ``trained``'s transformer forward (Nanda et
    al. 2023: tokens n, m, '=' at positions 0, 1, 2; the last position read; no LayerNorm, no
    biases, ReLU MLP), in the same order of operations, so analytic and trained transformers
    are evaluated alike without torch. ``weights`` without ``W_in``/``W_out`` is attention-only.

    Parameters
    ----------
    weights : dict of str -> ndarray
        ``W_E (d, p+1)``, ``W_pos (3, d)``, ``W_Q``/``W_K``/``W_V (heads, d/heads, d)``,
        ``W_O (d, d)``, ``W_in (d_mlp, d)``, ``W_out (d, d_mlp)``, ``W_U (d, n_out)``.
    p, heads : int
    n, m : int arrays, shape (B,)
    hidden : bool
        Also return ``attn`` (B, heads, 3), ``mlp_pre`` and ``mlp_post`` (B, d_mlp).

    Returns
    -------
    logits : ndarray (B, n_out), or (logits, hidden dict) with ``hidden=True``

    Examples
    --------
    >>> from closedform import analytic_transformer, get_task
    >>> net = analytic_transformer(get_task("add", 7), [1], d_model=32, heads=2, d_mlp=64)
    >>> int(transformer_forward(net.weights, 7, 2, [3], [5]).argmax())
    1
    """
    n, m = check_pairs(n, m, p)
    logits, out = _forward(weights, p, heads, n, m, hidden=hidden)
    return (logits, out) if hidden else logits
