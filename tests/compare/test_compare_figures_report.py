"""Figures and reports: what each figure says, how the page is built, and what a report does on
failure. Page-structure tests build their figures but skip drawing them (a 1-pixel PNG stands
in, see ``quick_png``); the figures themselves are drawn in the figure tests and in the browser
test (tests/compare/test_report_browser.py)."""

import json
import re
import shlex
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest

import closedform
import compare
from compare import _figures as F
from compare import _report as R
from compare._report import scorecard_rows, write_report

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


# a valid 1 x 1 white PNG
TINY_PNG = (
    PNG_MAGIC
    + _chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
    + _chunk(b"IDAT", zlib.compress(b"\x00\xff\xff\xff"))
    + _chunk(b"IEND", b"")
)


def _quick_save(fig, path):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(TINY_PNG)
    return path


@pytest.fixture
def quick_png(monkeypatch):
    """Build every figure, write a 1-pixel PNG instead of drawing it."""
    monkeypatch.setattr(F, "_save", _quick_save)


@pytest.fixture(scope="module")
def module_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("reports")


def _quick_report(*args, **kwargs):
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(F, "_save", _quick_save)
        return write_report(*args, **kwargs)


@pytest.fixture(scope="module")
def grok_report(module_dir, make_run):
    run = make_run(module_dir / "grok_run")
    return _quick_report(run, module_dir / "grok_report", low_rank=False)


@pytest.fixture(scope="module")
def memorized_report(module_dir, make_run):
    run = make_run(module_dir / "memorized_run", history="memorized")
    return _quick_report(run, module_dir / "memorized_report", low_rank=False)


@pytest.fixture(scope="module")
def analytic_dir(module_dir):
    net = closedform.analytic_mlp(
        closedform.get_task("add", 13), frequencies=[2, 5], phases="exact"
    )
    return Path(net.save(module_dir / "analytic"))


@pytest.fixture(scope="module")
def analytic_report(module_dir, analytic_dir):
    return _quick_report(analytic_dir, module_dir / "analytic_report", low_rank=False)


@pytest.fixture(scope="module")
def noisy():
    task = closedform.get_task("add", 13)
    net = closedform.analytic_mlp(task, frequencies=[2, 5], phases="exact")
    rng = np.random.default_rng(0)
    W1 = net.W1 + 0.2 * rng.standard_normal(net.W1.shape)
    W2 = net.W2 + 0.2 * rng.standard_normal(net.W2.shape)
    return task, W1, W2


def _metrics(train, test):
    return [
        {
            "epoch": e,
            "train_acc": a,
            "test_acc": b,
            "train_loss": 1.0 / (e + 1),
            "test_loss": 2.0 / (e + 1),
            "norm_W1": 1.0,
        }
        for e, a, b in zip((0, 10, 100, 1000), train, test, strict=True)
    ]


def _metrics_at(epochs, train, test):
    return [
        {"epoch": e, "train_acc": a, "test_acc": b, "train_loss": 1.0, "test_loss": 1.0}
        for e, a, b in zip(epochs, train, test, strict=True)
    ]


GROKKED = _metrics((0.1, 1.0, 1.0, 1.0), (0.0, 0.1, 0.5, 1.0))
MEMORIZED = _metrics((0.1, 1.0, 1.0, 1.0), (0.0, 0.02, 0.03, 0.025))


def _texts_outside(fig) -> list[str]:
    """Visible texts that stick out of the figure's canvas (clipped in the PNG)."""
    from matplotlib.text import Text

    F._fit_text(fig)  # as F._save does before writing
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    box = fig.bbox
    # tick labels exist beyond the view limits too; only those of drawn ticks count
    all_ticks, drawn = set(), set()
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            for tick in axis.get_major_ticks() + axis.get_minor_ticks():
                all_ticks |= {id(tick.label1), id(tick.label2)}
            for tick in axis._update_ticks():
                drawn |= {id(tick.label1), id(tick.label2)}
    bad = []
    for t in fig.findobj(Text):
        if not t.get_visible() or not t.get_text().strip():
            continue
        if id(t) in all_ticks and id(t) not in drawn:
            continue
        e = t.get_window_extent(renderer)
        if e.x0 < box.x0 - 1 or e.y0 < box.y0 - 1 or e.x1 > box.x1 + 1 or e.y1 > box.y1 + 1:
            bad.append(t.get_text())
    return bad


# --------------------------------------------------------------------------------------------
# figures


