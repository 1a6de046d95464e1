"""The dashboard in a real browser: Debian's Chromium driven by Playwright, never a
downloaded browser.  Skips, saying why, only where no Chromium is installed (``.ci/run``
installs Debian's ``chromium`` package where it can)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ARTIFACTS = Path(os.environ.get("QC_TEST_ARTIFACTS",
                                Path(__file__).resolve().parents[1] / "artifacts"))


def _chromium() -> str:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    pytest.skip("no Chromium: install Debian's chromium package (apt-get install chromium); "
                ".ci/run does where apt-get can")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_healthy(url: str, proc: subprocess.Popen, timeout_s: float = 90) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the dashboard exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.read().strip() == b"ok":
                    return
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"the dashboard did not answer at {url} in {timeout_s} s")


@pytest.fixture
def dashboard(scanned_copy: Path, tmp_path: Path):
    """``qc dashboard`` on the scanned fixtures, on a free loopback port; stopped by its PID."""
    port = _free_port()
    log = open(tmp_path / "dashboard.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "qc", "dashboard", str(scanned_copy), "--port", str(port)],
        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, proc)
        yield url
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()
        log.close()


def test_dashboard_in_chromium(dashboard: str):
    chromium = _chromium()
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True,
                                    chromium_sandbox=False, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 1000})
            page.goto(dashboard, wait_until="domcontentloaded")
            # the ranking: a table of takes and the summary line
            page.wait_for_selector('[data-testid="stDataFrame"]', timeout=60_000)
            page.get_by_text("of 10 takes").wait_for(timeout=30_000)
            page.wait_for_timeout(1500)  # let the grid draw its thumbnails
            page.screenshot(path=str(ARTIFACTS / "dashboard-ranking.png"))
            # click the first row (its selection box): the take opens
            grid = page.locator('[data-testid="stDataFrame"]').first.bounding_box()
            page.mouse.click(grid["x"] + 14, grid["y"] + 36 + 32)
            page.get_by_text("qc review · take").wait_for(timeout=30_000)
            page.get_by_text("clean/clean_0.mp4 ·").first.wait_for(timeout=30_000)
            # open a take with face events (identity change at 1.25 s), from a link
            page.goto(f"{dashboard}/?take=face_swap/face_swap_0.mp4", wait_until="domcontentloaded")
            page.get_by_text("Frames around each event").wait_for(timeout=60_000)
            chart = page.locator('[data-testid="stVegaLiteChart"]').first
            chart.wait_for(timeout=30_000)
            assert chart.locator("canvas, svg").count() >= 1  # vega drew the timeline
            video = page.locator("video").first
            video.wait_for(timeout=30_000)
            assert video.get_attribute("src")
            # click an event: the player is told to start there
            page.get_by_role("button", name="identity change").click()
            page.get_by_text("chosen time 1.2").first.wait_for(timeout=30_000)
            page.get_by_text("Faces across each face event").wait_for(timeout=60_000)
            # review from the keyboard: A accepts, S stars
            page.keyboard.press("a")
            page.get_by_text("Review · ✓ accepted").wait_for(timeout=30_000)
            page.keyboard.press("s")
            page.get_by_text("★ starred").first.wait_for(timeout=30_000)
            page.set_viewport_size({"width": 1440, "height": 2200})  # the app scrolls inside
            page.wait_for_timeout(1500)
            page.screenshot(path=str(ARTIFACTS / "dashboard-take.png"))
        finally:
            browser.close()
    assert (ARTIFACTS / "dashboard-take.png").stat().st_size > 10_000
