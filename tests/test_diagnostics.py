"""Unstable-gradient diagnostics and `dlcc gradcheck`."""

from __future__ import annotations

import csv
import json
import re

import numpy as np
import pytest
from typer.testing import CliRunner

from dlcc import config
from dlcc.cli import app
from dlcc.nn import Network
from dlcc.nn.activations import Sigmoid
from dlcc.training import diagnostics
from tests.conftest import train
from tests.conftest import ROOT, mnist_dir, needs_mnist

runner = CliRunner()
CONFIGS = sorted(p for p in (ROOT / "configs").rglob("*.yaml") if p.parent.name != "sweeps")  # sweeps: not configs
# Generated data only: image datasets need the cache, csv/npz configs a file (tested where it is made).
SYNTHETIC = [p for p in CONFIGS if not re.search(r"dataset: (mnist|fashion-mnist|csv|npz)\b", p.read_text())]
MNIST = [p for p in CONFIGS if "dataset: mnist" in p.read_text()]


def deep_sigmoid(tiny_raw, write_config):
    tiny_raw["model"]["layers"] = [{"units": 8, "activation": "sigmoid"}, {"units": 8, "activation": "tanh"},
                                   {"units": 3, "activation": "softmax"}]
    tiny_raw["regularization"] = {"l2": 0.01, "l1": 0.001}
    tiny_raw["model"]["layers"][0]["dropout"] = 0.3
    return write_config(tiny_raw)