def test_png_is_written_at_200_dpi(tmp_path, noisy):
    _, W1, W2 = noisy
    data = compare.plot_singular_values({"W1": W1}, tmp_path / "sv.png").read_bytes()
    assert data[:8] == PNG_MAGIC
    i = data.index(b"pHYs")
    per_metre = struct.unpack(">I", data[i + 4 : i + 8])[0]
    assert per_metre * 0.0254 >= 199.5


def _figure_cases():
    task = closedform.get_task("add", 13)
    net = closedform.analytic_mlp(task, frequencies=[2, 5], phases="exact")
    rng = np.random.default_rng(1)
    W1 = net.W1 + 0.1 * rng.standard_normal(net.W1.shape)
    W2 = net.W2 + 0.1 * rng.standard_normal(net.W2.shape)
    n, m = np.divmod(np.arange(13 * 13), 13)
    hidden = ((W1[:, n] + W1[:, 13 + m]) ** 2).T
    ablation = compare.mlp_frequency_ablation(W1, W2, task, [5, 2, 1, 3, 4, 6])
    series = {
        "epoch": [0, 1, 10],
        "n": [0.2, 0.5, 0.9],
        "m": [0.2, 0.5, 0.9],
        "out": [0.2, 0.4, 0.8],
        "all": [0.2, 0.47, 0.87],
        "reference": {"all": 1.0},
    }
    twin = {
        "model": "mlp",
        "energy_per_frequency": {
            "frequency": [1, 2, 3],
            "network": [0.5, 0.3, 0.2],
            "twin": [0.5, 0.5, 0.0],
        },
    }
    freq = {
        "epoch": [0, 10, 100],
        "frequencies": [4, 1],
        "share": [[0.1, 0.3, 0.5], [0.1, 0.2, 0.4]],
        "key_share": [0.2, 0.5, 0.9],
        "what": "W_E",
    }
    return {
        "curves-accuracy": lambda: F._training_curves_figure(
            MEMORIZED, "cross-entropy", ["accuracy"], 0.99, 100
        ),
        "curves-loss": lambda: F._training_curves_figure(
            GROKKED, "MSE on one-hot targets", ["loss"], 0.99, None
        ),
        "curves-norms": lambda: F._training_curves_figure(GROKKED, "x", ["norms"], 0.99, None),
        "overlay": lambda: F._runs_overlay_figure(
            [("seed 0", GROKKED), ("seed 1", MEMORIZED)], "accuracy", 0.99
        ),
        "series-overlay": lambda: F._series_overlay_figure(
            [("a", [0, 10], [0.1, 0.9], 10), ("b", [0, 10], [0.2, 0.3], None)],
            "IPR",
            "Mean IPR over training",
            1.0,
        ),
        "preactivation": lambda: F._preactivations_figure(W1, task, [0], ["preactivation"]),
        "fourier": lambda: F._preactivations_figure(W1, task, [0], ["fourier"]),
        "phase-histogram": lambda: F._phase_histogram_figure(
            np.linspace(-0.05, 0.08, 40), "trained", np.zeros(4)
        ),
        "ipr-series": lambda: F._ipr_series_figure(series, GROKKED[:3], ["ipr"], 0.99, 10),
        "phase-series": lambda: F._phase_series_figure(
            {"epoch": [0, 1, 10], "R": [0.1, 0.5, 1.0], "share_agree": [0.0, 0.5, 1.0]}, 10, None
        ),
        "frequency-series": lambda: F._frequency_series_figure(freq, 10, 100),
        "spectrum-heatmap": lambda: F._spectrum_heatmap_figure(
            net.W1, net.W2, task, "trained", ["out"]
        ),
        "spectrum-2d": lambda: F._spectrum_2d_figure(hidden, task, "the hidden activations"),
        "singular-values": lambda: F._singular_values_figure(
            {"W_out": np.random.default_rng(0).standard_normal((64, 16))}, {"W_out": {"rank": 4}}
        ),
        "ablation-single": lambda: F._ablation_figure(ablation, ["single"], [5, 2]),
        "ablation-cumulative": lambda: F._ablation_figure(ablation, ["cumulative"], [5, 2]),
        "twin-energy": lambda: F._twin_energy_figure(twin),
        # titles and labels that carry data: long numbers must not push text off the canvas
        "curves-accuracy-long-epochs": lambda: F._training_curves_figure(
            _metrics_at((0, 10000, 123456, 1234567), (0.1, 1.0, 1.0, 1.0), (0.0, 0.0, 0.5, 1.0)),
            "x",
            ["accuracy"],
            0.99,
            1234567,
        ),
        "curves-accuracy-memorized": lambda: F._training_curves_figure(
            _metrics_at((0, 100, 300, 3000), (0.05, 0.2, 1.0, 1.0), (0.04, 0.02, 0.3, 0.43)),
            "x",
            ["accuracy"],
            0.99,
            None,
        ),
        "phase-histogram-odd-range": lambda: F._phase_histogram_figure(
            np.linspace(-0.123456, 0.191234, 123), "a rather long network label", None
        ),
    }


