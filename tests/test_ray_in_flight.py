"""The Ray executor keeps at most `workers` tasks in flight, so the sweep's progress ("N running")
counts runs Ray has been given, not a queue; Ctrl-C leaves the runs not submitted pending.

A real local Ray instance with 2 CPUs (as tests/test_sweep_ray.py), never a mock. Before: every run
was submitted at once and reported started, --workers did nothing on Ray.
"""

from __future__ import annotations

import csv
import os
import signal
import tempfile
import threading
import time
from pathlib import Path

import pytest
import yaml

import dlcc
from dlcc.errors import InterruptedRun
from dlcc.runs import sweepdir
from dlcc.sweeps import driver
from dlcc.sweeps.driver import SweepReporter, run_sweep
from dlcc.sweeps.plan import make_plan, sweep_spec
from tests.conftest import TINY

ray = pytest.importorskip("ray", reason='Ray is not installed (pip install -e ".[dev]" brings it)')

# Runs of half a second or so: long enough for two tasks at once to be seen training together.
SLOWER = {**TINY, "data": {"dataset": "spirals", "options": {"classes": 3, "points_per_class": 300, "noise": 0.2}},
          "training": {"epochs": 15, "batch_size": 8}, "diagnostics": {"gradient_norms": False}}
THREE_RUNS = {"optimizer.lr": [0.05, 0.1, 0.2]}


@pytest.fixture(scope="module")
def ray_instance():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield ray.get_runtime_context().get_node_id()
    ray.shutdown()


class Watch(SweepReporter):
    """The driver's reports: the most runs reported running at once; then(name) after each finish."""

    def __init__(self, then=lambda name: None):
        self.running, self.most, self.started, self.then = set(), 0, [], then

    def run_started(self, name: str) -> None:
        self.running.add(name)
        self.started.append(name)
        self.most = max(self.most, len(self.running))

    def run_finished(self, row: dict) -> None:
        self.running.discard(row["run"])
        self.then(row["run"])


def sweep(tmp_path: Path, reporter: Watch, config: dict = SLOWER, **flags):
    tmp_path.mkdir(exist_ok=True)
    (tmp_path / "cfg.yaml").write_text(yaml.safe_dump(config))
    spec, source, folder = sweep_spec(tmp_path / "cfg.yaml", grid=THREE_RUNS, executor="ray", **flags)
    return run_sweep(make_plan(spec, source, folder), tmp_path / "runs", reporter=reporter)


def statuses(sweep_dir: Path) -> list[str]:
    with open(sweep_dir / "results.csv", newline="") as f:
        return [row["status"] for row in csv.DictReader(f)]


class TasksTraining:
    """A thread that counts the runs training in this node's Ray tasks at the same moment (each
    task trains in a temporary folder of its own while it runs)."""

    def __init__(self, node: str, since: float):
        from dlcc.sweeps.ray_executor import tmp_prefix

        self.pattern, self.since, self.most, self.seen = f"{tmp_prefix()}*-{node[:12]}-*/p*-s0", since, 0, set()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._watch, daemon=True)
        self.thread.start()

    def _watch(self) -> None:
        while not self.stop.is_set():
            now = set()
            try:
                for run in Path(tempfile.gettempdir()).glob(self.pattern):
                    if run.parent.stat().st_mtime >= self.since:  # not a dead worker's of an earlier test
                        now.add(run.name)
            except OSError:  # a task ended (its folder went) while we looked: look again
                continue
            self.seen |= now
            self.most = max(self.most, len(now))
            time.sleep(0.005)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()


def test_one_worker_keeps_one_ray_task_in_flight_and_reports_it_alone_running(tmp_path, ray_instance):
    watch = Watch()
    with TasksTraining(ray_instance, time.time() - 1) as training:
        result = sweep(tmp_path, watch, workers=1)
    assert statuses(result.sweep_dir) == ["completed"] * 3
    assert watch.started == ["p000-s0", "p001-s0", "p002-s0"]  # submitted in the sweep's order
    assert watch.most == 1, "the progress counted queued Ray tasks as running"
    # the watcher polls, and could miss a task that starts and ends between two looks: two of
    # three seen shows that it watches
    assert len(training.seen) >= 2, f"the watcher saw {sorted(training.seen)} train"
    assert training.most == 1, "two Ray tasks trained at once with --workers 1"


def test_without_workers_a_cluster_gets_as_many_runs_as_its_cpus_not_this_machines(tmp_path, ray_instance,
                                                                                   monkeypatch):
    """--ray-address (here "auto": the instance this process already runs) without --workers: the
    cluster's 2 CPUs, not the local default (1 CPU here, as the test pretends); sweep.yaml keeps
    workers unset so a --resume uses the default where it runs."""
    monkeypatch.setattr(driver, "cpu_count", lambda: 1)
    watch = Watch()
    result = sweep(tmp_path, watch, config=TINY, ray_address="auto")
    assert statuses(result.sweep_dir) == ["completed"] * 3
    assert watch.most == 2
    assert sweepdir.read_definition(result.sweep_dir)["workers"] is None
    watch = Watch()
    result = sweep(tmp_path / "given", watch, config=TINY, ray_address="auto", workers=1)
    assert watch.most == 1  # --workers limits a cluster too
    assert sweepdir.read_definition(result.sweep_dir)["workers"] == 1


def test_ctrl_c_after_the_first_run_leaves_the_others_pending_and_resume_trains_them(tmp_path, ray_instance):
    def ctrl_c(name):
        if name == "p000-s0":
            os.kill(os.getpid(), signal.SIGINT)

    watch = Watch(ctrl_c)
    with pytest.raises(InterruptedRun, match="dlcc sweep --resume"):
        sweep(tmp_path, watch, config=TINY, workers=1)
    (sweep_dir,) = (tmp_path / "runs").iterdir()
    assert watch.started == ["p000-s0"]
    assert statuses(sweep_dir) == ["completed", "pending", "pending"]
    assert not (sweep_dir / "p001-s0").exists() and not (sweep_dir / "p002-s0").exists()
    resumed = dlcc.resume_sweep(sweep_dir, executor="ray", progress=False)
    assert statuses(resumed.path) == ["completed"] * 3
