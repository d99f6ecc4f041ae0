"""Defects found by a hunt through regression targets, ensembles and TensorBoard logging.

Each test failed before its fix: huge regression targets (or features) standardized to inf, values
that do not fit float32 called divergence, a missing tensorboardX leaving an 'interrupted' run
folder behind, and an ensemble's members tested without the regression scores.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest
import yaml

import dlcc
from tests.runs_helpers import dlcc as run_cli


def table(path, features: np.ndarray, target: np.ndarray):
    """A CSV with columns a, b and target y."""
    rows = [f"{a!r},{b!r},{t!r}" for (a, b), t in zip(features.tolist(), target.tolist())]
    path.write_text("a,b,y\n" + "\n".join(rows) + "\n")
    return path


def regression(path, **data) -> dict:
    return {
        "name": "hunt", "data": {"dataset": "csv", "options": {"path": str(path), "target": "y", "task": "regression"},
                                 "validation": 0.2, "test": 0.2, **data},
        "model": {"layers": [{"units": 8, "activation": "tanh"}, {"units": 1, "activation": "linear"}]},
        "loss": "mse", "training": {"epochs": 20, "batch_size": 8},
    }


@pytest.fixture(scope="module")
def xs():
    return np.random.default_rng(0).normal(size=(60, 2))


@pytest.mark.parametrize("scale_of", ["target", "feature"])
def test_values_near_1e300_are_standardized_and_the_run_stays_usable(tmp_path, xs, scale_of):
    # std(x) squared x first: 1e300**2 overflowed to inf, so the network trained on all-zero
    # targets (or inputs), and eval/predict then called the run folder damaged.
    t = 3 * xs[:, 0] + 0.5
    features = xs * np.array([1e300, 1.0]) if scale_of == "feature" else xs
    target = t * 1e300 if scale_of == "target" else t
    csv = table(tmp_path / "huge.csv", features, target)
    run = dlcc.train(regression(csv, normalize="standard"), runs_dir=tmp_path / "runs", progress=False)
    with np.load(run.path / "model.npz") as npz:
        for key in ("norm_scale", "target_scale"):
            assert np.isfinite(npz[key]).all(), (key, npz[key])
    assert run.summary.test["r2"] > 0.8, run.summary.test  # a learnt line, not a constant
    result = run_cli("eval", run.path)
    assert result.exit_code == 0, result.output
    x, truth = run.data("test")
    predicted, truth = np.ravel(run.predict(x)), np.ravel(truth)
    assert np.abs(predicted).max() > (1e299 if scale_of == "target" else 1)  # back in the target's units
    if scale_of == "target":  # R^2 still computed (the MSE itself, ~1e599, is beyond float64)
        scale = np.abs(truth).max()
        e, d = (predicted - truth) / scale, (truth - truth.mean()) / scale
        assert run.summary.test["r2"] == pytest.approx(1 - np.sum(e ** 2) / np.sum(d ** 2), rel=1e-6)


def test_the_usual_statistics_are_unchanged_bit_for_bit(xs):
    from dlcc.data.splits import normalization

    for kind in ("standard", "minmax"):
        for dtype in (np.float32, np.float64):
            x = (xs * 1000 + 7).astype(dtype)
            shift, scale = normalization(x, kind)
            plain = (x.mean(axis=0, dtype=np.float64), x.std(axis=0, dtype=np.float64)) if kind == "standard" \
                else (x.min(axis=0), x.max(axis=0) - x.min(axis=0))
            assert shift.tobytes() == plain[0].astype(dtype).tobytes()
            assert scale.tobytes() == plain[1].astype(dtype).tobytes()


@pytest.mark.parametrize("what, changes, key", [
    ("targets", {"standardize_targets": False}, "data.standardize_targets: true"),
    ("features", {}, "data.normalize: standard"),
])
def test_values_beyond_float32_are_bad_input_before_a_run_folder(tmp_path, xs, what, changes, key):
    # They became inf in the cast to float32 (a RuntimeWarning on stderr), and training then
    # "diverged" in its first batch, exit 3, with advice to lower the learning rate.
    t = xs[:, 0]
    csv = table(tmp_path / "big.csv", xs * np.array([1e39, 1]) if what == "features" else xs,
                t * 1e39 if what == "targets" else t)
    config = tmp_path / "big.yaml"
    config.write_text(yaml.safe_dump(regression(csv, **changes)))
    result = run_cli("train", config, "--runs-dir", tmp_path / "runs")
    assert result.exit_code == 2, result.output
    assert f"{what} as large as" in result.stderr and "precision float32" in result.stderr
    assert key in result.stderr and "precision: float64" in result.stderr
    assert "Warning" not in result.stderr and "Traceback" not in result.output
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())
    config.write_text(yaml.safe_dump({**regression(csv, **changes), "precision": "float64"}))
    assert "as large as" not in run_cli("train", config, "--runs-dir", tmp_path / "runs64").stderr


def test_tensorboard_without_tensorboardx_is_exit_2_and_leaves_no_run_folder(tmp_path, monkeypatch):
    # The check ran once training had begun: exit 2, but a run folder marked 'interrupted' (and
    # so offered for resume) was left behind.
    monkeypatch.setitem(sys.modules, "tensorboardX", None)  # `import tensorboardX` raises ImportError
    config = tmp_path / "tb.yaml"
    config.write_text(yaml.safe_dump({"data": {"dataset": "xor"}, "training": {"epochs": 2},
                                      "model": {"layers": [{"units": 4}, {"units": 2, "activation": "softmax"}]}}))
    result = run_cli("train", config, "--tensorboard", "--runs-dir", tmp_path / "runs")
    assert result.exit_code == 2, result.output
    assert "needs tensorboardX" in result.stderr and "pip install" in result.stderr
    assert "Traceback" not in result.output
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_ensemble_members_are_tested_in_the_targets_units_and_average_to_the_ensemble(tmp_path, xs):
    # summary.json's members had only the standardized loss, so a member could not be set beside
    # the ensemble's MSE, MAE and R^2 in the target's units.
    csv = table(tmp_path / "prices.csv", xs, 40_000 * xs[:, 0] - 15_000 * xs[:, 1] ** 2 + 250_000)
    cfg = regression(csv, normalize="standard")
    cfg["ensemble"] = {"members": 3, "bagging": True}
    run = dlcc.train(cfg, runs_dir=tmp_path / "runs", progress=False)
    x, t = run.data("test")
    t = np.asarray(t, dtype=np.float64).reshape(-1)
    with np.load(run.path / "model.npz") as npz:
        p = {k: npz[k].astype(np.float64) for k in npz.files}
    inputs = (x - p["norm_shift"]) / p["norm_scale"]
    members = [(np.tanh(inputs @ p[f"m{m}.W1"] + p[f"m{m}.b1"]) @ p[f"m{m}.W2"] + p[f"m{m}.b2"])[:, 0]
               * p["target_scale"][0] + p["target_shift"][0] for m in (1, 2, 3)]
    by_hand = np.mean(members, axis=0)
    assert run.predict(x).ravel() == pytest.approx(by_hand, rel=1e-5)
    assert run.summary.test["mse"] == pytest.approx(np.mean((by_hand - t) ** 2), rel=1e-4)
    for member, outputs in zip(run.summary.members, members):
        scores = member["test"]
        assert scores["mse"] == pytest.approx(np.mean((outputs - t) ** 2), rel=1e-4)
        assert scores["mae"] == pytest.approx(np.mean(np.abs(outputs - t)), rel=1e-4)
        assert scores["r2"] == pytest.approx(1 - np.sum((outputs - t) ** 2) / np.sum((t - t.mean()) ** 2), rel=1e-4)
    evaluated = run_cli("eval", run.path, "--json")
    assert evaluated.exit_code == 0, evaluated.output


def test_predict_proba_on_a_regression_run_is_refused(tmp_path, xs):
    """--proba was accepted silently and printed the plain values."""
    from typer.testing import CliRunner

    from dlcc.cli import app

    csv = table(tmp_path / "data.csv", xs, xs[:, 0] * 2 + 1)
    run = dlcc.train(regression(csv), runs_dir=tmp_path / "runs", progress=False)
    result = CliRunner().invoke(app, ["predict", str(run.path), str(csv), "--proba"])
    assert result.exit_code == 2, result.output
    assert "--proba gives class probabilities, and this run is a regression" in result.output
    assert CliRunner().invoke(app, ["predict", str(run.path), str(csv)]).exit_code == 0