FIGURES = _figure_cases()


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_figure_text_stays_inside_the_canvas(name):
    # a clipped y label or title is lost in the PNG
    with F._style():
        fig = FIGURES[name]()
        assert _texts_outside(fig) == []


def _accuracy_title(metrics):
    return F._training_curves_figure(metrics, "x", ["accuracy"], 0.99, None).axes[0].get_title()


def test_curves_never_claim_grokking_for_a_run_that_did_not_generalize():
    title = _accuracy_title(MEMORIZED)
    assert "grokking" not in title and "never" in title


def test_curves_call_grokking_a_test_curve_that_rises_after_the_train_curve():
    assert "grokking" in _accuracy_title(GROKKED)


@pytest.mark.parametrize("panel", ["loss", "accuracy", "norms"])
def test_curves_mark_the_grok_epoch_on_every_panel(panel):
    ax = F._training_curves_figure(GROKKED, "x", [panel], 0.99, None).axes[0]
    assert any(line.get_label() == "grok epoch 1000" for line in ax.get_lines())


def test_grok_epoch_uses_the_worst_head_of_a_multitask_run():
    rec = [{"epoch": 5, "test_acc": 1.0, "test_acc_min": 0.5}, {"epoch": 9, "test_acc_min": 1.0}]
    assert F.grok_epoch(rec) == 9


def test_spectrum_2d_colour_bar_names_the_root_sum_square(noisy):
    task, W1, _ = noisy
    n, m = np.divmod(np.arange(13 * 13), 13)
    fig = F._spectrum_2d_figure(((W1[:, n] + W1[:, 13 + m]) ** 2).T, task, "h")
    labels = " ".join(ax.get_ylabel() for ax in fig.axes)
    assert "root-sum-square" in labels and "summed" not in labels


def test_phase_histogram_zooms_on_a_narrow_spread():
    ax = F._phase_histogram_figure(np.linspace(-0.1, 0.1, 50), "trained", None).axes[0]
    assert ax.get_xlim()[1] < 0.2 and "zoomed" in ax.get_xlabel()
    assert len(ax.patches) >= 11  # the spread is cut into bins, not one


def test_phase_histogram_keeps_the_circle_for_spread_out_phases():
    rng = np.random.default_rng(0)
    ax = F._phase_histogram_figure(rng.uniform(-np.pi, np.pi, 200), "trained", None).axes[0]
    assert ax.get_xlim() == pytest.approx((-np.pi, np.pi)) and "zoomed" not in ax.get_xlabel()


def test_ipr_series_draws_accuracy_on_axes_of_its_own():
    series = {
        "epoch": [0, 10],
        "n": [0.5, 1],
        "m": [0.5, 1],
        "out": [0.5, 1],
        "all": [0.5, 1],
        "reference": {"all": 1.0},
    }
    fig = F._ipr_series_figure(series, GROKKED, None, 0.99, None)
    ipr_ax, acc_ax = fig.axes
    assert ipr_ax.get_position().y0 > acc_ax.get_position().y1 - 1e-9  # stacked, not twinned
    assert not any("accuracy" in line.get_label() for line in ipr_ax.get_lines())
    assert any("exact network" in line.get_label() for line in ipr_ax.get_lines())


def test_preactivation_neurons_show_different_frequencies(make_mlp):
    task = closedform.get_task("add", 13)
    # the three largest neurons share k = 2; k = 3 and k = 5 have smaller ones
    amps = np.array([[3.0] * 3, [2.9] * 3, [2.8] * 3, [1.0] * 3, [0.9] * 3])
    W1, _ = make_mlp(task, [2, 2, 2, 3, 5], np.zeros((5, 3)), amps=amps)
    chosen = F.preactivation_neurons(W1, task)
    assert sorted(chosen) == [0, 3, 4]


