"""Chunked evaluation against a brute-force p x p x p computation."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from closedform import activation_fn, analytic_mlp, evaluate_mlp, get_task, mlp_logits


def brute_force(W1, W2, task, activation="quadratic"):
    p, N = task.p, W1.shape[0]
    n, m = np.meshgrid(np.arange(p), np.arange(p), indexing="ij")
    x = np.zeros((p * p, 2 * p))
    x[np.arange(p * p), n.ravel()] = 1
    x[np.arange(p * p), p + m.ravel()] = 1
    logits = (2 / N) * activation_fn(activation)(x @ W1.T) @ W2.T  # (p^2, p), one-hot input
    t = task.table.ravel()
    ok = t >= 0
    L = logits[ok]
    correct = L[np.arange(ok.sum()), t[ok]]
    wrong = L.copy()
    wrong[np.arange(ok.sum()), t[ok]] = -np.inf
    gap = correct - wrong.max(1)
    return (gap > 1e-9).mean(), gap.min()


@given(
    st.sampled_from(["add", "mul", "div", "square_sum"]),
    st.integers(0, 2**16),
    st.sampled_from([1, 5000, 10**6]),
    st.sampled_from(["quadratic", "relu"]),
)
def test_chunked_equals_brute_force(name, seed, chunk_bytes, activation):
    task = get_task(name, 13)
    rng = np.random.default_rng(seed)
    W1, W2 = rng.normal(size=(20, 26)), rng.normal(size=(13, 20))
    ev = evaluate_mlp(W1, W2, task, activation=activation, chunk_bytes=chunk_bytes)
    acc, margin = brute_force(W1, W2, task, activation)
    assert ev.accuracy == pytest.approx(acc)
    assert ev.margin == pytest.approx(margin)
    assert ev.n_pairs == (task.table >= 0).sum()
    assert -1 <= ev.normalized_margin <= 1


def test_float32_weights_give_the_same_verdict():
    net = analytic_mlp(get_task("add", 31), width=200, seed=1)
    ev64 = net.evaluate()
    ev32 = evaluate_mlp(net.W1.astype(np.float32), net.W2.astype(np.float32), net.task)
    assert ev32.accuracy == ev64.accuracy
    assert ev32.margin == pytest.approx(ev64.margin, rel=1e-4)


def test_exact_ties_count_as_wrong():
    """k = 2 with M = 12: s and s + 6 tie exactly; rounding must not break the tie."""
    net = analytic_mlp(get_task("add", 12), phases="exact", frequencies=[2])
    ev = net.evaluate()
    assert ev.accuracy == 0.0 and abs(ev.margin) < 1e-12


def test_normalized_margin_is_scale_invariant():
    net = analytic_mlp(get_task("add", 17), width=60, seed=2)
    a = evaluate_mlp(net.W1, net.W2, net.task)
    b = evaluate_mlp(net.W1, 5 * net.W2, net.task)
    assert a.normalized_margin == pytest.approx(b.normalized_margin)
    assert b.margin == pytest.approx(5 * a.margin)


def test_mlp_logits_matches_one_hot_forward():
    rng = np.random.default_rng(0)
    W1, W2 = rng.normal(size=(6, 10)), rng.normal(size=(5, 6))
    x = np.zeros(10)
    x[[2, 5 + 4]] = 1
    expected = (2 / 6) * W2 @ (W1 @ x) ** 2
    np.testing.assert_allclose(mlp_logits(W1, W2, 2, 4)[0], expected)


_T = get_task("add", 5)
_W1, _W2 = np.ones((3, 10)), np.ones((5, 3))
INVALID = [
    ("W1-shape", lambda: evaluate_mlp(np.ones((3, 9)), _W2, _T), ValueError, "`W1`"),
    ("W2-shape", lambda: evaluate_mlp(_W1, np.ones((4, 3)), _T), ValueError, "`W2`"),
    ("W1-nan", lambda: evaluate_mlp(_W1 * np.nan, _W2, _T), ValueError, "finite"),
    (
        "scale-negative",
        lambda: evaluate_mlp(_W1, _W2, _T, output_scale=-1.0),
        ValueError,
        "`output_scale`",
    ),
    ("task-type", lambda: evaluate_mlp(_W1, _W2, "add"), TypeError, "`task`"),
    ("chunk-zero", lambda: evaluate_mlp(_W1, _W2, _T, chunk_bytes=0), ValueError, "`chunk_bytes`"),
    (
        "activation",
        lambda: evaluate_mlp(_W1, _W2, _T, activation="elu"),
        ValueError,
        "`activation`",
    ),
    ("n-range", lambda: mlp_logits(_W1, _W2, [5], [0]), ValueError, "`n`"),
    ("n-float", lambda: mlp_logits(_W1, _W2, [0.5], [0]), TypeError, "`n`"),
    ("n-m-length", lambda: mlp_logits(_W1, _W2, [0, 1], [0]), ValueError, "same length"),
]


@pytest.mark.parametrize("call, exc, words", [c[1:] for c in INVALID], ids=[c[0] for c in INVALID])
def test_invalid_input_is_rejected(call, exc, words):
    with pytest.raises(exc, match=words):
        call()
