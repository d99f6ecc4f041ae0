"""Files in and out: the one way dlcc replaces a file (run folders and the dataset cache alike),
and the one way it reads a small file it did not necessarily write.

    write to a temporary file in the target's folder -> flush -> fsync -> rename over the target

A reader (or a crash, or a full disk) sees the old file or the complete new one, never a partial
file: os.replace is atomic within one filesystem, and the fsync before it makes sure the bytes are
on disk before the name points at them. Renaming replaces a symlink at the target instead of
writing through it, so an output never lands in a file the link points to. New files get the
permissions the user's umask gives (0644 with the usual 022), all alike. A failed write removes
its temporary file and raises WriteFailed (exit code 2) naming the path and the reason.

`read_bounded` reads a regular file of at most `limit` bytes: a FIFO, a device (/dev/zero) or a
file too large to be what dlcc expects there is refused before it is read.
"""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from dlcc.errors import WriteFailed

_UMASK: int | None = None


def umask() -> int:
    """The process's umask (read once; Linux shows it in /proc, elsewhere set-and-restore)."""
    global _UMASK
    if _UMASK is None:
        try:
            line = next(li for li in Path("/proc/self/status").read_text().splitlines() if li.startswith("Umask:"))
            _UMASK = int(line.split()[1], 8)
        except (OSError, StopIteration, ValueError, IndexError):
            _UMASK = os.umask(0o022)
            os.umask(_UMASK)
    return _UMASK


def file_mode() -> int:
    return 0o666 & ~umask()


def dir_mode() -> int:
    return 0o777 & ~umask()


def reason(exc: OSError) -> str:
    """An OSError in words: 'No space left on device', 'Permission denied', ... Where a folder is
    needed and a file or a broken link has its name (the system says 'File exists' or 'Not a
    directory'), names that file instead."""
    if isinstance(exc, (FileExistsError, NotADirectoryError)) and isinstance(exc.filename, (str, os.PathLike)):
        path = Path(exc.filename)
        blocker = next((p for p in (path, *path.parents) if os.path.lexists(p) and not os.path.isdir(p)), None)
        if blocker is not None:
            return f"{blocker} is {'a broken link' if os.path.islink(blocker) else 'a file'}, not a folder"
    return exc.strerror or str(exc) or type(exc).__name__


def write_with(path: Path, write: Callable[[BinaryIO], object]) -> None:
    """Call write(file) on a temporary file beside `path`, then move it into place.

    Only a regular file (or a symlink, which is replaced) is ever replaced: renaming over a name
    that shows a device, a FIFO or a folder (`--out /dev/null`, `--out /dev/stdout`, a link to a
    folder) would swap the system's node for a plain file, so that is refused, nothing written."""
    path = Path(path)
    try:
        shown = os.stat(path)  # follows a symlink: what the user sees at that name
    except OSError:  # missing, a dangling link or one the system refuses: mkstemp tells
        shown = None
    if shown is not None and not stat.S_ISREG(shown.st_mode):
        kind = "a folder" if stat.S_ISDIR(shown.st_mode) else "not a regular file (a device, pipe or socket)"
        raise WriteFailed(f"{path}: cannot write it: {kind}; give the path of a file")
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise WriteFailed(f"{path}: cannot write it: {reason(exc)}") from None
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, file_mode())  # mkstemp makes files private; a run folder or cache is not
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError) and not isinstance(exc, WriteFailed):
            raise WriteFailed(f"{path}: cannot write it: {reason(exc)}") from None
        raise


def write_bytes(path: Path, data: bytes) -> None:
    write_with(path, lambda f: f.write(data))


def write_text(path: Path, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


class TooLarge(ValueError):
    """read_bounded: the file is larger than the limit."""


class NotRegular(ValueError):
    """read_bounded: the path is a FIFO, a device, a socket or a folder."""


def read_bounded(path: Path, limit: int) -> bytes:
    """The bytes of the regular file at `path`, at most `limit` of them.

    Raises FileNotFoundError / OSError as open() does, NotRegular for anything but a regular
    file (opened without blocking, so a FIFO never hangs), TooLarge beyond `limit` bytes.
    """
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            kind = "a folder" if stat.S_ISDIR(info.st_mode) else "not a regular file (a pipe, device or socket)"
            raise NotRegular(kind)
        if info.st_size > limit:
            raise TooLarge(f"{info.st_size:,} bytes, more than the {limit:,} allowed")
        chunks, size = [], 0
        while chunk := os.read(fd, min(1 << 20, limit + 1 - size)):
            chunks.append(chunk)
            size += len(chunk)
            if size > limit:
                raise TooLarge(f"more than the {limit:,} bytes allowed")
        return b"".join(chunks)
    finally:
        os.close(fd)