def test_ablation_single_axis_is_fitted_to_the_data():
    result = {
        "baseline": 1.0,
        "chance": 0.1,
        "cumulative": [],
        "single": [{"frequency": k, "accuracy": 0.99 - 0.002 * k} for k in range(1, 7)],
    }
    low, high = F._ablation_figure(result, ["single"], None).axes[0].get_ylim()
    assert high - low < 10  # percentage points: a 1-point change fills the axis


def test_ablation_without_any_change_says_so():
    result = {
        "baseline": 1.0,
        "cumulative": [],
        "single": [{"frequency": k, "accuracy": 1.0} for k in range(1, 7)],
    }
    assert "no change" in F._ablation_figure(result, ["single"], None).axes[0].get_title()


def test_twin_energy_compares_shares_of_each_total():
    twin = {"energy_per_frequency": {"frequency": [1, 2], "network": [3.0, 1.0], "twin": [1, 1]}}
    bars = F._twin_energy_figure(twin).axes[0].patches
    assert [round(b.get_height(), 3) for b in bars] == [0.75, 0.25, 0.5, 0.5]


@pytest.mark.parametrize(
    "fn, args",
    [
        (compare.plot_training_curves, ([],)),
        (compare.plot_ipr_series, ({"epoch": []},)),
        (compare.plot_ablation, ({"single": []},)),
        (compare.plot_singular_values, ({"v": np.ones(3)},)),
        (F.plot_twin_energy, ({"model": "mlp"},)),
        (F.plot_runs_overlay, ([("a", [])],)),
        (F.plot_series_overlay, ([("a", [0, 1], [0.5], None)],)),
    ],
    ids=[
        "no-metrics",
        "empty-series",
        "not-ablation",
        "no-matrix",
        "no-twin-energy",
        "empty-run",
        "length-mismatch",
    ],
)
def test_figure_invalid_inputs(tmp_path, fn, args):
    with pytest.raises(ValueError):
        fn(*args, tmp_path / "x.png", *(("y", "t") if fn is F.plot_series_overlay else ()))


@pytest.mark.parametrize(
    "panels, error",
    [("bogus", ValueError), ([], ValueError), (3, TypeError)],
    ids=["unknown-name", "empty", "not-a-sequence"],
)
def test_figure_invalid_panels(tmp_path, panels, error):
    with pytest.raises(error):
        compare.plot_training_curves(GROKKED, tmp_path / "x.png", panels=panels)


# --------------------------------------------------------------------------------------------
# the table


def test_rows_keep_key_frequencies_in_energy_order():
    rows = scorecard_rows({"frequencies": {"key": [7, 2, 5]}, "meta": {"model": "mlp"}})
    assert (
        dict((r[0], r[2]) for r in rows)["key frequencies, strongest first (readout)"] == "7, 2, 5"
    )


def test_rows_print_svd_ticks_as_text():
    rows = scorecard_rows({"svd_ticks_W_E": {"0.5": 3, "0.9": 7}, "meta": {"model": "rnn"}})
    value = next(r[2] for r in rows if r[0].startswith("W_E singular vectors"))
    assert value == "50 % variance: r = 3; 90 % variance: r = 7"


@pytest.mark.parametrize(
    "model, paper",
    [("mlp", "Gromov"), ("rnn", "Rangamani"), ("transformer", "Nanda")],
)
def test_rows_cite_the_scored_models_paper_for_accuracy(model, paper):
    rows = scorecard_rows({"accuracy": 0.5, "meta": {"model": model}})
    assert paper in rows[0][3]


def test_rows_separate_train_and_test_accuracy():
    card = {"accuracy": 0.512, "meta": {"model": "rnn"}}
    rows = {r[0]: r[2] for r in scorecard_rows(card, split={"train": 1.0, "test": 0.025})}
    assert rows["train accuracy"] == "1.0000" and rows["test accuracy"] == "0.0250"
    assert rows["accuracy over all pairs (train + test mixed)"] == "0.5120"


def test_rows_prefer_the_cards_accuracy_split():
    card = {"accuracy_split": {"train": 0.9, "test": 0.8, "all": 0.85}, "meta": {"model": "mlp"}}
    rows = {r[0]: r[2] for r in scorecard_rows(card, split={"train": 0.1, "test": 0.1})}
    assert rows["train accuracy"] == "0.9000" and rows["test accuracy"] == "0.8000"


