"""The report in a real browser: headless Chromium (Selenium + chromedriver) at 400 and 1400
pixels wide, on reports of a trained MLP, RNN and transformer (small p, a few epochs), an
analytic network and two runs side by side.

Each page must lay out at the device's width (viewport meta), never scroll sideways, decode
every image, log no console error, request nothing but the file itself, show its header and
verdict, and zoom a figure on click (CSS ``:target``). Full-page screenshots are saved in the
test's temporary directory. Skipped, with the reason, when Chromium, chromedriver or Selenium
is missing.
"""

import base64
import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
WIDTHS = (400, 1400)
REPORTS = ("mlp", "rnn", "transformer", "analytic", "two_runs")

selenium = pytest.importorskip(
    "selenium", reason="selenium is not installed (pip install selenium)"
)
if not (os.access(CHROMIUM, os.X_OK) and os.access(CHROMEDRIVER, os.X_OK)):
    pytest.skip(
        "Chromium or chromedriver is missing (Debian: apt-get install chromium chromium-driver)",
        allow_module_level=True,
    )


def _train(out, **fields):
    import torch

    import trained

    torch.set_num_threads(1)
    cfg = trained.TrainConfig(task="add", device="cpu", **fields)
    trained.train(cfg, out_dir=out)
    return out


class _Reports:
    """Reports built on first use (real training for a few epochs, real figures), by name."""

    def __init__(self, root: Path):
        self.root = root
        self.runs: dict = {}
        self.reports: dict = {}

    def run(self, name):
        if name not in self.runs:
            root = self.root
            if name == "mlp":
                self.runs[name] = _train(root / name, model="mlp", p=11, max_epochs=12, width=32)
            elif name == "rnn":
                self.runs[name] = _train(
                    root / name, model="rnn", p=7, max_epochs=6, d_hidden=8, d_embed=8
                )
            elif name == "transformer":
                self.runs[name] = _train(
                    root / name,
                    model="transformer",
                    p=7,
                    max_epochs=6,
                    d_model=8,
                    heads=2,
                    d_mlp=16,
                )
            else:
                import closedform

                task = closedform.get_task("add", 11)
                net = closedform.analytic_mlp(task, frequencies=[1, 3], phases="exact")
                self.runs[name] = Path(net.save(root / name))
        return self.runs[name]

    def __getitem__(self, name):
        from compare import write_report

        if name not in self.reports:
            out = self.root / f"report_{name}"
            if name == "two_runs":
                runs = [self.run("mlp"), self.run("analytic")]
                self.reports[name] = write_report(runs, out, low_rank=False)
            else:
                self.reports[name] = write_report(self.run(name), out, low_rank=False)
        return self.reports[name]


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    return _Reports(tmp_path_factory.mktemp("browser"))


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    profile = tempfile.mkdtemp(prefix="chromium-profile-", dir=tmp_path_factory.getbasetemp())
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
    ):
        opts.add_argument(flag)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    try:
        yield driver
    finally:
        driver.quit()


def _open(driver, path: Path, width: int, fragment: str = ""):
    """Load a page as a phone (400 px, mobile viewport rules) or a desktop (1400 px)."""
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": width < 800},
    )
    driver.get_log("browser")  # drop what earlier pages logged
    driver.get((path / "report.html").resolve().as_uri() + fragment)
    driver.execute_script("return document.readyState")


def _screenshot(driver, path: Path, width: int) -> None:
    height = driver.execute_script("return document.documentElement.scrollHeight")
    shot = driver.execute_cdp_cmd(
        "Page.captureScreenshot",
        {
            "format": "png",
            "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": width, "height": min(height, 16000), "scale": 1},
        },
    )
    path.write_bytes(base64.b64decode(shot["data"]))


_PROBE = """
    const imgs = Array.from(document.images);
    const text = document.querySelector('p, dd, td');
    return {
      inner: window.innerWidth,
      client: document.documentElement.clientWidth,
      scroll: document.documentElement.scrollWidth,
      images: imgs.length,
      broken: imgs.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.alt),
      narrowest: Math.min(...imgs.map(i => i.getBoundingClientRect().width)),
      fontPx: parseFloat(getComputedStyle(text).fontSize),
      title: document.querySelector('h1').textContent,
      header: Array.from(document.querySelectorAll('dl.header dt')).map(e => e.textContent),
      banner: (document.querySelector('.banner') || {}).textContent || '',
      resources: performance.getEntriesByType('resource').map(e => e.name),
      navigation: performance.getEntriesByType('navigation').map(e => e.name),
      firstFigure: (document.querySelector('figure[id]') || {}).id || null,
    };
"""


