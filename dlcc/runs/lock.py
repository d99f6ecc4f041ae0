"""One process at a time per run folder: RUN_DIR/.lock, held while a run trains.

    lock = RunLock.acquire(run_dir)     # RunError (exit 2) if another process trains it
    ...                                 # train, resume, write the run's files
    lock.release()                      # also when the process dies: the OS drops it

The lock is an advisory `flock` on RUN_DIR/.lock, so a process that is killed (even by SIGKILL)
releases it at once: a stale lock cannot exist. The file holds the owner's pid and host, which
the refusal names. Where flock is not available (Windows), the file is created exclusively and
a lock whose pid is no longer alive on this host is stale and taken over.

`owner(run_dir)` tells whether a process holds it: `dlcc runs` and `dlcc eval` use it to tell a
run that is still training from one that was killed while its status said `running`.
"""

from __future__ import annotations

import errno
import os
import socket
import stat
from pathlib import Path

from dlcc.errors import RunError

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None

LOCK = ".lock"


class RunLock:
    def __init__(self, path: Path, fd: int):
        self.path, self.fd = path, fd

    @classmethod
    def acquire(cls, run_dir: Path) -> RunLock:
        """Take the run folder's lock, or raise RunError naming the process that holds it."""
        path = Path(run_dir) / LOCK
        for _ in range(100):  # retried only when the file was replaced between open and lock
            try:
                fd = _open(path)
            except OSError as exc:
                raise RunError(f"{path}: cannot create the lock file: {exc.strerror or exc}") from None
            if fd is None:
                raise _busy(run_dir, _read_owner(path))
            if fcntl is None:
                return cls._owned(path, fd)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                os.close(fd)
                if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    raise _busy(run_dir, _read_owner(path)) from None
                raise RunError(f"{path}: cannot lock it: {exc.strerror or exc}") from None
            try:
                same = os.fstat(fd).st_ino == os.stat(path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                return cls._owned(path, fd)
            os.close(fd)  # the holder released and removed it while we waited: try the new file
        raise RunError(f"{path}: cannot take the lock (it keeps changing)")

    @classmethod
    def _owned(cls, path: Path, fd: int) -> RunLock:
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()} {socket.gethostname()}\n".encode())
        return cls(path, fd)

    def moved(self, run_dir: Path) -> None:
        """The folder was renamed (a new run folder moved into place): the lock moved with it."""
        self.path = Path(run_dir) / LOCK

    def release(self) -> None:
        if self.fd is None:
            return
        try:
            self.path.unlink(missing_ok=True)  # while still holding it, so no one locks a dead file
        except OSError:
            pass  # a read-only folder: the lock goes with the descriptor anyway
        os.close(self.fd)
        self.fd = None


def owner(run_dir: Path) -> int | None:
    """The pid of the process that holds the run folder's lock, or None when none does."""
    path = Path(run_dir) / LOCK
    if fcntl is None:
        pid = _read_owner(path)[0]
        return pid if pid is not None and alive(pid) else None
    try:
        fd = _open_file(path, os.O_RDONLY)
    except (OSError, RunError):  # none there, or not a lock dlcc made: no process holds it
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    except OSError:
        return _read_owner(path)[0] or -1
    finally:
        os.close(fd)


def _open(path: Path) -> int | None:
    """A descriptor of the lock file (flock), or of a newly created one (no flock); None: taken."""
    if fcntl is not None:
        return _open_file(path, os.O_RDWR | os.O_CREAT)
    for _ in range(2):
        try:
            return _open_file(path, os.O_RDWR | os.O_CREAT | os.O_EXCL)
        except FileExistsError:
            pid, host = _read_owner(path)
            if pid is not None and (host != socket.gethostname() or alive(pid)):
                return None
            path.unlink(missing_ok=True)  # stale: its process is gone
    return None


def _open_file(path: Path, flags: int) -> int:
    """os.open of the lock file itself, never of what a `.lock` symlink points to (the pid written
    into it would overwrite that file, or create one there) and never of a FIFO or device (whose
    open blocks, or which cannot hold a pid): anything but a regular file there is a RunError."""
    try:
        fd = os.open(path, flags | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0), 0o666)
    except OSError as exc:
        if exc.errno != errno.ELOOP:
            raise
        raise RunError(f"{path}: a symbolic link, not the lock file dlcc makes; remove it") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise RunError(f"{path}: not a regular file, not the lock file dlcc makes; remove it")
    return fd


def _read_owner(path: Path) -> tuple[int | None, str | None]:
    try:
        pid, _, host = path.read_text(encoding="utf-8", errors="replace").strip().partition(" ")
        return int(pid), host or None
    except (OSError, ValueError):
        return None, None


def alive(pid: int) -> bool:
    """Whether a process with this pid exists on this host (a zombie, killed but not yet reaped
    by its parent, does not count)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # it exists, owned by someone else
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True  # no /proc (macOS): as kill said


def _busy(run_dir: Path, who: tuple) -> RunError:
    pid, host = who
    by = f"process {pid}" + (f" on {host}" if host and host != socket.gethostname() else "") if pid else "another process"
    return RunError(f"{run_dir}: is being trained by {by} right now (it holds {Path(run_dir) / LOCK}); "
                    "wait for it to finish, or stop it (Ctrl-C) and resume then")
