"""Course results reproduced by dlcc (slow; CI runs them). Numbers in README "Results"."""

from __future__ import annotations

import pytest

from dlcc import config
from tests.conftest import train
from tests.conftest import ROOT, mnist_dir, needs_mnist

COURSE = ROOT / "configs" / "course"


@pytest.mark.slow
@needs_mnist
def test_nielsen_chapter_1_network_reaches_95_percent(tmp_path, monkeypatch):
    """[784, 30, 10] sigmoid, quadratic cost, eta 3.0, batch 10, 30 epochs: Nielsen reports ~95%."""
    monkeypatch.setenv("DLCC_DATA_DIR", str(mnist_dir()))
    _, summary = train(config.load(COURSE / "nielsen-ch1-30.yaml"), tmp_path)
    assert summary["epochs_completed"] == 30
    assert summary["test"]["accuracy"] >= 0.945, summary["test"]


@pytest.mark.slow
def test_cs231n_spirals_linear_versus_relu(tmp_path):
    """CS231n: a linear softmax classifier manages about half the spirals; 100 ReLUs about all."""
    _, linear = train(config.load(COURSE / "cs231n-linear.yaml"), tmp_path)
    _, relu = train(config.load(COURSE / "cs231n-relu.yaml", ["training.epochs=3000"]), tmp_path)
    assert 0.45 <= linear["best"]["train_accuracy"] <= 0.6
    assert relu["best"]["train_accuracy"] >= 0.97
