"""Run folders: create them without ever overwriting one, and write their files atomically.

    RUNS_DIR/<name>-<YYYYMMDD-HHMMSS>[-2, -3, ...]/
        config.yaml  metrics.csv  summary.json  model.npz

Every whole-file write goes to a temporary file in the same folder, is flushed and fsynced, then
renamed over the target, so a crash never leaves a half-written summary.json or model.npz.
metrics.csv is appended and flushed once per finished epoch.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from dlcc.errors import RunError


def create_run_dir(runs_dir: Path, name: str) -> Path:
    """Make a fresh run folder; os.mkdir is atomic, so two processes never get the same one."""
    runs_dir = Path(runs_dir)
    try:
        runs_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RunError(f"{runs_dir}: cannot create the runs directory: {exc.strerror or exc}") from None
    stem = f"{name}-{time.strftime('%Y%m%d-%H%M%S')}"
    for k in range(1, 10_000):
        path = runs_dir / (stem if k == 1 else f"{stem}-{k}")
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
        except OSError as exc:
            raise RunError(f"{path}: cannot create the run folder: {exc.strerror or exc}") from None
    raise RunError(f"{runs_dir}: too many run folders named {stem}-*")


def write_atomic(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text(path: Path, text: str) -> None:
    write_atomic(path, text.encode("utf-8"))


def write_json(path: Path, data: dict) -> None:
    write_text(path, dumps(data) + "\n")


def dumps(data) -> str:
    """JSON text as run folders and `--json` write it: indented, NaN/inf as null."""
    return json.dumps(_jsonable(data), indent=2)


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    write_atomic(path, buf.getvalue())


def read_json(path: Path) -> dict:
    """A JSON object from a run folder; missing, truncated or hand-mangled files are RunErrors."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RunError(f"{path}: missing; is {Path(path).parent} a dlcc run folder?") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RunError(f"{path}: unreadable or not valid JSON ({exc}); was it truncated or edited?") from None
    if not isinstance(data, dict):
        raise RunError(f"{path}: expected a JSON object, found {type(data).__name__}")
    return data


def metrics_text(columns: list[str], rows: list[dict]) -> str:
    """The whole metrics.csv for these rows, exactly as MetricsWriter would have written it."""
    buf = io.StringIO(newline="")
    writer = csv.writer(buf)
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row.get(c)) for c in columns])
    return buf.getvalue()


def _jsonable(value):
    """NaN/inf are not JSON: write them as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return _jsonable(value.item())
    return value


class MetricsWriter:
    """metrics.csv: a header, then one row per finished epoch, flushed to disk each time."""

    def __init__(self, path: Path, columns: list[str]):
        self.columns = columns
        self.file = open(path, "a", newline="", encoding="utf-8")
        self.writer = csv.writer(self.file)
        if self.file.tell() == 0:
            self.writer.writerow(columns)
            self.sync()

    def write(self, row: dict) -> None:
        """Append one row and flush it to the OS (readers see it at once; see sync)."""
        self.writer.writerow([_cell(row.get(c)) for c in self.columns])
        self.file.flush()

    def sync(self) -> None:
        """fsync: make the rows so far survive a power cut (done with each checkpoint)."""
        if self.file.closed:
            return
        self.file.flush()
        os.fsync(self.file.fileno())

    def close(self) -> None:
        self.sync()
        self.file.close()


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)  # shortest exact round trip: reruns can be compared bit for bit
    return str(value)
