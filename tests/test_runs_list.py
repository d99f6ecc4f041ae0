"""`dlcc runs`: every run folder in a directory, newest first, damaged ones listed too."""

from __future__ import annotations

import json

import pytest

from tests.runs_helpers import SINE, dlcc, dlcc_json, summary, train_run


@pytest.fixture(scope="module")
def runs_dir(tmp_path_factory):
    base = tmp_path_factory.mktemp("runs")
    train_run(base)
    train_run(base, "optimizer.momentum=0.9", "name=tiny-momentum")
    train_run(base, base=SINE)
    return base


def test_newest_first_with_the_overview(runs_dir):
    rows = dlcc_json("runs", runs_dir)
    assert [r["name"] for r in rows] == ["sine", "tiny-momentum", "tiny"]
    tiny = rows[2]
    s = summary(runs_dir / tiny["run"])
    assert tiny["status"] == "completed" and tiny["dataset"] == "spirals"
    assert tiny["epochs"] == tiny["planned_epochs"] == 3
    assert tiny["test"] == s["test"]
    assert tiny["best_val"]["metric"] == "val_accuracy"
    assert rows[0]["best_val"]["metric"] == "val_loss"  # regression: the loss


def test_table(runs_dir):
    result = dlcc("runs", runs_dir, "--wide")
    assert result.exit_code == 0, result.output
    for text in ("3 run(s)", "tiny-momentum-", "sine-", "completed", "best val", "loss"):
        assert text in result.stdout


def test_damaged_folders_are_listed_not_fatal(runs_dir, tmp_path):
    import shutil

    copy = shutil.copytree(runs_dir, tmp_path / "runs")
    tiny = next(p for p in copy.iterdir() if p.name.startswith("tiny-2"))
    (tiny / "summary.json").write_text("{garbage")
    result = dlcc("runs", copy, "--json")
    assert result.exit_code == 0
    rows = json.loads(result.stdout)
    bad = next(r for r in rows if r["run"] == tiny.name)
    assert bad["status"] == "unreadable" and "not valid JSON" in bad["error"]
    assert f"unreadable: {tiny}" in result.stderr
    assert "unreadable" in dlcc("runs", copy).stdout


def test_interrupted_runs_are_listed(runs_dir, tmp_path):
    import shutil

    copy = shutil.copytree(runs_dir, tmp_path / "runs")
    sine = next(p for p in copy.iterdir() if p.name.startswith("sine-"))
    s = summary(sine)
    (sine / "summary.json").write_text(json.dumps({**s, "status": "interrupted", "test": None}))
    row = next(r for r in dlcc_json("runs", copy) if r["run"] == sine.name)
    assert row["status"] == "interrupted" and row["test"] is None


def test_empty_and_missing_directories(tmp_path):
    result = dlcc("runs", tmp_path)
    assert result.exit_code == 0 and "no run folders in" in result.stdout
    assert dlcc_json("runs", tmp_path) == []
    result = dlcc("runs", tmp_path / "nope")
    assert result.exit_code == 2 and "does not exist" in result.stderr


def test_a_run_folder_is_not_a_runs_directory(runs_dir):
    run = next(runs_dir.iterdir())
    result = dlcc("runs", run)
    assert result.exit_code == 2
    assert "this is one run folder" in result.stderr


def test_rows_name_the_config_keys_that_differ(runs_dir):
    rows = dlcc_json("runs", runs_dir)
    assert {r["kind"] for r in rows} == {"run"} and {r["label"] for r in rows} == {None}
    momentum = next(r for r in rows if r["name"] == "tiny-momentum")
    assert momentum["differs"]["optimizer.momentum"] == 0.9 and momentum["differs"]["data.dataset"] == "spirals"
    assert "seed" not in momentum["differs"]  # every run has seed 0
    assert all(list(r["differs"]) == list(momentum["differs"]) for r in rows)
