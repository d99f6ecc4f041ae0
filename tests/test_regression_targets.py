"""Regression done right: targets standardized with training statistics, reported in their own units.

The house-price example (examples/house_prices.py, configs/house-prices.yaml) has prices in the
hundreds of thousands; with the default optimizer it must reach R^2 >= 0.9 on the test split.
"""

from __future__ import annotations

import csv
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import yaml

import dlcc
from tests.runs_helpers import dlcc as run_cli
from tests.runs_helpers import dlcc_json

ROOT = Path(__file__).resolve().parents[1]


def house_prices(path: Path) -> Path:
    spec = importlib.util.spec_from_file_location("house_prices", ROOT / "examples" / "house_prices.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.write(path)


def config(table: Path, **changes) -> dict:
    cfg = yaml.safe_load((ROOT / "configs" / "house-prices.yaml").read_text())
    cfg["data"]["options"]["path"] = str(table)
    for key, value in changes.items():
        section, name = key.split(".")
        cfg[section][name] = value
    return cfg


@pytest.fixture(scope="module")
def houses(tmp_path_factory):
    base = tmp_path_factory.mktemp("houses")
    table = house_prices(base / "house-prices.csv")
    return base, table, dlcc.train(config(table), runs_dir=base / "runs", progress=False)


def test_house_prices_reach_r2_above_0_9_with_the_default_optimizer(houses):
    _, _, run = houses
    from dlcc.config.schema import Config

    assert run.config.optimizer == Config.model_fields["optimizer"].default  # the default optimizer
    test = run.summary.test
    assert test["r2"] >= 0.9, test
    x, t = run.data("test")
    assert t.mean() > 100_000  # the targets as the dataset gives them: prices
    predicted = run.predict(x)
    assert predicted.mean() > 100_000  # predictions in the target's units, not standardized
    assert test["mse"] == pytest.approx(np.mean((predicted - t) ** 2), rel=1e-5)
    assert test["mae"] == pytest.approx(np.mean(np.abs(predicted - t)), rel=1e-5)


def test_eval_reports_mse_in_the_targets_units_and_r2(houses):
    _, _, run = houses
    result = dlcc_json("eval", run.path)
    assert result["mse"] == pytest.approx(run.summary.test["mse"], rel=1e-9) and result["mse"] > 1e6
    assert result["r2"] == pytest.approx(run.summary.test["r2"], rel=1e-9)
    assert result["loss"] < 0.2  # the loss the network minimized: on standardized targets
    text = run_cli("eval", run.path).stdout
    assert "MSE (target units)" in text and "R²" in text


def test_standardization_statistics_come_from_the_training_split(houses):
    _, _, run = houses
    with np.load(run.path / "model.npz") as model:
        shift, scale = model["target_shift"], model["target_scale"]
    _, t = dlcc.load(run.path).data("train")
    np.testing.assert_allclose(shift, t.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(scale, t.std(axis=0), rtol=1e-12)
    _, y = run.model.arrays["train"]  # what the network trained on
    assert abs(float(y.mean())) < 1e-5 and float(y.std()) == pytest.approx(1, rel=1e-4)


def test_predict_writes_prices(houses, tmp_path):
    base, table, run = houses
    rows = list(csv.reader(table.open()))
    reordered = tmp_path / "new.csv"
    with reordered.open("w", newline="") as handle:  # columns reversed, price left out
        csv.writer(handle).writerows([row[3::-1] for row in rows[:6]])
    result = run_cli("predict", run.path, reordered)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "prediction" and len(lines) == 6
    x = np.array(rows[1:6], dtype=float)[:, :4]
    np.testing.assert_allclose([float(v) for v in lines[1:]], run.predict(x)[:, 0], rtol=1e-9)
    data = dlcc_json("predict", run.path, reordered)
    assert data["task"] == "regression" and data["classes"] is None and len(data["predictions"]) == 5


def test_standardize_targets_false_keeps_the_units(houses):
    base, table, _ = houses
    run = dlcc.train(config(table, **{"training.epochs": 3}), runs_dir=base / "raw", progress=False,
                     overrides={"data.standardize_targets": False, "optimizer.lr": 1e-12})
    with np.load(run.path / "model.npz") as model:
        assert "target_shift" not in model.files
    _, y = run.model.arrays["train"]
    assert float(y.mean()) > 100_000
    result = run.evaluate("test")
    assert result["matches_recorded"] and result["loss"] == pytest.approx(result["mse"], rel=1e-5)  # mse loss


def test_plot_predictions_draws_predicted_against_actual(houses, tmp_path):
    pytest.importorskip("matplotlib")
    _, _, run = houses
    result = run_cli("plot", run.path, "--kind", "predictions", "--out", tmp_path / "p.png")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "p.png").read_bytes()[:4] == b"\x89PNG"
    fig = run.plot("predictions")
    ax = fig.axes[0]
    assert ax.get_xlabel() == "actual price" and any("R²" in t.get_text() for t in ax.get_legend().get_texts())


def test_an_integer_target_with_many_values_is_ambiguous_and_the_error_names_both_fixes(tmp_path):
    rng = np.random.default_rng(0)
    table = tmp_path / "people.csv"
    ages = rng.integers(20, 43, 200)
    with table.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["height", "weight", "age"])
        writer.writerows(zip(rng.normal(170, 10, 200).round(1), rng.normal(70, 10, 200).round(1), ages))
    cfg = {"name": "ages",
           "data": {"dataset": "csv", "options": {"path": str(table), "target": "age"}, "normalize": "standard"},
           "model": {"layers": [{"units": 8}, {"units": 1, "activation": "linear"}]}, "loss": "mse"}
    (tmp_path / "ages.yaml").write_text(yaml.safe_dump(cfg))
    result = run_cli("train", tmp_path / "ages.yaml", "--runs-dir", tmp_path / "runs")
    assert result.exit_code == 2 and "Traceback" not in result.output
    k = len(np.unique(ages))
    assert "data.options.task: regression" in result.stderr
    assert f"model.layers.1.units: {k}" in result.stderr and f"{k} distinct values" in result.stderr
    fixed = run_cli("train", tmp_path / "ages.yaml", "--runs-dir", tmp_path / "runs", "--quiet",
                    "--set", "data.options.task=regression")
    assert fixed.exit_code == 0, fixed.output
    classify = run_cli("train", tmp_path / "ages.yaml", "--runs-dir", tmp_path / "runs", "--quiet", "--json",
                       "--set", f"model.layers.1.units={k}", "--set", "model.layers.1.activation=softmax",
                       "--set", "loss=cross_entropy")
    assert classify.exit_code == 0, classify.output
    assert json.loads(classify.stdout)["class_names"][:2] == [str(a) for a in np.unique(ages)[:2]]


