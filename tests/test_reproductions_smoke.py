"""The scripts under docs/ that publish numbers and figures run end to end at their tiny size.

Every script (docs/reproductions/*.py, docs/scripts/*.py, docs/benchmarks/bench_*.py) runs in a
subprocess with ``--smoke`` into a temporary folder (fig4b_combined.py, a plotter, draws the
output of ``width_table.py --smoke`` and of a tiny ``modfourier sweep``); the tests check the
keys each result carries, that every figure is a valid PNG, that no run directory is left
behind and that the committed results are untouched. The subprocesses run two at a time (one
thread each), once per module: about 105 s of CPU in all, so about a minute of wall time on two
otherwise idle cores. The rest checks, in this process, that every command line the docs cite
still parses and how ``_common.Runs`` treats run directories (reuse, resume, refuse, clean up).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
import shlex
import struct
import subprocess
import sys
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
REPRO = ROOT / "docs" / "reproductions"
SCRIPTS = ROOT / "docs" / "scripts"
BENCH = ROOT / "docs" / "benchmarks"
COMMITTED = REPRO / "results"

# a width sweep as docs/sweeps/fig4b_width.toml, shrunk: the input of fig4b_combined.py
SWEEP_TOML = """
name = "fig4b-smoke"
mode = "grid"
seeds = [0]
objective = "final_test_acc"
score = false

[base]
model = "mlp"
task = "add"
p = 7
alpha = 0.5
loss = "mse"
max_epochs = 5
eval_every = 5

