"""TensorBoard in a real browser: gradfit's run, served by ``tensorboard --logdir``, rendered by headless Chromium.

The test trains a small model with ``gradfit.callbacks.TensorBoard``, starts TensorBoard's own server on a free
localhost port, opens its Time Series dashboard in headless Chromium (driven by Selenium through the system's
``chromedriver``; Selenium Manager never runs, nothing is downloaded) and checks what a person would see: the
runs ``train`` and ``validation`` in the run list, an ``epoch_loss`` card whose table shows each run's last
step and value (the History's last ``loss`` / ``val_loss``), and the loss curves drawn in the chart, in each
run's colour. A screenshot is saved under ``tmp_path`` and, when ``GRADFIT_ARTIFACTS`` names a folder, copied
there. Server and browser run in their own process groups and are killed at the end whatever happens.

Without Chromium, chromedriver, Selenium or TensorBoard the test is skipped, unless ``GRADFIT_REQUIRE_BROWSER=1``
(CI sets it, see ``.ci/run``): then it fails. ``GRADFIT_CHROMIUM`` / ``GRADFIT_CHROMEDRIVER`` name other
executables than the ``chromium`` and ``chromedriver`` found on ``PATH``.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

import gradfit as tf

K = tf.keras

REQUIRED = os.environ.get("GRADFIT_REQUIRE_BROWSER", "") == "1"
EPOCHS = 6
# Flags for a root user on a machine without network: without the background-networking ones Chromium's own
# services keep trying to connect out. A fresh --user-data-dir per run keeps it from reusing any profile.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1280,800",
)


def _unavailable(why: str):
    if REQUIRED:
        pytest.fail(f"{why}; GRADFIT_REQUIRE_BROWSER=1 says the browser test must run (CI: see .ci/run)")
    pytest.skip(why)


def _executable(env_var: str, *names: str) -> str | None:
    if os.environ.get(env_var):
        return shutil.which(os.environ[env_var])
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    return None


def browser_tools() -> tuple[str, str]:
    """``(chromium, chromedriver)`` executables, after checking Selenium, TensorBoard and Pillow import."""
    for module, package in (("selenium", "selenium"), ("tensorboard", "tensorboard"), ("PIL", "pillow")):
        if importlib.util.find_spec(module) is None:
            _unavailable(f"{package} is not installed (pip install -e '.[test]')")
    chromium = _executable("GRADFIT_CHROMIUM", "chromium", "chromium-browser", "google-chrome")
    chromedriver = _executable("GRADFIT_CHROMEDRIVER", "chromedriver")
    if chromium is None or chromedriver is None:
        _unavailable("Chromium or chromedriver not found (Debian: apt-get install chromium chromium-driver)")
    return chromium, chromedriver


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _port_is_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _group_alive(process: subprocess.Popen) -> bool:
    process.poll()  # reaps the leader once it has exited, so that an empty group really is gone
    try:
        os.killpg(process.pid, 0)
    except ProcessLookupError:
        return False
    return True


def _stop_group(process: subprocess.Popen, grace_s: float = 10.0) -> None:
    """SIGTERM to the process's whole group, SIGKILL to whatever is left of it after ``grace_s``."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if not _group_alive(process):
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        deadline = time.monotonic() + grace_s
        while time.monotonic() < deadline and _group_alive(process):
            time.sleep(0.1)
    assert not _group_alive(process), f"process group {process.pid} survived SIGKILL"


@contextlib.contextmanager
def tensorboard_server(logdir: Path, log_file: Path):
    """``tensorboard --logdir logdir`` on a free 127.0.0.1 port; yields its URL once it lists the runs."""
    port = _free_port()
    command = [sys.executable, "-m", "tensorboard.main", "--logdir", str(logdir), "--port", str(port)]
    command += ["--host", "127.0.0.1", "--reload_interval", "0"]  # 0: read the run once, no reloading thread
    with open(log_file, "wb") as log:
        server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        url = f"http://127.0.0.1:{port}/"
        deadline = time.monotonic() + 30
        while True:
            if server.poll() is not None:
                raise AssertionError(f"tensorboard exited with {server.returncode}:\n{log_file.read_text()[-2000:]}")
            with contextlib.suppress(OSError):
                with urllib.request.urlopen(url + "data/runs", timeout=2) as answer:
                    if json.loads(answer.read()):
                        break
            if time.monotonic() > deadline:
                raise AssertionError(f"tensorboard did not list runs in 30 s:\n{log_file.read_text()[-2000:]}")
            time.sleep(0.2)
        yield url
    finally:
        _stop_group(server)
        assert not _port_is_open(port), f"port {port} still answers after tensorboard was stopped"


