"""compare's measures on networks whose algorithm is known by construction.

closedform's analytic MLP, RNN and transformer use exactly the frequencies they are given, so
every measure has a right answer: the key frequencies are the constructed set, the Table II fit
is at the construction's error level, ablating the set (and only the set) destroys the
network, the ranks are the construction's, and the transformer's restricted loss and
positional correlation follow from its formulas (derived in each test).
"""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.special import logsumexp

import closedform
import compare

# small shapes that hold up to 4 frequencies: RNN 2 + 2J units per frequency with J >= 8,
# transformer J >= J_min(M) neurons per frequency
RNN = {"d_hidden": 160, "d_embed": 32}
TRANSFORMER = {"d_model": 64, "heads": 4, "d_mlp": 256}
CASES = [("add", 23, [2, 5]), ("sub", 29, [3, 4, 11]), ("mul", 29, [1, 5]), ("div", 23, [3, 7])]
IDS = [f"{name}{p}-{'-'.join(map(str, ks))}" for name, p, ks in CASES]


def build(kind, task, ks):
    if kind == "mlp":
        return closedform.analytic_mlp(task, frequencies=ks, phases="exact")
    if kind == "rnn":
        return closedform.analytic_rnn(task, ks, **RNN)
    return closedform.analytic_transformer(task, ks, **TRANSFORMER)


def key(norms):
    return sorted(compare.key_frequencies(norms).tolist())


