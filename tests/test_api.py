"""The public Python API (docs/python.md): train from a path, text or dict; use, score and plot runs."""

from __future__ import annotations

import copy
import json
import subprocess
import sys

import numpy as np
import pytest
import yaml

import dlcc
from dlcc.nn.metrics import predict as forward_all
from dlcc.nn.metrics import predicted_classes
from tests.conftest import ROOT, TINY
from tests.runs_helpers import MOONS, SINE, dlcc_json

SPIRALS = ROOT / "configs" / "spirals.yaml"


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    base = tmp_path_factory.mktemp("api-runs")
    standard = copy.deepcopy(TINY)
    standard["data"]["normalize"] = "standard"
    return {
        "standard": dlcc.train(standard, runs_dir=base, name="standard", progress=False),
        "binary": dlcc.train(MOONS, runs_dir=base, overrides={"data.normalize": "minmax"}, progress=False),
        "ensemble": dlcc.train(TINY, runs_dir=base, overrides={"ensemble.members": 3}, name="ens", progress=False),
        "sine": dlcc.train(SINE, runs_dir=base, progress=False),
    }


def test_train_from_a_path_with_overrides_as_the_issue_shows(tmp_path):
    run = dlcc.train(str(SPIRALS), overrides={"training.epochs": 20}, runs_dir=tmp_path, progress=False)
    assert run.summary.status == "completed" and run.summary.epochs_completed == 20
    assert run.path.parent == tmp_path and run.path.name.startswith("spirals-")
    assert len(run.metrics) == 21 and run.metrics[0]["epoch"] == 0
    assert run.config.training.epochs == 20
    assert "status='completed'" in repr(run)


def test_a_dict_yaml_text_and_a_path_train_the_same_run(tmp_path, write_config):
    from_dict = dlcc.train(TINY, runs_dir=tmp_path / "a", progress=False)
    from_text = dlcc.train(yaml.safe_dump(TINY), runs_dir=tmp_path / "b", progress=False)
    from_path = dlcc.train(write_config(TINY), runs_dir=tmp_path / "c", progress=False)
    rows = [r.metrics for r in (from_dict, from_text, from_path)]
    strip = [[{k: v for k, v in row.items() if k != "seconds"} for row in m] for m in rows]
    assert strip[0] == strip[1] == strip[2]


def test_overrides_as_dict_or_as_set_strings_agree_and_name_and_seed_apply():
    as_dict = dlcc.load_config(TINY, {"optimizer.lr": 0.05, "model.layers.0.units": 8, "training.batch_size": "full"})
    as_set = dlcc.load_config(TINY, ["optimizer.lr=0.05", "model.layers.0.units=8", "training.batch_size=full"])
    assert as_dict == as_set and as_dict.optimizer.lr == 0.05 and as_dict.training.batch_size == "full"
    named = dlcc.load_config(TINY, name="other", seed=7)
    assert (named.name, named.seed) == ("other", 7)
    assert dlcc.load_config({k: v for k, v in TINY.items() if k != "name"}).name == "run"


def test_bad_configs_raise_the_cli_messages_as_typed_errors(write_config):
    with pytest.raises(dlcc.ConfigError, match=r"optimizer\.lr: Input should be greater than 0"):
        dlcc.load_config(TINY, {"optimizer.lr": -1})
    with pytest.raises(dlcc.ConfigError, match="unknown config key 'optimizer.lrr'"):
        dlcc.load_config(TINY, {"optimizer.lrr": 1})
    with pytest.raises(dlcc.ConfigError, match="no such config file"):
        dlcc.load_config("missing.yaml")
    with pytest.raises(dlcc.ConfigError, match="config text: not valid YAML"):
        dlcc.load_config("model: [unclosed\ndata: 1")
    with pytest.raises(dlcc.ConfigError, match="expected a path, YAML text, a dict or a Config"):
        dlcc.load_config(42)


@pytest.mark.parametrize("key", ["standard", "binary", "ensemble"])
def test_predict_gives_the_classes_eval_scores_on_the_test_split(runs, key):
    """Raw features in, the run's normalization applied exactly as in training."""
    run = dlcc.load(runs[key].path)
    x, y = run.data("test")
    classes = run.predict(x)
    model = run.model
    x_test, y_test = model.arrays["test"]
    assert np.array_equal(model.inputs(x), x_test)  # bit for bit the inputs training used
    assert np.array_equal(classes, predicted_classes(forward_all(model.net, x_test)))
    assert np.array_equal(y, predicted_classes(y_test))
    result = run.evaluate("test")
    assert result["accuracy"] == pytest.approx((classes == y).mean(), abs=0)
    assert result["accuracy"] == run.summary.test["accuracy"]
    proba = run.predict_proba(x)
    assert proba.shape == (len(x), 2 if key == "binary" else 3)
    assert np.allclose(proba.sum(axis=1), 1, atol=1e-5)


