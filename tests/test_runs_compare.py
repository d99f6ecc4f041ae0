"""`dlcc compare`: config differences, best and final metrics, aligned curves, seed groups and their statistics."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

from dlcc.report.compare import print_comparison
from dlcc.runs.compare import best_group, compare
from dlcc.runs.configdiff import group_keys
from dlcc.runs.folder import Summary
from dlcc.runs.read import RunFolder
from dlcc.runs.stats import Stat, format_p
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
    assert "Best by val_accuracy" in out and "best epoch" in out and "by val_loss" in out


def test_best_run_is_marked_and_deltas_are_to_it(runs):
    c = dlcc_json("compare", runs["sgd"], runs["momentum"], runs["long"], "--metric", "val_loss")
    assert c["metric"] == "val_loss" and c["higher_is_better"] is False
    bests = [r["metrics"]["val_loss"]["best"] for r in c["runs"]]
    best = int(np.argmin(bests))
    assert c["best"]["val_loss"] == best
    assert c["best_run"] == str([runs["sgd"], runs["momentum"], runs["long"]][best])
    for r, value in zip(c["runs"], bests):
        assert r["metrics"]["val_loss"]["delta"] == pytest.approx(value - bests[best])
        values = [v for v in c["curves"]["val_loss"]["runs"][c["runs"].index(r)][1:] if v is not None]
        assert r["metrics"]["val_loss"]["best"] == min(values)  # val_loss is the monitor: its own minimum


def test_keys_only_one_run_has_show_as_absent(runs, tmp_path):
    # Updated: this used spirals against moons, which compare now refuses (different datasets);
    # an optimizer change leaves keys only one of the runs has just the same.
    adam = train_run(tmp_path, "optimizer.name=adam", "optimizer.lr=0.01")
    c = dlcc_json("compare", runs["sgd"], adam)
    assert c["config_diff"]["optimizer.name"] == ["sgd", "adam"]
    assert c["config_diff"]["optimizer.momentum"] == [0.0, None]
    assert c["config_diff"]["optimizer.beta1"] == [None, 0.9]
    out = dlcc("compare", runs["sgd"], adam).stdout
    assert "optimizer.momentum" in out and "—" in out


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
    # Updated: the lone momentum run is now a group of its own (n = 1, no test possible) in the
    # ranking, where it used to be left out of the groups.
    c = dlcc_json("compare", runs["sgd"], runs["seed1"], runs["momentum"])
    assert sorted(g["runs"] for g in c["groups"]) == [[0, 1], [2]]
    assert set(c["config_diff"]) == {"seed", "optimizer.momentum"}
    lone, pair = c["groups"]  # momentum wins on these seeds: 70% against a mean of 60%
    assert lone["runs"] == [2] and lone["rank"] == 1 and lone["verdict"] == "best"
    assert lone["n"] == 1 and lone["std"] == 0.0 and lone["ci95"] is None
    assert lone["keys"] == {"optimizer.momentum": 0.9} and lone["label"] == "optimizer.momentum=0.9"
    assert pair["rank"] == 2 and pair["p_value"] is None
    assert pair["verdict"] == "no test possible: the best group has n=1 (repeat it with more seeds)"


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
    # one test value per run (the kept model's): its best and final are the same, with no epoch
    assert c["runs"][0]["metrics"]["test_loss"]["best"] == test["loss"]
    assert c["runs"][0]["metrics"]["test_loss"]["best_epoch"] is None


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


# --------------------------------------------------------------------------- seed groups and statistics

def fake_run(where, optimizer: str, seed: int, accuracies, losses=None, dataset: str = "spirals") -> RunFolder:
    """A run folder held in memory: val_accuracy and val_loss per epoch 1.. (None: an empty cell)."""
    losses = losses if losses is not None else [0.5] * len(accuracies)
    rows = tuple({"epoch": e, "val_accuracy": a, "val_loss": v}
                 for e, (a, v) in enumerate(zip(accuracies, losses), start=1))
    config = {"name": "fake", "seed": seed, "data": {"dataset": dataset},
              "optimizer": {"name": optimizer}, "training": {"epochs": len(rows)}}
    return RunFolder(Path(where) / f"{optimizer}-{seed}", config, Summary(status="completed", task="classification"),
                     ("epoch", "val_accuracy", "val_loss"), rows, True, ())


def by_label(c) -> dict:
    return {g.label: g for g in c.groups}


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    """3 configs x 3 seeds, trained for real: what `dlcc sweep` leaves behind, in miniature."""
    base = tmp_path_factory.mktemp("sweep")
    points = {"sgd": [], "momentum": ["optimizer.momentum=0.9"], "adam": ["optimizer.name=adam", "optimizer.lr=0.01"]}
    return {name: [train_run(base, *sets, f"seed={seed}", "training.epochs=6") for seed in range(3)]
            for name, sets in points.items()}


def test_sweep_groups_carry_n_mean_std_ci_and_a_test_against_the_best(sweep):
    folders = [run for runs in sweep.values() for run in runs]
    c = dlcc_json("compare", *folders)
    finals = np.array([r["metrics"]["val_accuracy"]["final"] for r in c["runs"]]).reshape(3, 3)
    bests = np.array([r["metrics"]["val_accuracy"]["best"] for r in c["runs"]]).reshape(3, 3)
    assert (bests != finals).any()  # else the check below could not tell which one groups use
    for r, run in zip(c["runs"], folders):  # best = val_accuracy in the row of the lowest val_loss
        summary = json.loads((run / "summary.json").read_text())
        assert r["metrics"]["val_accuracy"]["best_epoch"] == summary["best_epoch"]
        assert r["metrics"]["val_accuracy"]["best"] == summary["best"]["val_accuracy"]
    groups = {tuple(g["runs"]): g for g in c["groups"]}
    assert set(groups) == {(0, 1, 2), (3, 4, 5), (6, 7, 8)}
    assert [g["rank"] for g in c["groups"]] == [1, 2, 3] and c["best_group"] == 0
    assert [g["mean"] for g in c["groups"]] == sorted((g["mean"] for g in c["groups"]), reverse=True)
    best = c["groups"][0]
    for k, members in enumerate(((0, 1, 2), (3, 4, 5), (6, 7, 8))):
        g = groups[members]
        assert g["n"] == 3 and g["seeds"] == [0, 1, 2]
        assert g["mean"] == pytest.approx(bests[k].mean()) and g["std"] == pytest.approx(bests[k].std(ddof=1))
        half = 4.302653 * bests[k].std(ddof=1) / np.sqrt(3)  # t_{0.975, 2} from the table
        assert g["ci95"] == pytest.approx([bests[k].mean() - half, bests[k].mean() + half], abs=1e-6)
        assert g["final_mean"] == pytest.approx(finals[k].mean())
        assert g["metrics"]["val_accuracy"]["final"]["mean"] == pytest.approx(finals[k].mean())
        if g is best:
            assert g["verdict"] == "best" and g["p_value"] is None
            continue
        other = bests[[m for m, ms in enumerate(((0, 1, 2), (3, 4, 5), (6, 7, 8))) if groups[ms] is best][0]]
        se2 = bests[k].var(ddof=1) / 3 + other.var(ddof=1) / 3
        assert g["t"] == pytest.approx((bests[k].mean() - other.mean()) / np.sqrt(se2))
        assert g["df"] == pytest.approx(se2 ** 2 / ((bests[k].var(ddof=1) / 3) ** 2 / 2 + (other.var(ddof=1) / 3) ** 2 / 2))
        assert g["verdict"].startswith("worse" if g["p_value"] < 0.05 else "not distinguishable from the best at n=3")
    labels = {tuple(g["runs"]): g["label"] for g in c["groups"]}
    assert labels == {(0, 1, 2): "optimizer.name=sgd optimizer.lr=0.5 optimizer.momentum=0.0",
                      (3, 4, 5): "optimizer.name=sgd optimizer.lr=0.5 optimizer.momentum=0.9",
                      (6, 7, 8): "optimizer.name=adam optimizer.lr=0.01"}
    assert groups[(6, 7, 8)]["keys"] == {"optimizer.name": "adam", "optimizer.lr": 0.01}


def test_sweep_output_is_one_ranked_group_table(sweep):
    folders = [run for runs in sweep.values() for run in runs]
    result = dlcc("compare", *folders)
    assert result.exit_code == 0, result.output
    out = result.stdout
    lines = out.splitlines()
    assert len(lines) <= 70, out  # 9 runs used to print 153 lines
    words = " ".join(out.split())
    assert "9 runs in 3 groups; the groups differ in optimizer.name, optimizer.lr, optimizer.momentum" in words
    assert "groups of runs that differ only in seed, ranked by mean val_accuracy" in words
    assert "at the best epoch" in words
    for header in ("mean ± std", "95% CI", "final mean", "p vs best", "verdict"):
        assert header.split()[0] in out
    assert "optimizer.name=adam" in out and "Best group by mean val_accuracy" in out
    assert "Best by val_accuracy" not in out and "metrics:" not in out  # no per-run verdict and metrics table
    assert "(#1-#3)" in out and "(#7-#9)" in out
    for run in folders:  # with 9 runs the legend still lists every folder
        assert run.name in out
    for line in lines:
        assert len(line) <= 80, line


def test_a_tie_goes_to_the_lower_loss_whichever_group_comes_last(tmp_path):
    """A teacher's study: SGD and Adam both at 100% on every seed, Adam's validation loss six times
    lower. best_group used to take the last tied group; the loss on the same split decides."""
    def runs(optimizer, loss):
        return [fake_run(tmp_path, optimizer, s, [0.9, 1.0], [2 * loss, loss]) for s in range(3)]

    for order in (("adam", "sgd"), ("sgd", "adam")):
        given = {"adam": runs("adam", 0.05), "sgd": runs("sgd", 0.3)}
        c = compare([run for name in order for run in given[name]])
        groups = by_label(c)
        adam, sgd = groups["optimizer.name=adam"], groups["optimizer.name=sgd"]
        assert c.groups[best_group(c, "val_accuracy")] is adam and adam.rank == 1
        assert sgd.rank == 2 and sgd.outcome == "tied" and sgd.p_value == 1.0
        assert sgd.verdict == ("not distinguishable from the best: the same mean val_accuracy, "
                               "ranked below it by a higher mean val_loss")
        assert sgd.stats["val_accuracy"]["final"] == Stat(1.0, 0.0, 3, (1.0, 1.0))
    assert best_group(c, "val_loss") == c.groups.index(adam)


def test_constant_groups_differ_exactly(tmp_path):
    """No spread in either group: a different mean is an exact difference (p = 0)."""
    c = compare([fake_run(tmp_path, "adam", s, [0.95]) for s in range(3)]
                + [fake_run(tmp_path, "sgd", s, [0.9]) for s in range(3)])
    sgd = by_label(c)["optimizer.name=sgd"]
    assert sgd.outcome == "worse" and sgd.p_value == 0.0 and sgd.test.t is None
    assert sgd.verdict == "worse: the difference is exact across seeds (p = 0)"


def test_missing_and_non_finite_values_leave_the_group_smaller(tmp_path):
    """A run with no value (an empty cell, a NaN) does not count; a group with none is last."""
    runs = [fake_run(tmp_path, "adam", 0, [0.9]), fake_run(tmp_path, "adam", 1, [0.8]),
            fake_run(tmp_path, "adam", 2, [math.nan]),
            fake_run(tmp_path, "sgd", 0, [None]), fake_run(tmp_path, "sgd", 1, [None]),
            fake_run(tmp_path, "rmsprop", 0, [0.5]), fake_run(tmp_path, "rmsprop", 1, [0.6])]
    c = compare(runs)
    adam, rmsprop, sgd = c.groups
    assert adam.label == "optimizer.name=adam" and adam.stats["val_accuracy"]["best"].n == 2
    assert adam.stats["val_accuracy"]["best"].mean == pytest.approx(0.85)
    assert rmsprop.rank == 2 and rmsprop.outcome in ("worse", "not distinguishable")
    assert sgd.rank is None and sgd.stats["val_accuracy"]["best"] is None
    assert sgd.outcome == "no value" and sgd.verdict == "no val_accuracy at a best epoch recorded"
    data = c.to_json()
    assert data["groups"][0]["n"] == 2 and data["groups"][2]["n"] == 0 and data["groups"][2]["mean"] is None
    json.dumps(data, allow_nan=False)  # NaN never reaches the JSON

    console = Console(width=120, record=True)
    print_comparison(c, console)
    out = console.export_text()
    assert " 2/3 " in out and "no val_accuracy at a best epoch recorded" in " ".join(out.split())


def test_many_runs_shorten_the_legend(tmp_path):
    runs = [fake_run(tmp_path, name, s, [0.5 + 0.1 * k + 0.01 * s])
            for k, name in enumerate(("sgd", "adagrad", "rmsprop", "adam", "nadam")) for s in range(3)]
    console = Console(width=80, record=True)
    print_comparison(compare(runs), console)
    out = console.export_text()
    assert "15 of 15 runs finished normally" in out and "sgd-0" not in out
    assert out.index("★1 optimizer.name=nadam") < out.index("2 optimizer.name=adam")
    assert len(out.splitlines()) < 60  # the per-run layout printed 15 rows per metric


def test_group_labels_name_only_the_keys_that_tell_groups_apart():
    """The six optimizers of the course: momentum and nesterov exist for sgd only, and are needed to
    tell its three variants apart; adam's own keys are not."""
    sgd = {"optimizer.name": "sgd", "optimizer.lr": 0.1, "optimizer.momentum": 0.0, "optimizer.nesterov": False}
    configs = [sgd, {**sgd, "optimizer.momentum": 0.9}, {**sgd, "optimizer.momentum": 0.9, "optimizer.nesterov": True},
               {"optimizer.name": "adam", "optimizer.lr": 0.001, "optimizer.beta1": 0.9, "optimizer.beta2": 0.999}]
    assert group_keys(configs) == [
        {"optimizer.name": "sgd", "optimizer.lr": 0.1, "optimizer.momentum": 0.0, "optimizer.nesterov": False},
        {"optimizer.name": "sgd", "optimizer.lr": 0.1, "optimizer.momentum": 0.9, "optimizer.nesterov": False},
        {"optimizer.name": "sgd", "optimizer.lr": 0.1, "optimizer.momentum": 0.9, "optimizer.nesterov": True},
        {"optimizer.name": "adam", "optimizer.lr": 0.001}]
    # lr alone would tell these apart, but the momentum differs too, so the label says so
    configs = [{**sgd, "optimizer.lr": 0.3}, {**sgd, "optimizer.lr": 0.05, "optimizer.momentum": 0.9},
               {"optimizer.name": "adam", "optimizer.lr": 0.01, "optimizer.beta1": 0.9}]
    assert group_keys(configs) == [
        {"optimizer.name": "sgd", "optimizer.lr": 0.3, "optimizer.momentum": 0.0},
        {"optimizer.name": "sgd", "optimizer.lr": 0.05, "optimizer.momentum": 0.9},
        {"optimizer.name": "adam", "optimizer.lr": 0.01}]
    # early stopping off (null) against on: no key varies, so presence tells them apart
    off = {"training.epochs": 5, "training.early_stopping": None}
    on = {"training.epochs": 5, "training.early_stopping.patience": 3}
    assert group_keys([off, on]) == [{"training.early_stopping": None}, {"training.early_stopping.patience": 3}]


