"""One writer at a time per dataset folder, and no writer while another process reads the files.

    with writing(folder, "importing"):   # `dlcc data import`, `dlcc data download`
        ...                              # write the four files, remove the other format's
    with reading(folder):                # training: find the four files, verify and read them
        ...

Why: an import writes each file and then removes the same file under the other name (name vs
name.gz), so the verified copy is the one loaded. Two imports at once (one of .gz files, one of
unpacked copies) could each remove the other's files and leave no complete set, and a reader
could pick a file that an import removes before it is opened. So a writer holds an exclusive lock
for the whole install, and a reader a shared one while it finds and reads the files; readers
share it with each other, not with a writer. Either waits for the other; after a second of
waiting it says for which process (a dlcc.errors.Note), and Ctrl-C stops the wait with nothing
changed.

The lock is an advisory `flock` on FOLDER/.lock, as for a run folder (dlcc/runs/lock.py): the
kernel drops it when its process ends, even by SIGKILL, so a lock left behind never blocks: the
next process simply takes it. A writer writes "pid host doing" into the file for the waiters, and
removes the file when done, while still holding it; whoever then gets the lock of a removed file
sees that it is no longer the file at that name and tries again. A reader never creates the file
in a folder whose mode says read-only (a shared copy of the datasets, which nobody imports into),
and where flock is missing (Windows) or refused (some network file systems) nothing is locked.

A thread that reads a folder and finds files missing may download them (download.fetch_missing):
its writing() then lets go of the shared lock, takes the exclusive one, and takes the shared one
again after.
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
import stat
import threading
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

from dlcc.data.cache import make_folder, remove_empty, writable
from dlcc.errors import DataError, Note

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None

LOCK = ".lock"
NOTE_AFTER = 1.0  # seconds of waiting before a note says whom for
POLL = 0.05  # seconds between two attempts to take the lock


@dataclass
class _Held:
    fd: int | None  # None: the folder could not be locked (absent, read-only, no flock)
    exclusive: bool


_local = threading.local()  # .held: lock path -> _Held, the locks this thread holds


def _held() -> dict[Path, _Held]:
    if not hasattr(_local, "held"):
        _local.held = {}
    return _local.held


@contextlib.contextmanager
def reading(folder: Path):
    """Hold FOLDER's shared lock while the block runs (nothing when the folder does not exist);
    inside a block that holds it already (this thread), nothing more."""
    path = Path(folder) / LOCK
    if path in _held():  # already held by this thread
        yield
        return
    entry = _Held(_take_shared(Path(folder)), exclusive=False)
    _held()[path] = entry
    try:
        yield
    finally:
        del _held()[path]
        _let_go(path, entry.fd, exclusive=False)


@contextlib.contextmanager
def writing(folder: Path, doing: str):
    """Create FOLDER if needed and hold its exclusive lock while the block runs; then remove the
    lock file, and the folders created here if the block left them empty (a failed install).
    doing: what the waiters are told this process is doing ("importing", "downloading")."""
    folder = Path(folder)
    path = folder / LOCK
    outer = _held().get(path)  # this thread's lock on the folder, if it holds one
    if outer is not None and outer.exclusive:
        yield
        return
    if outer is not None:  # this thread reads the folder: let go, so that we can write
        _let_go(path, outer.fd, exclusive=False)
        outer.fd = None
    created: list[Path] = []
    fd = None
    try:
        fd = _take(folder, exclusive=True, created=created)
        if fd is not None:
            with contextlib.suppress(OSError):  # only for the waiters' message
                os.ftruncate(fd, 0)
                os.write(fd, f"{os.getpid()} {socket.gethostname()} {doing}\n".encode())
        _held()[path] = _Held(fd, exclusive=True)
        yield
    finally:
        _held().pop(path, None)
        _let_go(path, fd, exclusive=True)
        remove_empty(sorted(set(created), key=lambda p: len(p.parts), reverse=True))
        if outer is not None:  # back to reading, now that the files are there
            _held()[path] = outer
            outer.fd = _take_shared(folder)


def _take_shared(folder: Path) -> int | None:
    """The shared lock of an existing folder; None where a reader cannot lock (see the top)."""
    if not folder.is_dir():
        return None
    return _take(folder, exclusive=False, created=None)


def _take(folder: Path, exclusive: bool, created: list[Path] | None) -> int | None:
    """A descriptor of FOLDER/.lock locked shared or exclusive, waiting as long as it takes.

    created: a writer's list of the folders it made (the folder is made again if the previous
    holder removed it, empty, in the meantime); None for a reader, who never makes the folder."""
    path = folder / LOCK
    started, noted = time.monotonic(), False
    for _ in range(1000):  # retried when the file was removed or replaced by its holder
        if created is not None:
            created.extend(make_folder(folder))
        try:
            fd = _open(path, create=created is not None or _may_write(folder), write=created is not None)
        except FileNotFoundError:  # the folder is gone (a writer makes it again), or a reader's file
            if created is None:
                return None
            continue
        if fd is None:
            return None
        try:
            while not _try_lock(fd, exclusive):
                if not noted and time.monotonic() - started > NOTE_AFTER:
                    warnings.warn(_waiting_for(folder, fd), Note, stacklevel=4)
                    noted = True
                time.sleep(POLL)
        except BaseException as exc:  # Ctrl-C while waiting, or a file system that cannot lock
            os.close(fd)
            if isinstance(exc, _CannotLock):
                return None  # go on unlocked, as before locks existed
            raise
        try:
            same = os.fstat(fd).st_ino == os.stat(path, follow_symlinks=False).st_ino
        except FileNotFoundError:
            same = False
        if same:
            return fd
        os.close(fd)  # its holder removed the file while we waited: lock the one there now
    raise DataError(f"{path}: cannot take the lock (the file keeps changing); run the command again")


class _CannotLock(Exception):
    """flock failed for another reason than a holder (ENOLCK on some network file systems)."""


def _try_lock(fd: int, exclusive: bool) -> bool:
    """Take the lock if no one holds it in a conflicting way; False if someone does."""
    try:
        fcntl.flock(fd, (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB)
        return True
    except OSError as exc:
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            return False
        raise _CannotLock() from None


def _open(path: Path, create: bool, write: bool = False) -> int | None:
    """os.open of the lock file itself, never through a symlink nor of a FIFO or device (as for a
    run folder's lock); None when there is nothing to lock: no flock, or no file and create is
    False. FileNotFoundError when the folder is gone. A writer that cannot create the file cannot
    write the dataset either: a DataError.

    write: open it for writing (a writer's note for the waiters), where we may. flock needs no
    write access, so a lock file another user made (mode 644, in a shared folder) is opened
    read-only: locked all the same, just without the note."""
    if fcntl is None:
        return None
    flags = (os.O_RDWR if write else os.O_RDONLY) | (os.O_CREAT if create else 0)
    try:
        fd = os.open(path, flags | getattr(os, "O_NOFOLLOW", 0) | os.O_NONBLOCK, 0o666)
    except OSError as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        if write and exc.errno in (errno.EACCES, errno.EPERM) and path.is_file():
            return _open(path, create=False)  # another user's lock file
        if exc.errno == errno.ELOOP:
            raise DataError(f"{path}: a symbolic link, not the lock file dlcc makes; remove it") from None
        if exc.errno == errno.EISDIR:
            raise DataError(f"{path}: a folder, not the lock file dlcc makes; remove it") from None
        if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS) and not create:
            return None  # read-only for us: no one imports here
        raise DataError(f"cannot write into {path.parent} ({exc.strerror or exc}); "
                        "set DLCC_DATA_DIR to a writable folder") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise DataError(f"{path}: not a regular file, not the lock file dlcc makes; remove it")
    return fd


def _let_go(path: Path, fd: int | None, exclusive: bool) -> None:
    """Release the lock and close the file; remove the file first if no one else holds it (a
    writer always; a reader when it can turn its lock exclusive without waiting)."""
    if fd is None:
        return
    try:
        if not exclusive and not _may_write(path.parent):
            return  # a read-only folder is left as it is
        if not exclusive:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # fails while other readers hold it
        if os.fstat(fd).st_ino == os.stat(path, follow_symlinks=False).st_ino:
            path.unlink()
    except OSError:
        pass  # others hold it, or the folder is read-only: the lock goes with the descriptor
    finally:
        os.close(fd)


def _may_write(folder: Path) -> bool:
    try:
        return writable(folder)
    except OSError:
        return False


def _waiting_for(folder: Path, fd: int) -> str:
    """Who holds the lock we wait for, and what to do: a writer is named by its pid."""
    try:  # readers share the lock; if we can share it, the holders are readers
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return f"{folder.name}: waiting for another dlcc process to finish reading {folder}"
    except OSError:
        pass
    try:
        pid, host, doing = os.pread(fd, 200, 0).decode(errors="replace").strip().split(maxsplit=2)
        pid = int(pid)
    except (OSError, ValueError):
        return f"{folder.name}: waiting for another dlcc process that is writing into {folder}"
    where = "" if host == socket.gethostname() else f" on {host}"
    return (f"{folder.name}: waiting for process {pid}{where}, which is {doing} it into {folder}; "
            f"if that process is stuck, stop it (kill {pid}) and this command goes on")
