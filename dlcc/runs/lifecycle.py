"""A run folder's life cycle, written once: how it comes into being, who may train it, and what
is swept up when a run continues after a crash.

    run_dir, lock = new_run_folder(runs_dir, name, stamp, files)   # all of `files`, or no folder
    lock = open_run_folder(run_dir)                                  # resume: the lock, then tidy up

Birth. The files a run starts with (config.yaml, a `running` summary.json, metrics.csv's header)
are written into a hidden temporary folder `RUNS_DIR/.<name>.<random>.creating-<host>-<pid>`, which is
then renamed into place: a folder named like a run always holds all three, whenever the process
is killed. rename() is atomic and refuses a target that holds anything, so two processes never get
the same folder and nothing is overwritten.
A temporary folder whose process (on this host) is gone is removed by the next run created in RUNS_DIR.

Ownership. The run's lock (lock.py) is taken inside the temporary folder, before the rename, and
held until training has written its last file; resuming takes it before reading anything.

Crash debris. An atomic write killed midway leaves a hidden `.<file>.<random>.tmp` beside its
target; resuming removes them (the lock guarantees no other process is writing them).
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import socket
import tempfile
from pathlib import Path

from dlcc import atomic
from dlcc.errors import RunError, WriteFailed
from dlcc.runs import folder
from dlcc.runs.lock import RunLock, alive

_CREATING = re.compile(r"^\..+\.creating-(.+)-(\d+)$")


def new_run_folder(runs_dir: Path, name: str, stamp: bool, files: dict[str, bytes]) -> tuple[Path, RunLock]:
    """A new run folder holding `files` (name -> bytes), and its lock; see the module doc."""
    runs_dir = Path(runs_dir)
    if runs_dir.exists() and not runs_dir.is_dir():
        raise RunError(f"{runs_dir}: is a file, not a folder; give --runs-dir a folder (made if missing)")
    try:
        runs_dir.mkdir(parents=True, exist_ok=True)
        _sweep_abandoned(runs_dir)
        tmp = Path(tempfile.mkdtemp(dir=runs_dir, prefix=f".{name}.",
                                    suffix=f".creating-{socket.gethostname()}-{os.getpid()}"))
        os.chmod(tmp, atomic.dir_mode())  # mkdtemp makes a private folder; a run folder is not
    except OSError as exc:
        raise WriteFailed(f"{runs_dir}: cannot create a run folder there: {atomic.reason(exc)}") from None
    lock = None
    try:
        lock = RunLock.acquire(tmp)
        for file_name, data in files.items():
            atomic.write_bytes(tmp / file_name, data)
        run_dir = _move_into_place(tmp, runs_dir, name, stamp)
        lock.moved(run_dir)
        _sync_folder(runs_dir)
        return run_dir, lock
    except BaseException:
        if lock is not None:
            lock.release()
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _move_into_place(tmp: Path, runs_dir: Path, name: str, stamp: bool) -> Path:
    """Rename the complete temporary folder to the first free run-folder name. rename() is atomic
    and fails when the target is a folder with anything in it, so two processes never get the
    same name and no run folder (nor any file) is ever overwritten; only an empty folder of that
    exact name would be replaced."""
    for run_dir in folder.candidate_names(runs_dir, name) if stamp else [runs_dir / name]:
        try:
            os.rename(tmp, run_dir)
            return run_dir
        except OSError as exc:
            if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY, errno.ENOTDIR, errno.EISDIR, errno.EACCES) \
                    or not os.path.lexists(run_dir):
                raise WriteFailed(f"{run_dir}: cannot move the new run folder into place: {atomic.reason(exc)}") from None
    if not stamp:
        raise RunError(f"{runs_dir / name}: exists already; a run folder is never overwritten")
    raise RunError(f"{runs_dir}: too many run folders named {name}-<this second>-*")


def open_run_folder(run_dir: Path) -> RunLock:
    """The lock of an existing run folder (RunError if another process holds it), with the
    leftovers of writes a killed process never finished removed."""
    lock = RunLock.acquire(run_dir)
    remove_stale_tmp(run_dir)
    return lock


def remove_stale_tmp(run_dir: Path) -> list[Path]:
    """Delete the temporary files of interrupted atomic writes in the run folder (and its
    snapshots/ folder); call only while holding the run's lock."""
    removed = []
    for where in (Path(run_dir), Path(run_dir) / "snapshots"):
        if not where.is_dir():
            continue
        for path in where.glob(".*.tmp"):
            try:
                path.unlink()
                removed.append(path)
            except OSError:
                pass
    return removed


def _sweep_abandoned(runs_dir: Path) -> None:
    """Remove the temporary folders of run creations whose process is gone."""
    try:
        entries = list(os.scandir(runs_dir))
    except OSError:
        return
    for entry in entries:
        match = _CREATING.match(entry.name)
        if (match and match[1] == socket.gethostname() and int(match[2]) != os.getpid()
                and entry.is_dir(follow_symlinks=False) and not alive(int(match[2]))):
            shutil.rmtree(entry.path, ignore_errors=True)


def _sync_folder(path: Path) -> None:
    """fsync a folder, so the rename that created a run folder survives a power cut (POSIX)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
