"""Read a run folder back: config.yaml, metrics.csv and summary.json into one frozen `RunFolder`.

What counts as what (SPEC.md, "Run folder"):
- unusable, `RunError` (exit 2): the path is missing or not a run folder; config.yaml or
  summary.json is missing, empty or not what dlcc writes; metrics.csv is missing or has a bad
  header or a bad row before its last line;
- partial, read with a note: the status is running, interrupted or diverged; metrics.csv ends
  before the epoch summary.json reports, or its last line was cut off mid-write (that line is
  dropped); there is no model.npz. A partial run is compared up to its last finished epoch.

After `dlcc train --resume`, an epoch may appear twice in metrics.csv; the later row wins.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import yaml

from dlcc import config as config_mod
from dlcc.config import yaml_load
from dlcc.config.safe_yaml import problem
from dlcc.data.files import not_a_file
from dlcc.errors import ConfigError, RunDamaged, RunError
from dlcc.runs import best, folder, lock, validate
from dlcc.runs.folder import FINISHED, Summary
from dlcc.runs.metrics_csv import read_metrics

FILES = (folder.CONFIG, folder.SUMMARY, folder.METRICS)


@dataclass(frozen=True)
class RunFolder:
    """One run folder as read from disk.

    config: the resolved config.yaml as plain data; summary: summary.json; rows: one dict per
    metrics.csv row (epoch an int, other cells float or None for an empty cell), epochs ascending;
    notes: why the run is partial, in words (empty for a complete run).
    """

    path: Path
    config: dict
    summary: Summary
    columns: tuple[str, ...]
    rows: tuple[dict, ...]
    has_model: bool
    notes: tuple[str, ...]

    @property
    def label(self) -> str:
        return self.path.name

    @property
    def status(self) -> str:
        return self.summary.status

    @property
    def task(self) -> str:
        """classification | regression (summary.json says; older folders: accuracy cells decide)."""
        task = self.summary.task
        if task in ("classification", "regression"):
            return task
        has_acc = any(r.get("val_accuracy") is not None or r.get("train_accuracy") is not None for r in self.rows)
        return "classification" if has_acc else "regression"

    @property
    def dataset(self) -> str | None:
        data = self.config.get("data")
        return data.get("dataset") if isinstance(data, dict) else self.summary.dataset

    @property
    def last_epoch(self) -> int:
        """The last epoch with a row in metrics.csv (0: only the untrained network, or none)."""
        return self.rows[-1]["epoch"] if self.rows else 0

    @property
    def planned_epochs(self) -> int | None:
        training = self.config.get("training")
        epochs = training.get("epochs") if isinstance(training, dict) else None
        return epochs if isinstance(epochs, int) else None

    @property
    def model_epoch(self) -> int:
        """The epoch whose weights the run kept: the best one when early stopping restored it,
        else the last finished one."""
        training = self.config.get("training")
        stopping = training.get("early_stopping") if isinstance(training, dict) else None
        restored = isinstance(stopping, dict) and stopping.get("restore_best", True)
        best = self.summary.best_epoch
        if restored and best is not None and any(r["epoch"] == best for r in self.rows):
            return best
        return self.last_epoch

    @property
    def model_row(self) -> dict | None:
        """The metrics.csv row of model_epoch, or None when metrics.csv has no such row."""
        return next((r for r in self.rows if r["epoch"] == self.model_epoch), None)

    @cached_property
    def best_rule(self) -> tuple[str, float, int]:
        """(monitored metric, min_delta, start_from_epoch): what decides the best epoch (runs/best.py)."""
        return best.monitor(self.config, any(r.get("val_loss") is not None for r in self.rows))

    @property
    def monitor(self) -> str:
        return self.best_rule[0]

    @cached_property
    def best_epoch(self) -> int | None:
        """summary.json's best epoch; for a run still going (or stopped before it wrote one), the
        same rule applied to the rows so far (runs/best.py)."""
        if self.summary.best_epoch is not None:
            return self.summary.best_epoch
        return best.best_epoch(self.rows, *self.best_rule)

    @property
    def partial(self) -> bool:
        return bool(self.notes)


def read(path: str | Path) -> RunFolder:
    """Load a run folder; raises RunError (exit 2) when it is missing or unusable (see module doc)."""
    path = Path(path)
    check_is_run_dir(path)
    _, config = read_config(path / folder.CONFIG)
    _check_config(config, path / folder.CONFIG)
    summary = Summary.from_json(folder.read_json(path / folder.SUMMARY), path / folder.SUMMARY)
    metrics = _read_text(path / folder.METRICS, validate.METRICS_BYTES)
    columns, rows, notes = read_metrics(path / folder.METRICS, metrics)
    training = config.get("training")
    planned = training.get("epochs") if isinstance(training, dict) else None
    validate.check_rows(rows, path / folder.METRICS, planned if isinstance(planned, int) else None)
    has_model = (path / folder.MODEL).is_file()
    return RunFolder(path, config, summary, columns, tuple(rows), has_model,
                     tuple(notes + _partial_notes(summary, rows, has_model, path)))


def is_run_dir(path: Path) -> bool:
    """A folder holding at least one of the files `dlcc train` writes first (not a hidden one:
    a run folder being created is a hidden temporary folder until it is complete)."""
    return not path.name.startswith(".") and path.is_dir() and any((path / name).is_file() for name in FILES)


def check_is_run_dir(path: Path) -> None:
    """A RunError saying what `path` is instead, unless it is a run folder."""
    if not path.exists():
        raise RunError(f"{path}: no such run folder")
    if not path.is_dir():
        raise RunError(f"{path}: is a file, not a run folder (a folder made by `dlcc train`)")
    if is_run_dir(path):
        return
    hint = "run folders are made by `dlcc train`"
    try:
        if any(is_run_dir(child) for child in path.iterdir()):
            hint = f"it holds run folders; list them with `dlcc runs {path}`"
    except OSError:
        pass
    raise RunError(f"{path}: not a run folder (no config.yaml, summary.json or metrics.csv); {hint}")


def _read_text(path: Path, limit: int = validate.TEXT_BYTES) -> str:
    return validate.read_text(path, limit)  # a regular file, size-bounded, UTF-8, not empty


def read_config(path: Path) -> tuple[str, dict]:
    """(text, mapping) of a run's config.yaml; unreadable or not a mapping is a RunError."""
    text = _read_text(path)
    try:
        config = yaml_load(text)
    except yaml.YAMLError as exc:
        raise RunDamaged(f"{path}: not valid YAML{problem(exc)}; the run folder is damaged (edited by hand?)") from None
    if not isinstance(config, dict):
        raise RunDamaged(f"{path}: expected a mapping of config keys, got {type(config).__name__}")
    for (section, key), value in OLDER_DEFAULTS.items():
        if isinstance(config.get(section), dict):
            config[section].setdefault(key, value)
    return text, config


