"""`dlcc eval`: rebuilds the trained network and reproduces what training recorded."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from dlcc import load as dlcc_api_load
from tests.runs_helpers import MOONS, SINE, dlcc, dlcc_json, summary, train_run


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    base = tmp_path_factory.mktemp("runs")
    return {
        "tiny": train_run(base),
        "standard": train_run(base, "data.normalize=standard", "name=standard"),
        "sine": train_run(base, base=SINE),
        "binary": train_run(base, base=MOONS),
        "ensemble": train_run(base, "ensemble.members=3", "name=ensemble"),
        "early": train_run(base, "training.epochs=12", "name=early",
                           "training.early_stopping={monitor: val_loss, patience: 2}"),
    }


@pytest.fixture
def copy(runs, tmp_path):
    return lambda key: shutil.copytree(runs[key], tmp_path / runs[key].name)


@pytest.mark.parametrize("key", ["tiny", "standard", "sine", "binary", "ensemble", "early"])
def test_test_split_matches_summary_exactly(runs, key):
    result = dlcc_json("eval", runs[key])
    recorded = summary(runs[key])["test"]
    assert result["loss"] == recorded["loss"]
    assert result["accuracy"] == recorded["accuracy"]
    assert result["matches_recorded"] is True


@pytest.mark.parametrize("key", ["tiny", "early"])
def test_val_split_matches_the_metrics_row_of_the_kept_weights(runs, key):
    result = dlcc_json("eval", runs[key], "--split", "val")
    s = summary(runs[key])
    assert result["recorded"]["source"] == f"metrics.csv epoch {s['best_epoch'] if key == 'early' else 3}"
    assert result["matches_recorded"] is True


def test_confusion_matrix_and_per_class_precision_recall(runs):
    result = dlcc_json("eval", runs["tiny"])
    confusion = np.array(result["confusion"])
    assert confusion.shape == (3, 3) and confusion.sum() == result["examples"]
    assert np.trace(confusion) / confusion.sum() == pytest.approx(result["accuracy"])
    for k, stats in enumerate(result["per_class"]):
        assert stats["support"] == confusion[k].sum()
        if stats["recall"] is not None:
            assert stats["recall"] == pytest.approx(confusion[k, k] / confusion[k].sum())
        if stats["precision"] is not None:
            assert stats["precision"] == pytest.approx(confusion[k, k] / confusion[:, k].sum())


def test_one_sigmoid_unit_gives_a_two_class_confusion_matrix(runs):
    result = dlcc_json("eval", runs["binary"])
    assert np.array(result["confusion"]).shape == (2, 2)
    assert np.trace(result["confusion"]) / result["examples"] == pytest.approx(result["accuracy"])


def test_regression_reports_mse_mae_and_r2_in_the_targets_units(runs):
    result = dlcc_json("eval", runs["sine"])
    assert result["task"] == "regression" and result["accuracy"] is None
    assert "confusion" not in result
    # The loss is on standardized targets (t - mean) / std; quadratic loss = 1/2 sum_k (a_k - y_k)^2
    # per example, so with one output unit loss = MSE / (2 std^2), MSE in the target's units.
    with np.load(runs["sine"] / "model.npz") as model:
        std = float(model["target_scale"][0])
    assert result["loss"] == pytest.approx(result["mse"] / (2 * std ** 2), rel=1e-5)
    assert 0 <= result["mae"] <= np.sqrt(result["mse"]) + 1e-12
    x, t = dlcc_api_load(runs["sine"]).data("test")
    assert result["r2"] == pytest.approx(1 - result["mse"] * len(t) / np.sum((t - t.mean()) ** 2), rel=1e-6)
    assert summary(runs["sine"])["test"]["r2"] == pytest.approx(result["r2"], rel=1e-9)


def test_eval_writes_eval_json_one_entry_per_split(copy):
    run_dir = copy("tiny")
    (run_dir / "eval.json").unlink(missing_ok=True)  # other tests evaluate the shared run folder
    dlcc_json("eval", run_dir)
    dlcc_json("eval", run_dir, "--split", "train")
    stored = json.loads((run_dir / "eval.json").read_text())
    assert sorted(stored) == ["test", "train"]
    assert stored["test"]["loss"] == summary(run_dir)["test"]["loss"]
    assert stored["train"]["recorded"] is None


def test_eval_table(runs):
    result = dlcc("eval", runs["tiny"])
    assert result.exit_code == 0, result.output
    out = result.stdout
    for text in ("test split", "loss", "accuracy", "training recorded", "confusion matrix", "precision", "recall",
                 "the same as training recorded"):
        assert text in out
    regression = dlcc("eval", runs["sine"]).stdout
    assert "MSE" in regression and "MAE" in regression and "confusion" not in regression


def test_deleted_model_is_exit_2_with_a_message(copy):
    run_dir = copy("tiny")
    (run_dir / "model.npz").unlink()
    result = dlcc("eval", run_dir)
    assert result.exit_code == 2
    assert "no model.npz" in result.stderr and "deleted" in result.stderr
    assert "Traceback" not in result.output


def test_interrupted_run_says_how_to_resume(copy):
    run_dir = copy("tiny")
    (run_dir / "model.npz").unlink()
    s = summary(run_dir)
    (run_dir / "summary.json").write_text(json.dumps({**s, "status": "interrupted"}))
    result = dlcc("eval", run_dir)
    assert result.exit_code == 2
    assert f"dlcc train --resume {run_dir}" in result.stderr


def test_corrupt_model_is_exit_2(copy):
    run_dir = copy("tiny")
    (run_dir / "model.npz").write_bytes(b"not a zip file")
    result = dlcc("eval", run_dir)
    assert result.exit_code == 2
    assert "model.npz: cannot read it" in result.stderr


def test_model_that_does_not_match_the_config_is_exit_2(copy):
    run_dir = copy("tiny")
    with np.load(run_dir / "model.npz") as npz:
        params = dict(npz)
    params["W1"] = params["W1"][:, :5]
    np.savez(run_dir / "model.npz", **params)
    result = dlcc("eval", run_dir)
    assert result.exit_code == 2
    assert "W1" in result.stderr and "does not match config.yaml" in result.stderr


def test_changed_data_is_caught_by_the_stored_normalization(copy):
    run_dir = copy("standard")
    with np.load(run_dir / "model.npz") as npz:
        params = dict(npz)
    params["norm_shift"] = params["norm_shift"] + 1
    np.savez(run_dir / "model.npz", **params)
    result = dlcc("eval", run_dir)
    assert result.exit_code == 2
    assert "normalization" in result.stderr and "the data changed since training" in result.stderr


def test_a_split_the_run_does_not_have(tmp_path):
    run_dir = train_run(tmp_path, "data.validation=0")
    result = dlcc("eval", run_dir, "--split", "val")
    assert result.exit_code == 2
    assert "no val split (data.validation is 0)" in result.stderr


@pytest.mark.parametrize("setup, message", [
    (lambda d: (d / "summary.json").write_text(""), "summary.json: the file is empty"),
    (lambda d: (d / "summary.json").write_text("garbage{"), "summary.json: not valid JSON"),
    (lambda d: (d / "config.yaml").unlink(), "config.yaml: missing"),
])
def test_damaged_run_folders_are_exit_2(copy, setup, message):
    run_dir = copy("tiny")
    setup(run_dir)
    result = dlcc("eval", run_dir)
    assert result.exit_code == 2
    assert message in result.stderr
    assert "Traceback" not in result.output


def test_not_a_run_folder_is_exit_2(tmp_path):
    result = dlcc("eval", tmp_path)
    assert result.exit_code == 2
    assert "not a run folder" in result.stderr


def test_bad_split_name_is_a_usage_error(runs):
    result = dlcc("eval", runs["tiny"], "--split", "holdout")
    assert result.exit_code == 2
