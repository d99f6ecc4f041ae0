"""A run folder's life cycle through the CLI: signals outside the epoch loop, full disks and
read-only folders, the lock, leftovers of killed writes, file permissions (issue 18, cases 3, 4, 12
and the smaller ones). Each test asserts the exit code, the message and that nothing was lost."""

from __future__ import annotations

import errno
import json
import os
import signal
import socket
import subprocess
import sys

import pytest
import yaml
from typer.testing import CliRunner

from dlcc import atomic
from dlcc.cli import app
from dlcc.runs import folder, lifecycle
from dlcc.runs.lock import RunLock
from tests.conftest import ROOT, TINY
from tests.kill_helpers import run_result, visible

runner = CliRunner()


@pytest.fixture
def cfg(tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump({**TINY, "training": {"epochs": 6, "batch_size": 16}}))
    return path


@pytest.fixture
def reference(cfg, tmp_path):
    """The uninterrupted run's result."""
    assert dlcc("train", cfg, "--runs-dir", tmp_path / "reference", "--quiet").exit_code == 0
    return run_result(visible(tmp_path / "reference")[0])


def dlcc(*args):
    return runner.invoke(app, [str(a) for a in args])


def status(run_dir) -> str:
    return json.loads((run_dir / "summary.json").read_text())["status"]


def trained_with_status(cfg, tmp_path, status: str):
    """A run trained into tmp_path/runs whose summary.json then says `status` (as if it was cut off)."""
    assert dlcc("train", cfg, "--runs-dir", tmp_path / "runs", "--quiet").exit_code == 0
    (run_dir,) = visible(tmp_path / "runs")
    summary = json.loads((run_dir / "summary.json").read_text())
    (run_dir / "summary.json").write_text(json.dumps({**summary, "status": status}))
    return run_dir


def signal_during(monkeypatch, module, name, sig, when=lambda *a, **k: True):
    """Send `sig` to this process when module.name is called (and `when` says so), then call it."""
    original = getattr(module, name)

    def wrapped(*args, **kwargs):
        if when(*args, **kwargs):
            os.kill(os.getpid(), sig)
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, wrapped)


# --------------------------------------------------------------------------- case 4: signals

@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_while_model_npz_is_written_completes_the_run_and_says_so(cfg, tmp_path, monkeypatch, sig,
                                                                             reference):
    signal_during(monkeypatch, folder, "write_model", sig)
    result = dlcc("train", cfg, "--runs-dir", tmp_path / "runs", "--quiet")
    assert result.exit_code == 130, result.output
    (run_dir,) = visible(tmp_path / "runs")
    assert "interrupted after training finished" in result.stderr and "is complete (status: completed)" in result.stderr
    assert status(run_dir) == "completed" and run_result(run_dir) == reference
    assert not (run_dir / ".lock").exists()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_right_after_config_yaml_is_written_leaves_a_resumable_run(cfg, tmp_path, monkeypatch, sig,
                                                                           reference):
    signal_during(monkeypatch, atomic, "write_bytes", sig, when=lambda path, data: path.name == "config.yaml")
    result = dlcc("train", cfg, "--runs-dir", tmp_path / "runs", "--quiet")
    assert result.exit_code == 130, result.output
    (run_dir,) = visible(tmp_path / "runs")
    assert status(run_dir) == "interrupted" and "dlcc train --resume" in result.stderr
    monkeypatch.undo()
    assert dlcc("train", "--resume", run_dir, "--quiet").exit_code == 0
    assert run_result(run_dir) == reference


def test_a_signal_before_the_folder_exists_creates_nothing(cfg, tmp_path, monkeypatch):
    from dlcc import build

    signal_during(monkeypatch, build, "build_members", signal.SIGTERM)
    result = dlcc("train", cfg, "--runs-dir", tmp_path / "runs", "--quiet")
    assert result.exit_code == 130 and "no run folder was created" in result.stderr
    assert visible(tmp_path / "runs") == []


# --------------------------------------------------------------------------- case 12: the lock

