"""The sweep folder's format: sweep.yaml, results.csv, and one ordinary run folder per run.

    RUNS_DIR/sweep-<name>-<YYYYMMDD-HHMMSS>/
        sweep.yaml     the sweep, fully resolved: name, base (the resolved base config), keys
                       (the swept config keys, in column order), points (id, variant, values),
                       seeds, runs (folder name, point id, seed), executor, workers (null: the
                       default of wherever it runs or resumes)
        results.csv    one row per run (RESULT_COLUMNS around the swept keys), rewritten
                       atomically whenever a run finishes, so it is never half-written
        p000-s0/ ...   the run of point p000 with seed 0: an ordinary run folder

A run's status in results.csv is its summary.json status, or `failed` (its worker died or it
raised an unexpected error; `error` says why) or `pending` (not started yet).

The metric columns follow the runs' task (summary.json's `task`): classification runs have
best_val_accuracy, final_val_accuracy and test_accuracy; regression runs have none, but test_mse,
test_mae and test_r2 (summary.json's test scores, in the target's units: the losses are on the
standardized scale, or on another loss's). A sweep with runs of both tasks has both; before any
run has started, the classification columns.
"""

from __future__ import annotations

import csv
import io
import math
import os
import re
from pathlib import Path

import yaml

from dlcc import atomic
from dlcc.config import yaml_dump, yaml_load
from dlcc.errors import RunError
from dlcc.runs import folder, validate
from dlcc.runs.read import read

SWEEP_FILE, RESULTS = "sweep.yaml", "results.csv"
POINT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,80}")
SWEEP_BYTES = 64 << 20  # sweep.yaml: the base config and up to 10,000 points and runs
HEAD_COLUMNS = ("run", "point", "variant")
TAIL_COLUMNS = ("seed", "status", "epochs", "best_epoch", "best_val_loss", "best_val_accuracy",
                "final_train_loss", "final_val_loss", "final_val_accuracy", "test_loss", "test_accuracy",
                "seconds", "error")
ACCURACY_COLUMNS = ("best_val_accuracy", "final_val_accuracy", "test_accuracy")  # classification only
REGRESSION_COLUMNS = ("test_mse", "test_mae", "test_r2")                       # regression only, after test_loss
STATUSES = (*folder.STATUSES, "failed", "pending")


def is_sweep_dir(path: Path) -> bool:
    return Path(path).is_dir() and (Path(path) / SWEEP_FILE).is_file()


def create_sweep_dir(runs_dir: Path, name: str) -> Path:
    """A fresh RUNS_DIR/sweep-<name>-<stamp> (never an existing one)."""
    return folder.create_run_dir(runs_dir, f"sweep-{name}")


def run_name(point: str, seed: int) -> str:
    return f"{point}-s{seed}"


def write_definition(sweep_dir: Path, definition: dict) -> None:
    text = yaml_dump(definition, sort_keys=False, default_flow_style=None, width=100)
    atomic.write_text(Path(sweep_dir) / SWEEP_FILE, text)


def read_definition(sweep_dir: Path) -> dict:
    """sweep.yaml as written; a missing or damaged file is a RunError naming it."""
    path = Path(sweep_dir) / SWEEP_FILE
    if not Path(sweep_dir).is_dir():
        raise RunError(f"{sweep_dir}: no such sweep folder")
    if not os.path.lexists(path):
        raise RunError(f"{path}: missing; is {sweep_dir} a sweep folder made by `dlcc sweep`?")
    try:  # a regular file of bounded size: a FIFO there would hang the read
        data = yaml_load(validate.read_text(path, SWEEP_BYTES, "sweep folder"))
    except yaml.YAMLError as exc:
        raise RunError(f"{path}: cannot read it ({str(exc).splitlines()[0]}); the sweep folder is damaged") from None
    needed = ("name", "base", "keys", "points", "seeds", "runs")
    if not isinstance(data, dict) or any(k not in data for k in needed):
        raise RunError(f"{path}: not a sweep definition written by dlcc (needs {', '.join(needed)})")
    # Point ids become run-folder names inside the sweep folder: nothing else (../x) may pass.
    points, runs = data["points"], data["runs"]
    if not (isinstance(points, list) and all(isinstance(p, dict) and isinstance(p.get("id"), str)
                                             and POINT_ID.fullmatch(p["id"]) for p in points)):
        raise RunError(f"{path}: points must be a list with an id (such as p000) for each point; "
                       "the sweep folder is damaged (edited by hand?)")
    # The shapes every reader relies on (runs, report, plot, compare, resume), checked once here.
    ids = {p["id"] for p in points}
    ok = (isinstance(data["base"], dict) and isinstance(data["keys"], list) and isinstance(data["seeds"], list)
          and all(isinstance(p.get("values") or {}, dict) for p in points)
          and isinstance(runs, list)
          and all(isinstance(r, dict) and isinstance(r.get("run"), str) and r.get("point") in ids for r in runs))
    if not ok:
        raise RunError(f"{path}: its points and runs are not what `dlcc sweep` writes; the sweep folder is damaged")
    return data