def test_rows_render_the_twin():
    card = {
        "meta": {"model": "rnn"},
        "twin": {
            "model": "rnn",
            "frequencies": [3, 1],
            "frequencies_rule": "key",
            "accuracy": 1.0,
            "logit_variance_explained": 0.75,
        },
    }
    rows = {r[0]: r for r in scorecard_rows(card)}
    assert rows["analytic twin (rnn): accuracy"][1] == "1.0000"
    assert rows["share of the network's logit variance the twin explains"][2] == "0.7500"
    assert rows["analytic twin (rnn): frequencies"][1] == "3, 1"


def test_rows_skip_keys_the_card_lacks():
    labels = [r[0] for r in scorecard_rows({"accuracy": 1.0, "meta": {"model": "mlp"}})]
    assert labels == ["accuracy over all defined pairs"]


def test_notes_give_one_rank_rule_for_matrices_that_share_it():
    card = {"low_rank": {"W1": {"rank_rule": "search"}, "W2": {"rank_rule": "search"}}}
    assert R._table_notes(card, None) == ["Minimal rank (this network, every matrix): search"]


def test_rows_reject_a_non_dict_card():
    with pytest.raises(TypeError, match="card"):
        scorecard_rows([1, 2])


# --------------------------------------------------------------------------------------------
# verdicts


def _run(split=None, health=None, source="trained", accuracy=None):
    card = {"accuracy": accuracy}
    if split is not None:
        card["accuracy_split"] = dict(split)
    if health is not None:
        card["health"] = health
    config = {"model": "mlp", "source": source, "p": 13, "task": {"name": "add"}}
    return R._Run(Path("run"), "run", config, {}, None, [], card=card)


@pytest.mark.parametrize(
    "run, kind",
    [
        (_run({"train": 1.0, "test": 0.025}), "memorized"),
        (_run({"train": 0.5, "test": 0.4}), "not_fit"),
        (_run({"train": 1.0, "test": 0.995}), "generalized"),
        (_run({"train": 1.0, "test": 0.95}), "partial"),
        (
            _run({"train": 1.0, "test": 1.0}, {"status": "collapsed", "detail": "W = 0."}),
            "collapsed",
        ),
        (_run(source="analytic", accuracy=1.0), "exact"),
        (_run(source="analytic", accuracy=0.9), "inexact"),
    ],
    ids=["memorized", "not-fit", "generalized", "partial", "broken", "exact", "inexact"],
)
def test_verdict(run, kind):
    assert R._verdict(run)[0] == kind


# --------------------------------------------------------------------------------------------
# the page


def _html(report):
    return (report / "report.html").read_text()


def test_page_has_a_viewport_meta_tag(grok_report):
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in _html(
        grok_report
    )


def test_page_header_has_everything_to_reproduce_the_run(grok_report):
    labels = re.findall(r"<dt>(.*?)</dt>", _html(grok_report))
    for label in (
        "network",
        "task",
        "preset",
        "hyper-parameters",
        "seed",
        "epochs",
        "stop reason",
        "grok epoch",
        "train accuracy",
        "test accuracy",
        "library version",
        "command to reproduce",
        "command of this report",
    ):
        assert label in labels


def test_page_shows_train_and_test_accuracy_of_the_run(grok_report):
    page = _html(grok_report)
    assert "<dt>grok epoch</dt><dd>8 (first test accuracy &gt;= 99.0 %)</dd>" in page
    assert "<dt>test accuracy</dt><dd>100.0 %" in page


def test_page_flags_a_memorizing_run(memorized_report):
    banner = re.search(r'<div class="banner (\w+)"[^>]*>(.*?)</div>', _html(memorized_report))
    assert banner.group(1) == "bad" and "did not generalize" in banner.group(2).lower()


def test_page_titles_differ_for_analytic_and_trained(grok_report, analytic_report):
    def title(report):
        return re.search(r"<h1[^>]*>(.*?)</h1>", _html(report)).group(1)

    assert title(grok_report).split(": ")[1].startswith("Trained MLP")
    assert title(analytic_report).split(": ")[1].startswith("Analytic MLP")


def test_page_keeps_the_scorecard_out_of_sight(grok_report):
    page = _html(grok_report)
    assert '<a href="scorecard.json">' in page and '<details class="scorecard">' in page
    assert '"accuracy":' not in page  # no JSON dump
    assert all("{" not in pre for pre in re.findall(r"<pre>(.*?)</pre>", page, re.S))


def test_page_gives_every_figure_section_a_theory_caption(grok_report):
    page = _html(grok_report)
    sections = re.findall(r'<p class="caption">(.*?)</p>\s*<div class="grid">', page)
    assert len(sections) == page.count('<div class="grid">') >= 8
    assert all(text.startswith("Theory:") for text in sections)


