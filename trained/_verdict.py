"""One-line verdict on a finished run: grokked, memorized, did not fit, or dead.

Pure functions of a run's metrics history (the records of ``metrics.jsonl`` /
:attr:`trained.Run.history`); no torch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["Verdict", "assess", "verdict", "VERDICT_KINDS", "DEAD_RATIO"]

#: What :func:`assess` can conclude, in the order it checks.
VERDICT_KINDS = ("non_finite", "dead", "grokked", "lost", "memorized", "not_fit")

#: A network is dead when its total weight norm fell below this fraction of the first record's:
#: weight decay has driven every weight to ~0 and the logits are constant.
DEAD_RATIO = 1e-6


@dataclass(frozen=True)
class Verdict:
    """What :func:`assess` concluded about a run.

    Attributes
    ----------
    kind : str
        One of :data:`VERDICT_KINDS`.
    message : str
        The one-line verdict (what :func:`verdict` returns).
    epoch : int
        ``grokked``/``lost``: the first epoch at the target; ``non_finite``: the first epoch with
        a non-finite value; otherwise the last logged epoch.
    train_acc, test_acc : float
        Accuracies of the last record (``test_acc``: the worst head for a multitask run).
    weight_norm : float or None
        Total weight norm of the last record (None when the records carry no ``norm_*`` keys).
    """

    kind: str
    message: str
    epoch: int
    train_acc: float
    test_acc: float
    weight_norm: float | None


def _test_acc(rec: dict) -> float:
    # a multitask (miiii) run has generalized only when its worst head has (Syrkis Fig. 5);
    # the same rule as trained.Run.grok_epoch and early stopping
    return float(rec.get("test_acc_min", rec["test_acc"]))


def _weight_norm(rec: dict) -> float | None:
    norms = [float(v) for k, v in rec.items() if k.startswith("norm_")]
    if not norms:
        return None
    return math.sqrt(sum(n * n for n in norms))


def _check(history, target_acc) -> None:
    if not isinstance(history, (list, tuple)):
        raise TypeError(
            f"`history` must be a list of metrics records; got {type(history).__name__}"
        )
    if not history:
        raise ValueError("`history` must hold at least one metrics record; got []")
    for i, rec in enumerate(history):
        if not isinstance(rec, dict):
            raise TypeError(f"`history[{i}]` must be a dict; got {type(rec).__name__}")
        missing = [k for k in ("epoch", "train_acc", "test_acc") if k not in rec]
        if missing:
            raise ValueError(f"`history[{i}]` lacks the key(s) {missing}; got keys {sorted(rec)}")
    if (
        isinstance(target_acc, bool)
        or not isinstance(target_acc, (int, float))
        or not 0.0 < target_acc <= 1.0
    ):
        raise ValueError(f"`target_acc` must be a float in (0, 1]; got {target_acc!r}")


def assess(history, target_acc: float = 0.99) -> Verdict:
    """Classify a finished run from its metrics history.

    Parameters
    ----------
    history : list of dict
        Metrics records in epoch order, each with ``epoch``, ``train_acc`` and ``test_acc``
        (multitask: ``test_acc_min`` is used when present); ``norm_<weight>`` keys, when present,
        let the dead-network check run.
    target_acc : float
        Test accuracy that counts as generalization, in (0, 1].

    Returns
    -------
    Verdict
        The first of these that holds:

        - ``non_finite``: some value of some record is NaN or infinite;
        - ``dead``: the last total weight norm is below :data:`DEAD_RATIO` times the first
          record's (weight decay drove every weight to ~0; the logits are constant);
        - ``grokked``: test accuracy reached ``target_acc`` and the last record is still there;
        - ``lost``: it reached ``target_acc`` and then fell below it;
        - ``memorized``: train accuracy ``>= target_acc``, test accuracy never reached it;
        - ``not_fit``: train accuracy ``< target_acc``.

    Raises
    ------
    TypeError
        ``history`` is not a list of dicts.
    ValueError
        Empty ``history``, a record without ``epoch``/``train_acc``/``test_acc``, or
        ``target_acc`` outside (0, 1].

    Notes
    -----
    Grokking is read as in Power et al. 2022 and Gromov 2023: test accuracy reaches the target
    (here ``>= target_acc``, as :meth:`trained.Run.grok_epoch`), typically long after the
    training set is fitted. With the quadratic activation (Gromov eq. 1-2) the output is cubic
    in the weights, so zero is a fixed point of gradient descent: once decoupled weight decay
    has pulled every weight close to it the gradient vanishes and the network cannot recover.

    Examples
    --------
    >>> h = [{"epoch": 0, "train_acc": 0.03, "test_acc": 0.03},
    ...      {"epoch": 100, "train_acc": 1.0, "test_acc": 0.995}]
    >>> assess(h).kind, assess(h).epoch
    ('grokked', 100)
    """
    _check(history, target_acc)
    last = history[-1]
    train_acc, test_acc = float(last["train_acc"]), _test_acc(last)
    norm = _weight_norm(last)
    epoch = int(last["epoch"])

    for rec in history:
        bad = sorted(
            k
            for k, v in rec.items()
            if isinstance(v, (int, float)) and not isinstance(v, bool) and not math.isfinite(v)
        )
        if bad:
            e = int(rec["epoch"])
            msg = f"dead network: non-finite {', '.join(bad)} at epoch {e}"
            return Verdict("non_finite", msg, e, train_acc, test_acc, norm)

    first_norm = _weight_norm(history[0])
    if norm is not None and (norm == 0.0 or (first_norm and norm < DEAD_RATIO * first_norm)):
        msg = (
            f"dead network: weights decayed to ~0 (norm {norm:.3g}, was {first_norm:.3g}); "
            f"train accuracy {train_acc:.3f}, test {test_acc:.3f}"
        )
        return Verdict("dead", msg, epoch, train_acc, test_acc, norm)

    hit = next((rec for rec in history if _test_acc(rec) >= target_acc), None)
    if hit is not None:
        e = int(hit["epoch"])
        if test_acc >= target_acc:
            msg = f"grokked at epoch {e} (test accuracy {test_acc:.3f} at epoch {epoch})"
            return Verdict("grokked", msg, e, train_acc, test_acc, norm)
        msg = (
            f"grokked at epoch {e}, then lost it: test accuracy {test_acc:.3f} at epoch {epoch} "
            f"(train {train_acc:.3f})"
        )
        return Verdict("lost", msg, e, train_acc, test_acc, norm)
    if train_acc >= target_acc:
        msg = (
            f"memorized without generalizing (train accuracy {train_acc:.3f}, test "
            f"{test_acc:.3f} at epoch {epoch})"
        )
        return Verdict("memorized", msg, epoch, train_acc, test_acc, norm)
    msg = f"did not fit (train accuracy {train_acc:.3f}, test {test_acc:.3f} at epoch {epoch})"
    return Verdict("not_fit", msg, epoch, train_acc, test_acc, norm)


def verdict_threshold(target_acc: float) -> float:
    """The test accuracy a run's verdict judges against: its ``target_acc``, or 0.99 for a
    target above 1 (a run told never to stop early)."""
    return target_acc if target_acc <= 1.0 else 0.99


def verdict(history, target_acc: float = 0.99) -> str:
    """The one-line verdict on a run: ``assess(history, target_acc).message``.

    Parameters
    ----------
    history : list of dict
        Metrics records (see :func:`assess`).
    target_acc : float
        Test accuracy that counts as generalization, in (0, 1].

    Returns
    -------
    str
        ``"grokked at epoch E (...)"``, ``"grokked at epoch E, then lost it: ..."``,
        ``"memorized without generalizing (train accuracy X, test Y ...)"``,
        ``"did not fit (train accuracy X, ...)"`` or ``"dead network: ..."``.

    Raises
    ------
    TypeError, ValueError
        As :func:`assess`.

    Examples
    --------
    >>> verdict([{"epoch": 3000, "train_acc": 1.0, "test_acc": 0.25}])
    'memorized without generalizing (train accuracy 1.000, test 0.250 at epoch 3000)'
    >>> verdict([{"epoch": 0, "train_acc": 0.03, "test_acc": 0.03, "norm_W1": 90.0},
    ...          {"epoch": 3000, "train_acc": 0.03, "test_acc": 0.03, "norm_W1": 1e-40}])
    'dead network: weights decayed to ~0 (norm 1e-40, was 90); train accuracy 0.030, test 0.030'
    """
    return assess(history, target_acc).message