def test_predict_without_normalization_would_disagree(runs):
    """The check above can fail: skipping the normalization changes predictions on this run."""
    run = runs["binary"]
    x, _ = run.data("test")
    raw = predicted_classes(forward_all(run.model.net, x.astype(np.float32)))
    assert not np.array_equal(raw, run.predict(x))


def test_regression_predicts_values(runs):
    run = runs["sine"]
    x, y = run.data("test")
    values = run.predict(x)
    assert values.shape == y.shape == (len(x), 1)
    assert run.evaluate("test")["mse"] == pytest.approx(float(np.mean((values - y) ** 2)), rel=1e-5)


def test_predict_refuses_inputs_of_the_wrong_shape(runs):
    with pytest.raises(dlcc.DataError, match=r"expected numbers of shape \(n, 2\).*got shape \(2,\)"):
        runs["standard"].predict([0.1, 0.2])
    with pytest.raises(dlcc.DataError, match=r"got shape \(1, 3\)"):
        runs["standard"].predict([[0.1, 0.2, 0.3]])


def test_evaluate_save_writes_eval_json_and_bad_splits_are_run_errors(runs):
    run = runs["standard"]
    run.evaluate("val", save=True)
    assert json.loads((run.path / "eval.json").read_text())["val"]["split"] == "val"
    with pytest.raises(dlcc.RunError, match="choose one of test, val, train"):
        run.evaluate("testing")


def test_plots_are_figures_and_compare_matches_the_cli(runs, tmp_path):
    from matplotlib.figure import Figure

    for kind in ("curves", "gradients", "boundary"):
        assert isinstance(runs["standard"].plot(kind), Figure)
    assert isinstance(dlcc.plot([runs["standard"], runs["ensemble"]], "curves"), Figure)
    with pytest.raises(dlcc.RunError, match="choose one of curves, gradients, boundary"):
        runs["standard"].plot("histogram")
    comparison = dlcc.compare([runs["standard"], runs["ensemble"].path])
    cli = dlcc_json("compare", runs["standard"].path, runs["ensemble"].path)
    assert json.loads(json.dumps(comparison.to_json())) == cli
    with pytest.raises(dlcc.RunError, match="two or more"):
        dlcc.compare([runs["standard"]])


def test_metrics_frame_has_the_metrics_rows(runs):
    pd = pytest.importorskip("pandas")
    frame = runs["standard"].metrics_frame()
    assert isinstance(frame, pd.DataFrame)
    assert list(frame.columns) == runs["standard"].columns
    assert frame["val_loss"].iloc[-1] == runs["standard"].metrics[-1]["val_loss"]


def test_a_diverging_run_raises_and_keeps_its_folder(tmp_path):
    with pytest.raises(dlcc.DivergedError) as info:
        dlcc.train(TINY, overrides={"optimizer.lr": 1e30}, runs_dir=tmp_path, progress=False)
    assert dlcc.load(info.value.run_dir).status == "diverged"


def test_the_api_prints_nothing_on_stdout_and_import_is_light(tmp_path):
    code = ("import sys, dlcc; assert 'numpy' not in sys.modules, 'import dlcc pulled in numpy'; "
            f"dlcc.train({TINY!r}, runs_dir={str(tmp_path)!r})")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout == ""
    assert "epoch 3/3" in out.stderr  # progress=True is the default, on stderr


def test_gradcheck_from_the_api():
    checks = dlcc.gradcheck(TINY)
    assert [c.name for c in checks] == ["W1", "b1", "W2", "b2"]
    assert max(c.rel_error for c in checks) < 1e-6


def test_a_validated_config_goes_wherever_a_config_does():
    """load_config's result is accepted by gradcheck, train and load_config itself (it was refused
    as "expected a path, YAML text or a dict"); overrides still apply to it."""
    cfg = dlcc.load_config(TINY)
    assert dlcc.load_config(cfg) is cfg
    assert dlcc.load_config(cfg, {"optimizer.lr": 0.25}).optimizer.lr == 0.25
    assert {c.name for c in dlcc.gradcheck(cfg)} == {"W1", "b1", "W2", "b2"}