def test_page_images_link_to_their_own_zoomed_figure(grok_report):
    page = _html(grok_report)
    figures = re.findall(r'<figure id="([^"]+)"><a class="zoom" href="#([^"]+)"', page)
    assert len(figures) == page.count("<img ") and all(a == b for a, b in figures)
    assert "figure:target" in page


def test_page_loads_nothing_from_outside(grok_report):
    page = _html(grok_report)
    assert "<script" not in page.lower()
    assert not re.search(r'(src|href)="(https?:|//)', page)


def test_page_contents_links_resolve(grok_report):
    page = _html(grok_report)
    ids = set(re.findall(r'id="([^"]+)"', page))
    toc = re.search(r'<nav class="toc".*?</nav>', page, re.S).group(0)
    assert set(re.findall(r'href="#([^"]+)"', toc)) <= ids


def test_markdown_has_the_same_header_and_captions(grok_report):
    page, md = _html(grok_report), (grok_report / "report.md").read_text()
    import html as _html_mod

    for caption in re.findall(r'<p class="caption">(.*?)</p>', page):
        assert _html_mod.unescape(caption) in md
    for label in re.findall(r"<dt>(.*?)</dt>", page):
        assert f"| {label} |" in md


def test_report_ablates_every_frequency_down_to_chance(grok_report):
    card = json.loads((grok_report / "scorecard.json").read_text())
    cumulative = card["ablation"]["cumulative"]
    assert len(cumulative) == 13 // 2
    assert cumulative[-1]["accuracy"] <= card["ablation"]["chance"]


def test_report_orders_matrices_by_the_forward_pass():
    weights = {k: np.zeros((2, 2)) for k in ("W_U", "W_in", "W_E", "zz", "W_Q", "W_pos")}
    assert list(R._ordered_matrices(weights)) == ["W_E", "W_pos", "W_Q", "W_in", "W_U", "zz"]


def test_report_renders_hand_made_new_keys(quick_png, tmp_path, make_run, monkeypatch):
    # twin, accuracy split, health and rank rules as compare.score may add them
    from compare import _score

    real = _score.score

    def score(*args, **kwargs):
        card = real(*args, **kwargs)
        card["accuracy_split"] = {"train": 1.0, "test": 0.025, "all": 0.51}
        card["health"] = {"status": "non_finite", "detail": "W2 holds NaN."}
        card["twin"] = {
            "model": "mlp",
            "frequencies": [2, 5],
            "frequencies_rule": "key freqs",
            "accuracy": 1.0,
            "logit_variance_explained": 0.5,
            "energy_per_frequency": {"frequency": [1, 2], "network": [1, 2], "twin": [0, 2]},
        }
        card["low_rank"] = {"W1": {"rank": 4, "rank_rule": "gap rule"}}
        return card

    monkeypatch.setattr(_score, "score", score)
    run = make_run(tmp_path / "run")
    page = _html(write_report(run, tmp_path / "rep", low_rank=False))
    assert "Non-finite network." in page and "W2 holds NaN." in page
    assert "analytic twin (mlp): accuracy" in page and "key freqs" in page
    assert "Minimal rank (this network, every matrix): gap rule" in page
    assert ">0.0250<" in page  # test accuracy from the split


def test_report_of_non_finite_weights_shows_the_banner(quick_png, tmp_path, make_run):
    run = make_run(tmp_path / "run")
    w = closedform.rundir.load_weights(run / "weights.safetensors")
    w["W2"][0, 0] = np.nan
    (run / "weights.safetensors").unlink()
    closedform.rundir.save_weights(run / "weights.safetensors", w)
    page = _html(write_report(run, tmp_path / "rep", low_rank=False))
    assert 'class="banner bad"' in page and "NaN or inf" in page


# --------------------------------------------------------------------------------------------
# commands


def test_analytic_command_rebuilds_the_same_weights(tmp_path, analytic_dir, analytic_report):
    from modfourier.cli import main

    page = (analytic_report / "report.md").read_text()
    command = re.search(r"\| command to reproduce \| `(.*?)` \|", page).group(1)
    argv = shlex.split(command)
    assert argv[:2] == ["modfourier", "construct"]
    argv[argv.index("--out") + 1] = str(tmp_path / "rebuilt")
    assert main(argv[1:]) == 0
    old = closedform.rundir.load_weights(analytic_dir / "weights.safetensors")
    new = closedform.rundir.load_weights(tmp_path / "rebuilt" / "weights.safetensors")
    assert np.array_equal(old["W1"], new["W1"]) and np.array_equal(old["W2"], new["W2"])


