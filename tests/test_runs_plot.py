"""`dlcc plot`: PNGs of learning curves, gradient norms and decision boundaries."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import ROOT
from tests.runs_helpers import SINE, dlcc, train_run

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    base = tmp_path_factory.mktemp("runs")
    return {
        "tiny": train_run(base),
        "momentum": train_run(base, "optimizer.momentum=0.9", "name=tiny-momentum"),
        "sine": train_run(base, base=SINE),
        "no-grads": train_run(base, "diagnostics.gradient_norms=false", "name=no-grads"),
        "blobs3d": train_run(base, "data.dataset=blobs", "data.options={points: 60, features: 3, classes: 3}",
                             "name=blobs"),
    }


def is_png(path) -> bool:
    return path.read_bytes()[:8] == PNG and path.stat().st_size > 5_000


@pytest.mark.parametrize("kind", ["curves", "gradients", "boundary"])
def test_each_kind_writes_a_png(runs, tmp_path, kind):
    out = tmp_path / f"{kind}.png"
    result = dlcc("plot", runs["tiny"], runs["momentum"], "--kind", kind, "--out", out)
    assert result.exit_code == 0, result.output
    assert is_png(out) and f"wrote {out}" in result.stdout


def test_default_out_is_the_current_folder_and_the_run_is_not_changed(runs, tmp_path, monkeypatch):
    before = sorted(p.name for p in runs["tiny"].iterdir())
    monkeypatch.chdir(tmp_path)
    for kind in ("curves", "boundary"):
        result = dlcc("plot", runs["tiny"], "--kind", kind)
        assert result.exit_code == 0, result.output
        assert is_png(tmp_path / f"{kind}.png") and f"wrote {kind}.png" in result.stdout
    assert sorted(p.name for p in runs["tiny"].iterdir()) == before


def test_regression_boundary_is_the_fitted_function(runs, tmp_path):
    out = tmp_path / "fit.png"
    assert dlcc("plot", runs["sine"], "--kind", "boundary", "--out", out).exit_code == 0
    assert is_png(out)
    assert dlcc("plot", runs["sine"], "--out", tmp_path / "c.png").exit_code == 0  # a loss-only panel


def test_boundary_needs_two_input_features(runs, tmp_path):
    result = dlcc("plot", runs["blobs3d"], "--kind", "boundary", "--out", tmp_path / "b.png")
    assert result.exit_code == 2
    assert "needs 2 input features" in result.stderr and "has 3" in result.stderr


def test_gradients_need_recorded_norms(runs, tmp_path):
    result = dlcc("plot", runs["no-grads"], "--kind", "gradients", "--out", tmp_path / "g.png")
    assert result.exit_code == 2
    assert "no gradient norms in metrics.csv" in result.stderr


def test_boundary_without_a_model_is_exit_2(runs, tmp_path):
    import shutil

    copy = shutil.copytree(runs["tiny"], tmp_path / "run")
    (copy / "model.npz").unlink()
    result = dlcc("plot", copy, "--kind", "boundary", "--out", tmp_path / "b.png")
    assert result.exit_code == 2 and "no model.npz" in result.stderr
    assert dlcc("plot", copy, "--out", tmp_path / "c.png").exit_code == 0  # curves need no model


def test_plot_of_a_missing_folder_is_exit_2(tmp_path):
    result = dlcc("plot", tmp_path / "nope")
    assert result.exit_code == 2 and "no such run folder" in result.stderr


def test_reading_and_help_do_not_import_matplotlib_or_rich():
    code = ("import sys, dlcc.cli, dlcc.runs.read, dlcc.runs.compare, dlcc.runs.evaluate, dlcc.runs.listing; "
            "print(sorted(m for m in ('matplotlib', 'rich.table') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "[]"