@contextlib.contextmanager
def headless_chromium(chromium: str, chromedriver: str, log_file: Path):
    """A Selenium driver for headless Chromium; the driver and every browser process are gone afterwards."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    with tempfile.TemporaryDirectory(prefix="gradfit-chromium-") as profile:
        options.add_argument(f"--user-data-dir={profile}")
        # chromedriver leads its own process group, and the browsers it starts stay in it: one killpg ends them all
        service = Service(executable_path=chromedriver, log_output=str(log_file), popen_kw={"start_new_session": True})
        driver = None
        try:
            driver = webdriver.Chrome(service=service, options=options)
            yield driver
        finally:
            if driver is not None:
                with contextlib.suppress(Exception):
                    driver.quit()
            if service.process is not None:
                _stop_group(service.process, grace_s=5.0)


# What the page shows, read from the DOM: the run list, and for each scalar card its tag and its data table
# (header names zipped with cell texts) plus each run's colour.
READ_PAGE = """
const text = (e) => (e ? e.innerText.trim() : "");
const runs = Array.from(document.querySelectorAll("runs-data-table tb-data-table-content-row")).map((row) => {
  const swatch = row.querySelector(".run-color-swatch");
  const cells = Array.from(row.querySelectorAll("tb-data-table-content-cell")).map(text).filter((t) => t);
  return {name: cells.join(" "), color: swatch ? getComputedStyle(swatch).backgroundColor : null};
});
const cards = Array.from(document.querySelectorAll("scalar-card")).map((card) => {
  const tag = card.querySelector("tb-truncated-path");
  const headers = Array.from(card.querySelectorAll("tb-data-table-header-cell")).map(text);
  const rows = Array.from(card.querySelectorAll("scalar-card-data-table tb-data-table-content-row")).map((row) => {
    const cells = Array.from(row.querySelectorAll("tb-data-table-content-cell")).map(text);
    const byHeader = {};
    headers.forEach((h, i) => { if (h) byHeader[h] = cells[i]; });
    return byHeader;
  });
  return {tag: tag ? tag.getAttribute("title") : null, rows: rows, drawn: !!card.querySelector(".series-view")};
});
return {runs: runs, cards: cards};
"""


def _poll(driver, ready, timeout_s: float, what: str):
    """``READ_PAGE``'s result once ``ready(page)`` holds (TensorBoard is an Angular app: it renders later)."""
    deadline = time.monotonic() + timeout_s
    page = None
    while time.monotonic() < deadline:
        page = driver.execute_script(READ_PAGE)
        if ready(page):
            return page
        time.sleep(0.25)
    raise AssertionError(f"TensorBoard did not show {what} within {timeout_s:.0f} s; the page showed {page}")


def _loss_card(page) -> dict | None:
    return next((card for card in page["cards"] if card["tag"] == "epoch_loss"), None)


def _loss_rows(page) -> dict:
    card = _loss_card(page)
    return {row.get("Run"): row for row in (card["rows"] if card else [])}


def _rgb(css: str) -> np.ndarray:
    return np.array([int(part) for part in css[css.index("(") + 1 : css.index(")")].split(",")[:3]])


def _pixels_of_color(png: bytes, rgb: np.ndarray, tolerance: int = 24) -> int:
    from PIL import Image

    image = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    return int((np.abs(image - rgb).max(axis=2) <= tolerance).sum())


def _click(driver, aria_label: str, within: str = "document") -> None:
    driver.execute_script(f"{within}.querySelector('button[aria-label=\"{aria_label}\"]').click()")