def test_train_command_names_every_recorded_choice(grok_report):
    page = (grok_report / "report.md").read_text()
    command = shlex.split(re.search(r"\| command to reproduce \| `(.*?)` \|", page).group(1))
    assert command[:2] == ["modfourier", "train"]
    for flag, value in (
        ("--model", "mlp"),
        ("--p", "13"),
        ("--preset", "mlp-cpu"),
        ("--seed", "0"),
        ("--epochs", "8"),
        ("--alpha", "0.5"),
    ):
        assert command[command.index(flag) + 1] == value
    assert {"loss=mse", "target_acc=0.99"} <= set(command)
    assert any(re.fullmatch(r"width=\d+", c) for c in command)


# --------------------------------------------------------------------------------------------
# building, failing, replacing


def test_failed_report_leaves_nothing_behind(quick_png, tmp_path, monkeypatch, fake_run):
    def broken(*args, **kwargs):
        raise RuntimeError("figure failed")

    monkeypatch.setattr(F, "plot_phase_histogram", broken)
    with pytest.raises(RuntimeError, match="figure failed"):
        write_report(fake_run, tmp_path / "new" / "deeper" / "report", low_rank=False)
    assert not (tmp_path / "new").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_report_replaces_a_previous_report_whole(quick_png, tmp_path, fake_run):
    out = tmp_path / "rep"
    write_report(fake_run, out, low_rank=False)
    (out / "stale.png").write_bytes(TINY_PNG)
    write_report(fake_run, out, low_rank=False)
    assert not (out / "stale.png").exists() and (out / "report.html").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rep", "run"]


def test_report_refuses_a_directory_with_other_files(tmp_path, fake_run):
    (tmp_path / "rep").mkdir()
    (tmp_path / "rep" / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="notes.txt"):
        write_report(fake_run, tmp_path / "rep", low_rank=False)
    assert (tmp_path / "rep" / "notes.txt").read_text() == "mine"


def test_report_of_a_checkpoint(quick_png, tmp_path, fake_run):
    out = write_report(fake_run, tmp_path / "rep", low_rank=False, epoch=4)
    page = _html(out)
    assert "at epoch 4 (checkpoint)" in re.search(r"<h1[^>]*>(.*?)</h1>", page).group(1)
    assert "<dt>weights</dt><dd>checkpoint at epoch 4 (of 8 trained)</dd>" in page
    assert "metrics.jsonl, epoch 4" in page  # train/test accuracy of that epoch
    card = json.loads((out / "scorecard.json").read_text())
    assert card["meta"]["epoch"] == 4


def test_report_of_several_runs(quick_png, tmp_path, make_run):
    a = make_run(tmp_path / "seed0", seed=0)
    b = make_run(tmp_path / "seed1", seed=1, history="memorized")
    out = write_report([a, b], tmp_path / "rep", low_rank=False)
    page = _html(out)
    assert {"scorecard_1.json", "scorecard_2.json", "overlay_accuracy.png", "overlay_ipr.png"} <= {
        p.name for p in out.iterdir()
    }
    runs_table = re.search(r'id="runs".*?</table>', page, re.S).group(0)
    assert runs_table.count("<tr>") == 3  # header + one row per run
    assert "seed1: Did not generalize." in page


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"model_dir": 3}, TypeError, "model_dir"),
        ({"model_dir": []}, TypeError, "model_dir"),
        ({"epoch": -1}, TypeError, "epoch"),
        ({"epoch": 3}, ValueError, "its checkpoints are \\[0, 1, 2, 4, 8\\]"),
        ({"low_rank": "no"}, TypeError, "low_rank"),
        ({"out_dir": 5}, TypeError, "out_dir"),
        ({"twice": True}, ValueError, "twice"),
        ({"several_epoch": True}, ValueError, "one run"),
        ({"several_no_out": True}, ValueError, "out_dir"),
    ],
    ids=[
        "not-a-path",
        "empty-list",
        "negative-epoch",
        "no-such-checkpoint",
        "low-rank-str",
        "out-not-path",
        "same-dir-twice",
        "epoch-with-several",
        "several-without-out",
    ],
)
def test_report_invalid_inputs(tmp_path, fake_run, make_run, kwargs, error, match):
    args = {"model_dir": fake_run, "out_dir": tmp_path / "rep", "low_rank": False}
    if kwargs.pop("twice", False):
        args["model_dir"] = [fake_run, fake_run]
    if kwargs.pop("several_epoch", False):
        args.update(model_dir=[fake_run, make_run(tmp_path / "b")], epoch=4)
    if kwargs.pop("several_no_out", False):
        args.update(model_dir=[fake_run, make_run(tmp_path / "b")], out_dir=None)
    args.update(kwargs)
    with pytest.raises(error, match=match):
        write_report(**args)
    assert not (tmp_path / "rep").exists()


