"""Full-MNIST accuracy runs (marked slow; CI runs them). Each takes well under a minute."""

from __future__ import annotations

import pytest

from dlcc import config
from tests.conftest import train
from tests.conftest import ROOT, mnist_dir, needs_mnist

pytestmark = [pytest.mark.slow, needs_mnist]


def test_mnist_mlp_config_reaches_97_5_percent(tmp_path, monkeypatch):
    monkeypatch.setenv("DLCC_DATA_DIR", str(mnist_dir()))
    cfg = config.load(ROOT / "configs" / "mnist-mlp.yaml")
    assert cfg.training.epochs <= 10
    run_dir, summary = train(cfg, tmp_path)
    assert summary["status"] == "completed"
    assert summary["examples"] == {"train": 50000, "val": 10000, "test": 10000}
    assert summary["test"]["accuracy"] >= 0.975, summary["test"]