def test_older_run_folders_still_load(houses, tmp_path):
    """A run folder from before this version: config.yaml without data.standardize_targets (it
    trained on raw targets), summary.json without class names."""
    import shutil

    base, table, _ = houses
    old = dlcc.train(config(table, **{"training.epochs": 2}), runs_dir=tmp_path, progress=False,
                     overrides={"data.standardize_targets": False, "optimizer.lr": 1e-12})
    text = (old.path / "config.yaml").read_text()
    (old.path / "config.yaml").write_text(text.replace("  standardize_targets: false\n", ""))
    assert "standardize_targets" not in (old.path / "config.yaml").read_text()
    again = dlcc.load(old.path)
    assert again.config.data.standardize_targets is False
    assert again.evaluate("test")["matches_recorded"] is True

    spirals = dlcc.train(ROOT / "configs" / "spirals.yaml", runs_dir=tmp_path, progress=False,
                         overrides={"training.epochs": 2})
    copy = shutil.copytree(spirals.path, tmp_path / "older")
    summary = json.loads((copy / "summary.json").read_text())
    for key in ("class_names", "feature_names", "target_name"):
        summary.pop(key)
    (copy / "summary.json").write_text(json.dumps(summary))
    older = dlcc.load(copy)
    assert older.classes == ("0", "1", "2") and older.evaluate("test")["matches_recorded"] is True


def test_gradcheck_passes_on_the_house_prices_config(houses):
    _, table, _ = houses
    result = run_cli("gradcheck", ROOT / "configs" / "house-prices.yaml", "--set", f"data.options.path={table}",
                     "--max-elements", "60")
    assert result.exit_code == 0, result.output