[vary]
width = { grid = [4, 8] }
optimizer = { choices = [
  { optimizer = "gd", lr = 1.0, weight_decay = 0.0 },
  { optimizer = "adamw", lr = 0.01, weight_decay = 0.5 },
] }
"""


RANGAMANI_ARGS = ("--smoke", "--epochs", 30, "--keep-runs")
# every branch of bench_train: the MLP with a time-to-grok seed, the transformer with nanda-cpu
BENCH_TRAIN_ARGS = ("--smoke", "--grok-seeds", 1, "--grok-transformer")


def _py(script: Path, *args) -> list[str]:
    return [sys.executable, str(script), *map(str, args)]


def _jobs(tmp: Path) -> dict[str, list[list[str]]]:
    """Job name -> commands run in order (the longest jobs first: they start first)."""
    f4 = tmp / "fig4b"
    sweep_out = f4 / "sweep"
    sweep = [sys.executable, "-m", "modfourier", "sweep", str(f4 / "sweep.toml")]
    return {
        "gromov": [_py(REPRO / "gromov.py", "--smoke", "--out", tmp / "gromov")],
        "rangamani": [  # train and measure, keeping the run; measure it again and sweep alpha
            _py(REPRO / "rangamani.py", *RANGAMANI_ARGS, "--out", tmp / "rangamani"),
            _py(
                REPRO / "rangamani.py",
                "--smoke",
                "--out",
                tmp / "rangamani" / "measured",
                "--run",
                tmp / "rangamani" / "runs" / "rangamani" / "rangamani",
                "--alphas",
                0.5,
            ),
        ],  # fmt: skip
        "fig4b_combined": [
            _py(SCRIPTS / "width_table.py", "--smoke", "--out", f4 / "analytic.json"),
            [*sweep, "--out", str(sweep_out)],
            _py(SCRIPTS / "fig4b_combined.py", f4 / "fig4b.png", f4 / "analytic.json", sweep_out),
        ],
        "transformer": [_py(REPRO / "transformer.py", "--smoke", "--out", tmp / "transformer")],
        "bench_train": [_py(BENCH / "bench_train.py", *BENCH_TRAIN_ARGS, "--out", tmp / "bench")],
        "bench_closedform": [_py(BENCH / "bench_closedform.py", "--smoke", "--out", tmp / "bench")],
    }


def _digest(folder: Path) -> dict[str, str]:
    return {
        str(f.relative_to(folder)): hashlib.sha256(f.read_bytes()).hexdigest()
        for f in sorted(folder.rglob("*"))
        if f.is_file()
    }


def _run_job(commands, env) -> list[subprocess.CompletedProcess]:
    done = []
    for cmd in commands:
        done.append(
            subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
        )
        if done[-1].returncode:
            break
    return done


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    """Run every job once; returns (output folder, {job: [CompletedProcess, ...]}, committed
    results' digests before and after)."""
    tmp = tmp_path_factory.mktemp("smoke")
    (tmp / "fig4b").mkdir()
    (tmp / "fig4b" / "sweep.toml").write_text(SWEEP_TOML)
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    before = _digest(COMMITTED)
    jobs = _jobs(tmp)
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {name: pool.submit(_run_job, cmds, env) for name, cmds in jobs.items()}
        results = {name: f.result() for name, f in futures.items()}
    return tmp, results, before, _digest(COMMITTED)


def _ok(smoke, job: str) -> Path:
    """The output folder, after asserting every command of ``job`` succeeded."""
    tmp, results, _, _ = smoke
    for proc in results[job]:
        assert proc.returncode == 0, (
            f"{' '.join(proc.args[1:])} exited {proc.returncode}:\n{proc.stdout[-2000:]}\n"
            f"{proc.stderr[-4000:]}"
        )
    return tmp


def _json(path: Path):
    return json.loads(path.read_text())


def assert_png(path: Path) -> None:
    """``path`` is a complete PNG: signature, IHDR with a positive size, chunks with valid
    CRCs, IEND last."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    pos, kinds = 8, []
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert zlib.crc32(kind + body) == crc, f"{path}: bad CRC in chunk {kind!r}"
        if kind == b"IHDR":
            width, height = struct.unpack(">II", body[:8])
            assert width > 0 and height > 0
        kinds.append(kind)
        pos += 12 + length
    assert kinds[0] == b"IHDR" and kinds[-1] == b"IEND" and b"IDAT" in kinds, f"{path}: {kinds}"


# ---------------------------------------------------------------------------------------------
# every job


@pytest.mark.parametrize(
    "job",
    ["gromov", "rangamani", "fig4b_combined", "transformer", "bench_train", "bench_closedform"],
)
def test_job_exits_cleanly(smoke, job):
    _ok(smoke, job)


def test_committed_results_untouched(smoke):
    _, _, before, after = smoke
    assert before == after


@pytest.mark.parametrize(
    "job, folder",
    [("gromov", "gromov"), ("transformer", "transformer"), ("rangamani", "rangamani/measured")],
)
def test_no_run_directories_left(smoke, job, folder):
    assert not (_ok(smoke, job) / folder / "runs").exists()


def test_keep_runs_keeps_the_run_directory(smoke):
    run_dir = _ok(smoke, "rangamani") / "rangamani" / "runs" / "rangamani" / "rangamani"
    assert (run_dir / "config.json").is_file()


# ---------------------------------------------------------------------------------------------
# reproductions: JSON keys and figures

META = {"part", "size", "wall_seconds", "command", "library_version", "date"}
FIG1 = set(
    """test_loss_min_before_onset_epoch test_loss_local_max_before_onset_epoch config grok_epoch
    onset_epoch_test_acc_10pct test_loss_global_max_epoch test_loss_peak_epoch_after_100
    test_loss_peak_before_onset final weight_norms_start weight_norms_min_W1_epoch
    weight_norms_at_grok weight_norms_end grad_norm_peak_epoch_after_100 history""".split()
)
FIG3 = {"gd", "adamw", "adamw_more_peaked_every_seed"}
GROMOV = {
    "fig1": (FIG1, ["fig1.png"]),
    "fig1_paper": (FIG1, ["fig1_paper.png"]),
    "fig3": (FIG3, ["fig3.png", "fig3_adamw.png"]),
    "fig3_paper": (FIG3, ["fig3_paper.png", "fig3_paper_adamw.png"]),
    "fig4b": ({"p", "alpha", "seeds", "analytic_seeds", "rows"}, ["fig4b.png"]),
    "fig4b_gd": ({"p", "alpha", "seed", "max_epochs", "rows"}, ["fig4b.png"]),
    "fig6": (
        set(
            """config grok_epoch first_epoch_test_acc_1 ipr_start ipr_at_grok ipr_end
            ipr_reference_exact series""".split()
        ),
        ["fig6.png"],
    ),
    "appd": ({"square_sum", "square_of_sum", "mul", "cubic"}, []),
    "appe1": (
        set(
            """config grok_epoch memorized_epoch epochs train_seconds final loss_spikes fourier
            history""".split()
        ),
        ["appe1.png", "appe1_training.png", "appe1_mlp_spectrum.png"],
    ),
    "appe2": ({"rows", "transition"}, ["appe2.png"]),
}
TRANSFORMER = {
    "nanda": (
        set(
            """config grok_epoch epochs train_seconds final_test_acc key_frequencies
            positional_correlation progress""".split()
        ),
        ["nanda_progress.png", "nanda_embedding_spectrum.png"],
    ),
    "miiii": ({"full", "shuffled", "masked", "no_grokfast"}, ["miiii_embedding_spectrum.png"]),
    "miiii_scan": ({"config", "rows"}, ["miiii_scan.png"]),
    "miiii_paper": (
        set(
            """config epochs stopped seconds_this_call ms_per_epoch_this_call final_train_acc
            final_valid_acc valid_grok_epoch grokked_at_end all_grokked_epoch order
            positional_correlation series""".split()
        ),
        ["miiii_paper.png"],
    ),
}
MIIII_SCAN_ROW = set(
    """name p alpha n_train n_tasks epochs stopped seconds_this_call ms_per_epoch_this_call
    final_train_acc final_valid_acc valid_grok_epoch grokked_at_end all_grokked_epoch order
    positional_correlation series""".split()
)


@pytest.mark.parametrize("part", list(GROMOV))
def test_gromov_part_json(smoke, part):
    doc = _json(_ok(smoke, "gromov") / "gromov" / f"{part}.json")
    assert set(doc) == GROMOV[part][0] | META
    assert doc["part"] == part and doc["size"] == "smoke"
    assert doc["command"].startswith("python docs/reproductions/gromov.py --smoke")


@pytest.mark.parametrize("part", [p for p in GROMOV if GROMOV[p][1]])
def test_gromov_part_figures(smoke, part):
    for name in GROMOV[part][1]:
        assert_png(_ok(smoke, "gromov") / "gromov" / name)


def test_gromov_fig3_per_optimizer_keys(smoke):
    doc = _json(_ok(smoke, "gromov") / "gromov" / "fig3.json")
    for name in ("gd", "adamw"):
        assert {"config", "R_per_seed", "R_mean", "seed", "delta", "R", "per_seed"} <= set(
            doc[name]
        )


def test_gromov_fig4b_rows(smoke):
    doc = _json(_ok(smoke, "gromov") / "gromov" / "fig4b.json")
    assert [r["width"] for r in doc["rows"]] == [4, 8]
    assert all(len(r["analytic_per_seed"]) == doc["analytic_seeds"] for r in doc["rows"])
    assert all(len(r["adamw_final_test_acc"]) == len(doc["seeds"]) for r in doc["rows"])


def test_gromov_appd_task_keys(smoke):
    doc = _json(_ok(smoke, "gromov") / "gromov" / "appd.json")
    assert {"analytic_exact_all_branches", "trained_final_test_acc"} <= set(doc["mul"])
    assert {"trained_final_test_acc", "chance"} <= set(doc["cubic"])


def test_gromov_appe1_fourier_keys(smoke):
    doc = _json(_ok(smoke, "gromov") / "gromov" / "appe1.json")
    assert {"mlp_key_frequencies", "top", "W_E", "W_U", "mlp_pre", "mlp_post"} == set(
        doc["fourier"]
    )
    for when in ("trained", "init"):
        assert {"share_top", "mean_ipr2"} <= set(doc["fourier"]["W_E"][when])
    assert {"count", "largest_rise_over_running_min"} <= set(doc["loss_spikes"])


def test_gromov_appe2_rows_cover_the_grid(smoke):
    doc = _json(_ok(smoke, "gromov") / "gromov" / "appe2.json")
    grid = {(r["attention"], r["layers"], r["heads"]) for r in doc["rows"] if r["set"] == "grid"}
    assert grid == {(a, n, h) for a, n in [("linear", 1), ("softmax", 1), ("softmax", 2)]
                    for h in (1, 2)}  # fmt: skip
    assert {"test_from_heads", "train_from_heads"} <= set(doc["transition"][0])


@pytest.mark.parametrize("part", list(TRANSFORMER))
def test_transformer_part_json(smoke, part):
    doc = _json(_ok(smoke, "transformer") / "transformer" / f"{part}.json")
    assert set(doc) == TRANSFORMER[part][0] | META
    assert doc["size"] == "smoke"


@pytest.mark.parametrize("part", list(TRANSFORMER))
def test_transformer_part_figures(smoke, part):
    for name in TRANSFORMER[part][1]:
        assert_png(_ok(smoke, "transformer") / "transformer" / name)


def test_transformer_miiii_variants_keep_their_results(smoke):
    doc = _json(_ok(smoke, "transformer") / "transformer" / "miiii.json")
    for name in ("full", "shuffled", "masked", "no_grokfast"):
        assert {"config", "grok_epoch_all_tasks", "valid_grok_epoch_per_task"} <= set(doc[name])
    # p = 13: every prime below it; masked drops 2, 3, 5, 7 (Syrkis's task ablation)
    assert set(doc["full"]["valid_grok_epoch_per_task"]) == {"2", "3", "5", "7", "11"}
    assert set(doc["masked"]["valid_grok_epoch_per_task"]) == {"11"}


def test_transformer_miiii_scan_rows(smoke):
    doc = _json(_ok(smoke, "transformer") / "transformer" / "miiii_scan.json")
    assert [(r["p"], r["alpha"]) for r in doc["rows"]] == [(11, 0.3), (13, 0.5)]
    assert all(set(r) == MIIII_SCAN_ROW for r in doc["rows"])


def test_transformer_miiii_series_per_head(smoke):
    doc = _json(_ok(smoke, "transformer") / "transformer" / "miiii_paper.json")
    assert set(doc["series"]) == {"epoch"} | {f"valid_acc_q{q}" for q in (2, 3, 5, 7)}
    assert doc["epochs"] == doc["series"]["epoch"][-1] == 20


RANGAMANI = set(
    """preset size config grok_epoch first_epoch_test_loss_below_0_01 final accuracy_all_pairs
    key_frequencies key_frequencies_shared n_shared spectra low_rank W_fc_singular_vectors table1
    table2 table2_max_error wall_seconds command library_version date""".split()
)
RANGAMANI_FIGURES = ["rangamani_h3_spectrum.png", "rangamani_singular_values.png",
                     "rangamani_ablation.png"]  # fmt: skip


def test_rangamani_json(smoke):
    doc = _json(_ok(smoke, "rangamani") / "rangamani" / "rangamani.json")
    assert set(doc) == RANGAMANI | {"train_seconds"}
    assert doc["size"] == "smoke" and doc["config"]["p"] == 7
    assert doc["config"]["max_epochs"] == 30 and doc["final"]["epoch"] == 30


def test_rangamani_measures_a_run_directory(smoke):
    doc = _json(_ok(smoke, "rangamani") / "rangamani" / "measured" / "rangamani.json")
    assert set(doc) == RANGAMANI | {"trained_elsewhere", "alpha_sweep"}
    assert doc["trained_elsewhere"].endswith("rangamani")


@pytest.mark.parametrize("folder", ["rangamani", "rangamani/measured"])
@pytest.mark.parametrize("name", RANGAMANI_FIGURES)
def test_rangamani_figures(smoke, folder, name):
    assert_png(_ok(smoke, "rangamani") / folder / name)


def test_rangamani_alpha_sweep_json(smoke):
    doc = _json(_ok(smoke, "rangamani") / "rangamani" / "measured" / "alpha_sweep.json")
    assert {"command", "note", "rows"} <= set(doc)
    (row,) = doc["rows"]
    assert row["alpha"] == 0.5 and row["seed"] == 0
    assert {"key_frequencies", "n_key_shared", "low_rank", "clean", "epochs"} <= set(row)


def test_rangamani_alpha_sweep_figure(smoke):
    assert_png(_ok(smoke, "rangamani") / "rangamani" / "measured" / "alpha_sweep.png")


# ---------------------------------------------------------------------------------------------
# docs/scripts and docs/benchmarks


def test_width_table_json(smoke):
    doc = _json(_ok(smoke, "fig4b_combined") / "fig4b" / "analytic.json")
    assert {"task", "p", "seeds", "rows", "command", "library_version", "date"} == set(doc)
    assert [r["width"] for r in doc["rows"]] == [2, 4, 8]
    assert all(len(r["per_seed"]) == doc["seeds"] for r in doc["rows"])


def test_fig4b_combined_figure(smoke):
    assert_png(_ok(smoke, "fig4b_combined") / "fig4b" / "fig4b.png")


def test_bench_closedform_json(smoke):
    doc = _json(_ok(smoke, "bench_closedform") / "bench" / "bench_closedform.json")
    assert set(
        """p width accuracy gflops_evaluation gflops_matmul_same_shape ratio peak_traced_mb
        command library_version""".split()
    ) <= set(doc)
    assert doc["p"] == 11


def test_bench_train_json(smoke):
    doc = _json(_ok(smoke, "bench_train") / "bench" / "bench_train.json")
    assert {"mlp", "transformer", "ensembles", "command", "library_version"} <= set(doc)
    assert {"ours_ms_per_epoch", "baseline_wall_seconds", "grok_seeds"} <= set(doc["mlp"])
    assert {"ours_ms_per_epoch", "ratio", "nanda_cpu"} <= set(doc["transformer"])
    assert len(doc["ensembles"]) == 2


# ---------------------------------------------------------------------------------------------
# argument parsing, in this process (no training)


@pytest.fixture
def load_script(monkeypatch):
    """Import a script by path, with docs/reproductions on sys.path; undone afterwards."""
    monkeypatch.setattr(sys, "path", [str(REPRO), *sys.path])
    before = set(sys.modules)

    def load(path: Path):
        spec = importlib.util.spec_from_file_location(f"smoke_{path.stem}", path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # dataclasses look their module up there
        spec.loader.exec_module(module)
        return module

    yield load
    for name in set(sys.modules) - before:
        if name == "_common" or name.startswith("smoke_"):
            del sys.modules[name]


ALL_SCRIPTS = [
    REPRO / "gromov.py",
    REPRO / "rangamani.py",
    REPRO / "transformer.py",
    SCRIPTS / "width_table.py",
    SCRIPTS / "fig4b_combined.py",
    BENCH / "bench_closedform.py",
    BENCH / "bench_train.py",
]


def test_every_script_is_covered():
    found = {*REPRO.glob("[!_]*.py"), *SCRIPTS.glob("*.py"), *BENCH.glob("bench_*.py")}
    assert found == set(ALL_SCRIPTS)


def _doc_commands() -> list[tuple[str, list[str]]]:
    """(script path, arguments) of every command line the docs cite for these scripts."""
    found = []
    for md in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        text = md.read_text().replace("\\\n", " ")  # a command continued on the next line
        pattern = r"python (docs/(?:reproductions|scripts|benchmarks)/\w+\.py)([^`#|\n]*)"
        for script, rest in re.findall(pattern, text):
            found.append((script, shlex.split(rest)))
    return sorted({(s, tuple(a)) for s, a in found})


DOC_COMMANDS = _doc_commands()


def test_docs_cite_commands():
    assert {s for s, _ in DOC_COMMANDS} >= {
        f"docs/reproductions/{n}.py" for n in ("gromov", "rangamani", "transformer")
    }


@pytest.mark.parametrize(
    "script, argv", DOC_COMMANDS, ids=[" ".join([s.split("/")[-1], *a]) for s, a in DOC_COMMANDS]
)
def test_docs_command_lines_parse(load_script, script, argv):
    load_script(ROOT / script).parser().parse_args(list(argv))


@pytest.mark.parametrize("path", ALL_SCRIPTS, ids=lambda p: p.name)
def test_help(load_script, capsys, path):
    with pytest.raises(SystemExit) as exc:
        load_script(path).main(["--help"])
    assert exc.value.code == 0
    assert "usage:" in capsys.readouterr().out


@pytest.mark.parametrize(
    "path", [*ALL_SCRIPTS[:3], SCRIPTS / "width_table.py"], ids=lambda p: p.name
)
def test_smoke_without_out_is_refused(load_script, capsys, path):
    with pytest.raises(SystemExit) as exc:
        load_script(path).main(["--smoke"])
    assert exc.value.code == 2
    assert "--smoke needs --out" in capsys.readouterr().err


@pytest.mark.parametrize(
    "path", [REPRO / "gromov.py", REPRO / "transformer.py"], ids=lambda p: p.name
)
def test_smoke_and_full_are_exclusive(load_script, capsys, path):
    with pytest.raises(SystemExit) as exc:
        load_script(path).main(["--smoke", "--full", "--out", "x"])
    assert exc.value.code == 2
    assert "not allowed with" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------
# _common.Runs: a run directory is reused, resumed, or new; nothing else is touched


def _cfg(**over):
    from trained import TrainConfig

    base = dict(model="mlp", task="add", p=7, width=8, max_epochs=20, eval_every=5, seed=0,
                target_acc=2.0, device="cpu")  # fmt: skip
    return TrainConfig(**{**base, **over})


@pytest.fixture
def common(load_script):
    import torch

    torch.set_num_threads(1)
    return load_script(REPRO / "_common.py")


def test_runs_reuse_a_finished_run(common, tmp_path):
    first = common.Runs(tmp_path).train(_cfg(), "x")
    stamp = (tmp_path / "x" / "metrics.jsonl").stat().st_mtime_ns
    runs = common.Runs(tmp_path)
    again = runs.train(_cfg(), "x")
    assert again.history == first.history and again.epochs == first.epochs
    assert (tmp_path / "x" / "metrics.jsonl").stat().st_mtime_ns == stamp
    assert runs.earlier == [tmp_path / "x"] and runs.created == []


def test_runs_resume_an_unfinished_run(common, tmp_path):
    from trained import train

    whole = common.Runs(tmp_path / "a").train(_cfg(), "x")
    train(_cfg(max_epochs=10), out_dir=tmp_path / "b" / "x")
    resumed = common.Runs(tmp_path / "b").train(_cfg(), "x")
    assert resumed.history == whole.history
    assert all((resumed.weights[k] == whole.weights[k]).all() for k in whole.weights)


def test_runs_dense_checkpoints(common, tmp_path):
    from closedform import rundir

    run = common.Runs(tmp_path).train(_cfg(), "x", every=5)
    assert {5, 10, 15, 20} <= set(rundir.list_checkpoints(run.run_dir))


def test_runs_refuse_a_directory_holding_other_files(common, tmp_path):
    from closedform import rundir

    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "notes.txt").write_text("mine")
    with pytest.raises(rundir.RunDirError, match="notes.txt"):
        common.Runs(tmp_path).train(_cfg(), "x")
    assert (tmp_path / "x" / "notes.txt").read_text() == "mine"


def test_runs_refuse_a_run_of_another_configuration(common, tmp_path):
    from closedform import rundir

    common.Runs(tmp_path).train(_cfg(), "x")
    with pytest.raises(rundir.RunDirError, match="lr"):
        common.Runs(tmp_path).train(_cfg(lr=0.5), "x")


def test_clean_up_deletes_only_what_it_created(common, tmp_path):
    common.Runs(tmp_path).train(_cfg(), "old")
    runs = common.Runs(tmp_path)
    runs.train(_cfg(), "old")
    runs.train_ensemble(_cfg(), [0, 1], "new")
    runs.clean_up()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old"]
