"""Where datasets live, and the fast .npy cache of verified files.

The .npy cache sits next to the files it was made from, with a sidecar `npy-cache.json` that
records, for each source file, its name, size, modification time and verified SHA-256, and for
each cached array the SHA-256 and size of its .npy file. The cache is used only while every source
file still has that name, size and time, the recorded source digest is still the expected one, and
every .npy file still hashes to its recorded digest (checked on each load: about 0.1 s for MNIST,
next to seconds of training). Otherwise, a damaged .npy file included, the sources are verified and
parsed again and the cache rewritten: a damaged cache is never used.

Caching is a speed-up only: when the folder is not writable, nothing is cached. Each file is
written atomically (dlcc.atomic); the sidecar is removed before the arrays are rewritten and
written after them, so a cache is valid only when complete, and a write that fails (a full disk)
removes what it wrote instead of leaving large .npy files behind.
"""

import hashlib
import io
import json
import os
import stat
from pathlib import Path

import numpy as np
import platformdirs

from dlcc.atomic import read_bounded, write_bytes, write_text
from dlcc.errors import DataError

SIDECAR = "npy-cache.json"
SIDECAR_BYTES = 1 << 20  # dlcc writes about 1.5 KB there


def cache_dir() -> Path:
    """$DLCC_DATA_DIR if set, else the platform's per-user cache folder for dlcc (not created here).

    platformdirs knows each platform's rule: $XDG_CACHE_HOME/dlcc or ~/.cache/dlcc on Linux,
    ~/Library/Caches/dlcc on macOS, %LOCALAPPDATA%\\dlcc\\Cache on Windows.
    """
    if os.environ.get("DLCC_DATA_DIR"):
        return Path(os.environ["DLCC_DATA_DIR"]).expanduser()
    return Path(platformdirs.user_cache_dir("dlcc", appauthor=False))


def make_folder(folder: Path) -> list[Path]:
    """Create folder (and parents); return the ones created, deepest first."""
    created = [path for path in (folder, *folder.parents) if not path.exists()]
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise DataError(
            f"cannot create {folder} ({error}); set DLCC_DATA_DIR to a writable folder"
        ) from None
    return created


def remove_empty(created: list[Path]) -> None:
    """Remove the folders make_folder created, if they are still empty (deepest first)."""
    for path in created:
        try:
            path.rmdir()
        except OSError:
            return


def writable(folder: Path) -> bool:
    """Whether we may write in folder. Its mode bits count even for root, who could write
    anyway: a folder marked read-only (a shared copy of the datasets, say) is left alone."""
    return os.access(folder, os.W_OK) and bool(folder.stat().st_mode & stat.S_IWUSR)


def stamp(path: Path, sha256: str) -> dict:
    """What the sidecar records about one source file."""
    status = path.stat()
    return {
        "file": path.name,
        "size": status.st_size,
        "mtime_ns": status.st_mtime_ns,
        "sha256": sha256,
    }


def read_cache(folder: Path, sources: dict[str, tuple[Path, str]]) -> dict[str, np.ndarray] | None:
    """The cached arrays, or None when the cache is absent, unreadable, stale or damaged.

    sources: array name -> (the source file, its expected SHA-256). Each file is read with
    read_bounded, up to the size recorded for it: a FIFO in its place would block the load forever,
    and a device or a link to one (/dev/zero) would fill the memory.
    """
    try:
        recorded = json.loads(read_bounded(folder / SIDECAR, SIDECAR_BYTES))
        if recorded.get("sources") != {key: stamp(path, digest) for key, (path, digest) in sources.items()}:
            return None
        arrays = {}
        for key in sources:
            data = read_bounded(folder / f"{key}.npy", recorded["arrays"][key]["size"])
            if hashlib.sha256(data).hexdigest() != recorded["arrays"][key]["sha256"]:
                return None  # damaged since it was written: rebuilt from the verified sources
            arrays[key] = np.load(io.BytesIO(data), allow_pickle=False)
        return arrays
    except (OSError, ValueError, EOFError, KeyError, TypeError, AttributeError):
        return None


def write_cache(
    folder: Path, arrays: dict[str, np.ndarray], sources: dict[str, tuple[Path, str]]
) -> None:
    """Save each array as folder/<name>.npy, then the sidecar with their digests; silently skip if
    the folder is not writable, and clean up after a write that fails."""
    if not writable(folder):
        return
    written = []
    try:
        (folder / SIDECAR).unlink(missing_ok=True)  # the old cache is invalid from here on
        digests = {}
        for key, array in arrays.items():
            buf = io.BytesIO()
            np.save(buf, array)
            data = buf.getvalue()
            written.append(folder / f"{key}.npy")
            write_bytes(written[-1], data)
            digests[key] = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
        sidecar = {"sources": {key: stamp(path, digest) for key, (path, digest) in sources.items()},
                   "arrays": digests}
        write_text(folder / SIDECAR, json.dumps(sidecar, indent=1))
    except BaseException as error:  # a failed write, or Ctrl-C: leave no half a cache behind
        for path in [*written, folder / SIDECAR]:
            try:
                path.unlink(missing_ok=True)
            except OSError:
                pass
        if not isinstance(error, OSError):
            raise


def remove_leftovers(folder: Path, names) -> None:
    """Remove the temporary files a process killed while writing into folder left behind (up to
    47 MB each): .<file>.<random>.tmp (dlcc.atomic, the .npy cache too) and .<file>.gz.<random>.part
    (a download), for the dataset's file names. Only under the folder's exclusive lock
    (dlcc.data.lock.writing), when no other process writes there. Best effort: errors are ignored."""
    prefixes = tuple(f".{name}." for name in (*names, SIDECAR))
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                if (entry.name.startswith(prefixes) and entry.name.endswith((".tmp", ".part"))
                        and entry.is_file(follow_symlinks=False)):
                    os.unlink(entry.path)
    except OSError:
        pass
