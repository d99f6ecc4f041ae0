"""Sweep folders seen by people: the metric-against-parameter figure, legends that name swept values,
and `dlcc runs` listing a sweep as one row (expanded with `dlcc runs SWEEP_DIR`)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from dlcc.cli import app
from dlcc.errors import DlccError, RunError
from dlcc.report import plots
from dlcc.runs import sweepdir
from dlcc.runs.compare import compare
from dlcc.runs.listing import list_runs
from dlcc.runs.read import read
from dlcc.runs.sweeplabels import label_for, short_names
from dlcc.runs.sweepstats import sweep_stats
from tests.runs_helpers import dlcc, dlcc_json, in_terminal, runner, train_run
from tests.sweep_helpers import make_sweep

LRS = [0.001, 0.01, 0.1]


@pytest.fixture(scope="module")
def runs_dir(tmp_path_factory):
    """One lr sweep (3 points x 2 seeds) and two plain runs."""
    base = tmp_path_factory.mktemp("runs")
    make_sweep(base, {"optimizer.lr": LRS}, seeds=(0, 1))
    train_run(base)
    train_run(base, "optimizer.momentum=0.9", "name=tiny-momentum")
    return base


@pytest.fixture(scope="module")
def lr_sweep(runs_dir):
    return next(runs_dir.glob("sweep-lr-*"))


@pytest.fixture(scope="module")
def grid_sweep(tmp_path_factory):
    """lr x hidden units, 2 seeds, one run failed and one not started."""
    return make_sweep(tmp_path_factory.mktemp("grid"), {"optimizer.lr": LRS, "model.layers.0.units": [4, 16]},
                      name="grid", pending={"p005-s1"}, failed={"p002-s0"})


@pytest.fixture(scope="module")
def variant_sweep(tmp_path_factory):
    return make_sweep(tmp_path_factory.mktemp("variants"), {"optimizer.lr": [0.1, 0.5]}, name="momentum",
                      variants={"plain": {}, "momentum": {"optimizer.momentum": 0.9}})


def wide(*args):
    """`dlcc ARGS --wide`: the table (not the pipe's tab-separated text), every differing key a column."""
    return runner.invoke(app, [str(a) for a in args] + ["--wide"])


def figure(sweep_dir, metric=None):
    return plots.sweep(sweepdir.read_definition(sweep_dir), sweepdir.read_results(sweep_dir), metric)


def error_bars(ax) -> list:
    from matplotlib.container import ErrorbarContainer

    return [c for c in ax.containers if isinstance(c, ErrorbarContainer) and c.has_yerr]


# --------------------------------------------------------------------------- the figure

def test_an_lr_sweep_is_one_log_scaled_panel_with_error_bars(lr_sweep, tmp_path):
    fig = figure(lr_sweep)
    (ax,) = fig.axes
    assert ax.get_xscale() == "log"
    assert ax.get_xlabel() == "optimizer.lr"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0.001", "0.01", "0.1"]
    assert len(error_bars(ax)) == 1
    assert "best_val_accuracy" in ax.get_ylabel() and "n=2" in ax.get_ylabel()
    out = plots.save(fig, tmp_path / "sweep.png")
    assert out.read_bytes()[:4] == b"\x89PNG" and out.stat().st_size > 5_000


def test_one_panel_per_swept_key_other_keys_as_lines(grid_sweep):
    fig = figure(grid_sweep)
    lr_ax, units_ax = fig.axes
    assert (lr_ax.get_xlabel(), units_ax.get_xlabel()) == ("optimizer.lr", "model.layers.0.units")
    assert lr_ax.get_xscale() == "log" and units_ax.get_xscale() == "linear"  # 4..16 spans 4x, not 30x
    assert len(error_bars(lr_ax)) == 2 and len(error_bars(units_ax)) == 3
    assert [t.get_text() for t in lr_ax.get_legend().get_texts()] == ["units=4", "units=16"]
    assert [t.get_text() for t in units_ax.get_legend().get_texts()] == ["lr=0.001", "lr=0.01", "lr=0.1"]


def test_left_out_runs_are_counted_in_the_title(grid_sweep):
    title = figure(grid_sweep)._suptitle.get_text()
    assert "2 run(s) left out: 1 failed, 1 pending" in title
    assert "best (star)" in title


def test_variants_get_a_categorical_axis(variant_sweep):
    variant_ax, lr_ax = figure(variant_sweep).axes
    assert variant_ax.get_xlabel() == "variant"
    assert [t.get_text() for t in variant_ax.get_xticklabels()] == ["plain", "momentum"]
    assert lr_ax.get_xscale() == "linear"  # 0.1..0.5 spans 5x
    assert [t.get_text() for t in lr_ax.get_legend().get_texts()] == ["variant=plain", "variant=momentum"]


def test_means_and_std_over_seeds_match_results_csv(grid_sweep):
    definition, results = sweepdir.read_definition(grid_sweep), sweepdir.read_results(grid_sweep)
    stats = sweep_stats(definition, results, "test_loss")
    for point in stats.points:
        values = [r["test_loss"] for r in results if r["point"] == point.id and r["status"] == "completed"]
        assert point.n == len(values)
        assert point.mean == pytest.approx(np.mean(values))
        assert point.std == (pytest.approx(np.std(values, ddof=1)) if len(values) > 1 else None)
    assert stats.best.mean == min(p.mean for p in stats.points)  # a loss: lowest is best
    assert stats.excluded == {"failed": 1, "pending": 1}
    assert {p.id: p.n for p in stats.points}["p002"] == 1


def test_metric_choice_and_errors(lr_sweep):
    assert "test_loss" in figure(lr_sweep, "test_loss").axes[0].get_ylabel()
    with pytest.raises(RunError, match="val_accuracy: a sweep is plotted by one of best_val_accuracy"):
        figure(lr_sweep, "val_accuracy")
    definition = sweepdir.read_definition(lr_sweep)
    pending = [{**r, "status": "pending"} for r in sweepdir.read_results(lr_sweep)]
    with pytest.raises(DlccError, match="no finished run has best_val_accuracy yet .6 pending."):
        plots.sweep(definition, pending, None)


# --------------------------------------------------------------------------- legends name swept values

def test_label_for_names_the_swept_values(lr_sweep, runs_dir):
    assert label_for(lr_sweep / "p001-s1") == "lr=0.01, seed=1"
    assert label_for(lr_sweep / "p001-s1", seed=False) == "lr=0.01"
    assert label_for(next(runs_dir.glob("tiny-2*"))) is None
    assert short_names(["optimizer.lr", "model.layers.0.units", "model.layers.1.units", "seed"]) == {
        "optimizer.lr": "lr", "model.layers.0.units": "layers.0.units", "model.layers.1.units": "layers.1.units",
        "seed": "seed"}


def test_curves_legends_use_swept_values(lr_sweep):
    folders = [read(p) for p in sorted(lr_sweep.glob("p00[02]-s*"))]
    legend = [t.get_text() for t in plots.curves(folders).legends[0].get_texts()]  # one legend, below the panels
    assert legend == ["#1 lr=0.001, seed=0", "#2 lr=0.001, seed=1", "#3 lr=0.1, seed=0", "#4 lr=0.1, seed=1",
                      "train", "validation"]
    grouped = plots.curves(folders, compare(folders).groups)
    assert sorted(t.get_text() for t in grouped.legends[0].get_texts()) == [
        "mean of #1, #2 (lr=0.001)", "mean of #3, #4 (lr=0.1)", "train", "validation"]


# --------------------------------------------------------------------------- dlcc runs

def test_a_sweep_is_one_row_beside_plain_runs(runs_dir, lr_sweep):
    rows = list_runs(runs_dir)
    assert len(rows) == 3
    assert sorted(r["kind"] for r in rows) == ["run", "run", "sweep"]
    sweep = next(r for r in rows if r["kind"] == "sweep")
    results = sweepdir.read_results(lr_sweep)
    assert sweep["run_dir"] == str(lr_sweep) and sweep["name"] == "lr" and sweep["dataset"] == "spirals"
    assert sweep["status"] == "completed" and sweep["progress"] == "6/6 done" and sweep["runs"] == 6
    assert sweep["seconds"] == pytest.approx(sum(r["seconds"] for r in results))
    best = sweep["best_point"]
    assert best["metric"] == "best_val_accuracy" and best["n"] == 2 and best["label"].startswith("lr=")
    assert sweep["best_val"] == {"metric": "val_accuracy", "value": best["mean"], "epoch": None}


def test_differing_config_keys_are_listed(runs_dir):
    rows = dlcc_json("runs", runs_dir)
    assert [set(r["differs"]) for r in rows] == [{"optimizer.lr", "optimizer.momentum", "seed"}] * 3
    sweep = next(r for r in rows if r["kind"] == "sweep")
    assert sweep["differs"] == {"optimizer.lr": LRS, "optimizer.momentum": 0.0, "seed": [0, 1]}
    momentum = next(r for r in rows if r["name"] == "tiny-momentum")
    assert momentum["differs"] == {"optimizer.lr": 0.5, "optimizer.momentum": 0.9, "seed": 0}
    for key in ("run_dir", "run", "name", "dataset", "task", "status", "epochs", "planned_epochs", "best_val",
                "test", "seconds", "created", "notes", "error"):  # what --json printed before sweeps
        assert all(key in r for r in rows), key


def test_the_table_shows_the_sweep_and_the_differing_keys(runs_dir):
    result = wide("runs", runs_dir)
    assert result.exit_code == 0, result.output
    header = next(line for line in result.stdout.splitlines() if line.startswith("run "))
    assert header.split()[-3:] == ["lr", "momentum", "seed"]
    sweep_line = next(line for line in result.stdout.splitlines() if line.startswith("sweep-lr-"))
    assert "6/6 done" in sweep_line and "0.001, 0.01, 0.1" in sweep_line and "0, 1" in sweep_line
    assert "2 run(s) and 1 sweep(s)" in result.stdout
    narrow = in_terminal("runs", runs_dir, columns=80)  # the keys that do not fit are named below
    assert "config key(s) differ: optimizer.lr" in " ".join(narrow.split())


def test_dlcc_runs_sweep_dir_expands_it(lr_sweep):
    rows = dlcc_json("runs", lr_sweep)
    assert [r["run"] for r in rows] == ["p000-s0", "p000-s1", "p001-s0", "p001-s1", "p002-s0", "p002-s1"]
    assert {r["kind"] for r in rows} == {"run"} and {r["status"] for r in rows} == {"completed"}
    assert [r["point"] for r in rows] == ["p000", "p000", "p001", "p001", "p002", "p002"]
    assert rows[3]["label"] == "lr=0.01, seed=1"
    assert [r["differs"] for r in rows[:2]] == [{"optimizer.lr": 0.001, "seed": 0}, {"optimizer.lr": 0.001, "seed": 1}]
    result = wide("runs", lr_sweep)
    assert result.exit_code == 0, result.output
    assert "sweep lr on spirals: 6 run(s)" in result.stdout and "6/6 done" in result.stdout
    header = next(line for line in result.stdout.splitlines() if line.startswith("run "))
    assert header.split()[-2:] == ["lr", "seed"]


def test_an_unfinished_sweep_says_what_is_left(grid_sweep):
    (row,) = list_runs(grid_sweep.parent)
    assert row["status"] == "incomplete" and row["progress"] == "10 done, 1 failed, 1 pending"
    assert row["counts"]["failed"] == 1 and row["counts"]["pending"] == 1
    rows = {r["run"]: r for r in dlcc_json("runs", grid_sweep)}
    assert rows["p005-s1"]["status"] == "pending" and rows["p005-s1"]["differs"]["optimizer.lr"] == 0.1
    assert rows["p002-s0"]["status"] == "failed" and "the worker died" in rows["p002-s0"]["notes"][-1]
    result = wide("runs", grid_sweep)
    assert result.exit_code == 0, result.output
    assert "10 done, 1 failed, 1 pending" in result.stdout
    assert f"dlcc sweep --resume {grid_sweep}" in result.stdout
    assert "p002-s0: failed: the worker died" in result.stdout


def test_a_damaged_sweep_is_listed_not_fatal(runs_dir, lr_sweep, tmp_path):
    import shutil

    copy = shutil.copytree(runs_dir, tmp_path / "runs")
    sweep = copy / lr_sweep.name
    (sweep / "sweep.yaml").write_text("name: lr\n")
    result = dlcc("runs", copy, "--json")
    assert result.exit_code == 0, result.output
    bad = next(r for r in json.loads(result.stdout) if r["run"] == sweep.name)
    assert bad["kind"] == "sweep" and bad["status"] == "unreadable" and "not a sweep definition" in bad["error"]
    result = dlcc("runs", sweep)
    assert result.exit_code == 2 and "not a sweep definition written by dlcc" in result.stderr