def _check_config(config: dict, path: Path) -> None:
    """config.yaml must be a config this dlcc reads (the schema's checks): commands that only look
    at its keys (compare, runs) then never meet a value of the wrong kind."""
    try:
        config_mod.parse(config, source=str(path))
    except ConfigError as exc:
        raise RunDamaged(f"{exc}\n(the run's config.yaml is not one this version of dlcc reads; "
                         "was it edited?)") from None


# Keys that a later dlcc added, with the value that says how an older run trained: a saved
# config.yaml is fully resolved, so a missing key means a dlcc from before the key wrote it.
OLDER_DEFAULTS = {("data", "standardize_targets"): False}


def model_absence(path: Path) -> str:
    """Why a run folder has no model.npz to read, in words: "is missing", or what is in its place
    (a folder, a pipe, a link that leads nowhere)."""
    model = path / folder.MODEL
    return not_a_file(model) if os.path.lexists(model) else "is missing"


def _partial_notes(summary: Summary, rows: list[dict], has_model: bool, path: Path) -> list[str]:
    notes = []
    status = summary.status
    last = rows[-1]["epoch"] if rows else 0
    if status == "running":
        pid = lock.owner(path)  # the process that trains it holds the run's lock (runs/lock.py)
        notes.append(f"status 'running': {f'process {pid}' if pid > 0 else 'another process'} is training it" if pid else
                     "status 'running', but no process is training it: it was killed before it could say so; "
                     f"continue it with `dlcc train --resume {path}`")
    elif status not in FINISHED:
        notes.append(f"status '{status}' after {last} epoch(s)")
    done = summary.epochs_completed
    if last < done:
        notes.append(f"metrics.csv ends at epoch {last} but summary.json reports {done}; "
                     f"compared up to epoch {last}")
    if not has_model and status in FINISHED:
        notes.append(f"model.npz {model_absence(path)}: the run cannot be evaluated or plotted as a model")
    return notes
