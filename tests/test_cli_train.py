"""`dlcc train` and `dlcc validate` through Typer's test runner: exit codes, messages, run folders."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from dlcc.cli import app

runner = CliRunner()

SPEC_COLUMNS = ["epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "lr", "seconds"]


def train(*args: str):
    return runner.invoke(app, ["train", *args])


def read_metrics(run_dir):
    with open(run_dir / "metrics.csv", newline="") as f:
        return list(csv.DictReader(f))


def test_version():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout.startswith("dlcc ")


def test_help_has_examples():
    result = runner.invoke(app, ["train", "-h"])
    assert result.exit_code == 0
    assert "dlcc train configs/spirals.yaml" in result.stdout


def test_train_writes_a_complete_run_folder(tiny_raw, write_config, tmp_path):
    result = train(str(write_config(tiny_raw)), "--runs-dir", str(tmp_path / "runs"), "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    run_dir = tmp_path / "runs" / summary["run_dir"].rsplit("/", 1)[-1]
    assert run_dir.name.startswith("tiny-")
    assert sorted(p.name for p in run_dir.iterdir()) == [
        "checkpoint.npz", "config.yaml", "metrics.csv", "model.npz", "summary.json"]

    for key in ("status", "epochs_completed", "best_epoch", "best", "test", "seconds", "seed",
                "dlcc_version", "numpy_version", "python_version", "created"):
        assert key in summary
    assert summary["status"] == "completed"
    assert summary["epochs_completed"] == 3
    assert 0 <= summary["test"]["accuracy"] <= 1

    rows = read_metrics(run_dir)
    assert list(rows[0])[:7] == SPEC_COLUMNS
    assert [r["epoch"] for r in rows] == ["0", "1", "2", "3"]
    assert rows[0]["train_loss"] == "" and rows[0]["val_loss"] != ""
    assert "grad_norm_1" in rows[0] and "grad_norm_2" in rows[0]

    with np.load(run_dir / "model.npz", allow_pickle=False) as model:
        assert sorted(model.files) == ["W1", "W2", "b1", "b2"]
        assert model["W1"].shape == (2, 16) and model["W1"].dtype == np.float32
    assert json.loads((run_dir / "summary.json").read_text()) == {k: v for k, v in summary.items() if k != "run_dir"}


def test_retraining_the_saved_config_reproduces_the_losses(tiny_raw, write_config, tmp_path):
    runs = tmp_path / "runs"
    first = json.loads(train(str(write_config(tiny_raw)), "--runs-dir", str(runs), "--json").stdout)
    saved = runs / first["run_dir"].rsplit("/", 1)[-1] / "config.yaml"
    second = json.loads(train(str(saved), "--runs-dir", str(runs), "--json").stdout)
    assert first["run_dir"] != second["run_dir"]  # never overwritten
    a = read_metrics(runs / first["run_dir"].rsplit("/", 1)[-1])
    b = read_metrics(runs / second["run_dir"].rsplit("/", 1)[-1])
    for col in ("train_loss", "train_accuracy", "val_loss", "val_accuracy"):
        assert [r[col] for r in a] == [r[col] for r in b]


def test_a_different_seed_gives_different_losses(tiny_raw, write_config, tmp_path):
    path = str(write_config(tiny_raw))
    a = json.loads(train(path, "--runs-dir", str(tmp_path), "--json", "--seed", "1").stdout)
    b = json.loads(train(path, "--runs-dir", str(tmp_path), "--json", "--seed", "2").stdout)
    assert a["best"]["train_loss"] != b["best"]["train_loss"]


def test_set_name_and_seed_options(tiny_raw, write_config, tmp_path):
    result = train(str(write_config(tiny_raw)), "--runs-dir", str(tmp_path), "--json",
                   "--name", "custom", "--seed", "7", "--set", "training.epochs=1")
    summary = json.loads(result.stdout)
    assert summary["name"] == "custom" and summary["seed"] == 7 and summary["epochs_completed"] == 1
    saved = yaml.safe_load((tmp_path / summary["run_dir"].rsplit("/", 1)[-1] / "config.yaml").read_text())
    assert saved["training"]["epochs"] == 1 and saved["seed"] == 7


def test_quiet_prints_only_the_summary(tiny_raw, write_config, tmp_path):
    result = train(str(write_config(tiny_raw)), "--runs-dir", str(tmp_path), "--quiet")
    assert result.exit_code == 0
    assert "epoch 1/" not in result.output
    assert "tiny (completed)" in result.stdout


def test_full_batch_and_online_sgd(tiny_raw, write_config, tmp_path):
    for bs in ("full", "1"):
        result = train(str(write_config(tiny_raw)), "--runs-dir", str(tmp_path), "--json",
                       "--set", f"training.batch_size={bs}")
        assert result.exit_code == 0, result.output


@pytest.mark.parametrize(
    "args, message",
    [
        (["missing.yaml"], "missing.yaml: no such config file"),
        (["{cfg}", "--set", "optimizer.lr=-1"], "optimizer.lr: Input should be greater than 0"),
        (["{cfg}", "--set", "optimizer.rate=1"], "unknown config key 'optimizer.rate'"),
        (["{cfg}", "--set", "model.layers.1.units=5"], "the output layer has 5 units but dataset 'spirals' has 3 classes"),
        (["{cfg}", "--set", "data.dataset=mnist", "--set", "data.options=null"], "mnist"),
    ],
)
def test_bad_input_exits_2_with_one_clear_message(tiny_raw, write_config, tmp_path, monkeypatch, args, message):
    monkeypatch.setenv("DLCC_DATA_DIR", str(tmp_path / "empty-cache"))
    monkeypatch.chdir(tmp_path)
    cfg = str(write_config(tiny_raw))
    result = train(*[a.replace("{cfg}", cfg) for a in args], "--runs-dir", str(tmp_path / "runs"))
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    errors = [line for line in result.stderr.splitlines() if not line.startswith("note: ")]
    assert errors[0].startswith("error: ")  # (a note may say what a dataset switch dropped)
    assert "Traceback" not in result.output
    assert not (tmp_path / "runs").exists()  # nothing is created for a run that cannot start


def test_bad_yaml_and_unknown_key(write_config):
    result = train(str(write_config("data: {dataset: spirals\nmodel: [")))
    assert result.exit_code == 2 and "not valid YAML (line" in result.stderr
    result = train(str(write_config({"data": {"dataset": "spirals"}, "modle": {}})))
    assert result.exit_code == 2
    assert "modle: unknown key; did you mean 'model'?" in result.stderr
    assert "model: Field required" in result.stderr


def test_divergence_exits_3_and_marks_the_run(tiny_raw, write_config, tmp_path):
    tiny_raw["model"]["layers"][0]["activation"] = "linear"
    tiny_raw["model"]["layers"][1] = {"units": 3, "activation": "linear"}
    tiny_raw["loss"] = "quadratic"
    runs = tmp_path / "runs"
    result = train(str(write_config(tiny_raw)), "--runs-dir", str(runs), "--set", "optimizer.lr=1e6", "--quiet")
    assert result.exit_code == 3, result.output
    assert "training diverged" in result.stderr and "lower optimizer.lr" in result.stderr
    assert "RuntimeWarning" not in result.stderr
    (run_dir,) = runs.iterdir()
    assert json.loads((run_dir / "summary.json").read_text())["status"] == "diverged"


def test_validate_prints_the_resolved_config(tiny_raw, write_config):
    result = runner.invoke(app, ["validate", str(write_config(tiny_raw)), "--set", "optimizer.name=adam"])
    assert result.exit_code == 0
    resolved = yaml.safe_load(result.stdout)
    assert resolved["optimizer"] == {"name": "adam", "lr": 0.001, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8}
    assert "note: --set optimizer.name=adam: optimizer starts from adam's defaults; dropped optimizer.lr=0.5" \
        in result.stderr
    assert resolved["training"]["shuffle"] is True


def test_validate_reports_errors(tiny_raw, write_config):
    tiny_raw["optimizer"]["momentum"] = 2
    result = runner.invoke(app, ["validate", str(write_config(tiny_raw))])
    assert result.exit_code == 2
    assert "optimizer.momentum: Input should be less than 1 (got 2)" in result.stderr


def test_ensemble_reports_members(tiny_raw, write_config, tmp_path):
    result = train(str(write_config(tiny_raw)), "--runs-dir", str(tmp_path), "--json",
                   "--set", "ensemble.members=3", "--set", "ensemble.bagging=true")
    summary = json.loads(result.stdout)
    assert len(summary["members"]) == 3
    assert "m3_val_accuracy" in summary["best"]
    run_dir = tmp_path / summary["run_dir"].rsplit("/", 1)[-1]
    with np.load(run_dir / "model.npz", allow_pickle=False) as model:
        assert "m3.W2" in model.files
