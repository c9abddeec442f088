"""Networks with known frequencies and phases, built directly in numpy (the tests' oracles)."""

import numpy as np
import pytest


def build_mlp(task, ks, phases, amps=None, noise=0.0, seed=0):
    """An MLP whose neuron i is cos(2 pi k_i f1(n)/M + phi1_i), ..., cos(2 pi k_i r/M + phi3_i).

    ``ks`` may exceed M/2 (aliases). The readout is written at q = F(r) (one branch); entries of
    undefined inner values stay 0. Gaussian noise of std ``noise`` is added everywhere.
    """
    p, M = task.p, task.M
    ks = np.asarray(ks)
    phases = np.asarray(phases, dtype=float)
    N = len(ks)
    amps = np.ones((N, 3)) if amps is None else np.asarray(amps, dtype=float)
    W1 = np.zeros((N, 2 * p))
    W2 = np.zeros((p, N))
    r = np.arange(M)
    for i, k in enumerate(ks):
        for col, f in ((0, task.f1), (1, task.f2)):
            ok = f >= 0
            W1[i, col * p : (col + 1) * p][ok] = amps[i, col] * np.cos(
                2 * np.pi * k * f[ok] / M + phases[i, col]
            )
        W2[task.F, i] = amps[i, 2] * np.cos(2 * np.pi * k * r / M + phases[i, 2])
    rng = np.random.default_rng(seed)
    W1 += noise * rng.standard_normal(W1.shape)
    W2 += noise * rng.standard_normal(W2.shape)
    return W1, W2


@pytest.fixture(scope="session")
def make_mlp():
    return build_mlp


# test accuracy per logged epoch of a fake run's metrics: a run that groks at epoch 8, one that
# memorized the training set (train 1.0, test 0.025) and one that never fitted it
HISTORIES = {
    "grok": {"train": (1.0, 1.0, 1.0, 1.0, 1.0), "test": (0.0, 0.125, 0.25, 0.5, 1.0)},
    "memorized": {"train": (0.2, 0.6, 1.0, 1.0, 1.0), "test": (0.02, 0.03, 0.025, 0.02, 0.025)},
    "not_fit": {"train": (0.05, 0.1, 0.2, 0.3, 0.4), "test": (0.0, 0.05, 0.0, 0.02, 0.03)},
}


def write_fake_run(path, p=13, noise=0.2, seed=0, history="grok"):
    """A run directory as trained writes it: a noisy analytic MLP, metrics.jsonl, checkpoints.

    ``history`` picks the accuracies of metrics.jsonl (:data:`HISTORIES`); the weights are the
    same noisy Fourier network in every case.
    """
    import json

    import closedform
    from closedform.rundir import save_weights

    task = closedform.get_task("add", p)
    net = closedform.analytic_mlp(task, frequencies=[2, 5], phases="exact")
    rng = np.random.default_rng(seed)
    W1 = net.W1 + noise * rng.standard_normal(net.W1.shape)
    W2 = net.W2 + noise * rng.standard_normal(net.W2.shape)
    config = {
        "model": "mlp",
        "p": p,
        "task": {"name": "add", "params": {}},
        "seed": seed,
        "width": int(W1.shape[0]),
        "activation": "quadratic",
        "parametrization": "mean_field",
        "output_scale": 2.0 / W1.shape[0],
        "source": "trained",
        "epochs": 8,
        "stopped": "target_acc" if history == "grok" else "max_epochs",
        "status": "done",
        "hyper": {
            "model": "mlp",
            "task": "add",
            "p": p,
            "preset": "mlp-cpu",
            "seed": seed,
            "alpha": 0.5,
            "width": int(W1.shape[0]),
            "loss": "mse",
            "lr": 0.1,
            "max_epochs": 8,
            "target_acc": 0.99,
        },
    }
    closedform.save_model_dir(path, config, {"W1": W1, "W2": W2})
    (path / "checkpoints").mkdir()
    records = []
    accs = HISTORIES[history]
    for i, (epoch, scale) in enumerate(((0, 3.0), (1, 2.0), (2, 1.0), (4, 0.5), (8, 0.0))):
        w = {
            "W1": W1 + scale * rng.standard_normal(W1.shape),
            "W2": W2 + scale * rng.standard_normal(W2.shape),
        }
        save_weights(path / "checkpoints" / f"epoch_{epoch:07d}.safetensors", w)
        records.append(
            {
                "epoch": epoch,
                "train_loss": 1.0 / (epoch + 1),
                "test_loss": 1.5 / (epoch + 1),
                "train_acc": accs["train"][i],
                "test_acc": accs["test"][i],
                "grad_norm": 0.1,
                "norm_W1": float(np.linalg.norm(w["W1"])),
                "norm_W2": float(np.linalg.norm(w["W2"])),
            }
        )
    (path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


@pytest.fixture(scope="session")
def make_run():
    """:func:`write_fake_run`, for fixtures of any scope."""
    return write_fake_run


@pytest.fixture
def fake_run(tmp_path):
    return write_fake_run(tmp_path / "run")