def result_columns(keys: list[str], rows: list[dict] = ()) -> list[str]:
    """The columns of results.csv for rows of result_row: the accuracy columns unless every run
    whose task is known is a regression run, the regression scores when some run is one."""
    tasks = {row.get("task") for row in rows} - {None}
    tail = [c for c in TAIL_COLUMNS if tasks != {"regression"} or c not in ACCURACY_COLUMNS]
    if "regression" in tasks:
        at = tail.index("test_loss") + 1
        tail[at:at] = REGRESSION_COLUMNS
    return [*HEAD_COLUMNS, *keys, *tail]


def write_results(sweep_dir: Path, keys: list[str], rows: list[dict]) -> None:
    """Replace results.csv with these rows (one per run, in the sweep's run order)."""
    columns = result_columns(keys, rows)
    buf = io.StringIO(newline="")
    writer = csv.writer(buf)
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row.get(c)) for c in columns])
    atomic.write_text(Path(sweep_dir) / RESULTS, buf.getvalue())


def read_results(sweep_dir: Path) -> list[dict]:
    """results.csv as dicts: numbers as int/float, empty cells as None, text kept."""
    path = Path(sweep_dir) / RESULTS
    if not os.path.lexists(path):
        raise RunError(f"{path}: missing; the sweep folder is incomplete (dlcc sweep --resume rebuilds it)")
    text = validate.read_text(path, validate.METRICS_BYTES, "sweep folder")
    return [{k: _value(v) for k, v in row.items()} for row in csv.DictReader(io.StringIO(text))]


def result_row(run_dir: Path, point: dict, seed: int, keys: list[str]) -> dict:
    """The results.csv row of one run, from its folder (a `pending` row when there is none), with
    its task (not a column: it decides the columns, result_columns)."""
    row = {"run": Path(run_dir).name, "point": point["id"], "variant": point.get("variant"), "seed": seed,
           **{k: _flat(point["values"].get(k)) for k in keys}}
    if not (Path(run_dir) / folder.SUMMARY).is_file():
        return {**row, "status": "pending"}
    try:
        run = read(run_dir)
    except RunError as exc:
        return {**row, "status": "failed", "error": str(exc).splitlines()[0]}
    s = run.summary
    best = s.best or {}
    last = run.model_row or {}  # final_* are at the epoch whose weights the run kept, as in compare
    test = s.test or {}
    return {**row, "task": run.task, "status": s.status, "epochs": run.last_epoch, "best_epoch": s.best_epoch,
            "best_val_loss": best.get("val_loss"), "best_val_accuracy": best.get("val_accuracy"),
            "final_train_loss": last.get("train_loss"), "final_val_loss": last.get("val_loss"),
            "final_val_accuracy": last.get("val_accuracy"), "test_loss": test.get("loss"),
            "test_accuracy": test.get("accuracy"), **{c: test.get(c.removeprefix("test_")) for c in REGRESSION_COLUMNS},
            "seconds": s.seconds, "error": s.error}


def _flat(value):
    """A swept value as one CSV cell: scalars as they are, a mapping or list as compact YAML."""
    if isinstance(value, (dict, list)):
        return yaml_dump(value, default_flow_style=True, width=10**6).strip()
    return value


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return "" if not math.isfinite(value) else repr(value)
    return str(value)


def _value(cell: str):
    if cell == "":
        return None
    for kind in (int, float):
        try:
            return kind(cell)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(cell, cell)
