"""Sweeps when their workers or Ray fail: a killed Ray worker, a killed driver, a Ray that cannot
be reached, a worker that cannot load dlcc, Ctrl-C of a Ray sweep, Ray's SIGTERM handler, odd --workers.

Ray tests use a real local Ray instance with 2 CPUs (as tests/test_sweep_ray.py), never a mock.
"""

from __future__ import annotations

import csv
import io
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest
import yaml

import dlcc
from dlcc.errors import ConfigError, InterruptedRun
from tests.conftest import ROOT, TINY
from tests.runs_helpers import dlcc as cli
from tests.sweep_helpers import make_sweep

# Runs of a second or two, so a test can kill or interrupt one while it trains.
SLOW = {**TINY, "data": {"dataset": "spirals", "options": {"classes": 3, "points_per_class": 1500, "noise": 0.2}},
        "training": {"epochs": 40, "batch_size": 8}, "diagnostics": {"gradient_norms": False}}


def write(tmp_path: Path, config: dict) -> Path:
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def results(sweep_dir: Path) -> list[dict]:
    with open(sweep_dir / "results.csv", newline="") as f:
        return list(csv.DictReader(f))


def dlcc_process(*args, env=None, timeout=60) -> subprocess.CompletedProcess:
    """`python -m dlcc ARGS` in a child process (Ray connects in it, not in the test's process)."""
    env = {k: v for k, v in {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}.items() if v is not None}
    return subprocess.run([sys.executable, "-m", "dlcc", *map(str, args)], capture_output=True, text=True,
                          env=env, timeout=timeout)