class _Pages:
    """What each page looks like in the browser, measured on first use; a full-page screenshot
    of each (report, width) is saved in ``shots``."""

    def __init__(self, reports, driver, shots: Path):
        self.reports, self.driver, self.shots = reports, driver, shots
        self.measured: dict = {}

    def __getitem__(self, case):
        if case not in self.measured:
            name, width = case
            _open(self.driver, self.reports[name], width)
            info = self.driver.execute_script(_PROBE)
            logs = self.driver.get_log("browser")
            info["console"] = [e for e in logs if e["level"] == "SEVERE"]
            _screenshot(self.driver, self.shots / f"{name}_{width}.png", width)
            self.measured[case] = info
        return self.measured[case]


@pytest.fixture(scope="module")
def pages(reports, browser, tmp_path_factory):
    return _Pages(reports, browser, tmp_path_factory.mktemp("screenshots"))


# the trained MLP's, RNN's and transformer's reports run by default; the analytic one and the
# two-run report (each a report of its own, ~10 s of CPU apiece) with the slow tests
DEFAULT = ("mlp", "rnn", "transformer")
CASES = [
    pytest.param(
        (name, width), id=f"{name}-{width}px", marks=() if name in DEFAULT else pytest.mark.slow
    )
    for name in REPORTS
    for width in WIDTHS
]


@pytest.mark.parametrize("case", CASES)
def test_page_lays_out_at_device_width(pages, case):
    # without <meta name="viewport"> a phone lays the page out at 980 px and shrinks the text
    info = pages[case]
    assert info["client"] == case[1], info


@pytest.mark.parametrize("case", CASES)
def test_page_never_scrolls_sideways(pages, case):
    info = pages[case]
    assert info["scroll"] <= info["inner"], info


@pytest.mark.parametrize("case", CASES)
def test_every_image_decodes(pages, case):
    info = pages[case]
    assert info["images"] > 0 and info["broken"] == [], info


@pytest.mark.parametrize("case", CASES)
def test_images_are_not_squeezed(pages, case):
    # one panel per image: each is drawn at least as wide as a phone's column
    info = pages[case]
    assert info["narrowest"] >= min(360, case[1] - 60), info


@pytest.mark.parametrize("case", CASES)
def test_text_is_readable_size(pages, case):
    assert pages[case]["fontPx"] >= 14, pages[case]


@pytest.mark.parametrize("case", CASES)
def test_no_console_error(pages, case):
    assert pages[case]["console"] == [], pages[case]["console"]


@pytest.mark.parametrize("case", CASES)
def test_no_request_but_the_file_itself(pages, case):
    info = pages[case]
    assert [r for r in info["resources"] if not r.startswith("data:")] == [], info["resources"]
    assert len(info["navigation"]) == 1 and info["navigation"][0].endswith("/report.html")


@pytest.mark.parametrize("case", CASES)
def test_header_and_verdict_are_shown(pages, case):
    info = pages[case]
    assert info["banner"].strip(), info
    assert "command of this report" in info["header"], info["header"]
    if case[0] != "two_runs":
        assert {"network", "task", "command to reproduce", "library version"} <= set(
            info["header"]
        ), info["header"]


@pytest.mark.parametrize(
    "name",
    [
        "mlp",
        "rnn",
        "transformer",
    ],
)
def test_trained_header_names_the_training(pages, name):
    header = set(pages[name, 1400]["header"])
    assert {
        "preset",
        "hyper-parameters",
        "seed",
        "epochs",
        "stop reason",
        "grok epoch",
        "train accuracy",
        "test accuracy",
    } <= header, header


@pytest.mark.slow
def test_analytic_and_trained_titles_differ(pages):
    assert pages["analytic", 1400]["title"] != pages["mlp", 1400]["title"]
    assert "Analytic" in pages["analytic", 1400]["title"]


@pytest.mark.parametrize("width", WIDTHS)
def test_click_zooms_a_figure(reports, pages, browser, width):
    # the image links to its own figure; :target turns that figure into a full-window overlay
    figure = pages["mlp", width]["firstFigure"]
    _open(browser, reports["mlp"], width, fragment=f"#{figure}")
    box = browser.execute_script(
        """const f = document.getElementById(arguments[0]);
           const r = f.querySelector('img').getBoundingClientRect();
           return {position: getComputedStyle(f).position, w: r.width, h: r.height,
                   vw: window.innerWidth, vh: window.innerHeight};""",
        figure,
    )
    assert box["position"] == "fixed", box
    assert box["w"] >= 0.9 * box["vw"] - 20 or box["h"] >= 0.9 * box["vh"] - 20, box


@pytest.mark.parametrize("name", DEFAULT)
def test_scorecard_file_names_the_model(reports, name):
    card = json.loads((reports[name] / "scorecard.json").read_text())
    assert card["meta"]["model"] == name
