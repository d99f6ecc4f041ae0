"""dlcc sweep: plans, validation, the sweep folder, faults (Ctrl-C, dead workers, divergence), resume."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

import dlcc
from dlcc.config.sweep import parse_distribution, parse_seeds
from dlcc.runs import sweepdir
from tests.conftest import ROOT, TINY
from tests.runs_helpers import dlcc as cli

# Runs of about a second each, so a test can interrupt or kill one while it trains.
SLOW = {**TINY, "data": {"dataset": "spirals", "options": {"classes": 3, "points_per_class": 1500, "noise": 0.2}},
        "training": {"epochs": 25, "batch_size": 8}, "diagnostics": {"gradient_norms": False}}


def results(sweep_dir: Path, drop=("seconds",)) -> list[dict]:
    with open(sweep_dir / "results.csv", newline="") as f:
        return [{k: v for k, v in row.items() if k not in drop} for row in csv.DictReader(f)]


def test_seeds_and_distributions_parse():
    assert parse_seeds(3) == [0, 1, 2] and parse_seeds("3-5") == [3, 4, 5] and parse_seeds("0, 2,9") == [0, 2, 9]
    assert parse_distribution("k", "loguniform(1e-4, 0.1)") == ("loguniform", [0.0001, 0.1])
    assert parse_distribution("k", "choice(relu, tanh)") == ("choice", ["relu", "tanh"])
    for bad in ("normal(0, 1)", "uniform(1)", "uniform(2, 1)", "int(0.5, 3)", "choice()"):
        with pytest.raises(ValueError):
            parse_distribution("k", bad)


@pytest.mark.parametrize("args, message", [
    (["--grid", "optimizer.lr=0.1,-1"], "point p001 (optimizer.lr=-1): optimizer.lr: Input should be greater than 0"),
    (["--grid", "optimizer.lrr=1"], "unknown config key 'optimizer.lrr'; did you mean 'lr'?"),
    (["--grid", "optimizer.lr="], "--grid optimizer.lr=: an empty value"),
    (["--random", "optimizer.lr=loguniform(0,1)", "--trials", "2"], "loguniform(0, 1) needs a > 0"),
    (["--random", "optimizer.lr=loguniform(1e-3,1)"], "`random` needs `trials: N`"),
    (["--seeds", "5-2"], "seeds: the range A-B runs backwards"),
    (["--grid", "model.layers.0.units=1,2", "--seeds", "10000", "--grid", "training.epochs=1,2,3"],
     "more than 10,000 needs --yes"),
])
def test_a_bad_sweep_is_refused_before_anything_starts(tmp_path, write_config, args, message):
    result = cli("sweep", write_config(TINY), *args, "--runs-dir", tmp_path / "runs")
    assert result.exit_code == 2, result.output
    assert message in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "runs").exists()


def test_a_sweep_file_with_variants_grid_and_random_draws(tmp_path):
    (tmp_path / "base.yaml").write_text(yaml.safe_dump(TINY))
    (tmp_path / "study.yaml").write_text(yaml.safe_dump({
        "base": "base.yaml",
        "set": {"training.epochs": 2},
        "variants": {"sgd": {"optimizer": {"name": "sgd", "lr": 0.3}},
                     "adam": {"optimizer.name": "adam"}},
        "grid": {"model.layers.0.units": [4, 8]},
        "random": {"regularization.l2": "loguniform(1e-5, 1e-3)"},
        "trials": 2,
        "seeds": "0-1",
        "workers": 2,
    }))
    sweep = dlcc.sweep(tmp_path / "study.yaml", runs_dir=tmp_path / "runs", progress=False)
    assert sweep.path.name.startswith("sweep-study-")
    definition = sweepdir.read_definition(sweep.path)
    assert len(definition["points"]) == 2 * 2 * 2 and len(definition["runs"]) == 16
    rows = sweep.results
    assert [r["status"] for r in rows] == ["completed"] * 16
    assert {r["variant"] for r in rows} == {"sgd", "adam"}
    assert list(rows[0])[:5] == ["run", "point", "variant", "model.layers.0.units", "regularization.l2"]
    adam_run = next(r["run"] for r in rows if r["variant"] == "adam")
    adam = yaml.safe_load((sweep.path / adam_run / "config.yaml").read_text())
    assert adam["optimizer"] == {"name": "adam", "lr": 0.001, "beta1": 0.9, "beta2": 0.999, "eps": 1e-08}
    draws = {r["regularization.l2"] for r in rows}
    assert len(draws) == 8 and all(1e-5 <= v <= 1e-3 for v in draws)
    # Each run folder is an ordinary run: eval works on it.
    assert cli("eval", sweep.path / "p000-s1").exit_code == 0


def test_the_same_sweep_gives_the_same_results_with_one_or_two_workers(tmp_path, write_config):
    args = ("sweep", write_config(TINY), "--grid", "optimizer.lr=0.1,0.5", "--seeds", "2", "--quiet")
    assert cli(*args, "--workers", "1", "--runs-dir", tmp_path / "a").exit_code == 0
    assert cli(*args, "--workers", "2", "--runs-dir", tmp_path / "b").exit_code == 0
    (a,), (b,) = (tmp_path / "a").iterdir(), (tmp_path / "b").iterdir()
    assert results(a) == results(b) and len(results(a)) == 4


def test_a_diverged_run_is_recorded_and_the_sweep_goes_on(tmp_path):
    sweep = dlcc.sweep(_write(tmp_path, TINY), grid={"optimizer.lr": [0.5, 1e30]}, runs_dir=tmp_path / "runs",
                       workers=1, progress=False)
    assert [r["status"] for r in sweep.results] == ["completed", "diverged"]
    assert "training diverged" in sweep.results[1]["error"]


def _write(tmp_path: Path, config: dict) -> Path:
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _start(tmp_path: Path, *args) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "dlcc", "sweep", str(_write(tmp_path, SLOW)), "--seeds", "0-1",
                             "--grid", "optimizer.lr=0.05,0.1", "--workers", "2", "--runs-dir", str(tmp_path / "runs"),
                             *args], cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for_training(tmp_path: Path, timeout: float = 60) -> Path:
    """The sweep folder, once some run has finished an epoch."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for metrics in (tmp_path / "runs").glob("sweep-*/p*-s*/metrics.csv"):
            if len(metrics.read_text().splitlines()) >= 4:
                return metrics.parent.parent
        time.sleep(0.05)
    raise AssertionError("no run started training")


