"""The Ray executor against a real local Ray instance (2 CPUs): the same metrics as the local pool."""

from __future__ import annotations

import csv

import pytest
import yaml

import dlcc
from tests.conftest import TINY
from tests.runs_helpers import dlcc as cli

ray = pytest.importorskip("ray", reason='Ray is not installed (pip install -e ".[dev]" brings it)')


@pytest.fixture(scope="module")
def ray_instance():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield
    ray.shutdown()


def rows(sweep) -> list[dict]:
    with open(sweep.path / "results.csv", newline="") as f:
        return [{k: v for k, v in row.items() if k != "seconds"} for row in csv.DictReader(f)]


def test_a_ray_sweep_equals_the_local_one_bit_for_bit(tmp_path, ray_instance):
    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump(TINY))
    args = dict(grid={"optimizer.name": ["sgd", "adam"]}, seeds="0-1", workers=2, progress=False)
    local = dlcc.sweep(config, runs_dir=tmp_path / "local", **args)
    remote = dlcc.sweep(config, runs_dir=tmp_path / "ray", executor="ray", **args)
    assert rows(remote) == rows(local)
    assert [r["status"] for r in rows(remote)] == ["completed"] * 4
    # The files came back from the Ray tasks: each run folder is complete and usable.
    for row in remote.results:
        run = remote.path / row["run"]
        assert sorted(p.name for p in run.iterdir()) == sorted(p.name for p in (local.path / row["run"]).iterdir())
        assert (run / "metrics.csv").read_text() .splitlines()[-1].split(",")[:6] == \
            (local.path / row["run"] / "metrics.csv").read_text().splitlines()[-1].split(",")[:6]
    assert cli("eval", remote.path / "p001-s1").exit_code == 0


def test_a_failing_ray_task_is_recorded_and_the_sweep_goes_on(tmp_path, ray_instance):
    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump(TINY))
    sweep = dlcc.sweep(config, grid={"optimizer.lr": [0.5, 1e30]}, executor="ray", workers=2,
                       runs_dir=tmp_path / "runs", progress=False)
    assert [r["status"] for r in sweep.results] == ["completed", "diverged"]
