"""Sweeps as users run them: the metrics of a run do not depend on the executor or the workers."""

from __future__ import annotations

import copy
import csv
import os

import numpy as np
import pytest
import yaml

import dlcc
from tests.conftest import TINY

# 784 inputs, as MNIST: products big enough for OpenBLAS to round differently with one thread than
# with several (x (32, 784) @ W (784, 100) in float32), so the BLAS threads of a worker show.
WIDE = copy.deepcopy(TINY)
WIDE["model"]["layers"] = [{"units": 100, "activation": "relu"}, {"units": 3, "activation": "softmax"}]
WIDE["optimizer"] = {"name": "sgd", "lr": 0.1, "momentum": 0.9}
WIDE["training"] = {"epochs": 2, "batch_size": 32}


def wide_config(tmp_path):
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "wide.npz", x=rng.random((300, 784), dtype=np.float32), y=rng.integers(0, 3, 300))
    config = tmp_path / "wide.yaml"
    config.write_text(yaml.safe_dump({**WIDE, "data": {"dataset": "npz", "options": {"path": str(tmp_path / "wide.npz")}}}))
    return config

def table(path) -> list[dict]:
    with open(path, newline="") as f:
        return [{k: v for k, v in row.items() if k != "seconds"} for row in csv.DictReader(f)]


def metrics(sweep) -> dict:
    return {row["run"]: table(sweep.path / row["run"] / "metrics.csv") for row in sweep.results}


@pytest.fixture(scope="module")
def ray_instance():
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield
    ray.shutdown()


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="one core: every worker had one BLAS thread anyway")
def test_one_worker_two_workers_and_ray_give_the_same_metrics(tmp_path, ray_instance):
    config = wide_config(tmp_path)
    args = dict(grid={"optimizer.lr": [0.05, 0.1]}, progress=False)
    one = dlcc.sweep(config, workers=1, runs_dir=tmp_path / "one", **args)
    two = dlcc.sweep(config, workers=2, runs_dir=tmp_path / "two", **args)
    remote = dlcc.sweep(config, workers=2, executor="ray", runs_dir=tmp_path / "ray", **args)
    assert [r["status"] for r in one.results] == ["completed"] * 2
    assert metrics(one) == metrics(two) == metrics(remote)
    assert table(one.path / "results.csv") == table(two.path / "results.csv") == table(remote.path / "results.csv")
