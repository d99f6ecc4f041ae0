"""`dlcc compare`: config differences, best and final metrics, aligned curves, seed groups."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from tests.runs_helpers import MOONS, SINE, dlcc, dlcc_json, train_run


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    base = tmp_path_factory.mktemp("runs")
    return {
        "sgd": train_run(base),
        "momentum": train_run(base, "optimizer.momentum=0.9", "name=tiny-momentum"),
        "long": train_run(base, "training.epochs=6"),
        "seed1": train_run(base, "seed=1"),
        "seed2": train_run(base, "seed=2"),
        "sine": train_run(base, base=SINE),
        "sine-momentum": train_run(base, "optimizer.momentum=0.9", base=SINE),
    }


def test_momentum_is_the_only_config_difference(runs):
    c = dlcc_json("compare", runs["sgd"], runs["momentum"])
    assert c["config_diff"] == {"optimizer.momentum": [0.0, 0.9]}
    assert c["names_differ"] is True
    assert c["groups"] == []

    out = dlcc("compare", runs["sgd"], runs["momentum"]).stdout
    assert "optimizer.momentum" in out
    assert "The run names differ too" in out
    assert "Best by final val_accuracy" in out


def test_best_run_is_marked_and_deltas_are_to_it(runs):
    c = dlcc_json("compare", runs["sgd"], runs["momentum"], runs["long"], "--metric", "val_loss")
    assert c["metric"] == "val_loss" and c["higher_is_better"] is False
    finals = [r["metrics"]["val_loss"]["final"] for r in c["runs"]]
    best = int(np.argmin(finals))
    assert c["best"]["val_loss"] == best
    assert c["best_run"] == str([runs["sgd"], runs["momentum"], runs["long"]][best])
    for r, final in zip(c["runs"], finals):
        assert r["metrics"]["val_loss"]["delta"] == pytest.approx(final - finals[best])
        values = [v for v in c["curves"]["val_loss"]["runs"][c["runs"].index(r)][1:] if v is not None]
        assert r["metrics"]["val_loss"]["best"] == min(values)


def test_keys_only_one_run_has_show_as_absent(runs, tmp_path):
    moons = train_run(tmp_path, base=MOONS)
    c = dlcc_json("compare", runs["sgd"], moons)
    assert c["config_diff"]["data.dataset"] == ["spirals", "moons"]
    assert c["config_diff"]["data.options.points_per_class"] == [40, None]
    assert c["config_diff"]["data.options.points"] == [None, 80]
    out = dlcc("compare", runs["sgd"], moons).stdout
    assert "data.options.points_per_class" in out and "—" in out


def test_runs_of_different_lengths_are_aligned_by_epoch(runs):
    c = dlcc_json("compare", runs["sgd"], runs["long"])
    curves = c["curves"]["val_accuracy"]
    assert curves["epochs"] == list(range(7))
    short, long = curves["runs"]
    assert all(v is not None for v in short[:4]) and short[4:] == [None, None, None]
    assert all(v is not None for v in long)
    assert c["config_diff"] == {"training.epochs": [3, 6]}
    assert [r["epochs"] for r in c["runs"]] == [3, 6]

    out = dlcc("compare", runs["sgd"], runs["long"]).stdout
    assert "val_accuracy by epoch" in out and any(block in out for block in "▁▂▃▄▅▆▇█")


def test_runs_that_differ_only_in_seed_are_grouped(runs):
    c = dlcc_json("compare", runs["sgd"], runs["seed1"], runs["seed2"])
    assert c["config_diff"] == {"seed": [0, 1, 2]}
    (group,) = c["groups"]
    assert group["runs"] == [0, 1, 2] and group["seeds"] == [0, 1, 2]
    finals = [r["metrics"]["val_loss"]["final"] for r in c["runs"]]
    stat = group["metrics"]["val_loss"]["final"]
    assert stat["mean"] == pytest.approx(np.mean(finals))
    assert stat["std"] == pytest.approx(np.std(finals, ddof=1))
    assert stat["n"] == 3

    out = dlcc("compare", runs["sgd"], runs["seed1"], runs["seed2"]).stdout
    assert "differ only in seed" in out and "±" in out


def test_seed_groups_next_to_a_different_config(runs):
    c = dlcc_json("compare", runs["sgd"], runs["seed1"], runs["momentum"])
    assert [g["runs"] for g in c["groups"]] == [[0, 1]]
    assert set(c["config_diff"]) == {"seed", "optimizer.momentum"}


def test_regression_runs_are_ranked_by_validation_loss(runs):
    c = dlcc_json("compare", runs["sine"], runs["sine-momentum"])
    assert c["metric"] == "val_loss"
    assert "val_accuracy" not in c["runs"][0]["metrics"]
    assert c["config_diff"] == {"optimizer.momentum": [0.0, 0.9]}
    assert c["names_differ"] is False


def test_test_metrics_come_from_summary(runs):
    c = dlcc_json("compare", runs["sgd"], runs["momentum"])
    test = json.loads((runs["sgd"] / "summary.json").read_text())["test"]
    assert c["runs"][0]["metrics"]["test_accuracy"]["final"] == test["accuracy"]
    assert c["runs"][0]["metrics"]["test_loss"]["best"] is None


def test_partial_runs_are_compared_up_to_their_last_epoch(runs, tmp_path):
    partial = shutil.copytree(runs["long"], tmp_path / runs["long"].name)
    lines = (partial / "metrics.csv").read_text().splitlines(keepends=True)
    (partial / "metrics.csv").write_text("".join(lines[:4]))  # epochs 0..2 of 6
    (partial / "model.npz").unlink()
    summary = json.loads((partial / "summary.json").read_text())
    (partial / "summary.json").write_text(json.dumps({**summary, "status": "interrupted", "test": None}))

    result = dlcc("compare", runs["sgd"], partial, "--json")
    assert result.exit_code == 0, result.output
    c = json.loads(result.stdout)
    assert c["runs"][1]["partial"] is True and c["runs"][1]["epochs"] == 2
    assert c["runs"][1]["metrics"]["val_loss"]["final_epoch"] == 2
    assert c["runs"][1]["metrics"]["test_accuracy"]["final"] is None
    assert "status 'interrupted'" in result.stderr

    table = dlcc("compare", runs["sgd"], partial)
    assert table.exit_code == 0 and "interrupted" in table.stdout


def test_compare_plot_writes_a_png(runs, tmp_path):
    out = tmp_path / "figs" / "compare.png"
    result = dlcc("compare", runs["sgd"], runs["seed1"], runs["momentum"], "--plot", out)
    assert result.exit_code == 0, result.output
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 10_000


def test_unknown_metric_is_exit_2_listing_the_known(runs):
    result = dlcc("compare", runs["sgd"], runs["momentum"], "--metric", "val_acc")
    assert result.exit_code == 2
    assert "--metric val_acc: not recorded by these runs; available: train_loss" in result.stderr


def test_any_metrics_csv_column_can_decide(runs):
    c = dlcc_json("compare", runs["sgd"], runs["momentum"], "--metric", "grad_norm_1")
    assert c["metric"] == "grad_norm_1" and c["higher_is_better"] is False


def test_one_run_is_not_a_comparison(runs):
    result = dlcc("compare", runs["sgd"])
    assert result.exit_code == 2
    assert "two or more run folders" in result.stderr


def test_damaged_and_non_run_folders_are_exit_2(runs, tmp_path):
    damaged = shutil.copytree(runs["sgd"], tmp_path / "damaged")
    (damaged / "summary.json").write_text("")
    result = dlcc("compare", runs["momentum"], damaged)
    assert result.exit_code == 2 and "summary.json: the file is empty" in result.stderr

    (tmp_path / "notes").mkdir()
    result = dlcc("compare", runs["momentum"], tmp_path / "notes")
    assert result.exit_code == 2 and "not a run folder" in result.stderr
    assert "Traceback" not in result.output
