"""Benchmark: ``trained.train`` against straightforward PyTorch loops, in one process.

Same data (split), same initial weights' distribution and seed, same hyper-parameters. The
baselines are written the way the papers' notebooks are: a one-hot matmul MLP (Gromov) and
Nanda's transformer as written (all three positions, causal mask, MLP at every position),
evaluating every epoch. Prints ms/epoch, epochs and wall seconds to grok (test acc >= 99 %),
and the ratios.

Usage::

    python docs/benchmarks/bench_train.py                 # MLP p=97, transformer ms/epoch, ensemble
    python docs/benchmarks/bench_train.py --grok-transformer  # also time-to-grok of nanda-cpu
    python docs/benchmarks/bench_train.py --device cuda
    python docs/benchmarks/bench_train.py --mlp-preset gromov-code --no-transformer --no-ensemble
    python docs/benchmarks/bench_train.py --smoke --out DIR   # every part, tiny (seconds)

``--out DIR`` also writes the numbers to ``DIR/bench_train.json`` with the command, library
version and date. ``--smoke`` shrinks every network (MLP p = 7, N = 16; transformer p = 11,
d_model = 32) and every budget to a few epochs: it checks the script, it measures nothing.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "reproductions"))
from _common import SMOKE_HELP, provenance, write_json  # noqa: E402

import trained  # noqa: E402
from trained import TrainConfig, train  # noqa: E402

GROK = 0.99
SMOKE = dict(
    mlp=dict(p=7, width=16, max_epochs=20),
    transformer=dict(p=11, d_model=32, heads=2, d_mlp=64, max_epochs=20),
    transformer_epochs=3,
    ensemble=dict(p=7, width=16, max_epochs=3),
    repeats=1,
)


def _data(cfg):
    ds = trained.make_dataset(cfg.task, cfg.p, cfg.alpha, cfg.data_seed)
    return ds


def baseline_mlp(cfg, device, max_epochs):
    """Gromov MLP as a notebook writes it: one-hot inputs, eval every epoch."""
    p, N = cfg.p, cfg.width
    ds = _data(cfg)
    g = torch.Generator().manual_seed(cfg.seed)
    std1, std2, scale = {  # Gromov eq. 1-2; N(0, 1/fan_in); the Gromov group's fcn
        "mean_field": (1.0, 1.0, 2 / N),
        "standard": (1 / math.sqrt(2 * p), 1 / math.sqrt(N), 1.0),
        "gromov_code": (0.5 / (2 * N) ** (1 / 3), 0.5 / (2 * N) ** (1 / 3), 1.0),
    }[cfg.parametrization]
    W1 = (torch.randn(N, 2 * p, generator=g) * std1).to(device).requires_grad_()
    W2 = (torch.randn(p, N, generator=g) * std2).to(device).requires_grad_()
    X = torch.zeros(len(ds.labels), 2 * p, device=device)
    rows = torch.arange(len(ds.labels), device=device)
    inp = torch.as_tensor(ds.inputs, device=device)
    X[rows, inp[:, 0]] = 1
    X[rows, p + inp[:, 1]] = 1
    y = torch.as_tensor(ds.labels, device=device)
    tr, te = torch.as_tensor(ds.train, device=device), torch.as_tensor(ds.test, device=device)
    Xtr, ytr, Xte, yte = X[tr], y[tr], X[te], y[te]
    opt = torch.optim.AdamW(
        [W1, W2], lr=cfg.lr, betas=cfg.betas, eps=cfg.eps, weight_decay=cfg.weight_decay
    )
    Ytr = F.one_hot(ytr, p).float()

    def model(x):
        return scale * ((x @ W1.T) ** 2) @ W2.T

    def step():
        out = model(Xtr)
        loss = F.cross_entropy(out, ytr) if cfg.loss == "cross_entropy" else F.mse_loss(out, Ytr)
        opt.zero_grad()
        loss.backward()
        opt.step()

    grok = None
    t0 = time.perf_counter()
    for epoch in range(max_epochs):
        with torch.no_grad():
            acc = (model(Xte).argmax(1) == yte).float().mean().item()
        if acc >= GROK:
            grok = epoch
            break
        step()
    wall = time.perf_counter() - t0
    bare = _time_steps(step, device)  # bare forward/backward/step (no evaluation)
    # the same bare step with our first layer (row gathers W1.T[n] + W1.T[p + m], as
    # trained._models does), so "ours / bare" compares the same arithmetic
    n_tr, m_tr = inp[tr, 0], p + inp[tr, 1]

    def step_gather():
        t = W1.T.contiguous()
        out = scale * ((t.index_select(0, n_tr) + t.index_select(0, m_tr)) ** 2) @ W2.T
        loss = F.cross_entropy(out, ytr) if cfg.loss == "cross_entropy" else F.mse_loss(out, Ytr)
        opt.zero_grad()
        loss.backward()
        opt.step()

    step_gather()  # warm-up
    return grok, wall, bare, _time_steps(step_gather, device)


def _time_steps(step, device, n=20) -> float:
    """Mean seconds of ``step()`` over ``n`` calls."""
    _sync(device)
    t1 = time.perf_counter()
    for _ in range(n):
        step()
    _sync(device)
    return (time.perf_counter() - t1) / n


def _sync(device):
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


class NandaTransformer(torch.nn.Module):
    """Nanda et al.'s one-layer transformer as written (einsums over all positions; no biases,
    no LayerNorm, as in Nanda et al. 2023), reading the last position."""

    def __init__(self, p, d, heads, d_mlp, gen):
        super().__init__()
        dh = d // heads
        s = 1 / math.sqrt(d)

        def P(*shape, scale=s):
            return torch.nn.Parameter(torch.randn(*shape, generator=gen) * scale)

        self.W_E, self.W_pos = P(d, p + 1), P(3, d)
        self.W_Q, self.W_K, self.W_V = P(heads, dh, d), P(heads, dh, d), P(heads, dh, d)
        self.W_O, self.W_in, self.W_out = P(d, d), P(d_mlp, d), P(d, d_mlp)
        self.W_U = P(d, p, scale=1 / math.sqrt(p))
        self.register_buffer("mask", torch.tril(torch.ones(3, 3)))
        self.dh = dh

    def forward(self, x):
        x = torch.einsum("dbp->bpd", self.W_E[:, x]) + self.W_pos
        k = torch.einsum("ihd,bpd->biph", self.W_K, x)
        q = torch.einsum("ihd,bpd->biph", self.W_Q, x)
        v = torch.einsum("ihd,bpd->biph", self.W_V, x)
        scores = torch.einsum("biph,biqh->biqp", k, q)
        scores = torch.tril(scores) - 1e10 * (1 - self.mask)
        attn = F.softmax(scores / math.sqrt(self.dh), dim=-1)
        z = torch.einsum("biph,biqp->biqh", v, attn)
        z = z.permute(0, 2, 1, 3).reshape(x.shape[0], 3, -1)
        x = x + torch.einsum("df,bqf->bqd", self.W_O, z)
        x = x + torch.einsum(
            "dm,bpm->bpd", self.W_out, F.relu(torch.einsum("md,bpd->bpm", self.W_in, x))
        )
        return (x @ self.W_U)[:, -1]


def baseline_transformer_ms(cfg, device, epochs):
    ds = _data(cfg)
    gen = torch.Generator().manual_seed(cfg.seed)
    model = NandaTransformer(cfg.p, cfg.d_model, cfg.heads, cfg.d_mlp, gen).to(device)
    tokens = torch.cat([torch.as_tensor(ds.inputs), torch.full((len(ds.labels), 1), cfg.p)], 1).to(
        device
    )
    y = torch.as_tensor(ds.labels, device=device)
    tr, te = torch.as_tensor(ds.train, device=device), torch.as_tensor(ds.test, device=device)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, betas=cfg.betas, weight_decay=1.0)
    times_step, times_all = [], []
    for _ in range(epochs):
        _sync(device)
        t0 = time.perf_counter()
        loss = F.cross_entropy(model(tokens[tr]), y[tr])
        opt.zero_grad()
        loss.backward()
        opt.step()
        _sync(device)
        t1 = time.perf_counter()
        with torch.no_grad():  # as written: test loss every epoch
            F.cross_entropy(model(tokens[te]), y[te]).item()
        _sync(device)
        times_step.append(t1 - t0)
        times_all.append(time.perf_counter() - t0)
    return 1e3 * sum(times_all[2:]) / (epochs - 2), 1e3 * sum(times_step[2:]) / (epochs - 2)


def ours_ms(cfg, epochs):
    train(cfg.replace(max_epochs=2, target_acc=2.0))  # warm-up
    t0 = time.perf_counter()
    run = train(cfg.replace(max_epochs=epochs, target_acc=2.0))
    return 1e3 * (time.perf_counter() - t0) / run.epochs


def bench_transformer(args, dev) -> dict:
    small = SMOKE["transformer"] if args.smoke else {}
    tcfg = TrainConfig(
        model="transformer", preset="nanda", **small, seed=args.seed, device=dev
    ).resolve()
    E = args.transformer_epochs
    base_all, base_step = baseline_transformer_ms(tcfg, dev, E)
    ours_t = ours_ms(tcfg, E)
    print(f"\nTransformer (nanda) add p={tcfg.p} alpha={tcfg.alpha} d={tcfg.d_model}")
    print(f"  baseline as written: {base_all:.1f} ms/epoch ({base_step:.1f} ms training step)")
    print(f"  ours               : {ours_t:.1f} ms/epoch (eval every {tcfg.eval_every})")
    print(f"  ratio              : {base_all / ours_t:.2f}x")
    result = {
        "config": tcfg.to_dict(),
        "baseline_ms_per_epoch": base_all,
        "baseline_ms_per_step": base_step,
        "ours_ms_per_epoch": ours_t,
        "ratio": base_all / ours_t,
    }
    if args.grok_transformer:
        ncfg = TrainConfig(model="transformer", **small, seed=args.seed, device=dev)
        t0 = time.perf_counter()
        nrun = train(ncfg)
        wall = time.perf_counter() - t0
        print(
            f"  nanda-cpu preset: grok epoch {nrun.grok_epoch(GROK)}, stopped {nrun.stopped} "
            f"after {nrun.epochs} epochs, wall {wall:.1f} s"
        )
        result["nanda_cpu"] = {
            "grok_epoch": nrun.grok_epoch(GROK),
            "stopped": nrun.stopped,
            "epochs": nrun.epochs,
            "wall_seconds": wall,
        }
    return result


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--p", type=int, default=97, help="MLP modulus")
    ap.add_argument(
        "--mlp-preset",
        default="mlp-cpu",
        help="MLP preset (AdamW): mlp-cpu, gromov (groks at ~430), gromov-code (41)",
    )
    ap.add_argument("--no-transformer", action="store_true")
    ap.add_argument("--grok-transformer", action="store_true")
    ap.add_argument("--transformer-epochs", type=int, default=20)
    ap.add_argument("--no-ensemble", action="store_true")
    ap.add_argument("--repeats", type=int, default=3, help="ensemble timing repeats (median)")
    ap.add_argument("--threads", type=int, default=None, help="torch.set_num_threads")
    ap.add_argument(
        "--grok-seeds",
        type=int,
        default=0,
        help="also time our MLP preset to grok for seeds 0..K-1 (the docs' time-to-grok table)",
    )
    ap.add_argument("--out", default=None, help="folder for bench_train.json")
    ap.add_argument("--smoke", action="store_true", help=SMOKE_HELP)
    return ap


def main(argv=None) -> int:
    ap = parser()
    args = ap.parse_args(argv)
    if args.smoke:
        args.transformer_epochs, args.repeats = SMOKE["transformer_epochs"], SMOKE["repeats"]
    if args.transformer_epochs < 3:  # the first two epochs are warm-up and not timed
        ap.error(f"--transformer-epochs must be >= 3; got {args.transformer_epochs}")
    if args.threads:
        torch.set_num_threads(args.threads)
    dev = args.device
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, device {dev}")
    result = {"torch": torch.__version__, "threads": torch.get_num_threads(), "device": dev}

    # ---- Gromov MLP ---------------------------------------------------------------------
    small = SMOKE["mlp"] if args.smoke else dict(p=args.p)
    cfg = TrainConfig(
        model="mlp", preset=args.mlp_preset, task="add", **small, seed=args.seed, device=dev
    ).resolve()
    if cfg.optimizer != "adamw":
        ap.error(f"--mlp-preset must use AdamW (the baseline's optimizer); got {cfg.optimizer}")
    train(cfg.replace(max_epochs=3))  # warm-up (allocations, thread pool)
    t0 = time.perf_counter()
    run = train(cfg)
    ours_wall = time.perf_counter() - t0
    ours_grok = run.grok_epoch(GROK)
    base_grok, base_wall, bare, bare_gather = baseline_mlp(cfg, dev, cfg.max_epochs)
    ours_per_epoch = ours_wall / max(run.epochs, 1)
    print(
        f"\nMLP add p={cfg.p} N={cfg.width} alpha={cfg.alpha} {cfg.loss} {cfg.optimizer} "
        f"lr={cfg.lr} wd={cfg.weight_decay}"
    )
    print(
        f"  ours     : grok epoch {ours_grok} (eval every {cfg.eval_every}), wall "
        f"{ours_wall:.2f} s, {1e3 * ours_per_epoch:.2f} ms/epoch incl. evaluation"
    )
    print(
        f"  baseline : grok epoch {base_grok} (eval every epoch), wall {base_wall:.2f} s, "
        f"{1e3 * base_wall / max(base_grok or 1, 1):.2f} ms/epoch incl. evaluation"
    )
    print(
        f"  bare fwd/bwd/step at these shapes: {1e3 * bare:.2f} ms with the one-hot matmul, "
        f"{1e3 * bare_gather:.2f} ms with our row-gather first layer"
    )
    print(
        f"  ratios   : wall to grok baseline/ours {base_wall / ours_wall:.2f}x, "
        f"ours per epoch / bare {ours_per_epoch / bare:.2f}x (one-hot), "
        f"{ours_per_epoch / bare_gather:.2f}x (row gather)"
    )

    result["mlp"] = {
        "config": cfg.to_dict(),
        "ours_grok_epoch": ours_grok,
        "ours_wall_seconds": ours_wall,
        "ours_ms_per_epoch": 1e3 * ours_per_epoch,
        "baseline_grok_epoch": base_grok,
        "baseline_wall_seconds": base_wall,
        "bare_step_ms_one_hot": 1e3 * bare,
        "bare_step_ms_row_gather": 1e3 * bare_gather,
        "grok_seeds": [],
    }
    for seed in range(args.grok_seeds):
        t0 = time.perf_counter()
        r = train(cfg.replace(seed=seed))
        wall = time.perf_counter() - t0
        print(f"  seed {seed}: grok epoch {r.grok_epoch(GROK)}, wall {wall:.2f} s ({r.stopped})")
        result["mlp"]["grok_seeds"].append(
            {"seed": seed, "grok_epoch": r.grok_epoch(GROK), "wall_seconds": wall}
        )

    # ---- Nanda transformer --------------------------------------------------------------
    if not args.no_transformer:
        result["transformer"] = bench_transformer(args, dev)

    # ---- ensembles ----------------------------------------------------------------------
    if not args.no_ensemble:
        ecfg = TrainConfig(
            model="mlp", task="add", p=23, alpha=0.8, max_epochs=200, target_acc=2.0, device=dev
        )
        if args.smoke:
            ecfg = ecfg.replace(**SMOKE["ensemble"])
        result["ensembles"] = []
        seeds = list(range(8))
        trained.train_ensemble(ecfg.replace(max_epochs=2), seeds)  # warm-up
        settings = [  # 8 points of a sweep: lr x weight decay x alpha, one seed
            {"lr": lr, "weight_decay": wd, "alpha": a}
            for lr in (0.03, 0.1)
            for wd in (0.5, 1.0)
            for a in (0.6, 0.8)
        ]
        cases = (
            ("8 seeds", dict(seeds=seeds), [ecfg.replace(seed=s) for s in seeds]),
            (
                "8 settings (lr, wd, alpha)",
                dict(settings=settings),
                [ecfg.replace(**st) for st in settings],
            ),
        )
        print(
            f"\nEnsembles, MLP p={ecfg.p}, {ecfg.max_epochs} epochs "
            f"(median of {args.repeats} repeats):"
        )
        for name, kwargs, singles in cases:
            b_times, s_times = [], []
            for _ in range(args.repeats):  # alternate, so drifts in machine load hit both
                t0 = time.perf_counter()
                trained.train_ensemble(ecfg, **kwargs)
                b_times.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                for c in singles:
                    train(c)
                s_times.append(time.perf_counter() - t0)
            b, q = float(np.median(b_times)), float(np.median(s_times))
            print(
                f"  {name}: batched {b:.2f} s, sequential {q:.2f} s, ratio {b / q:.2f} "
                "(per repeat: "
                + ", ".join(f"{x / y:.2f}" for x, y in zip(b_times, s_times, strict=True))
                + ")"
            )
            result["ensembles"].append(
                {"case": name, "batched_seconds": b_times, "sequential_seconds": s_times}
            )
    if args.out:
        path = Path(args.out) / "bench_train.json"
        print(f"-> {write_json(path, {**result, **provenance(__file__, argv)})}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