def test_a_run_that_is_training_cannot_be_resumed_by_another_process(cfg, tmp_path, reference):
    run_dir = trained_with_status(cfg, tmp_path, "running")
    before = {p.name: p.read_bytes() for p in run_dir.iterdir()}
    holder = subprocess.Popen([sys.executable, "-c", "import sys; from dlcc.runs.lock import RunLock; "
                               f"RunLock.acquire({str(run_dir)!r}); print('locked', flush=True); sys.stdin.read()"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        assert holder.stdout.readline() == "locked\n"
        for _ in range(2):  # a resume, and a second one: both refused, nothing touched
            result = dlcc("train", "--resume", run_dir)
            assert result.exit_code == 2, result.output
            assert f"is being trained by process {holder.pid}" in result.stderr
        listed = json.loads(dlcc("runs", tmp_path / "runs", "--json").stdout)
        assert f"process {holder.pid} is training it" in " ".join(listed[0]["notes"])
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
    assert {p.name: p.read_bytes() for p in run_dir.iterdir() if p.name != ".lock"} == before
    # The holder is gone (its lock with it, even though it never released it): resume works.
    assert dlcc("train", "--resume", run_dir, "--quiet").exit_code == 0


def test_two_locks_in_one_process_and_a_stale_lock_file(tmp_path):
    lock = RunLock.acquire(tmp_path)
    with pytest.raises(Exception, match="is being trained by process"):
        RunLock.acquire(tmp_path)
    lock.release()
    assert not (tmp_path / ".lock").exists()
    (tmp_path / ".lock").write_text(f"999999999 {socket.gethostname()}\n")  # left by a dead process
    RunLock.acquire(tmp_path).release()


def test_a_killed_run_is_listed_as_killed_and_stale_tmp_files_go_on_resume(cfg, tmp_path, reference):
    run_dir = trained_with_status(cfg, tmp_path, "running")
    leftovers = [run_dir / ".checkpoint.npz.abc123.tmp", run_dir / ".summary.json.x9.tmp"]
    for path in leftovers:
        path.write_bytes(b"half a file")
    listed = json.loads(dlcc("runs", tmp_path / "runs", "--json").stdout)
    assert "no process is training it" in " ".join(listed[0]["notes"])
    assert dlcc("train", "--resume", run_dir, "--quiet").exit_code == 0
    assert not any(path.exists() for path in leftovers)


def test_an_abandoned_creation_folder_is_ignored_then_removed(cfg, tmp_path):
    runs = tmp_path / "runs"
    dead = runs / f".tiny.x1y2.creating-{socket.gethostname()}-999999999"
    dead.mkdir(parents=True)
    (dead / "config.yaml").write_text("name: tiny\n")
    listed = dlcc("runs", runs, "--json")
    assert listed.exit_code == 0 and json.loads(listed.stdout) == []
    assert dlcc("train", cfg, "--runs-dir", runs, "--quiet").exit_code == 0
    assert not dead.exists() and len(visible(runs)) == 1


def test_resume_without_its_checkpoint_says_it_starts_again(cfg, tmp_path, reference):
    run_dir = trained_with_status(cfg, tmp_path, "interrupted")
    (run_dir / "checkpoint.npz").unlink()
    result = dlcc("train", "--resume", run_dir, "--quiet")
    assert result.exit_code == 0
    assert "note:" in result.stderr and "checkpoint.npz is missing although the run finished 6 epoch(s)" in result.stderr
    assert run_result(run_dir) == reference


# --------------------------------------------------------------------------- case 3: full disk, read-only

def fail_writes(monkeypatch, after: int, times: int | None = None, err=errno.ENOSPC):
    """Make atomic writes fail with `err` after `after` successful ones (`times` times, or for good)."""
    original, calls = atomic.write_with, {"n": 0, "failed": 0}

    def write_with(path, write):
        calls["n"] += 1
        if calls["n"] > after and (times is None or calls["failed"] < times):
            calls["failed"] += 1

            def write(f):  # the bytes do not fit: what a full disk does to the temporary file
                raise OSError(err, os.strerror(err))
        return original(path, write)

    monkeypatch.setattr(atomic, "write_with", write_with)


def test_a_disk_that_fills_up_for_good_mid_run(cfg, tmp_path, monkeypatch):
    fail_writes(monkeypatch, after=6)
    result = dlcc("train", cfg, "--runs-dir", tmp_path / "runs", "--quiet")
    assert result.exit_code == 2, result.output
    assert "No space left on device" in result.stderr and "Traceback" not in result.output
    assert "summary.json could not be updated either" in result.stderr
    (run_dir,) = visible(tmp_path / "runs")
    monkeypatch.undo()
    assert (run_dir / "checkpoint.npz").is_file() and (run_dir / "config.yaml").is_file()
    listed = json.loads(dlcc("runs", tmp_path / "runs", "--json").stdout)
    assert listed[0]["error"] is None and "no process is training it" in " ".join(listed[0]["notes"])
    assert dlcc("train", "--resume", run_dir, "--quiet").exit_code == 0


def test_a_write_that_fails_once_marks_the_run_interrupted_and_resumable(cfg, tmp_path, monkeypatch, reference):
    fail_writes(monkeypatch, after=5, times=1)
    result = dlcc("train", cfg, "--runs-dir", tmp_path / "runs", "--quiet")
    assert result.exit_code == 2 and "No space left on device" in result.stderr
    (run_dir,) = visible(tmp_path / "runs")
    assert status(run_dir) == "interrupted"
    assert f"continue it with:  dlcc train --resume {run_dir}" in result.stderr
    monkeypatch.undo()
    assert dlcc("train", "--resume", run_dir, "--quiet").exit_code == 0
    assert run_result(run_dir) == reference


def test_resume_into_a_read_only_folder_changes_nothing(cfg, tmp_path, monkeypatch):
    run_dir = trained_with_status(cfg, tmp_path, "interrupted")
    before = {p.name: p.read_bytes() for p in run_dir.iterdir()}
    fail_writes(monkeypatch, after=0, err=errno.EROFS)
    result = dlcc("train", "--resume", run_dir)
    assert result.exit_code == 2 and "Read-only file system" in result.stderr and "Traceback" not in result.output
    assert {p.name: p.read_bytes() for p in run_dir.iterdir()} == before


def test_running_out_of_memory_mid_run_marks_the_run_and_says_so(cfg, tmp_path, monkeypatch, reference):
    from dlcc.runs.writer import RunWriter

    original, calls = RunWriter.epoch, {"n": 0}

    def epoch(self, row, state):
        calls["n"] += 1
        if calls["n"] == 4:
            raise MemoryError("Unable to allocate 2.64 GiB for an array")
        return original(self, row, state)

    monkeypatch.setattr(RunWriter, "epoch", epoch)
    result = dlcc("train", cfg, "--runs-dir", tmp_path / "runs", "--quiet")
    assert result.exit_code == 2 and "out of memory during training" in result.stderr, result.output
    (run_dir,) = visible(tmp_path / "runs")
    assert status(run_dir) == "interrupted"
    monkeypatch.undo()
    assert dlcc("train", "--resume", run_dir, "--quiet").exit_code == 0
    assert run_result(run_dir) == reference


def test_the_runs_dir_is_a_file(cfg, tmp_path):
    (tmp_path / "runs").write_text("not a folder")
    result = dlcc("train", cfg, "--runs-dir", tmp_path / "runs", "--quiet")
    assert result.exit_code == 2 and "is a file, not a folder" in result.stderr


@pytest.mark.skipif(sys.platform != "linux" or os.geteuid() != 0, reason="mounting a tmpfs needs root on Linux")
def test_a_real_2_mb_tmpfs_fills_up(tmp_path):
    mount = tmp_path / "small"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=300k", "tmpfs", str(mount)]).returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        big = {**TINY, "data": {"dataset": "spirals", "options": {"points_per_class": 100}},
               "model": {"layers": [{"units": 200, "activation": "relu"}, {"units": 3, "activation": "softmax"}]},
               "training": {"epochs": 300}}
        cfg = tmp_path / "big.yaml"
        cfg.write_text(yaml.safe_dump(big))
        result = dlcc("train", cfg, "--runs-dir", mount / "runs", "--quiet")
        assert result.exit_code == 2 and "No space left on device" in result.stderr, result.output
        (run_dir,) = visible(mount / "runs")
        assert status(run_dir) in ("interrupted", "running")
        assert dlcc("runs", mount / "runs").exit_code == 0
    finally:
        subprocess.run(["umount", str(mount)])


# --------------------------------------------------------------------------- files alike, no symlinks

def test_run_files_follow_the_umask_all_alike(cfg, tmp_path, monkeypatch):
    monkeypatch.setattr(atomic, "_UMASK", None)
    old = os.umask(0o027)
    try:
        assert dlcc("train", cfg, "--runs-dir", tmp_path / "runs", "--quiet").exit_code == 0
    finally:
        os.umask(old)
        atomic._UMASK = None
    (run_dir,) = visible(tmp_path / "runs")
    modes = {p.name: p.stat().st_mode & 0o777 for p in run_dir.iterdir()}
    assert set(modes.values()) == {0o640}, modes
    assert run_dir.stat().st_mode & 0o777 == 0o750


def test_plot_out_replaces_a_symlink_instead_of_writing_through_it(cfg, tmp_path):
    assert dlcc("train", cfg, "--runs-dir", tmp_path / "runs", "--quiet").exit_code == 0
    (run_dir,) = visible(tmp_path / "runs")
    target = tmp_path / "precious.txt"
    target.write_text("keep me")
    (tmp_path / "curves.png").symlink_to(target)
    assert dlcc("plot", run_dir, "--out", tmp_path / "curves.png").exit_code == 0
    assert target.read_text() == "keep me"
    assert not (tmp_path / "curves.png").is_symlink() and (tmp_path / "curves.png").read_bytes()[:4] == b"\x89PNG"


def test_remove_stale_tmp_only_touches_tmp_files(tmp_path):
    (tmp_path / ".metrics.csv.q.tmp").write_text("x")
    (tmp_path / "metrics.csv").write_text("epoch\n")
    assert [p.name for p in lifecycle.remove_stale_tmp(tmp_path)] == [".metrics.csv.q.tmp"]
    assert (tmp_path / "metrics.csv").exists()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_while_the_data_loads_stops_at_once(cfg, tmp_path, monkeypatch, sig):
    """Loading the data (a download, a large dataset) can take minutes; a signal then stopped
    nothing until the first batch had been trained. Now it stops before the networks are built."""
    from dlcc import build

    built = []
    signal_during(monkeypatch, build, "prepare", sig)
    monkeypatch.setattr(build, "build_members", lambda *a, **k: built.append(1) or [])
    result = dlcc("train", cfg, "--runs-dir", tmp_path / "runs", "--quiet")
    assert result.exit_code == 130 and "no run folder was created" in result.stderr
    assert built == [] and visible(tmp_path / "runs") == []


def test_a_signal_while_a_resumed_run_loads_leaves_it_unchanged(cfg, tmp_path, monkeypatch, reference):
    from dlcc import build

    run_dir = trained_with_status(cfg, tmp_path, "interrupted")
    before = {p.name: p.read_bytes() for p in run_dir.iterdir()}
    built = []
    signal_during(monkeypatch, build, "prepare", signal.SIGTERM)
    monkeypatch.setattr(build, "build_members", lambda *a, **k: built.append(1) or [])
    result = dlcc("train", "--resume", run_dir, "--quiet")
    assert result.exit_code == 130 and "is unchanged" in result.stderr, result.output
    assert built == [] and {p.name: p.read_bytes() for p in run_dir.iterdir()} == before
    monkeypatch.undo()
    assert dlcc("train", "--resume", run_dir, "--quiet").exit_code == 0
    assert run_result(run_dir) == reference