def free_port() -> int:
    """A local TCP port nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --------------------------------------------------------------------------- Ray that cannot be reached

@pytest.mark.parametrize("how", ["flag", "RAY_ADDRESS"])
def test_a_ray_address_where_nothing_listens_is_one_message_at_once(tmp_path, how):
    address = f"127.0.0.1:{free_port()}"
    flag, env = (["--ray-address", address], {"RAY_ADDRESS": None}) if how == "flag" else ([], {"RAY_ADDRESS": address})
    started = time.monotonic()
    # Before: Ray retried for about 14 minutes (--ray-address), or said "num_cpus and num_gpus must
    # not be provided" (RAY_ADDRESS, which then could never reach a cluster that does answer).
    done = dlcc_process("sweep", write(tmp_path, TINY), "--executor", "ray", *flag, "--runs-dir",
                        tmp_path / "runs", "--quiet", env=env)
    assert done.returncode == 2, done.stderr
    assert time.monotonic() - started < 30
    lines = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and address in lines[0] and "Traceback" not in done.stderr, done.stderr
    assert (how == "RAY_ADDRESS") == ("RAY_ADDRESS" in lines[0])
    assert "num_cpus" not in done.stderr
    assert not (tmp_path / "runs").exists()


def test_a_ray_address_of_the_wrong_form_is_one_message(tmp_path):
    done = dlcc_process("sweep", write(tmp_path, TINY), "--executor", "ray", "--ray-address", "nonsense",
                        "--runs-dir", tmp_path / "runs", "--quiet", env={"RAY_ADDRESS": None})
    assert done.returncode == 2 and "nonsense" in done.stderr and "Traceback" not in done.stderr, done.stderr
    assert not (tmp_path / "runs").exists()


def test_sigterm_after_ray_started_is_still_dlccs_to_handle(tmp_path):
    """ray.init installs a SIGTERM handler of its own (sys.exit(15): exit code 15, no message, the
    sweep folder left as it was); connecting must leave dlcc's (SIGTERM = Ctrl-C, exit 130)."""
    code = ("import signal\n"
            "def mine(signum, frame): pass\n"
            "signal.signal(signal.SIGTERM, mine)\n"
            "from dlcc.sweeps.ray_executor import RayExecutor\n"
            "import ray\n"
            "RayExecutor(1, None).connect()\n"
            "print('kept' if signal.getsignal(signal.SIGTERM) is mine else 'replaced', flush=True)\n"
            "ray.shutdown()\n")
    env = {k: v for k, v in {**os.environ, "PYTHONPATH": str(ROOT)}.items() if k != "RAY_ADDRESS"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert done.stdout.strip() == "kept", done.stderr


# --------------------------------------------------------------------------- the local pool

def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def test_the_workers_of_a_killed_driver_stop_their_runs_resumable_and_exit(tmp_path):
    """Before: a driver killed outright (kill -9) left its workers training on, then waiting forever."""
    config = write(tmp_path, {**SLOW, "data": {**SLOW["data"], "options": {"points_per_class": 300}},
                              "training": {"epochs": 200, "batch_size": 8}})
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    driver = subprocess.Popen([sys.executable, "-m", "dlcc", "sweep", str(config), "--grid", "optimizer.lr=0.05,0.1",
                               "--workers", "2", "--runs-dir", str(tmp_path / "runs"), "--quiet"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    workers = []
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            metrics = list((tmp_path / "runs").glob("sweep-*/p00*-s0/metrics.csv"))
            if len(metrics) == 2 and all(len(m.read_text().splitlines()) >= 4 for m in metrics):
                break
            time.sleep(0.02)
        children = subprocess.run(["pgrep", "-P", str(driver.pid)], capture_output=True, text=True).stdout.split()
        workers = [int(p) for p in children if b"spawn_main" in Path(f"/proc/{p}/cmdline").read_bytes()]
        assert len(workers) == 2
        driver.kill()
        driver.wait()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(_alive(p) for p in workers):
            time.sleep(0.05)
        assert not any(_alive(p) for p in workers), "the workers outlived their driver"
    finally:
        for pid in workers:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
    (sweep_dir,) = (tmp_path / "runs").iterdir()
    for run in ("p000-s0", "p001-s0"):
        summary = yaml.safe_load((sweep_dir / run / "summary.json").read_text())
        assert summary["status"] == "interrupted" and (sweep_dir / run / "checkpoint.npz").is_file()
    assert cli("sweep", "--resume", sweep_dir, "--quiet").exit_code == 0
    assert [r["status"] for r in results(sweep_dir)] == ["completed", "completed"]


# --------------------------------------------------------------------------- --workers

def test_more_workers_than_cpus_run_as_many_as_there_are_cpus_with_a_note(tmp_path, monkeypatch):
    from dlcc.sweeps import driver, local

    monkeypatch.setattr(driver, "cpu_count", lambda: 1)
    started = []
    real_init = local.LocalExecutor.__init__
    monkeypatch.setattr(local.LocalExecutor, "__init__", lambda self, workers: (started.append(workers),
                                                                                real_init(self, workers))[1])
    result = cli("sweep", write(tmp_path, TINY), "--grid", "optimizer.lr=0.1,0.5", "--workers", "64",
                 "--runs-dir", tmp_path / "runs", "--quiet")
    assert result.exit_code == 0, result.output
    assert started == [1]
    notes = [line for line in result.stderr.splitlines() if line.startswith("note:")]
    assert len(notes) == 1 and "64" in notes[0] and "1 CPU" in notes[0], result.stderr
    (sweep_dir,) = (tmp_path / "runs").iterdir()
    assert [r["status"] for r in results(sweep_dir)] == ["completed"] * 2


@pytest.mark.parametrize("given, message", [
    ({"workers": -1}, "--workers"),       # before: the pool started no worker and waited forever
    ({"workers": "x"}, "--workers"),      # before: TypeError
    ({"executor": "fast"}, "--executor"),  # before: silently the local executor
])
def test_resume_refuses_bad_executor_settings(tmp_path, given, message):
    sweep_dir = make_sweep(tmp_path, {"optimizer.lr": [0.1]}, seeds=(0, 1), pending={"p000-s1"})

    def hung(signum, frame):
        raise TimeoutError("resume_sweep hung")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(20)
    try:
        with pytest.raises(ConfigError, match=message):
            dlcc.resume_sweep(sweep_dir, progress=False, **given)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    assert results(sweep_dir)[1]["status"] == "pending"


# --------------------------------------------------------------------------- the progress lines

def test_a_long_error_is_one_line_in_a_log(tmp_path):
    from rich.console import Console

    from dlcc.report.sweep_progress import RichSweepReporter
    from dlcc.runs import sweepdir
    from dlcc.sweeps.plan import plan_from_definition

    out = io.StringIO()
    reporter = RichSweepReporter(Console(file=out, width=60))
    sweep_dir = make_sweep(tmp_path, {"optimizer.lr": [0.1]}, seeds=(0,), pending={"p000-s0"})
    rows = sweepdir.read_results(sweep_dir)
    reporter.start(plan_from_definition(sweepdir.read_definition(sweep_dir), str(sweep_dir)), rows)
    error = "the Ray worker process died while training this run (killed, or out of memory?)"
    reporter.run_finished({**rows[0], "status": "failed", "error": error})
    assert f"p000-s0: failed  ({error})" in out.getvalue().splitlines()  # not cut in two at 60 columns


# --------------------------------------------------------------------------- a real Ray

ray = pytest.importorskip("ray", reason='Ray is not installed (pip install -e ".[dev]" brings it)')


@pytest.fixture(scope="module")
def ray_instance():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield ray.get_runtime_context().get_node_id()
    ray.shutdown()


def task_folders(node: str, run: str) -> list[Path]:
    """The temporary folders in which this Ray node's tasks train `run`."""
    from dlcc.sweeps.ray_executor import tmp_prefix

    return list(Path(tempfile.gettempdir()).glob(f"{tmp_prefix()}*-{node[:12]}-*/{run}"))


def when_training(node: str, runs: list[str], then, timeout: float = 60) -> threading.Thread:
    """A thread that calls then(folders) once each of `runs` has finished two epochs in a Ray task."""

    def watch():
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [next((f for f in task_folders(node, run) if (f / "metrics.csv").is_file()
                           and len((f / "metrics.csv").read_text().splitlines()) >= 4), None) for run in runs]
            if all(found):
                then(found)
                return
            time.sleep(0.02)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


def test_a_killed_ray_worker_fails_its_run_the_sweep_goes_on_and_resume_retrains_it(tmp_path, ray_instance):
    killed = []

    def kill(folders):
        pid = int(folders[0].parent.name.split("-")[3])  # dlcc-ray-<host>-<pid>-<node>-<random>
        os.kill(pid, signal.SIGKILL)
        killed.append(folders[0].parent)

    watcher = when_training(ray_instance, ["p000-s0"], kill)
    sweep = dlcc.sweep(write(tmp_path, SLOW), grid={"optimizer.lr": [0.05, 0.1]}, executor="ray", workers=2,
                       runs_dir=tmp_path / "runs", progress=False)
    watcher.join()
    assert killed, "no Ray task of p000-s0 was seen training"
    first, second = results(sweep.path)
    assert first["status"] == "failed" and second["status"] == "completed"
    assert first["error"] == "the Ray worker process died while training this run (killed, or out of memory?)"
    long_ago = time.time() - 2 * 3600  # untouched for two hours, as any folder of a long-dead worker
    for path in (killed[0], *killed[0].rglob("*")):
        os.utime(path, (long_ago, long_ago))
    resumed = dlcc.resume_sweep(sweep.path, progress=False)
    assert [r["status"] for r in results(resumed.path)] == ["completed", "completed"]
    # The dead worker's temporary folder does not stay behind on the node: the next task there removes it.
    assert not killed[0].exists()


def test_a_ray_worker_that_cannot_load_dlcc_stops_the_sweep_with_one_message(tmp_path, ray_instance, monkeypatch):
    from dlcc.sweeps import ray_executor

    # The task's function lives in a module only this process can import, as dlcc on a cluster
    # whose nodes do not have it.
    (tmp_path / "here_only").mkdir()
    (tmp_path / "here_only" / "dlcc_here_only.py").write_text(
        "from dlcc.sweeps.ray_executor import remote_train as _train\n\n"
        "def remote_train(task):\n    return _train(task)\n")
    monkeypatch.syspath_prepend(str(tmp_path / "here_only"))
    import dlcc_here_only

    monkeypatch.setattr(ray_executor, "remote_train", dlcc_here_only.remote_train)
    with pytest.raises(ConfigError) as raised:
        dlcc.sweep(write(tmp_path, TINY), grid={"optimizer.lr": [0.1, 0.5]}, seeds=2, executor="ray", workers=2,
                   runs_dir=tmp_path / "runs", progress=False)
    message = str(raised.value)
    assert "No module named 'dlcc_here_only'" in message and "installed on every node" in message
    assert "\x1b" not in message and "dlcc sweep --resume" in message
    (sweep_dir,) = (tmp_path / "runs").iterdir()
    assert [r["status"] for r in results(sweep_dir)] == ["pending"] * 4  # not 4 runs failed one by one


def test_ctrl_c_of_a_ray_sweep_brings_the_checkpoints_back_and_resume_continues_them(tmp_path, ray_instance):
    """The suspicion was that ray.cancel leaves an interrupted run's files in the worker's
    temporary folder; it does not: the cancel reaches the task as a Ctrl-C, the run stops at a
    batch boundary and its folder comes back like a finished one's."""
    watcher = when_training(ray_instance, ["p000-s0", "p001-s0"], lambda folders: os.kill(os.getpid(), signal.SIGINT))
    with pytest.raises(InterruptedRun, match="dlcc sweep --resume"):
        dlcc.sweep(write(tmp_path, {**SLOW, "data": {**SLOW["data"], "options": {"points_per_class": 300}},
                                    "training": {"epochs": 200, "batch_size": 8}}),
                   grid={"optimizer.lr": [0.05, 0.1]}, executor="ray", workers=2, runs_dir=tmp_path / "runs",
                   progress=False)
    watcher.join()
    (sweep_dir,) = (tmp_path / "runs").iterdir()
    assert [r["status"] for r in results(sweep_dir)] == ["interrupted", "interrupted"]
    before = {run: (sweep_dir / run / "metrics.csv").read_text().splitlines() for run in ("p000-s0", "p001-s0")}
    assert all((sweep_dir / run / "checkpoint.npz").is_file() for run in before)
    resumed = dlcc.resume_sweep(sweep_dir, progress=False)
    assert [r["status"] for r in results(resumed.path)] == ["completed", "completed"]
    for run, lines in before.items():  # continued: the epochs trained before are there as they were
        after = (sweep_dir / run / "metrics.csv").read_text().splitlines()
        assert after[:len(lines)] == lines and len(after) == 202
