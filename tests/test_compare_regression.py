"""dlcc compare, report and sweep plots on regression runs whose losses are not on one scale
(data.standardize_targets or loss differ), and the regression test scores as --metric."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console

from dlcc.errors import RunError
from dlcc.report.compare import print_comparison
from dlcc.runs.compare import compare
from dlcc.runs.folder import Summary
from dlcc.runs.read import RunFolder
from dlcc.runs.sweepstats import sweep_stats


def reg_run(where, name: str, seed: int, val_losses, test: dict | None, standardize=True, loss="mse") -> RunFolder:
    """A regression run folder held in memory: val_loss per epoch 1.., summary.json's test scores."""
    rows = tuple({"epoch": e, "train_loss": v, "val_loss": v} for e, v in enumerate(val_losses, start=1))
    config = {"name": name, "seed": seed, "data": {"dataset": "csv", "standardize_targets": standardize},
              "loss": loss, "optimizer": {"name": "sgd"}, "training": {"epochs": len(rows)}}
    summary = Summary(status="completed", task="regression", test=test)
    return RunFolder(Path(where) / f"{name}-{seed}", config, summary, ("epoch", "train_loss", "val_loss"), rows, True, ())


def scores(mse, mae, r2, loss=0.1) -> dict:
    return {"loss": loss, "accuracy": None, "mse": mse, "mae": mae, "r2": r2}


def test_regression_test_scores_can_be_chosen_and_r2_is_higher_is_better(tmp_path):
    a = reg_run(tmp_path, "a", 0, [0.5, 0.3], scores(400.0, 15.0, 0.90))
    b = reg_run(tmp_path, "b", 0, [0.4, 0.2], scores(500.0, 16.0, 0.95))
    c = compare([a, b], "test_r2")
    assert c.best["test_r2"] == 1  # the higher R^2
    assert c.to_json()["higher_is_better"] is True
    assert compare([a, b], "test_mse").best["test_mse"] == 0
    assert compare([a, b], "test_mae").best["test_mae"] == 0
    assert {"test_mse", "test_mae", "test_r2"} <= set(compare([a, b]).metrics)


def test_seed_groups_on_test_r2_have_stats_and_rank_higher_first(tmp_path):
    runs = [reg_run(tmp_path, "a", s, [0.5], scores(1.0, 1.0, r2)) for s, r2 in enumerate((0.80, 0.82, 0.81))]
    runs += [reg_run(tmp_path, "b", s, [0.5], scores(1.0, 1.0, r2), loss="l1")
             for s, r2 in enumerate((0.90, 0.91, 0.92))]
    c = compare(runs, "test_r2")
    assert len(c.groups) == 2
    top = c.groups[0]
    assert top.rank == 1 and "l1" in top.label
    assert top.stats["test_r2"]["best"].n == 3 and top.stats["test_r2"]["best"].ci95 is not None
    assert c.groups[1].p_value is not None


def test_standardize_targets_differing_defaults_to_test_mse_not_val_loss(tmp_path):
    std = reg_run(tmp_path, "std", 0, [0.03, 0.02], scores(5e8, 1.8e4, 0.975, loss=0.02))
    raw = reg_run(tmp_path, "raw", 0, [5e8, 4e8], scores(3.9e8, 1.6e4, 0.981, loss=3.9e8), standardize=False)
    c = compare([std, raw])
    assert c.metric == "test_mse"
    assert c.best["test_mse"] == 1
    assert c.best["val_loss"] is None and c.best["test_loss"] is None  # no star on incomparable losses
    assert "data.standardize_targets" in c.unranked
    assert c.to_json()["losses_unranked"]
    console = Console(record=True, width=120)
    print_comparison(c, console)
    assert "not on one scale" in console.export_text()


def test_a_loss_metric_across_scales_is_refused_naming_the_key_and_the_metrics_to_use(tmp_path):
    a = reg_run(tmp_path, "mse", 0, [0.5], scores(1.0, 1.0, 0.9))
    b = reg_run(tmp_path, "l1", 0, [0.4], scores(1.0, 1.0, 0.9), loss="l1")
    with pytest.raises(RunError, match=r"loss differs \(#1 mse, #2 l1\).*test_mse, test_mae or test_r2"):
        compare([a, b], "val_loss")


def test_no_test_scores_across_scales_is_an_error_not_a_val_loss_ranking(tmp_path):
    a = reg_run(tmp_path, "std", 0, [0.5], scores(1.0, 1.0, 0.9))
    b = reg_run(tmp_path, "raw", 0, [4e8], None, standardize=False)
    with pytest.raises(RunError, match=r"data.standardize_targets differs.*#2 has no test score"):
        compare([a, b])


def test_same_scale_regression_runs_still_rank_by_val_loss(tmp_path):
    a = reg_run(tmp_path, "a", 0, [0.5], scores(1.0, 1.0, 0.9))
    b = reg_run(tmp_path, "b", 0, [0.4], scores(2.0, 1.0, 0.8))
    c = compare([a, b])
    assert c.metric == "val_loss" and c.best["val_loss"] == 1 and not c.unranked


def test_sweep_over_standardize_targets_is_not_ranked_by_a_loss():
    definition = {"name": "s", "base": {"data": {"standardize_targets": True}, "loss": "mse"},
                  "keys": ["data.standardize_targets"], "seeds": [0], "runs": [],
                  "points": [{"id": "p000", "values": {"data.standardize_targets": True}},
                             {"id": "p001", "values": {"data.standardize_targets": False}}]}
    results = [{"point": "p000", "status": "completed", "best_val_loss": 0.02},
               {"point": "p001", "status": "completed", "best_val_loss": 4e8}]
    with pytest.raises(RunError, match=r"data.standardize_targets differs \(p000 true, p001 false\)"):
        sweep_stats(definition, results)
    definition["points"][1]["values"] = {"data.standardize_targets": True}
    assert sweep_stats(definition, results).best.id == "p000"
