"""`dlcc runs`: every run folder under a runs directory, newest first, one overview row each.

A folder that cannot be read is still listed (status "unreadable", with the reason), so one
damaged folder never hides the others.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from dlcc.errors import RunError
from dlcc.runs.compare import metric_result
from dlcc.runs.read import RunFolder, is_run_dir, read


def list_runs(runs_dir: str | Path) -> list[dict]:
    """Overview rows (see `overview`) for the run folders directly inside runs_dir, newest first."""
    runs_dir = Path(runs_dir)
    if not runs_dir.is_dir():
        what = "is a file" if runs_dir.exists() else "does not exist"
        raise RunError(f"{runs_dir}: {what}; expected a folder of runs (default ./runs, made by `dlcc train`)")
    if is_run_dir(runs_dir):
        raise RunError(f"{runs_dir}: this is one run folder; list its parent with `dlcc runs {runs_dir.parent}`, "
                       f"or look inside with `dlcc eval {runs_dir}`")
    try:
        folders = sorted(p for p in runs_dir.iterdir() if is_run_dir(p))
    except OSError as exc:
        raise RunError(f"{runs_dir}: cannot list it: {exc.strerror or exc}") from None
    rows = []
    for folder in folders:
        try:
            rows.append(overview(read(folder)))
        except RunError as exc:
            rows.append(_unreadable(folder, str(exc)))
    rows.sort(key=_age, reverse=True)
    return rows


def overview(run: RunFolder) -> dict:
    """name, dataset, status, epochs, best validation metric, test result, duration of one run."""
    classification = run.task == "classification"
    val_metric = "val_accuracy" if classification else "val_loss"
    best = metric_result(run, val_metric)
    return {
        "run_dir": str(run.path),
        "run": run.label,
        "name": run.config.get("name"),
        "dataset": run.dataset,
        "task": run.task,
        "status": run.status,
        "epochs": run.last_epoch,
        "planned_epochs": run.planned_epochs,
        "best_val": {"metric": val_metric, "value": best.best, "epoch": best.best_epoch},
        "test": run.summary.test,
        "seconds": run.summary.seconds,
        "created": run.summary.created,
        "notes": list(run.notes),
        "error": None,
    }


def _unreadable(folder: Path, error: str) -> dict:
    return {"run_dir": str(folder), "run": folder.name, "name": None, "dataset": None, "task": None,
            "status": "unreadable", "epochs": None, "planned_epochs": None, "best_val": None, "test": None,
            "seconds": None, "created": None, "notes": [], "error": error}


def _age(row: dict) -> tuple[str, int]:
    """Sort key, newest largest: the creation time summary.json records (to the second; the
    folder's modification time for unreadable ones), then when config.yaml was written (to the
    nanosecond: the first file of a run, so runs made within one second keep their order)."""
    folder = Path(row["run_dir"])
    try:
        written = (folder / "config.yaml").stat().st_mtime_ns
        created = row["created"] or datetime.fromtimestamp(folder.stat().st_mtime, timezone.utc).isoformat(
            timespec="seconds")
    except OSError:
        return row["created"] or "", 0
    return created, written