def test_reference_for_another_p_is_refused(tmp_path, fake_run):
    net = closedform.analytic_mlp(closedform.get_task("add", 11), frequencies=[2], phases="exact")
    ref = net.save(tmp_path / "ref11")
    with pytest.raises(ValueError, match="same task with the same p"):
        write_report(fake_run, tmp_path / "rep", reference_dir=ref, low_rank=False)


def test_trained_reference_is_labelled_as_such(quick_png, tmp_path, fake_run, make_run):
    other = make_run(tmp_path / "other", seed=3)
    page = _html(write_report(fake_run, tmp_path / "rep", reference_dir=other, low_rank=False))
    assert 'data-label="reference (trained)"' in page


def test_analytic_reference_is_the_theory(quick_png, tmp_path, fake_run, analytic_dir):
    page = _html(
        write_report(fake_run, tmp_path / "rep", reference_dir=analytic_dir, low_rank=False)
    )
    assert 'data-label="reference (analytic MLP)"' in page


# --------------------------------------------------------------------------------------------
# command line


def test_cli_compare_json(fake_run):
    proc = subprocess.run(
        [sys.executable, "-m", "modfourier", "compare", str(fake_run), "--json", "--no-low-rank"],
        check=True,
        capture_output=True,
        text=True,
    )
    card = json.loads(proc.stdout)
    assert card["meta"]["p"] == 13 and "low_rank" not in card


def test_cli_report_and_table(quick_png, tmp_path, fake_run, capsys):
    from modfourier.cli import main

    assert main(["report", str(fake_run), "--out", str(tmp_path / "rep"), "--no-low-rank"]) == 0
    assert (tmp_path / "rep" / "report.html").is_file()
    assert main(["compare", str(fake_run), "--no-low-rank"]) == 0
    assert "phase residual R" in capsys.readouterr().out


@pytest.mark.parametrize(
    "extra, code",
    [(["--epoch", "3"], 2), (["--reference", "REF11"], 2), (["--out", "FILE"], 2)],
    ids=["no-such-checkpoint", "reference-other-p", "out-is-a-file"],
)
def test_cli_report_usage_errors(tmp_path, fake_run, capsys, extra, code):
    from modfourier.cli import main

    net = closedform.analytic_mlp(closedform.get_task("add", 11), frequencies=[2], phases="exact")
    (tmp_path / "FILE").write_text("x")
    subs = {"REF11": net.save(tmp_path / "ref11"), "FILE": str(tmp_path / "FILE")}
    extra = [subs.get(x, x) for x in extra]
    assert main(["report", str(fake_run), "--no-low-rank", *extra]) == code
    err = capsys.readouterr().err
    assert err.startswith("modfourier report: error: ") and err.count("\n") == 1
    assert not (fake_run / "report").exists()


def test_analytic_rnn_command_uses_construct(tmp_path):
    net = closedform.analytic_rnn(closedform.get_task("add", 7), d_hidden=64, d_embed=16)
    run = R._load_run(net.save(tmp_path / "rnn"), None, "rnn")
    argv = shlex.split(R._reproduce_command(run))
    assert argv[:4] == ["modfourier", "construct", "--model", "rnn"]


def test_analytic_command_falls_back_to_the_constructor(tmp_path, monkeypatch):
    # a gain the command line does not offer: the constructor call rebuilds the same weights
    task = closedform.get_task("add", 7)
    net = closedform.analytic_rnn(task, d_hidden=64, d_embed=16, gain=0.9)
    run = R._load_run(net.save(tmp_path / "rnn"), None, "rnn")
    argv = shlex.split(R._reproduce_command(run))
    assert argv[:2] == ["python", "-c"]
    monkeypatch.chdir(tmp_path)
    exec(argv[2], {})
    rebuilt = closedform.rundir.load_weights(tmp_path / "rnn-rebuilt" / "weights.safetensors")
    for name, value in net.weights.items():
        assert np.allclose(rebuilt[name], value), name