def test_gradcheck_passes_on_a_network_with_penalties_and_dropout(tiny_raw, write_config):
    result = runner.invoke(app, ["gradcheck", str(deep_sigmoid(tiny_raw, write_config)), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["passed"] and [p["name"] for p in report["parameters"]] == ["W1", "b1", "W2", "b2", "W3", "b3"]
    assert max(p["rel_error"] for p in report["parameters"]) < 1e-6


def test_gradcheck_fails_and_names_the_parameter_when_backward_is_broken(tiny_raw, write_config, monkeypatch):
    # Forget the (1 - a) factor of sigma'(z) = a (1 - a): only the first layer is sigmoid.
    monkeypatch.setattr(Sigmoid, "backward", lambda self, grad: grad * self.a)
    result = runner.invoke(app, ["gradcheck", str(deep_sigmoid(tiny_raw, write_config))])
    assert result.exit_code == 1
    assert "gradient check failed for W1, b1" in result.stderr
    assert "FAIL" in result.stdout


def test_gradcheck_bad_input_is_exit_2(tmp_path):
    result = runner.invoke(app, ["gradcheck", str(tmp_path / "missing.yaml")])
    assert result.exit_code == 2 and "no such config file" in result.stderr


@pytest.mark.parametrize("path", SYNTHETIC, ids=lambda p: str(p.relative_to(ROOT)))
def test_gradcheck_passes_on_every_synthetic_config(path):
    result = runner.invoke(app, ["gradcheck", str(path), "--max-elements", "60"])
    assert result.exit_code == 0, result.output


@pytest.mark.slow
@needs_mnist
@pytest.mark.parametrize("path", MNIST, ids=lambda p: str(p.relative_to(ROOT)))
def test_gradcheck_passes_on_every_mnist_config(path, monkeypatch):
    monkeypatch.setenv("DLCC_DATA_DIR", str(mnist_dir()))
    result = runner.invoke(app, ["gradcheck", str(path), "--max-elements", "60"])
    assert result.exit_code == 0, result.output


def test_probe_values_match_a_hand_computation(tiny_raw):
    tiny_raw["model"]["layers"] = [{"units": 6, "activation": "relu"}, {"units": 5, "activation": "sigmoid"},
                                   {"units": 3, "activation": "softmax"}]
    cfg = config.parse(tiny_raw)
    rng = np.random.default_rng(0)
    net = Network.from_config(cfg, 2, rng)
    net.layers[0].b[:] = [-100, -100, 0, 0, 0, 0]  # two ReLUs that can never fire: dead
    x = rng.normal(size=(50, 2)).astype(np.float32)
    y = np.eye(3, dtype=np.float32)[rng.integers(0, 3, 50)]
    start = [layer.W.copy() * 2 for layer in net.layers]
    row = diagnostics.probe(net, x, y, start)

    a = net.forward(x)
    net.backward(a, y)
    assert row["grad_norm_2"] == pytest.approx(float(np.linalg.norm(net.layers[1].db)))
    assert row["weight_grad_norm_3"] == pytest.approx(float(np.linalg.norm(net.layers[2].dW)))
    assert row["weight_norm_1"] == pytest.approx(float(np.linalg.norm(net.layers[0].W)))
    assert row["update_ratio_1"] == pytest.approx(0.5)  # ||W - 2W|| / ||2W||
    assert row["dead_1"] == pytest.approx(2 / 6)
    h = net.layers[1].f.a
    assert row["saturated_2"] == pytest.approx(float(np.mean((h < 0.01) | (h > 0.99))))
    assert "dead_2" not in row and "saturated_1" not in row


def rows_with(norms: list[list[float]]) -> list[dict]:
    return [{"epoch": e, **{f"grad_norm_{i}": g for i, g in enumerate(n, start=1)}} for e, n in enumerate(norms)]


def test_warnings_for_vanishing_and_exploding_gradients():
    assert diagnostics.gradient_warnings(rows_with([[0.1, 0.2, 0.3, 1.0]]), 4) == []
    vanishing = diagnostics.gradient_warnings(rows_with([[0.001, 0.01, 0.2, 1.0]]), 4)
    assert len(vanishing) == 1 and vanishing[0].startswith("vanishing gradients") and "200x" in vanishing[0]
    exploding = diagnostics.gradient_warnings(rows_with([[500.0, 20.0, 1.0, 1.0]]), 4)
    assert exploding[0].startswith("exploding gradients") and "500x" in exploding[0]
    growing = diagnostics.gradient_warnings(rows_with([[0.1, 0.1, 0.1], [0.2, 0.2, 0.2], [500, 400, 300]]), 3)
    assert growing and "grew more than 1000-fold" in growing[0]
    assert diagnostics.gradient_warnings(rows_with([[0.001, 1.0]]), 2) == []  # one hidden layer: no ratio


def test_metrics_csv_has_the_diagnostic_columns(tiny_raw, tmp_path):
    run_dir, summary = train(config.parse(tiny_raw), tmp_path)
    with open(run_dir / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    for col in ("grad_norm_1", "grad_norm_2", "weight_grad_norm_1", "weight_norm_2", "update_ratio_1", "dead_1"):
        assert col in rows[0]
    assert rows[0]["update_ratio_1"] == "" and float(rows[1]["update_ratio_1"]) > 0
    assert summary["warnings"] == []


def test_diagnostics_can_be_turned_off(tiny_raw, tmp_path):
    tiny_raw["diagnostics"] = {"gradient_norms": False}
    run_dir, _ = train(config.parse(tiny_raw), tmp_path)
    header = (run_dir / "metrics.csv").read_text().splitlines()[0]
    assert header == "epoch,train_loss,train_accuracy,val_loss,val_accuracy,lr,seconds"


@pytest.mark.slow
@needs_mnist
def test_course_vanishing_gradient_figures(tmp_path, monkeypatch):
    """4 hidden sigmoid layers: speeds fall toward the input, ratio 30-300; ReLU + He: under 10."""
    monkeypatch.setenv("DLCC_DATA_DIR", str(mnist_dir()))

    def epoch0(name: str) -> tuple[list[float], dict]:
        run_dir, summary = train(config.load(ROOT / "configs" / "unstable" / f"{name}.yaml", ["training.epochs=1"]), tmp_path)
        with open(run_dir / "metrics.csv", newline="") as f:
            row = next(csv.DictReader(f))
        return [float(row[f"grad_norm_{i}"]) for i in range(1, 5)], summary

    sigmoid, _ = epoch0("sigmoid-4")
    assert sigmoid == sorted(sigmoid)
    assert 30 < sigmoid[3] / sigmoid[0] < 300, sigmoid
    relu, _ = epoch0("relu-4")
    assert max(relu) / min(relu) < 10, relu
    _, summary = epoch0("exploding")
    assert any(w.startswith("exploding gradients") for w in summary["warnings"])
