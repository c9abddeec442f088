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


@pytest.fixture
def make_mlp():
    return build_mlp


def write_fake_run(path, p=13, noise=0.2, seed=0):
    """A run directory as trained writes it: a noisy analytic MLP, metrics.jsonl, checkpoints."""
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
    }
    closedform.save_model_dir(path, config, {"W1": W1, "W2": W2})
    (path / "checkpoints").mkdir()
    records = []
    for epoch, scale in ((0, 3.0), (1, 2.0), (2, 1.0), (4, 0.5), (8, 0.0)):
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
                "train_acc": 1.0,
                "test_acc": min(1.0, epoch / 8),
                "grad_norm": 0.1,
                "norm_W1": float(np.linalg.norm(w["W1"])),
                "norm_W2": float(np.linalg.norm(w["W2"])),
            }
        )
    (path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


@pytest.fixture
def fake_run(tmp_path):
    return write_fake_run(tmp_path / "run")