@pytest.mark.parametrize("p, text", [(0.41, "0.41"), (0.082, "0.082"), (0.003, "0.003"), (0.0496, "0.0496"),
                                     (0.05004, "0.05"), (1.0, "1"), (3e-7, "3.0e-07"), (0.0, "0")])
def test_p_values_are_printed_on_the_right_side_of_alpha(p, text):
    assert format_p(p) == text


def test_the_same_folder_twice_is_exit_2(runs):
    result = dlcc("compare", runs["sgd"], runs["momentum"], runs["sgd"] / ".." / runs["sgd"].name)
    assert result.exit_code == 2
    assert "given twice (#1 and #3); compare needs different run folders" in result.stderr


def test_different_datasets_or_tasks_are_exit_2(runs, tmp_path):
    moons = train_run(tmp_path, base=MOONS)
    result = dlcc("compare", runs["sgd"], moons)
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "cannot be compared: they are of different datasets (spirals: #1" in result.stderr
    assert "moons: #2" in result.stderr and "compare runs of one dataset" in result.stderr

    result = dlcc("compare", runs["sgd"], runs["sine"])
    assert result.exit_code == 2
    assert "of different tasks (classification: #1" in result.stderr and "regression: #2" in result.stderr


def test_equal_means_without_a_tie_breaker_keep_the_given_order(tmp_path):
    """val_loss decides and has no partner: equal means are listed in the order given, and two
    constant groups with the same value are not distinguishable (p = 1)."""
    runs = [fake_run(tmp_path, name, s, [0.8], [0.25]) for name in ("sgd", "adam") for s in range(2)]
    c = compare(runs, "val_loss")
    assert [g.label for g in c.groups] == ["optimizer.name=sgd", "optimizer.name=adam"]
    adam = c.groups[1]
    assert adam.rank == 2 and adam.outcome == "tied" and adam.p_value == 1.0
    assert adam.verdict == "not distinguishable from the best: the same mean val_loss; listed in the order given"
