"""`dlcc report`: one self-contained HTML page of a run or a sweep (the browser test is test_report_browser.py)."""

from __future__ import annotations

import re

import pytest

from tests.runs_helpers import SINE, dlcc, train_run

pytest.importorskip("matplotlib")

# Anything a browser would fetch: src/href/url(...) that is not a data: URI or an in-page anchor.
FETCHED = re.compile(r"""(?:src|href)\s*=\s*["'](?!data:|#)([^"']*)["']|url\(\s*["']?(?!data:)([^)"']+)""", re.I)


def test_report_of_one_run_is_one_self_contained_file(tmp_path, monkeypatch):
    run = train_run(tmp_path / "runs", "diagnostics.snapshots=1")
    monkeypatch.chdir(tmp_path)
    result = dlcc("report", run)
    assert result.exit_code == 0, result.output
    page = (tmp_path / "report.html").read_text()
    assert result.stdout.strip() == "wrote report.html"
    assert not FETCHED.findall(page)
    assert "http://" not in page and "https://" not in page
    for heading in ("Summary", "Learning curves", "Gradient diagnostics", "Confusion matrix", "Decision boundary",
                    "Config"):
        assert f"<h2>{heading}</h2>" in page
    assert page.count('<img src="data:image/png;base64,') == 3  # curves, gradients, boundary
    assert "<style>" in page and "@media print" in page and "<script" not in page
    assert "dataset: spirals" in page  # the config, as config.yaml holds it


def test_a_regression_run_has_no_confusion_matrix_but_its_fitted_curve(tmp_path):
    run = train_run(tmp_path / "runs", base=SINE)
    out = tmp_path / "r.html"
    assert dlcc("report", run, "--out", out).exit_code == 0
    page = out.read_text()
    assert "Confusion matrix" not in page and "<h2>Decision boundary</h2>" in page


def test_a_run_without_a_model_still_reports_its_curves(tmp_path):
    run = train_run(tmp_path / "runs")
    (run / "model.npz").unlink()
    out = tmp_path / "r.html"
    assert dlcc("report", run, "--out", out).exit_code == 0
    page = out.read_text()
    assert "Learning curves" in page and "no model.npz" in page


def test_report_of_several_runs_compares_them(tmp_path):
    a = train_run(tmp_path / "runs")
    b = train_run(tmp_path / "runs", "optimizer.momentum=0.9", "name=tiny-momentum")
    out = tmp_path / "two.html"
    assert dlcc("report", a, b, "--out", out).exit_code == 0
    page = out.read_text()
    assert "<h2>Comparison</h2>" in page and "optimizer.momentum" in page and "Decision boundaries" in page


def test_report_of_a_missing_folder_is_exit_2(tmp_path):
    result = dlcc("report", tmp_path / "nope", "--out", tmp_path / "r.html")
    assert result.exit_code == 2 and "no such run or sweep folder" in result.stderr
    assert not (tmp_path / "r.html").exists()


def test_runs_that_cannot_be_compared_are_still_reported(tmp_path):
    a = train_run(tmp_path / "runs")
    b = train_run(tmp_path / "runs", base=SINE)
    out = tmp_path / "mixed.html"
    assert dlcc("report", a, b, "--out", out).exit_code == 0
    page = out.read_text()
    assert "No comparison: these runs cannot be compared" in page and "Learning curves" in page