def _worker_pids(pid: int) -> list[int]:
    """The driver's worker processes (not multiprocessing's resource tracker)."""
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    cmdlines = {int(p): Path(f"/proc/{p}/cmdline").read_bytes() for p in out}
    return [p for p, cmd in cmdlines.items() if b"resource_tracker" not in cmd]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> list[dict]:
    tmp_path = tmp_path_factory.mktemp("uninterrupted")
    proc = _start(tmp_path, "--quiet")
    assert proc.wait(timeout=300) == 0, proc.stderr.read()
    (sweep_dir,) = (tmp_path / "runs").iterdir()
    return results(sweep_dir, drop=("seconds", "run_dir"))


def test_ctrl_c_stops_every_worker_and_resume_gives_the_uninterrupted_results(tmp_path, uninterrupted):
    proc = _start(tmp_path)
    sweep_dir = _wait_for_training(tmp_path)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert f"dlcc sweep --resume {sweep_dir}" in err and "Traceback" not in err
    statuses = [r["status"] for r in results(sweep_dir)]
    assert "interrupted" in statuses and "completed" not in statuses[-1:]
    assert cli("sweep", "--resume", sweep_dir, "--quiet").exit_code == 0
    assert results(sweep_dir) == uninterrupted


def test_a_killed_worker_fails_its_run_the_sweep_goes_on_and_resume_retrains_it(tmp_path, uninterrupted):
    proc = _start(tmp_path, "--quiet")
    sweep_dir = _wait_for_training(tmp_path)
    pids = _worker_pids(proc.pid)
    os.kill(pids[0], signal.SIGKILL)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    failed = [r for r in results(sweep_dir) if r["status"] == "failed"]
    assert len(failed) == 1 and "worker process died (killed by signal 9" in failed[0]["error"]
    assert sum(r["status"] == "completed" for r in results(sweep_dir)) == 3
    assert cli("sweep", "--resume", sweep_dir, "--quiet").exit_code == 0
    assert results(sweep_dir) == uninterrupted


