import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import closedform
import compare
from compare._report import write_report

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def assert_png(path, min_bytes=5000):
    data = Path(path).read_bytes()
    assert data[:8] == PNG_MAGIC, path
    assert len(data) > min_bytes, (path, len(data))


@pytest.fixture(scope="module")
def noisy():
    task = closedform.get_task("add", 13)
    net = closedform.analytic_mlp(task, frequencies=[2, 5], phases="exact")
    rng = np.random.default_rng(0)
    W1 = net.W1 + 0.2 * rng.standard_normal(net.W1.shape)
    W2 = net.W2 + 0.2 * rng.standard_normal(net.W2.shape)
    return task, W1, W2


def test_training_curves_png(tmp_path, fake_run):
    from closedform.rundir import read_metrics

    assert_png(compare.plot_training_curves(read_metrics(fake_run), tmp_path / "c.png"))


def test_preactivations_png(tmp_path, noisy):
    task, W1, _ = noisy
    assert_png(compare.plot_preactivations(W1, task, tmp_path / "pre.png"))


def test_preactivations_mul_in_log_domain(tmp_path):
    net = closedform.analytic_mlp(closedform.get_task("mul", 11), frequencies=[2], phases="exact")
    assert_png(compare.plot_preactivations(net.W1, net.task, tmp_path / "pre.png", neurons=[0]))


def test_phase_histogram_png(tmp_path, noisy):
    task, W1, W2 = noisy
    res = compare.phase_residual(compare.neuron_phases(W1, W2, task))
    assert_png(compare.plot_phase_histogram(res, tmp_path / "ph.png", reference=np.zeros(5)))


def test_ipr_series_png(tmp_path, fake_run):
    series = compare.ipr_series(fake_run)
    assert series["epoch"] == [0, 1, 2, 4, 8]
    assert_png(compare.plot_ipr_series(series, tmp_path / "ipr.png"))


def test_spectrum_heatmap_png(tmp_path, noisy):
    task, W1, W2 = noisy
    assert_png(compare.plot_spectrum_heatmap(W1, W2, task, tmp_path / "s.png"))


def test_singular_values_png(tmp_path, noisy):
    _, W1, W2 = noisy
    assert_png(compare.plot_singular_values({"W1": W1, "W2": W2}, tmp_path / "sv.png"))


def test_spectrum_2d_png(tmp_path, noisy):
    task, W1, _ = noisy
    n, m = np.divmod(np.arange(13 * 13), 13)
    hidden = ((W1[:, n] + W1[:, 13 + m]) ** 2).T
    assert_png(compare.plot_spectrum_2d(hidden, tmp_path / "s2d.png", task=task))


def test_ablation_png(tmp_path, noisy):
    task, W1, W2 = noisy
    res = compare.mlp_frequency_ablation(W1, W2, task, [2, 5])
    assert_png(compare.plot_ablation(res, tmp_path / "a.png"))


@pytest.mark.parametrize(
    "fn, args",
    [
        (compare.plot_training_curves, ([],)),
        (compare.plot_ipr_series, ({"epoch": []},)),
        (compare.plot_ablation, ({"single": []},)),
        (compare.plot_singular_values, ({"v": np.ones(3)},)),
    ],
    ids=["no-metrics", "empty-series", "not-ablation", "no-matrix"],
)
def test_figure_invalid_inputs(tmp_path, fn, args):
    with pytest.raises(ValueError):
        fn(*args, tmp_path / "x.png")


def test_report_renders(tmp_path, fake_run):
    out = write_report(fake_run, tmp_path / "report")
    html_text = (out / "report.html").read_text()
    assert html_text.startswith("<!DOCTYPE html>") and html_text.rstrip().endswith("</html>")
    assert html_text.count("data:image/png;base64,") == 8
    md = (out / "report.md").read_text()
    assert "| phase residual R |" in md and "| theory (analytic) |" in md
    for png in sorted(out.glob("*.png")):
        assert_png(png)
    card = json.loads((out / "scorecard.json").read_text())
    assert card["theory"]["phase"]["R"] == pytest.approx(1.0)
    assert 0 < card["ipr"]["all"] < 1


def test_cli_compare_json(fake_run):
    proc = subprocess.run(
        [sys.executable, "-m", "modfourier", "compare", str(fake_run), "--json", "--no-low-rank"],
        check=True,
        capture_output=True,
        text=True,
    )
    card = json.loads(proc.stdout)
    assert card["meta"]["p"] == 13 and "low_rank" not in card


def test_cli_report_and_table(tmp_path, fake_run):
    from modfourier.cli import main

    assert main(["report", str(fake_run), "--out", str(tmp_path / "rep"), "--no-low-rank"]) == 0
    assert (tmp_path / "rep" / "report.html").is_file()
    assert main(["compare", str(fake_run), "--no-low-rank"]) == 0
