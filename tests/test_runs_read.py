"""Reading run folders back: complete, partial (interrupted, truncated) and damaged ones."""

from __future__ import annotations

import json
import shutil

import pytest

from dlcc.errors import RunError
from dlcc.runs.configdiff import flatten
from dlcc.runs.read import read
from tests.runs_helpers import train_run


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    return train_run(tmp_path_factory.mktemp("runs"))


@pytest.fixture
def copy(run_dir, tmp_path):
    """A fresh copy of the trained run folder, free to damage."""
    return shutil.copytree(run_dir, tmp_path / run_dir.name)


def test_a_complete_run_reads_back(run_dir):
    run = read(run_dir)
    assert run.status == "completed" and not run.partial and run.has_model
    assert run.config["name"] == "tiny" and run.dataset == "spirals" and run.task == "classification"
    assert [r["epoch"] for r in run.rows] == [0, 1, 2, 3]
    assert run.columns[:7] == ("epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "lr", "seconds")
    assert run.rows[0]["train_loss"] is None  # epoch 0: the untrained network, no training cells
    best = run.summary.best_epoch
    assert run.rows[best]["val_loss"] == run.summary.best["val_loss"]  # floats round-trip exactly
    assert run.last_epoch == run.model_epoch == run.planned_epochs == 3


def test_the_run_object_is_frozen(run_dir):
    with pytest.raises(AttributeError):
        read(run_dir).rows = ()


def test_truncated_metrics_is_partial_up_to_its_last_epoch(copy):
    lines = (copy / "metrics.csv").read_text().splitlines(keepends=True)
    (copy / "metrics.csv").write_text("".join(lines[:3]))  # header, epoch 0, epoch 1
    run = read(copy)
    assert run.last_epoch == 1 and run.partial
    assert "metrics.csv ends at epoch 1 but summary.json reports 3" in run.notes[0]


def test_a_last_line_cut_mid_write_is_dropped(copy):
    text = (copy / "metrics.csv").read_text()
    (copy / "metrics.csv").write_text(text[: text.rindex("\n", 0, len(text) - 1) + 8])
    run = read(copy)
    assert run.last_epoch == 2
    assert any("cut off mid-write" in n for n in run.notes)


def test_a_bad_row_in_the_middle_is_an_error(copy):
    lines = (copy / "metrics.csv").read_text().splitlines()
    lines[2] = "1,oops"
    (copy / "metrics.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(RunError, match="metrics.csv: line 3"):
        read(copy)


def test_a_resumed_epoch_written_twice_keeps_the_later_row(copy):
    lines = (copy / "metrics.csv").read_text().splitlines()
    redo = lines[3].split(",")
    redo[1] = "0.123"
    (copy / "metrics.csv").write_text("\n".join(lines[:4] + [",".join(redo)] + lines[4:]) + "\n")
    run = read(copy)
    assert [r["epoch"] for r in run.rows] == [0, 1, 2, 3]
    assert run.rows[2]["train_loss"] == 0.123


def test_interrupted_run_without_model_is_readable_and_says_so(copy):
    data = json.loads((copy / "summary.json").read_text())
    (copy / "summary.json").write_text(json.dumps({**data, "status": "interrupted", "test": None}))
    (copy / "model.npz").unlink()
    run = read(copy)
    assert not run.has_model and run.partial
    assert "status 'interrupted' after 3 epoch(s)" in run.notes


@pytest.mark.parametrize("content, message", [
    ("", "summary.json: the file is empty"),
    ("{not json", "summary.json: not valid JSON (line 1"),
    ("[1, 2]", "summary.json: expected a JSON object, got list"),
    ('{"status": "exploded"}', "summary.json: status is 'exploded'; expected one of running, completed"),
])
def test_damaged_summary_is_an_error_naming_the_file(copy, content, message):
    (copy / "summary.json").write_text(content)
    with pytest.raises(RunError, match=message.replace("(", r"\(").replace("[", r"\[")):
        read(copy)


@pytest.mark.parametrize("name", ["config.yaml", "summary.json", "metrics.csv"])
def test_a_missing_file_is_an_error(copy, name):
    (copy / name).unlink()
    with pytest.raises(RunError, match=f"{name}: missing"):
        read(copy)


def test_garbage_config_is_an_error(copy):
    (copy / "config.yaml").write_text("data: [unclosed\n")
    with pytest.raises(RunError, match="config.yaml: not valid YAML"):
        read(copy)


def test_not_a_run_folder(tmp_path, run_dir):
    with pytest.raises(RunError, match="no such run folder"):
        read(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(RunError, match="not a run folder"):
        read(tmp_path / "empty")
    with pytest.raises(RunError, match="it holds run folders; list them with `dlcc runs"):
        read(run_dir.parent)
    with pytest.raises(RunError, match="is a file"):
        read(run_dir / "config.yaml")


def test_flatten_gives_the_paths_set_takes():
    flat = flatten({"optimizer": {"lr": 0.1}, "model": {"layers": [{"units": 3}]}, "data": {"options": {}},
                    "training": {"early_stopping": None}})
    assert flat == {"optimizer.lr": 0.1, "model.layers.0.units": 3, "data.options": {},
                    "training.early_stopping": None}
