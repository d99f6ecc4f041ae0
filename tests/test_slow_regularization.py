"""The regularization experiments on a 1,000-image MNIST subset (slow; CI runs them).

Each config in configs/regularization/ trains in a few seconds; these tests check that the effect
each one documents is there in the run folder.
"""

from __future__ import annotations

import csv

import pytest

from dlcc import config
from tests.conftest import train
from tests.conftest import ROOT, mnist_dir, needs_mnist

pytestmark = [pytest.mark.slow, needs_mnist]
CONFIGS = ROOT / "configs" / "regularization"


@pytest.fixture(autouse=True)
def _mnist(monkeypatch):
    monkeypatch.setenv("DLCC_DATA_DIR", str(mnist_dir()))


def final_gap(run_dir) -> tuple[float, float]:
    """(train - val accuracy gap, val_loss - train_loss gap) at the last epoch."""
    with open(run_dir / "metrics.csv", newline="") as f:
        last = list(csv.DictReader(f))[-1]
    return (float(last["train_accuracy"]) - float(last["val_accuracy"]),
            float(last["val_loss"]) - float(last["train_loss"]))


def test_l2_and_dropout_shrink_the_overfitting_gap(tmp_path):
    gaps = {}
    for name in ("none", "l2", "dropout"):
        run_dir, summary = train(config.load(CONFIGS / f"overfit-{name}.yaml"), tmp_path)
        gaps[name] = final_gap(run_dir)
        assert summary["examples"]["train"] == 1000
    acc_none, loss_none = gaps["none"]
    assert acc_none > 0.08  # 100% on the training images, far less on validation
    for name in ("l2", "dropout"):
        acc, loss = gaps[name]
        assert acc < acc_none and loss < loss_none, gaps


def test_bagged_ensemble_beats_its_average_member(tmp_path):
    _, summary = train(config.load(CONFIGS / "bagging.yaml"), tmp_path)
    members = [m["test"]["accuracy"] for m in summary["members"]]
    assert len(members) == 5
    assert summary["test"]["accuracy"] >= sum(members) / len(members)


def test_early_stopping_keeps_the_best_epoch(tmp_path):
    _, summary = train(config.load(CONFIGS / "early-stopping.yaml"), tmp_path)
    assert summary["status"] == "early_stopped"
    assert summary["epochs_completed"] == summary["best_epoch"] + 10


def test_scaled_init_learns_faster_than_large_normal(tmp_path):
    first_epoch = {}
    for name in ("large", "scaled"):
        run_dir, _ = train(config.load(ROOT / "configs" / "init" / f"sigmoid-{name}.yaml", ["training.epochs=1"]), tmp_path)
        with open(run_dir / "metrics.csv", newline="") as f:
            first_epoch[name] = float(list(csv.DictReader(f))[1]["val_accuracy"])
    assert first_epoch["scaled"] - first_epoch["large"] > 0.03, first_epoch
