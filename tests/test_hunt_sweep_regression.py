"""Sweeps of regression runs, end to end: results.csv carries the test scores in the target's
units (test_mse, test_mae, test_r2) and no empty accuracy columns, and the plot, `dlcc runs` and
the best point rank a sweep over data.standardize_targets or loss by test_mse, never by losses on
different scales; seed groups tied on an accuracy are not told apart by such losses either."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import replace
from pathlib import Path

import pytest
from rich.console import Console

from dlcc.errors import RunError
from dlcc.report.compare import print_comparison
from dlcc.report.page import build
from dlcc.report.sweep_progress import RichSweepReporter
from dlcc.runs import sweepdir
from dlcc.runs.compare import best_group, compare
from dlcc.runs.folder import Summary
from dlcc.runs.listing import list_runs
from dlcc.runs.read import RunFolder, read
from dlcc.runs.sweepstats import sweep_stats
from dlcc.sweeps.plan import plan_from_definition
from tests.runs_helpers import SINE, dlcc, dlcc_json, refused
from tests.sweep_helpers import make_sweep
from tests.test_compare_regression import reg_run, scores

CLASSIFICATION_TAIL = ["seed", "status", "epochs", "best_epoch", "best_val_loss", "best_val_accuracy",
                       "final_train_loss", "final_val_loss", "final_val_accuracy", "test_loss", "test_accuracy",
                       "seconds", "error"]
REGRESSION_TAIL = ["seed", "status", "epochs", "best_epoch", "best_val_loss", "final_train_loss", "final_val_loss",
                   "test_loss", "test_mse", "test_mae", "test_r2", "seconds", "error"]
SCALES = {"loss": ["quadratic", "l1"], "data.standardize_targets": [True, False]}


@pytest.fixture(scope="module")
def scales_sweep(tmp_path_factory):
    """sine regression: loss x standardize_targets, 2 seeds: losses on four scales."""
    return make_sweep(tmp_path_factory.mktemp("runs"), SCALES, seeds=(0, 1), base=SINE, name="scales")


def header(sweep_dir) -> list[str]:
    with open(sweep_dir / sweepdir.RESULTS, newline="") as f:
        return next(csv.reader(f))


def test_regression_results_csv_has_the_test_scores_in_the_targets_units_and_no_accuracy_columns(scales_sweep):
    # results.csv had test_loss (standardized, or another loss's scale) and three empty accuracy
    # columns: a sweep over standardize_targets could not be read in the target's units.
    assert header(scales_sweep) == ["run", "point", "variant", *SCALES, *REGRESSION_TAIL]
    for row in sweepdir.read_results(scales_sweep):
        test = read(scales_sweep / row["run"]).summary.test
        assert (row["test_mse"], row["test_mae"], row["test_r2"]) == (test["mse"], test["mae"], test["r2"])


def test_classification_results_csv_keeps_its_columns(tmp_path):
    sweep_dir = make_sweep(tmp_path, {"optimizer.lr": [0.1]}, seeds=(0,))
    assert header(sweep_dir) == ["run", "point", "variant", "optimizer.lr", *CLASSIFICATION_TAIL]
    assert sweepdir.result_columns(["optimizer.lr"]) == header(sweep_dir)  # before any run started
    both = [{"task": "classification"}, {"task": "regression"}, {"task": None}]
    assert {"best_val_accuracy", "test_mse"} <= set(sweepdir.result_columns([], both))


def test_a_sweep_over_scales_is_plotted_and_starred_by_test_mse_as_compare_ranks_it(scales_sweep, tmp_path):
    # `dlcc plot SWEEP --kind sweep` and the report's sweep figure stopped with "--metric
    # best_val_loss: ... not on one scale" (a flag the user never gave); --metric test_mse was refused.
    stats = sweep_stats(sweepdir.read_definition(scales_sweep), sweepdir.read_results(scales_sweep))
    assert stats.metric == "test_mse" and not stats.higher_is_better and stats.counted == 8
    runs = [read(scales_sweep / r["run"]) for r in sweepdir.read_results(scales_sweep)]
    c = compare(runs)
    top = c.groups[0]
    assert c.metric == "test_mse" and top.rank == 1
    assert sweepdir.read_results(scales_sweep)[top.members[0]]["point"] == stats.best.id
    r2 = sweep_stats(sweepdir.read_definition(scales_sweep), sweepdir.read_results(scales_sweep), "test_r2")
    assert r2.higher_is_better and r2.best.mean == max(p.mean for p in r2.points)
    out = tmp_path / "sweep.png"
    assert dlcc("plot", scales_sweep, "--kind", "sweep", "--out", out).exit_code == 0 and out.is_file()
    refused(dlcc("plot", scales_sweep, "--kind", "sweep", "--metric", "best_val_loss", "--out", out),
            "not on one scale", "test_mse")


def test_dlcc_runs_lists_a_sweep_over_scales_with_its_best_point_by_test_mse(scales_sweep):
    # The sweep's row read "unreadable: --metric best_val_loss: these runs' losses are not on one scale".
    rows = list_runs(scales_sweep.parent)
    (row,) = [r for r in rows if r["kind"] == "sweep"]
    assert row["status"] == "completed" and row["error"] is None and row["task"] == "regression"
    assert row["best_point"]["metric"] == "test_mse"
    assert row["test"]["mse"] == pytest.approx(row["best_point"]["mean"])
    assert row["best_val"]["metric"] == "val_loss"
    listed = dlcc_json("runs", scales_sweep.parent)
    assert [r["status"] for r in listed] == ["completed"]


def test_an_older_results_csv_without_test_mse_is_listed_not_ranked_and_says_how_to_rebuild(tmp_path):
    sweep_dir = make_sweep(tmp_path, {"data.standardize_targets": [True, False]}, seeds=(0,), base=SINE, name="old")
    rows = sweepdir.read_results(sweep_dir)
    keys = sweepdir.read_definition(sweep_dir)["keys"]
    with open(sweep_dir / sweepdir.RESULTS, "w", newline="") as f:  # as an older dlcc wrote it
        writer = csv.writer(f)
        writer.writerow(["run", "point", "variant", *keys, *CLASSIFICATION_TAIL])
        for r in rows:
            writer.writerow(["" if r.get(c) is None else r.get(c) for c in ["run", "point", "variant", *keys,
                                                                              *CLASSIFICATION_TAIL]])
    with pytest.raises(RunError, match=r"standardize_targets differs \(p000 true, p001 false\).*--resume"):
        sweep_stats(sweepdir.read_definition(sweep_dir), sweepdir.read_results(sweep_dir))
    (row,) = list_runs(tmp_path)
    assert row["status"] == "completed" and row["best_point"] is None and "--resume" in row["notes"][0]


def test_a_tie_on_accuracy_between_points_of_different_losses_is_not_broken_by_the_losses():
    # The star went to the point of the lower mean best_val_loss, quadratic's 0.05 against
    # cross-entropy's 0.30: numbers on different scales.
    definition = {"name": "s", "base": {"loss": "cross_entropy"}, "keys": ["loss"], "seeds": [0, 1], "runs": [],
                  "points": [{"id": "p000", "values": {"loss": "cross_entropy"}},
                             {"id": "p001", "values": {"loss": "quadratic"}}]}
    results = [{"point": p, "status": "completed", "best_val_accuracy": acc, "best_val_loss": loss}
               for p, loss in (("p000", 0.30), ("p001", 0.05)) for acc in (0.85, 0.95)]
    assert sweep_stats(definition, results).best.id == "p000"  # a shared rank: the point given first
    definition["points"][1]["values"] = {"loss": "cross_entropy"}  # one scale: the loss still breaks the tie
    assert sweep_stats(definition, results).best.id == "p001"


def test_sweep_json_rows_have_the_regression_scores(tmp_path, write_config):
    cfg = write_config({**SINE, "training": {"epochs": 2, "batch_size": 16}})
    out = dlcc_json("sweep", cfg, "--grid", "data.standardize_targets=true,false", "--workers", "1",
                    "--runs-dir", tmp_path / "runs", "--quiet")
    assert [r["status"] for r in out["results"]] == ["completed", "completed"]
    assert all(isinstance(r["test_mse"], float) and "test_accuracy" not in r for r in out["results"])
    assert json.loads(json.dumps(out))  # plain JSON


def cls_run(where, loss: str, seed: int, acc: float, val_loss: float) -> RunFolder:
    rows = ({"epoch": 1, "train_loss": val_loss, "train_accuracy": acc, "val_loss": val_loss, "val_accuracy": acc},)
    config = {"name": loss, "seed": seed, "data": {"dataset": "spirals"}, "loss": loss,
              "optimizer": {"name": "sgd"}, "training": {"epochs": 1}}
    return RunFolder(Path(where) / f"{loss}-{seed}", config, Summary(status="completed", task="classification"),
                     ("epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy"), rows, True, ())


def test_groups_tied_on_accuracy_across_losses_share_the_order_given(tmp_path):
    runs = [cls_run(tmp_path, "cross_entropy", s, acc, 0.30) for s, acc in enumerate((0.85, 0.95))]
    runs += [cls_run(tmp_path, "quadratic", s, acc, 0.05) for s, acc in enumerate((0.85, 0.95))]
    c = compare(runs)
    assert c.metric == "val_accuracy" and c.unranked
    assert c.best["val_accuracy"] == 1                       # the run star: the first 0.95 given
    assert "cross_entropy" in c.groups[0].label             # the group star agrees (was quadratic: 0.05 < 0.30)
    assert best_group(c, "val_accuracy") == 0
    assert "listed in the order given" in c.groups[1].verdict
    console = Console(record=True, width=150)
    print_comparison(c, console)
    assert "breaks the tie" not in console.export_text()


def test_an_exact_tie_on_a_metric_without_a_tie_breaker_is_printed_not_a_crash(tmp_path):
    # `dlcc compare A B` of a regression run and its copy: KeyError: None in print_verdict (exit 1, traceback).
    runs = [cls_run(tmp_path, "cross_entropy", 0, 0.9, 0.3), cls_run(tmp_path / "copy", "cross_entropy", 0, 0.9, 0.3)]
    for metric in ("val_loss", "val_accuracy"):
        console = Console(record=True, width=150)
        print_comparison(compare(runs, metric), console)
        assert "tied with #2" in console.export_text()
    across = [cls_run(tmp_path, "cross_entropy", 0, 0.9, 0.3), cls_run(tmp_path, "quadratic", 0, 0.9, 0.05)]
    console = Console(record=True, width=150)
    print_comparison(compare(across), console)
    assert "listed in the order given" in console.export_text() and "breaks the tie" not in console.export_text()


def test_a_diverged_run_does_not_stop_a_regression_comparison_across_scales(tmp_path):
    # A sweep over standardize_targets where the raw-target runs diverged (lr too high for prices):
    # `dlcc compare SWEEP_DIR` refused all of it ("#3, #4 has no test score (data.test: 0, or unfinished)").
    std = [reg_run(tmp_path, "std", s, [0.03], scores(5e8 + s, 1.8e4, 0.97)) for s in (0, 1)]
    raw = [reg_run(tmp_path, "raw", s, [5e8], None, standardize=False) for s in (0, 1)]
    raw = [replace(r, summary=replace(r.summary, status="diverged")) for r in raw]
    c = compare(std + raw)
    assert c.metric == "test_mse" and c.groups[0].rank == 1 and c.groups[1].outcome == "no value"


def test_the_reports_results_table_has_the_regression_scores_and_flags_as_written(scales_sweep):
    # The report's results.csv table left out test_mse/test_mae/test_r2 and printed True/False.
    page = build([scales_sweep])
    table = page[page.index("<h3>results.csv</h3>"):]
    assert all(f">{key}<" in table for key in ("test_mse", "test_mae", "test_r2"))
    assert ">false<" in table and ">False<" not in table


def test_the_live_best_so_far_ranks_a_sweep_over_scales_by_test_mse(scales_sweep):
    # It ranked by best_val_loss across scales ("p003 loss=l1 ... (val_loss 0.02959)"), and chose
    # its metric from the base config's loss alone.
    out = io.StringIO()
    reporter = RichSweepReporter(Console(file=out, width=200))
    rows = sweepdir.read_results(scales_sweep)
    reporter.start(plan_from_definition(sweepdir.read_definition(scales_sweep), str(scales_sweep)), rows)
    stats = sweep_stats(sweepdir.read_definition(scales_sweep), rows)
    assert stats.metric == "test_mse"
    assert reporter._best().startswith(f"{stats.best.id} ") and "(test_mse " in reporter._best()
    reporter.run_finished(rows[0])
    assert "test_mse" in out.getvalue().splitlines()[-1]
