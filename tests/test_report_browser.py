"""`dlcc report` pages in a real browser: Debian's headless Chromium, driven by Playwright.

It renders, every image loads (naturalWidth > 0), the console stays free of errors, and the page
asks for nothing but itself (no network). CI installs chromium (.ci/run) and Playwright (the dev
extra); elsewhere the test is skipped, with the reason, when either is missing.
"""

from __future__ import annotations

import os
import shutil

import pytest

from tests.runs_helpers import dlcc

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# As root, in a sandbox with no network: no Chrome sandbox, no background connections (docs/report.md).
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _missing() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright is not installed (pip install -e \".[dev]\")"
    if CHROMIUM is None:
        return "chromium is not installed (apt-get install chromium; .ci/run does it)"
    return None


if _missing():
    if os.environ.get("CI"):
        pytest.fail(f"the browser test cannot run in CI: {_missing()}", pytrace=False)
    pytest.skip(_missing(), allow_module_level=True)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield b
        b.close()


def open_report(browser, path):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    problems, requests = [], []
    page.on("console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on("requestfailed", lambda r: problems.append(f"failed: {r.url}"))
    page.on("request", lambda r: requests.append(r.url))
    page.goto(path.resolve().as_uri(), wait_until="load")
    return page, problems, requests


def check(browser, path, headings: list[str], images: int):
    page, problems, requests = open_report(browser, path)
    assert page.title().startswith("dlcc report")
    assert page.locator("h1").is_visible()
    shown = page.locator("h2").all_inner_texts()
    assert all(h in shown for h in headings), shown
    sizes = page.evaluate("Array.from(document.images).map(i => [i.complete, i.naturalWidth, i.naturalHeight])")
    assert len(sizes) == images and all(ok and w > 0 and h > 0 for ok, w, h in sizes), sizes
    assert [u for u in requests if not u.startswith(("file:", "data:"))] == []
    assert requests[0] == path.resolve().as_uri()
    assert problems == []
    pdf = page.pdf(format="A4")  # prints: the print style sheet lays it out
    assert pdf.startswith(b"%PDF") and len(pdf) > 20_000
    page.close()


def test_a_run_report_renders_in_chromium(browser, tmp_path):
    from tests.runs_helpers import train_run

    run = train_run(tmp_path / "runs")
    out = tmp_path / "run.html"
    assert dlcc("report", run, "--out", out).exit_code == 0
    check(browser, out, ["Summary", "Learning curves", "Confusion matrix", "Decision boundary", "Config"], 3)


def test_a_sweep_report_renders_in_chromium(browser, write_config, tiny_raw, tmp_path):
    result = dlcc("sweep", write_config(tiny_raw), "--grid", "optimizer.lr=0.1,0.5", "--seeds", "2",
                  "--runs-dir", tmp_path, "--workers", "1", "-q")
    assert result.exit_code == 0, result.output
    sweep = next(tmp_path.glob("sweep-*"))
    out = tmp_path / "sweep.html"
    assert dlcc("report", sweep, "--out", out).exit_code == 0
    check(browser, out, ["Comparison", f"Sweep {sweep.name}", "Learning curves", "Decision boundaries"], 4)
