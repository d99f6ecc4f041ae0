"""The run folder's format, in one place: file names, summary.json, metrics.csv, model.npz and
checkpoint.npz, each written and read by the code here (SPEC.md, "Run folder").

    RUNS_DIR/<name>-<YYYYMMDD-HHMMSS>[-2, -3, ...]/
        config.yaml     the fully resolved config (written first)
        metrics.csv     header + one row per finished epoch, flushed each epoch (metrics_csv.py)
        summary.json    a `Summary`
        model.npz       W1, b1, ... (one network) or m1.W1, m1.b1, ... (ensemble members), and
                        norm_shift, norm_scale when the config normalizes its inputs,
                        target_shift, target_scale when regression targets were standardized
        checkpoint.npz  m<i>.param.<name>, m<i>.opt.<name>, m<i>.sched.<name>, m<i>.best.<name>
                        (member i = 1.. ; best only when early stopping restores the best epoch),
                        info (JSON text: metrics rows, best epoch, early-stopping and Generator
                        state) and config_sha256 (the config.yaml it belongs to)

Whole files are replaced atomically (dlcc.atomic); metrics.csv is appended row by row.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import math
import os
import stat
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dlcc import atomic
from dlcc.data.files import plain_arrays
from dlcc.errors import RunDamaged, RunError
from dlcc.runs import validate

CONFIG, METRICS, SUMMARY, MODEL, CHECKPOINT, EVAL = (
    "config.yaml", "metrics.csv", "summary.json", "model.npz", "checkpoint.npz", "eval.json")
STATUSES = ("running", "completed", "early_stopped", "diverged", "interrupted")
FINISHED = ("completed", "early_stopped")
NORM_KEYS = ("norm_shift", "norm_scale")
TARGET_KEYS = ("target_shift", "target_scale")


def create_run_dir(runs_dir: Path, name: str, stamp: bool = True) -> Path:
    """Make a fresh run folder; os.mkdir is atomic, so two processes never get the same one.

    stamp=False: exactly runs_dir/name (a sweep's runs), an error if it exists already.
    """
    runs_dir = Path(runs_dir)
    try:
        runs_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RunError(f"{runs_dir}: cannot create the runs directory: {exc.strerror or exc}") from None
    if not stamp:
        try:
            (runs_dir / name).mkdir()
        except FileExistsError:
            raise RunError(f"{runs_dir / name}: exists already; a run folder is never overwritten") from None
        except OSError as exc:
            raise RunError(f"{runs_dir / name}: cannot create the run folder: {exc.strerror or exc}") from None
        return runs_dir / name
    for path in candidate_names(runs_dir, name):
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
        except OSError as exc:
            raise RunError(f"{path}: cannot create the run folder: {exc.strerror or exc}") from None
    raise RunError(f"{runs_dir}: too many run folders named {name}-<this second>-*")


def candidate_names(runs_dir: Path, name: str):
    """RUNS_DIR/<name>-<YYYYMMDD-HHMMSS>, then the same with -2, -3, ... appended."""
    stem = f"{name}-{time.strftime('%Y%m%d-%H%M%S')}"
    for k in range(1, 10_000):
        yield Path(runs_dir) / (stem if k == 1 else f"{stem}-{k}")


# --------------------------------------------------------------------------- summary.json

@dataclass(frozen=True)
class Summary:
    """summary.json: what a run is and how it ended. Changed only by `dataclasses.replace`.

    best is the metrics row of the best epoch; test is {"loss", "accuracy"} of the kept model on
    the test split (set when training finished; regression adds mse, mae and r2 in the target's
    units); members is one {"test": ...} per ensemble member. class_names: one per class
    (classification); feature_names, target_name: the CSV columns the network was trained on.
    """

    status: str
    name: str | None = None
    dataset: str | None = None
    task: str | None = None               # classification | regression
    epochs_completed: int = 0
    best_epoch: int | None = None
    best: dict | None = None
    test: dict | None = None
    seconds: float = 0.0
    seed: int | None = None
    parameters: int | None = None
    examples: dict | None = None
    class_names: list | None = None
    feature_names: list | None = None
    target_name: str | None = None
    dlcc_version: str | None = None
    numpy_version: str | None = None
    python_version: str | None = None
    created: str | None = None
    resumed: int = 0
    members: list | None = None
    warnings: tuple[str, ...] = ()
    stop_reason: str | None = None
    error: str | None = None
    extra: dict = dataclasses.field(default_factory=dict)  # keys a later dlcc wrote: kept as they are

    def replace(self, **changes) -> Summary:
        return dataclasses.replace(self, **changes)

    def to_json(self) -> dict:
        """The JSON object, SPEC keys first; resumed, members and error only when they apply."""
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "extra"}
        data["warnings"] = list(self.warnings)
        for key, absent in (("resumed", 0), ("members", None), ("error", None)):
            if data[key] == absent:
                del data[key]
        return {**data, **{k: v for k, v in self.extra.items() if k not in data}}

    @classmethod
    def from_json(cls, data, path: Path) -> Summary:
        """Read back what to_json wrote. A missing or null key takes its default (older folders);
        a key of the wrong type or an unknown status is a RunError naming the file and the key;
        keys this version does not know are kept in `extra` and written back."""
        if not isinstance(data, dict):
            raise RunDamaged(f"{path}: expected a JSON object, got {type(data).__name__}")
        if not isinstance(data.get("status"), str) or data["status"] not in STATUSES:
            raise RunDamaged(f"{path}: status is {validate._show(data.get('status'))}; expected one of "
                             f"{', '.join(STATUSES)}")
        fields = [f for f in dataclasses.fields(cls) if f.name not in ("status", "extra")]
        values = {"extra": {k: v for k, v in data.items() if k not in {f.name for f in fields} | {"status"}}}
        for f in fields:
            if data.get(f.name) is None:
                continue
            value = validate.summary_value(f.name, data[f.name], path)  # types, ranges, sizes
            values[f.name] = tuple(value) if f.name == "warnings" else value
        return cls(status=data["status"], **values)


def write_summary(run_dir: Path, summary: Summary) -> None:
    write_json(Path(run_dir) / SUMMARY, summary.to_json())


def read_summary(run_dir: Path) -> Summary:
    path = Path(run_dir) / SUMMARY
    return Summary.from_json(read_json(path), path)


# --------------------------------------------------------------------------- JSON

def dumps(data) -> str:
    """JSON text as run folders and `--json` write it: indented, NaN/inf as null."""
    return json.dumps(_jsonable(data), indent=2)


def write_json(path: Path, data) -> None:
    atomic.write_text(path, dumps(data) + "\n")


def read_json(path: Path):
    """JSON from a run folder; missing, truncated, oversized or hand-mangled files are RunErrors."""
    if not Path(path).exists():
        raise RunError(f"{path}: missing; is {Path(path).parent} a dlcc run folder?")
    text = validate.read_text(Path(path), validate.JSON_BYTES)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise RunDamaged(f"{path}: not valid JSON (line {exc.lineno}: {exc.msg}); was it truncated or edited?") from None
    except RecursionError:
        raise RunDamaged(f"{path}: nested too deeply to be what dlcc writes; the file is damaged") from None


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


# --------------------------------------------------------------------------- model.npz

def write_model(run_dir: Path, params: list[dict], norm: tuple | None, targets: tuple | None = None) -> None:
    """params: one {W1: ..., b1: ...} per member; norm (inputs) and targets (regression targets):
    (shift, scale) or None."""
    arrays = dict(params[0]) if len(params) == 1 else {
        f"m{i}.{k}": v for i, member in enumerate(params, start=1) for k, v in member.items()}
    for keys, pair in ((NORM_KEYS, norm), (TARGET_KEYS, targets)):
        if pair is not None:
            arrays.update(zip(keys, pair))
    _write_npz(Path(run_dir) / MODEL, arrays)


def read_model(run_dir: Path, members: int) -> tuple[list[dict], tuple | None, tuple | None]:
    """(one parameter dict per member, (norm_shift, norm_scale) or None, (target_shift,
    target_scale) or None) from model.npz."""
    path = Path(run_dir) / MODEL
    arrays = read_npz(path, "cannot read it as a NumPy .npz archive; the run folder is damaged")
    validate.check_model(arrays, path)
    norm, targets = (tuple(arrays.pop(k) for k in keys) if all(k in arrays for k in keys) else None
                     for keys in (NORM_KEYS, TARGET_KEYS))
    if members == 1:
        return [arrays], norm, targets
    return [_part(arrays, f"m{i}.") for i in range(1, members + 1)], norm, targets


# --------------------------------------------------------------------------- checkpoint.npz

def config_digest(config_text: str) -> str:
    return hashlib.sha256(config_text.encode("utf-8")).hexdigest()


CHECKPOINT_PARTS = ("param", "opt", "sched", "best")


def write_checkpoint(run_dir: Path, state: dict, config_sha256: str) -> None:
    """state = {"members": [{"param": {...}, "opt": {...}, "sched": {...}, "best": {...} | None}],
    "info": JSON-able bookkeeping}; written as the flat keys in the module docstring."""
    arrays = {}
    for i, member in enumerate(state["members"], start=1):
        for part in CHECKPOINT_PARTS:
            arrays.update({f"m{i}.{part}.{k}": v for k, v in (member.get(part) or {}).items()})
    arrays["info"] = np.array(json.dumps(state["info"]))
    arrays["config_sha256"] = np.array(config_sha256)
    _write_npz(Path(run_dir) / CHECKPOINT, arrays)


def read_checkpoint(run_dir: Path, members: int) -> tuple[dict, str]:
    """(state as write_checkpoint takes it, config_sha256); a damaged file is a RunError naming it."""
    path = Path(run_dir) / CHECKPOINT
    if not path.exists():
        raise RunError(f"{path}: no checkpoint (the run stopped before its first epoch finished?)")
    damaged = "the checkpoint is damaged and cannot be read; the run cannot be resumed, train it again"
    arrays = read_npz(path, damaged)
    try:
        info, digest = arrays.pop("info"), arrays.pop("config_sha256")
        if info.dtype.kind != "U" or info.ndim or digest.dtype.kind != "U" or digest.ndim:
            raise ValueError("info and config_sha256 must be text")
        info, digest = json.loads(str(info)), str(digest)
    except (KeyError, ValueError, RecursionError) as exc:
        raise RunDamaged(f"{path}: {damaged} ({type(exc).__name__}: {str(exc)[:200]})") from None
    state = {"members": [{part: _part(arrays, f"m{i}.{part}.") for part in CHECKPOINT_PARTS}
                         for i in range(1, members + 1)], "info": info}
    for member in state["members"]:
        member["best"] = member["best"] or None
    return state, digest


# --------------------------------------------------------------------------- npz helpers

def _part(arrays: dict, prefix: str) -> dict:
    return {k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)}


def _write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    atomic.write_bytes(path, buf.getvalue())


def read_npz(path: Path, damaged: str) -> dict[str, np.ndarray]:
    """The arrays of an .npz run file; anything but an archive of plain arrays within
    validate.NPZ_BYTES (a .npy, a pickle, a FIFO, a truncated zip, an array header that claims
    more than the file holds) is RunDamaged."""
    try:
        status = os.stat(path)
        if not stat.S_ISREG(status.st_mode) or status.st_size > validate.NPZ_BYTES:
            raise RunDamaged(f"{path}: not a regular file of at most {validate.NPZ_BYTES:,} bytes; {damaged}")
        npz = np.load(path, allow_pickle=False)
        if not isinstance(npz, np.lib.npyio.NpzFile):
            raise ValueError("a single .npy array, not an .npz archive")
        with npz:
            if sum(info.file_size for info in npz.zip.infolist()) > validate.NPZ_BYTES:
                raise ValueError(f"larger than the {validate.NPZ_BYTES:,} bytes dlcc writes at most")
            return plain_arrays({k: npz[k] for k in npz.files})
    except FileNotFoundError:
        raise RunError(f"{path}: missing") from None
    except (OSError, ValueError, EOFError, MemoryError, zipfile.BadZipFile) as exc:
        raise RunDamaged(f"{path}: {damaged} ({str(exc)[:200]})") from None