def show_loss_card(driver, url: str, runs: tuple[str, ...] = ("train", "validation"), timeout_s: float = 30):
    """Open the Time Series dashboard on ``epoch_loss`` (no smoothing) and wait until each run's row is shown."""
    # smoothing=0 shows the raw values (the card's table then has no "Smoothed" column); the tag filter leaves
    # one card, which TensorBoard renders at once (cards below the fold load only when scrolled into view)
    driver.get(url + "?smoothing=0&tagFilter=epoch_loss#timeseries")

    def ready(page):
        names = {run["name"] for run in page["runs"]}
        rows = _loss_rows(page)
        return set(runs) <= names and all(rows.get(run, {}).get("Value") for run in runs)

    _poll(driver, ready, timeout_s, f"the runs {runs} and their epoch_loss rows")
    # the whole curve (TensorBoard by default leaves outliers, often the first epochs, off the y range), and a
    # wider chart for the screenshot: the settings pane closed, the loss card in full-size mode
    driver.execute_script(
        "const box = document.querySelector('.scalars-ignore-outliers input[type=checkbox]');"
        "if (box && box.checked) box.click();"
    )
    _click(driver, "Close side pane")
    _click(driver, "Toggle full size mode", within="document.querySelector('scalar-card')")
    return _poll(driver, ready, timeout_s, "the epoch_loss card after the layout change")


def screenshot_tensorboard(logdir: Path, png: Path, work_dir: Path) -> dict:
    """Serve ``logdir``, show its ``epoch_loss`` card in headless Chromium and save a screenshot as ``png``.

    Returns ``{"page": what READ_PAGE read, "chart_png": the chart's plot area as PNG bytes}``. Also used by hand
    to make ``docs/tensorboard.png`` from ``python -m gradfit demo --multiclass``'s run (``demo-output/logs``).
    """
    chromium, chromedriver = browser_tools()
    with tensorboard_server(logdir, work_dir / "tensorboard.log") as url:
        with headless_chromium(chromium, chromedriver, work_dir / "chromedriver.log") as driver:
            try:
                page = show_loss_card(driver, url)
                time.sleep(1.0)  # the chart draws a frame after its data arrives; give the canvas a moment
                chart = driver.find_element("css selector", "scalar-card .series-view").screenshot_as_png
            finally:
                driver.save_screenshot(str(png))  # also when the page did not show the run: what did it show?
    return {"page": page, "chart_png": chart}


def _train_with_tensorboard(log_dir: Path) -> dict:
    """A few epochs of a small classifier with ``TensorBoard(log_dir)``; returns the History's dict."""
    from gradfit.callbacks import TensorBoard

    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 3)).astype(np.float32)
    y = (x @ np.array([[1.0], [-1.0], [0.5]]) > 0).astype(np.float32)
    K.utils.set_random_seed(0)
    model = K.Sequential(
        [K.Input(shape=(3,)), K.layers.Dense(4, activation="relu"), K.layers.Dense(1, activation="sigmoid")]
    )
    model.compile(optimizer=K.optimizers.Adam(0.05), loss="binary_crossentropy", metrics=["accuracy"])
    history = model.fit(
        x[:48],
        y[:48],
        validation_data=(x[48:], y[48:]),
        epochs=EPOCHS,
        verbose=0,
        callbacks=[TensorBoard(log_dir=str(log_dir))],
    )
    return history.history


def test_tensorboard_renders_gradfits_run_in_headless_chromium(tmp_path):
    browser_tools()  # skip (or fail, in CI) before training when the browser cannot run
    if importlib.util.find_spec("tensorboardX") is None:
        _unavailable("tensorboardX is not installed (pip install 'gradfit[tensorboard]')")
    log_dir = tmp_path / "logs"
    history = _train_with_tensorboard(log_dir)
    png = tmp_path / "tensorboard.png"
    try:
        shown = screenshot_tensorboard(log_dir, png, tmp_path)
    finally:
        if os.environ.get("GRADFIT_ARTIFACTS") and png.is_file():
            artifacts = Path(os.environ["GRADFIT_ARTIFACTS"])
            artifacts.mkdir(parents=True, exist_ok=True)
            shutil.copy(png, artifacts / "tensorboard.png")
    page = shown["page"]

    assert {"train", "validation"} <= {run["name"] for run in page["runs"]}
    rows = _loss_rows(page)
    for run, key in (("train", "loss"), ("validation", "val_loss")):
        assert int(rows[run]["Step"]) == EPOCHS - 1  # Keras's epoch summaries: step = epoch index
        # the table rounds for display (0.0006 for 5.79e-4, 0.041 for 0.04097)
        assert float(rows[run]["Value"]) == pytest.approx(history[key][-1], rel=1e-3, abs=1e-4)

    # the curves are drawn: the chart holds pixels of each run's colour (as in the run list's swatches)
    colors = {run["name"]: run["color"] for run in page["runs"]}
    for run in ("train", "validation"):
        assert _pixels_of_color(shown["chart_png"], _rgb(colors[run])) > 50, f"no {run} curve in the chart"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
