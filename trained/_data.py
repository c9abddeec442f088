"""Datasets: every pair (n, m) of a closedform task, split into train and test by a seed.

Undefined pairs (``task.table == -1``, e.g. division by zero) are left out of both splits.
The miiii task (Syrkis 2024) is multitask: x = x0 + x1 p, one label x mod q per prime q < p.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Dataset", "make_dataset", "miiii_primes"]

MIIII_MASKED = (2, 3, 5, 7)
MIIII_VARIANTS = ("full", "masked", "shuffled")
MIIII_VALID = 1000


@dataclass(frozen=True, eq=False)
class Dataset:
    """Pairs, labels and the split of one task.

    Attributes
    ----------
    p : int
    inputs : ndarray of int64, shape (n_samples, 2)
        The two input tokens (n, m), or (x0, x1) for miiii.
    labels : ndarray of int64, shape (n_samples,) or (n_samples, n_tasks)
    pair_index : ndarray of int64, shape (n_samples,)
        Row of each sample in the (p*p,) grid of all pairs: ``n * p + m``.
    train, test : ndarray of int64
        Indices into the samples; disjoint, together all samples (miiii: plus ``valid``).
    valid : ndarray of int64 or None
        Validation indices (miiii: 1000 samples), else None.
    n_classes : tuple of int
        Classes per output head: ``(p,)``, or the primes q for miiii.
    """

    p: int
    inputs: np.ndarray
    labels: np.ndarray
    pair_index: np.ndarray
    train: np.ndarray
    test: np.ndarray
    valid: np.ndarray | None
    n_classes: tuple

    @property
    def multitask(self) -> bool:
        return self.labels.ndim == 2


def miiii_primes(p: int, variant: str = "full") -> tuple[int, ...]:
    """Primes q < p of the miiii task (Syrkis 2024), without 2, 3, 5, 7 for ``'masked'``.

    Examples
    --------
    >>> miiii_primes(11)
    (2, 3, 5, 7)
    >>> miiii_primes(17, "masked")
    (11, 13)
    """
    from closedform import is_prime

    if variant not in MIIII_VARIANTS:
        raise ValueError(f"`variant` must be one of {MIIII_VARIANTS}; got {variant!r}")
    qs = tuple(q for q in range(2, p) if is_prime(q))
    if variant == "masked":
        qs = tuple(q for q in qs if q not in MIIII_MASKED)
    return qs


def _split(n: int, alpha: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    perm = np.random.default_rng(seed).permutation(n)
    n_train = int(round(alpha * n))
    if not 1 <= n_train < n:
        raise ValueError(f"`alpha` {alpha} leaves an empty train or test set for {n} samples")
    return np.sort(perm[:n_train]), np.sort(perm[n_train:])


def make_dataset(task: str, p: int, alpha: float, seed: int, task_params=None) -> Dataset:
    """All defined pairs of a task with a seeded train/test split.

    Parameters
    ----------
    task : str
        A ``closedform.TASK_NAMES`` name, ``'miiii'`` or ``'cubic'`` (n^3 + n m^2 + m mod p,
        Gromov App. D: not of the form F(f1(n) + f2(m)), so closedform has no network for it).
    p : int
    alpha : float
        Training fraction in (0, 1): ``round(alpha * n_defined)`` samples train.
    seed : int
        Seed of the split (``numpy.random.default_rng``).
    task_params : dict, optional
        Passed to ``closedform.get_task``; for miiii ``{"variant": "full"|"masked"|"shuffled"}``.

    Returns
    -------
    Dataset

    Examples
    --------
    >>> ds = make_dataset("div", 5, 0.5, seed=0)
    >>> len(ds.train) + len(ds.test)   # m = 0 is undefined: 5 * 4 pairs
    20
    >>> ds = make_dataset("add", 7, 0.5, seed=0)
    >>> bool((ds.labels == ds.inputs.sum(axis=1) % 7).all()), len(ds.train)
    (True, 24)
    """
    task_params = dict(task_params or {})
    if task == "miiii":
        variant = task_params.pop("variant", "full")
        if task_params:
            raise ValueError(f"`task_params` of miiii takes only 'variant'; got {task_params}")
        qs = miiii_primes(p, variant)
        if not qs:
            raise ValueError(f"`p` {p} leaves no prime for miiii variant {variant!r}")
        x0, x1 = np.meshgrid(np.arange(p), np.arange(p), indexing="ij")
        x0, x1 = x0.ravel(), x1.ravel()
        x = x0 + x1 * p
        labels = np.stack([x % q for q in qs], axis=1).astype(np.int64)
        rng = np.random.default_rng(seed)
        perm = rng.permutation(p * p)  # the split: the same for every variant at one seed
        if variant == "shuffled":  # Syrkis' T_basis: labels shuffled across samples
            labels = labels[rng.permutation(len(labels))]
        n_train = int(round(alpha * p * p))
        n_valid = min(MIIII_VALID, (p * p - n_train) // 2)
        train = np.sort(perm[:n_train])
        valid = np.sort(perm[n_train : n_train + n_valid])
        test = np.sort(perm[n_train + n_valid :])
        inputs = np.stack([x0, x1], axis=1).astype(np.int64)
        return Dataset(p, inputs, labels, x0 * p + x1, train, test, valid, qs)

    if task == "cubic":
        if task_params:
            raise ValueError(f"`task_params`: task 'cubic' takes none; got {task_params}")
        n, m = np.divmod(np.arange(p * p), p)
        labels = (n**3 + n * m**2 + m) % p
        train, test = _split(p * p, alpha, seed)
        inputs = np.stack([n, m], axis=1).astype(np.int64)
        return Dataset(p, inputs, labels.astype(np.int64), n * p + m, train, test, None, (p,))

    from closedform import get_task

    t = get_task(task, p, **task_params)
    n, m = np.nonzero(t.table >= 0)
    inputs = np.stack([n, m], axis=1).astype(np.int64)
    labels = t.table[n, m].astype(np.int64)
    train, test = _split(len(labels), alpha, seed)
    return Dataset(p, inputs, labels, n * p + m, train, test, None, (p,))