def sum_wave_norms(a, task):
    """Per k, the norm of the waves of f1(n) + f2(m) (the diagonal (k, k) of the 2-D spectrum in
    the inner domain) over the decomposed pairs; a: (p*p, d)."""
    a = np.where(task.decomposed.reshape(-1, 1), a, 0.0)
    spec = compare.activation_spectrum_2d(a, p=task.p, task=task)
    M = spec.shape[-1]
    diag = spec[:, np.arange(M), np.arange(M)]
    return np.sqrt((diag**2).sum(axis=0))[: M // 2 + 1]


@pytest.mark.parametrize("name, p, ks", CASES, ids=IDS)
def test_rnn_key_frequencies_of_embedding_and_hidden_states_are_the_constructed_set(name, p, ks):
    task = closedform.get_task(name, p)
    net = closedform.analytic_rnn(task, ks, **RNN)
    hid = net.hidden()
    E = net.weights["W_E"][:p]
    h1 = hid["h1"].reshape(p, p, -1)[:, 0, :]  # h1 depends on n only
    assert key(compare.frequency_norms(E, axis=0, task=task, block="n")) == sorted(ks)
    assert key(compare.frequency_norms(h1, axis=0, task=task, block="n")) == sorted(ks)
    assert key(sum_wave_norms(hid["h2"], task)) == sorted(ks)
    assert key(sum_wave_norms(hid["h3"], task)) == sorted(ks)


@pytest.mark.parametrize("name, p, ks", CASES, ids=IDS)
def test_transformer_key_frequencies_of_embedding_and_mlp_input_are_the_constructed_set(
    name, p, ks
):
    task = closedform.get_task(name, p)
    net = closedform.analytic_transformer(task, ks, **TRANSFORMER)
    E = net.weights["W_E"][:, :p]
    pre = net.hidden()["mlp_pre"].reshape(p, p, -1)
    assert key(compare.frequency_norms(E, axis=1, task=task, block="n")) == sorted(ks)
    assert key(compare.frequency_norms(pre, axis=0, task=task, block="n")) == sorted(ks)


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=st.sampled_from(["add", "sub", "mul"]),
    p=st.sampled_from([13, 17]),
    data=st.data(),
)
def test_scorecard_key_frequencies_and_twin_recover_any_constructed_set(name, p, data):
    task = closedform.get_task(name, p)
    pool = [k for k in range(1, task.M // 2 + 1) if np.gcd(k, task.M) == 1]
    ks = data.draw(st.lists(st.sampled_from(pool), min_size=1, max_size=3, unique=True))
    kind = data.draw(st.sampled_from(["rnn", "transformer"]))
    card = compare.score(build(kind, task, ks), low_rank=False)
    assert card["accuracy"] == 1.0
    assert sorted(card["frequencies"]["key"]) == sorted(ks)
    assert sorted(card["twin"]["frequencies"]) == sorted(ks)
    assert card["twin"]["accuracy"] == 1.0
    # the twin is rebuilt on the key frequencies in energy order; the RNN's readout amplitudes
    # 1 / (1 + 0.05 i) follow that order, the transformer's logits do not depend on it
    lve = card["twin"]["logit_variance_explained"]
    assert lve == pytest.approx(1.0, abs=1e-9) if kind == "transformer" else lve > 0.99
    energy = card["twin"]["energy_per_frequency"]
    assert np.allclose(energy["network"], energy["twin"])
    strong = {f for f, e in zip(energy["frequency"], energy["network"], strict=True) if e > 1e-3}
    assert strong == set(ks)


@pytest.mark.parametrize("p, ks", [(23, [2, 5]), (29, [1, 4, 9])], ids=["p23", "p29"])
def test_table_ii_fit_on_the_analytic_rnn_is_at_the_construction_error(p, ks):
    task = closedform.get_task("add", p)
    net = closedform.analytic_rnn(task, ks, **RNN)
    h3, W_fc = net.hidden()["h3"], net.weights["W_fc"]
    eps = net.certificate()["error_bound"]
    per_vector = compare.hidden_state_fit(h3, W_fc, task)
    per_freq = compare.hidden_state_fit(h3, W_fc, task, basis="frequency")
    # cos/sin pairs in the order of the readout amplitudes 1 / (1 + 0.05 i)
    assert [d["frequency"] for d in per_vector] == [k for k in ks for _ in range(2)]
    assert sorted(d["frequency"] for d in per_freq) == sorted(ks)
    assert max(d["relative_error"] for d in per_vector) <= min(1e-2, 2 * eps)
    assert max(d["relative_error"] for d in per_freq) <= min(1e-2, 2 * eps)


def test_table_ii_per_singular_vector_fails_on_an_exact_network_with_equal_amplitudes():
    """The same hidden state, a readout with equal amplitudes: the SVD mixes frequencies."""
    task = closedform.get_task("add", 29)
    ks = [1, 4, 9]
    net = closedform.analytic_rnn(task, ks, **RNN)
    W_fc = np.array(net.weights["W_fc"])
    C0, J = net.layout["C"][0], net.n_phases
    for i, amplitude in enumerate(net.amplitudes):
        W_fc[:, C0 + i * J : C0 + (i + 1) * J] /= amplitude
    weights, acc = compare.run_accuracy_fn(net)
    assert acc({**weights, "W_fc": W_fc}) == 1.0  # still an exact Fourier network
    h3 = net.hidden()["h3"]
    per_vector = compare.hidden_state_fit(h3, W_fc, task)
    per_freq = compare.hidden_state_fit(h3, W_fc, task, basis="frequency")
    assert max(d["relative_error"] for d in per_vector) > 0.1
    assert max(d["relative_error"] for d in per_freq) < 1e-2


@pytest.mark.parametrize("kind", ["mlp", "rnn", "transformer"])
@pytest.mark.parametrize("name, p, ks", CASES, ids=IDS)
def test_cumulative_ablation_reaches_chance_exactly_when_the_constructed_set_is_gone(
    kind, name, p, ks
):
    task = closedform.get_task(name, p)
    weights, acc = compare.run_accuracy_fn(build(kind, task, ks))
    remove = compare.frequency_remover(kind, task)
    res = compare.frequency_ablation(acc, weights, ks, remove)
    chance = 1 / p
    accs = [row["accuracy"] for row in res["cumulative"]]
    assert res["baseline"] == 1.0 and all(row["accuracy"] == 1.0 for row in res["single"])
    assert all(a > chance for a in accs[:-1])
    # what is left are the pairs with a zero factor (mul, div), which no wave decides
    net, _, _ = compare._network.resolve_model(build(kind, task, ks))
    correct, _ = net.correct(remove(weights, ks))
    decomposed = task.decomposed.reshape(-1) & (task.table.reshape(-1) >= 0)
    assert correct[decomposed].mean() <= chance
    zero_pairs = (task.table.reshape(-1) >= 0) & ~task.decomposed.reshape(-1)
    assert accs[-1] == pytest.approx(zero_pairs.sum() / (task.table >= 0).sum())


@pytest.mark.parametrize("kind", ["mlp", "rnn", "transformer"])
def test_removing_every_other_frequency_changes_nothing(kind):
    task = closedform.get_task("sub", 29)
    ks = [3, 4, 11]
    weights, acc = compare.run_accuracy_fn(build(kind, task, ks))
    others = [k for k in range(1, task.M // 2 + 1) if k not in ks]
    assert acc(compare.frequency_remover(kind, task)(weights, others)) == 1.0


def test_restricted_loss_of_the_analytic_mlp_equals_its_loss():
    task = closedform.get_task("add", 23)
    net = closedform.analytic_mlp(task, frequencies=[2, 5], phases="exact")
    logits, _ = compare._network.resolve_model(net)[0].run()
    res = compare.restricted_excluded_loss(logits, task, [2, 5])
    assert res["restricted_loss"] == pytest.approx(res["loss"], rel=1e-9)
    assert res["excluded_loss"] > res["loss"]


@pytest.mark.parametrize("name, p, ks", [("add", 23, [2, 5, 9]), ("sub", 23, [2, 5])])
def test_restricted_loss_of_the_analytic_transformer_follows_its_logit_formula(name, p, ks):
    """The exact transformer's logits are C sum_k |cos d_k| cos(w_k (s - r)), d_k = w_k (f1(n) -
    f2(m) - tau) / 2 (docs/closedform.md). For odd M the pairs (n, m) run over (s, f1 - f2)
    uniformly and independently, so the projection on cos, sin w_k s keeps the mean of |cos d_k|
    over Z_M: restricted logits = C sum_k mean|cos d_k| cos(w_k (s - r)). The restricted loss is
    the loss of those logits (not the full loss: the network's amplitude depends on f1 - f2)."""
    task = closedform.get_task(name, p)
    net = closedform.analytic_transformer(task, ks, **TRANSFORMER)
    assert net.scheme == "exact"
    L = net.logits()
    M = task.M
    n, m = np.divmod(np.arange(p * p), p)
    x, y = task.f1[n], task.f2[m]
    s = (x + y) % M
    r = np.arange(M)
    formula = np.zeros_like(L)
    restricted = np.zeros_like(L)
    d = np.arange(M)
    for k in ks:
        w = 2 * np.pi * k / M
        wave = np.cos(w * (s[:, None] - r[None, :]))
        formula[:, task.F] += np.abs(np.cos(w * (x - y - net.shift) / 2))[:, None] * wave
        restricted[:, task.F] += np.mean(np.abs(np.cos(np.pi * k * (d - net.shift) / M))) * wave
    C = (L * formula).sum() / (formula**2).sum()
    assert np.abs(L - C * formula).max() <= 1e-12 * np.abs(L).max()
    t = task.table.reshape(-1)
    R = C * restricted
    expected = np.mean(logsumexp(R, axis=1) - R[np.arange(len(t)), t])
    res = compare.restricted_excluded_loss(L, task, ks)
    assert res["restricted_loss"] == pytest.approx(expected, rel=1e-9)
    assert res["restricted_loss"] < res["loss"] < res["excluded_loss"]


@pytest.mark.parametrize("kind", ["mlp", "transformer"])
@pytest.mark.parametrize("name, p, ks", CASES[::2], ids=IDS[::2])
def test_minimal_rank_of_an_exact_network_is_the_predicted_rank(kind, name, p, ks):
    """Every frequency at the same scale: the spectrum has a gap only at the construction's
    rank, so the search can stop nowhere else."""
    net = build(kind, closedform.get_task(name, p), ks)
    weights, acc = compare.run_accuracy_fn(net)
    for matrix, pred in compare.predicted_ranks(net).items():
        res = compare.minimal_rank(weights, matrix, acc)
        assert res["rank"] == pred["rank"], matrix
        assert res["accuracy_low_rank"] == 1.0


def test_rnn_minimal_ranks_against_the_prediction():
    """W_ih, W_hh: the construction's rank. W_fc's amplitudes 1 / (1 + 0.05 i) are distinct,
    so its spectrum has a gap after every frequency's cos/sin pair and rank 2j keeps exactly
    the j strongest frequencies: the search stops at the fewest that classify every pair."""
    task = closedform.get_task("add", 29)
    ks = [1, 4, 9]
    net = closedform.analytic_rnn(task, ks, **RNN)
    weights, acc = compare.run_accuracy_fn(net)
    pred = compare.predicted_ranks(net)
    for matrix in ("W_ih", "W_hh"):
        assert compare.minimal_rank(weights, matrix, acc)["rank"] == pred[matrix]["rank"]
    C0, J = net.layout["C"][0], net.n_phases
    needed = None
    for j in range(1, len(ks) + 1):
        W_fc = np.array(weights["W_fc"])
        W_fc[:, C0 + j * J :] = 0  # the readout of the j strongest frequencies only
        if acc({**weights, "W_fc": W_fc}) == 1.0:
            needed = j
            break
    assert compare.minimal_rank(weights, "W_fc", acc)["rank"] == 2 * needed
    assert pred["W_fc"]["rank"] == 2 * len(ks)


def test_positional_correlation_of_positional_attention_is_minus_one_over_d_minus_one():
    """Positional attention gives positions 0 and 1 one coordinate each with the same value v:
    W_pos[0] = v e_i, W_pos[1] = v e_j. Over d coordinates the means are v/d, the covariance
    sum is 0 - 2 v^2/d + v^2/d = -v^2/d and each variance sum v^2 (d - 1)/d: Pearson's r is
    -1/(d - 1), whatever the task, symmetric (add) or not (sub)."""
    for name, attention in (("add", "positional"), ("sub", "auto")):
        net = closedform.analytic_transformer(
            closedform.get_task(name, 23), [2, 5], attention=attention, **TRANSFORMER
        )
        assert net.attention == "positional"
        card = compare.score(net, low_rank=False, reference=False)
        assert card["positional_correlation"] == pytest.approx(-1 / 63, abs=1e-12)


def test_positional_correlation_of_uniform_attention_is_undefined():
    """add with odd M: uniform attention, W_pos = 0; both positions are the same (zero) vector,
    interchangeable, and Pearson's r of two constant vectors is undefined."""
    net = closedform.analytic_transformer(closedform.get_task("add", 23), [2, 5], **TRANSFORMER)
    assert net.attention == "uniform" and not np.any(net.weights["W_pos"])
    card = compare.score(net, low_rank=False, reference=False)
    assert card["positional_correlation"] is None
    assert "constant" in card["not_applicable"]["positional_correlation"]


@pytest.mark.slow
def test_p113_rnn_and_transformer_ground_truth():
    task = closedform.get_task("add", 113)
    ks = [3, 4, 24, 37, 39, 51, 56]
    rnn = closedform.analytic_rnn(task, ks)
    card = compare.score(rnn, low_rank=False)
    assert card["accuracy"] == 1.0 and sorted(card["frequencies"]["key"]) == ks
    assert card["hidden_state_fit"]["max_relative_error_per_frequency"] < 1e-2
    assert max(d["relative_error"] for d in card["hidden_state_fit"]["per_vector"]) < 1e-2
    nanda = [35, 33, 9, 48, 25]
    tr = closedform.analytic_transformer(task, nanda)
    card = compare.score(tr, low_rank=False)
    assert card["accuracy"] == 1.0 and sorted(card["frequencies"]["key"]) == sorted(nanda)
    assert card["twin"]["logit_variance_explained"] == pytest.approx(1.0, abs=1e-9)
    weights, acc = compare.run_accuracy_fn(tr)
    res = compare.frequency_ablation(
        acc, weights, nanda, compare.frequency_remover("transformer", task)
    )
    assert res["cumulative"][-1]["accuracy"] == 0.0
    assert all(row["accuracy"] > 1 / 113 for row in res["cumulative"][:-1])
