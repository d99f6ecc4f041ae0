"""What a run file may hold: the content checks behind every reader of a run folder.

folder.py and metrics_csv.py parse the files; the functions here decide whether what they parsed
is what dlcc writes there: the right types, values in range, sizes and nesting within bounds.
Anything else is `RunDamaged` (exit code 2), naming the file and the key, never a crash later in
eval, compare, plot, `dlcc runs` or resume.

    read_text(path, limit)             a run file's text: regular file, at most `limit` bytes, UTF-8
    summary_value(key, value, path)    one summary.json field, checked (see SUMMARY)
    check_rows(rows, path, planned)    metrics.csv rows: epochs within the run's planned epochs
    check_checkpoint(state, template, optimizers, columns, path)   checkpoint.npz against a fresh run's
    check_model(arrays, path)          model.npz: finite floating-point arrays only
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from dlcc.atomic import NotRegular, TooLarge, read_bounded
from dlcc.config import MAX_EPOCHS
from dlcc.errors import RunDamaged, RunError

JSON_BYTES = 16 << 20          # summary.json, eval.json: a few kilobytes in practice
TEXT_BYTES = 1 << 20           # config.yaml
METRICS_BYTES = 512 << 20      # metrics.csv: 100,000 epochs of a few hundred columns
NPZ_BYTES = 8 << 30            # model.npz, checkpoint.npz: 50M parameters and their optimizer state
MAX_STRING = 10_000            # a name, a version, a warning
MAX_ITEMS = 100_000            # class names, feature names


def read_text(path: Path, limit: int, folder: str = "run folder") -> str:
    """The text of a run (or sweep) file; missing, unreadable, not a regular file or too large:
    RunError naming the file and its `folder`."""
    try:
        data = read_bounded(path, limit)
    except FileNotFoundError:
        raise RunError(f"{path}: missing; the {folder} is incomplete (was it copied partially?)") from None
    except (NotRegular, TooLarge) as exc:
        raise RunDamaged(f"{path}: {exc}; the {folder} is damaged") from None
    except OSError as exc:
        raise RunError(f"{path}: cannot read it: {exc.strerror or exc}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RunDamaged(f"{path}: not UTF-8 text (byte {exc.start}); the {folder} is damaged") from None
    if not text.strip():
        raise RunDamaged(f"{path}: the file is empty; the {folder} is damaged")
    return text


# --------------------------------------------------------------------------- summary.json

def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _whole(v, lo: int = 0, hi: int = MAX_EPOCHS) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and lo <= v <= hi


def _int(lo: int, hi: int):
    """(check, what dlcc writes) for a whole number in lo..hi."""
    return (lambda v: _whole(v, lo, hi)), f"a whole number {lo}..{hi:,}"


def _text(v) -> bool:
    return isinstance(v, str) and len(v) <= MAX_STRING


def _texts(v) -> bool:
    return isinstance(v, list) and len(v) <= MAX_ITEMS and all(_text(x) for x in v)


def _numbers(v) -> bool:
    """{name: number or null}: a metrics row, a test result."""
    return isinstance(v, dict) and len(v) <= 10_000 and all(
        _text(k) and (x is None or _number(x)) for k, x in v.items())


EPOCH = _int(0, MAX_EPOCHS)
SUMMARY = {
    "name": (_text, "text"), "dataset": (_text, "text"), "target_name": (_text, "text"),
    "dlcc_version": (_text, "text"), "numpy_version": (_text, "text"), "python_version": (_text, "text"),
    "created": (_text, "text"), "stop_reason": (_text, "text"), "error": (_text, "text"),
    "task": (lambda v: v in ("classification", "regression"), "classification or regression"),
    "epochs_completed": EPOCH, "best_epoch": EPOCH, "resumed": _int(0, 10**9),
    "seed": _int(0, 2**63 - 1), "parameters": _int(0, 10**12),
    "seconds": (lambda v: _number(v) and v >= 0, "a finite number of seconds >= 0"),
    "best": (_numbers, "a metrics row {column: number or null}"),
    "test": (_numbers, "{loss, accuracy, ...: number or null}"),
    "examples": (lambda v: isinstance(v, dict) and all(_text(k) and _whole(x, 0, 10**12) for k, x in v.items()),
                 "{split: count}"),
    "class_names": (_texts, "a list of names"), "feature_names": (_texts, "a list of names"),
    "warnings": (_texts, "a list of texts"),
    "members": (lambda v: isinstance(v, list) and len(v) <= 1000 and all(
        isinstance(m, dict) and _numbers(m.get("test") or {}) for m in v), "a list of {test: {...}}"),
}


def summary_value(key: str, value, path: Path):
    """`value` if it is what dlcc writes for `key` in summary.json, else RunDamaged."""
    check, what = SUMMARY[key]
    if not check(value):
        raise RunDamaged(f"{path}: '{key}' is {_show(value)}; dlcc writes {what} there (the file was edited "
                         "or damaged)")
    return value


def _show(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:40]}... ({type(value).__name__} of {len(text):,} characters)"


# --------------------------------------------------------------------------- metrics.csv

def check_rows(rows: list[dict], path: Path, planned: int | None) -> None:
    """Epochs beyond what the run could have trained mean the file was edited (and would make
    compare and plot allocate an axis that long)."""
    limit = planned if planned is not None and 0 < planned <= MAX_EPOCHS else MAX_EPOCHS
    for row in rows:
        if row["epoch"] > limit:
            where = f"training.epochs is {planned}" if limit == planned else f"dlcc trains at most {MAX_EPOCHS:,}"
            raise RunDamaged(f"{path}: epoch {row['epoch']:,} is beyond the run's last epoch ({where}); "
                             "the file was edited or damaged")


# --------------------------------------------------------------------------- checkpoint.npz

def check_checkpoint(state: dict, template: dict, optimizers: list, columns: list[str], epochs: int,
                     path: Path) -> None:
    """`state` (folder.read_checkpoint) must have the structure of `template`, a fresh run's
    state() of the same config: the same parameters with the same shapes, the optimizer state the
    optimizer can hold (its slots for every parameter, or none yet), the schedule's and early
    stopping's keys, metrics rows with the run's columns, and one Generator state per member."""
    def bad(what: str):
        return RunDamaged(f"{path}: {what}; the checkpoint is damaged and the run cannot be resumed from it "
                          "(train the config again)")

    for i, (saved, fresh, optimizer) in enumerate(zip(state["members"], template["members"], optimizers), start=1):
        member_slots = optimizer.slots
        params = fresh["param"]
        _same_arrays(saved["param"], params, f"m{i}.param", bad)
        if saved["best"] is not None:
            _same_arrays(saved["best"], params, f"m{i}.best", bad)
        slot_keys = {f"{slot}.{name}": params[name] for slot in member_slots for name in params}
        extra = {k: v for k, v in saved["opt"].items() if k not in slot_keys}
        # keys an older dlcc did not write (the step count of SGD, AdaGrad, RMSProp) may be absent
        expected = {k: v for k, v in fresh["opt"].items() if k in saved["opt"] or k not in optimizer.optional_state}
        _same_arrays(extra, expected, f"m{i}.opt", bad)
        present = {k: v for k, v in saved["opt"].items() if k in slot_keys}
        if present:
            _same_arrays(present, slot_keys, f"m{i}.opt", bad)
        _same_arrays(saved["sched"], fresh["sched"], f"m{i}.sched", bad)
    _check_info(state["info"], template["info"], columns, epochs, bad)


def _same_arrays(saved: dict, expected: dict, prefix: str, bad) -> None:
    missing = sorted(set(expected) - set(saved))
    extra = sorted(set(saved) - set(expected))
    if missing or extra:
        raise bad(f"{prefix}: " + "; ".join(
            part for part in (missing and f"missing {', '.join(missing[:5])}", extra and f"unexpected {', '.join(extra[:5])}")
            if part))
    for key, array in saved.items():
        want = np.asarray(expected[key])
        weights = prefix.endswith(("param", "best"))  # what model.npz holds: floating point only
        if array.shape != want.shape or array.dtype.kind not in ("f" if weights else "biuf"):
            raise bad(f"{prefix}.{key} has shape {array.shape} and dtype {array.dtype}; "
                      f"expected shape {want.shape} of {'floating-point numbers' if weights else 'numbers'}")
        if weights and not np.isfinite(array).all():
            raise bad(f"{prefix}.{key} holds NaN or infinite values")


def _check_info(info, fresh: dict, columns: list[str], epochs: int, bad) -> None:
    if not isinstance(info, dict):
        raise bad(f"info is a JSON {type(info).__name__}, not an object")
    missing = [k for k in fresh if k not in info]
    if missing:
        raise bad(f"info has no {', '.join(missing)}")
    rows = info["rows"]
    if not isinstance(rows, list) or not all(_is_row(r, columns) for r in rows):
        raise bad(f"info.rows must be metrics rows with the columns {', '.join(columns[:4])}, ... (numbers or null)")
    if [r["epoch"] for r in rows] != list(range(len(rows))) or len(rows) > epochs + 1:
        raise bad(f"info.rows must hold epochs 0, 1, 2, ... up to at most {epochs}")
    done = {r["epoch"] for r in rows}
    if not (info["best_epoch"] is None or (_whole(info["best_epoch"]) and info["best_epoch"] in done)):
        raise bad(f"info.best_epoch is {_show(info['best_epoch'])}, not an epoch of info.rows")
    if not (isinstance(info["best_value"], (int, float)) and not isinstance(info["best_value"], bool)
            and not math.isnan(info["best_value"])):
        raise bad(f"info.best_value is {_show(info['best_value'])}, not a number")
    if not (info["best_row"] is None or _is_row(info["best_row"], columns)):
        raise bad("info.best_row is not a metrics row")
    if (info["stopper"] is None) != (fresh["stopper"] is None) or (
            fresh["stopper"] is not None and not _is_stopper(info["stopper"])):
        raise bad(f"info.stopper is {_show(info['stopper'])}; expected the early-stopping state "
                  "{best_value, best_epoch, wait}" if fresh["stopper"] is not None else
                  "info.stopper should be null (the config has no early stopping)")
    rngs = info["rng"]
    if not isinstance(rngs, list) or len(rngs) != len(fresh["rng"]):
        raise bad(f"info.rng must hold {len(fresh['rng'])} random generator state(s)")
    for k, rng in enumerate(rngs, start=1):
        try:
            np.random.default_rng(0).bit_generator.state = rng
        except (TypeError, ValueError, KeyError, OverflowError) as exc:
            raise bad(f"info.rng[{k}] is not a random generator state ({exc})") from None


def _is_row(row, columns: list[str]) -> bool:
    return (isinstance(row, dict) and set(row) == set(columns) and _whole(row.get("epoch"))
            and all(v is None or (isinstance(v, (int, float)) and not isinstance(v, bool)) for v in row.values()))


def _is_stopper(s) -> bool:
    return (isinstance(s, dict) and set(s) >= {"best_value", "best_epoch", "wait"}
            and isinstance(s["best_value"], (int, float)) and not isinstance(s["best_value"], bool)
            and not math.isnan(s["best_value"])
            and (s["best_epoch"] is None or _whole(s["best_epoch"])) and _whole(s["wait"]))


# --------------------------------------------------------------------------- model.npz

def check_model(arrays: dict, path: Path) -> None:
    """dlcc writes only finite floating-point arrays into model.npz."""
    for key, array in arrays.items():
        if array.dtype.kind != "f" or array.ndim > 2 or array.size > 10**9:
            raise RunDamaged(f"{path}: {key} has dtype {array.dtype} and shape {array.shape}; dlcc writes "
                             "floating-point vectors and matrices there (the file was replaced or damaged)")
        if not np.isfinite(array).all():
            raise RunDamaged(f"{path}: {key} holds NaN or infinite values; the file is damaged")