def test_resume_of_a_finished_sweep_trains_nothing(tmp_path, write_config):
    assert cli("sweep", write_config(TINY), "--seeds", "2", "--quiet", "--runs-dir", tmp_path / "runs").exit_code == 0
    (sweep_dir,) = (tmp_path / "runs").iterdir()
    before = {p: p.stat().st_mtime_ns for p in sweep_dir.rglob("model.npz")}
    assert cli("sweep", "--resume", sweep_dir, "--quiet").exit_code == 0
    assert before == {p: p.stat().st_mtime_ns for p in sweep_dir.rglob("model.npz")}


def test_resume_rebuilds_a_cut_results_csv_from_the_run_folders(tmp_path, write_config):
    """results.csv cut to its header (or lost) comes back on resume, even with nothing to train."""
    assert cli("sweep", write_config(TINY), "--seeds", "2", "--quiet", "--runs-dir", tmp_path / "runs").exit_code == 0
    (sweep_dir,) = (tmp_path / "runs").iterdir()
    full = results(sweep_dir)
    path = sweep_dir / "results.csv"
    path.write_text(path.read_text().splitlines()[0] + "\n")
    result = cli("sweep", "--resume", sweep_dir, "--quiet")
    assert result.exit_code == 0 and "2 runs (2 completed)" in result.stdout, result.output
    assert results(sweep_dir) == full


def test_resume_refuses_a_folder_that_is_not_a_sweep(tmp_path):
    result = cli("sweep", "--resume", tmp_path)
    assert result.exit_code == 2 and "sweep.yaml: missing" in result.stderr


def test_json_output_is_the_results(tmp_path, write_config):
    import json

    result = cli("sweep", write_config(TINY), "--grid", "optimizer.name=sgd,adam", "--json", "--runs-dir", tmp_path)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [r["optimizer.name"] for r in data["results"]] == ["sgd", "adam"]


@pytest.mark.parametrize("path", sorted((ROOT / "configs" / "sweeps").glob("*.yaml")), ids=lambda p: p.name)
def test_every_shipped_sweep_file_plans(path):
    from dlcc.errors import DataError
    from dlcc.sweeps.plan import make_plan, sweep_spec
    from tests.conftest import mnist_dir

    try:
        plan = make_plan(*sweep_spec(path))
    except DataError:  # planning checks each point against its data: MNIST files for the MNIST sweeps
        if mnist_dir() is None:
            pytest.skip("MNIST files not found (set DLCC_DATA_DIR)")
        raise
    assert plan.runs and len(plan.runs) == len(plan.points) * len(plan.spec.seeds)


def test_without_ray_the_ray_executor_says_how_to_install_it(tmp_path, write_config, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now raises ImportError
    result = cli("sweep", write_config(TINY), "--executor", "ray", "--runs-dir", tmp_path / "runs")
    assert result.exit_code == 2
    assert 'pip install "dlcc[ray]"' in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "runs").exists()


def test_a_sweep_file_is_not_a_config(write_config):
    result = cli("validate", ROOT / "configs" / "sweeps" / "optimizers.yaml")
    assert result.exit_code == 2 and "this is a sweep file" in result.stderr
