"""`dlcc runs`: every run folder and sweep folder under a runs directory, newest first, one
overview row each; `dlcc runs SWEEP_DIR`: the runs of one sweep, in the sweep's order.

    kind "run"     a run folder (`overview`); inside a sweep also its point and swept values
    kind "sweep"   a sweep folder as one row (`sweep_overview`): progress ("12 done, 2 failed,
                   16 pending"), the best point by its mean over seeds, total training time
    differs        on every row: the config keys whose values differ between the listed rows
                   (compare.config_diff), with this row's value; a sweep contributes its base
                   config with the list of values of each key it sweeps

A folder that cannot be read is still listed (status "unreadable", with the reason), so one
damaged folder never hides the others.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from pathlib import Path

from dlcc.errors import RunError
from dlcc.runs.compare import metric_result
from dlcc.runs.configdiff import config_diff, flatten
from dlcc.runs.folder import FINISHED
from dlcc.runs.read import RunFolder, is_run_dir, read
from dlcc.runs.scales import REGRESSION_TESTS
from dlcc.runs.stats import finite, mean
from dlcc.runs.sweepdir import RESULTS, SWEEP_FILE, is_sweep_dir, read_definition, read_results, result_row
from dlcc.runs.sweeplabels import label_for
from dlcc.runs.sweepstats import is_regression, progress, status_counts, sweep_stats

# The order of the differing-key columns: what people tune first, the data last.
COLUMN_ORDER = ("optimizer", "schedule", "regularization", "model", "training", "ensemble", "loss", "precision",
                "seed", "data", "diagnostics")
LEFT = ("pending", "running", "interrupted")  # runs a sweep still has to finish (`dlcc sweep --resume`)


def list_runs(runs_dir: str | Path) -> list[dict]:
    """Rows for the run and sweep folders directly inside runs_dir, newest first; for a sweep
    folder, one row per run of that sweep, in its order (pending runs included)."""
    runs_dir = Path(runs_dir)
    if not runs_dir.is_dir():
        what = "is a file" if runs_dir.exists() else "does not exist"
        raise RunError(f"{runs_dir}: {what}; expected a folder of runs (default ./runs, made by `dlcc train`)")
    if is_run_dir(runs_dir):
        raise RunError(f"{runs_dir}: this is one run folder; list its parent with `dlcc runs {runs_dir.parent}`, "
                       f"or look inside with `dlcc eval {runs_dir}`")
    if is_sweep_dir(runs_dir):
        return _with_differences(_sweep_runs(runs_dir))
    try:
        folders = sorted(p for p in runs_dir.iterdir() if is_sweep_dir(p) or is_run_dir(p))
    except OSError as exc:
        raise RunError(f"{runs_dir}: cannot list it: {exc.strerror or exc}") from None
    entries = [_sweep_entry(p) if is_sweep_dir(p) else _run_entry(p) for p in folders]
    entries.sort(key=lambda entry: _age(entry[0]), reverse=True)
    return _with_differences(entries)


def overview(run: RunFolder) -> dict:
    """name, dataset, status, epochs, best validation metric, test result, duration of one run."""
    classification = run.task == "classification"
    val_metric = "val_accuracy" if classification else "val_loss"
    best = metric_result(run, val_metric)
    return {
        "kind": "run",
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
        "point": None,
        "label": label_for(run.path),
    }


def sweep_overview(sweep_dir: str | Path) -> dict:
    """One sweep folder as one row; a damaged sweep.yaml or results.csv is a RunError.

    The best point is the one `dlcc compare SWEEP_DIR` and the sweep plot choose (sweepstats: by
    test_mse when the points' losses are not on one scale); best_val and test are its means over
    seeds, as a run row's: the validation accuracy (regression: loss) at the best epoch, and the
    test scores (regression: also mse, mae, r2). A sweep that cannot be ranked is listed without
    a best point, the reason in its notes."""
    sweep_dir = Path(sweep_dir)
    definition = read_definition(sweep_dir)
    results = sweep_results(sweep_dir, definition)
    counts = status_counts(results)
    finished = [r for r in results if r.get("status") in FINISHED]
    task = None if not finished else "regression" if is_regression(finished) else "classification"
    try:
        stats, notes = sweep_stats(definition, results), []
    except RunError as exc:
        stats, notes = None, [str(exc)]
    best = stats.best if stats else None
    done_best = [r for r in finished if best and r.get("point") == best.id]
    val_metric = "val_loss" if task == "regression" else "val_accuracy"
    scores = ["loss", "accuracy"]  # summary.json's test keys, and for regression its scores in the target's units
    scores += [k.removeprefix("test_") for k in REGRESSION_TESTS] if task == "regression" else []
    test = {k: _mean([r.get(f"test_{k}") for r in done_best]) for k in scores} if best else None
    epochs = _base_value(definition, "training.epochs")
    return {
        "kind": "sweep",
        "run_dir": str(sweep_dir),
        "run": sweep_dir.name,
        "name": definition["name"],
        "dataset": _base_value(definition, "data.dataset"),
        "task": task,
        "status": "incomplete" if any(counts[w] for w in LEFT) else "completed",
        "progress": progress(counts),
        "counts": counts,
        "runs": len(results),
        "points": len(definition["points"]),
        "seeds": list(definition["seeds"]),
        "keys": list(definition["keys"]),
        "epochs": None,
        "planned_epochs": epochs if isinstance(epochs, int) else None,
        "best_val": None if best is None else {"metric": val_metric, "epoch": None,
                                               "value": _mean([r.get(f"best_{val_metric}") for r in done_best])},
        "best_point": None if best is None else {"point": best.id, "label": best.label, "variant": best.variant,
                                                 "values": best.values, "metric": stats.metric, "mean": best.mean,
                                                 "std": best.std, "n": best.n},
        "test": test,
        "seconds": sum(r["seconds"] for r in results if isinstance(r.get("seconds"), (int, float))),
        "created": _stamp(sweep_dir),
        "notes": notes,
        "error": None,
    }


def sweep_results(sweep_dir: Path, definition: dict) -> list[dict]:
    """results.csv rows, one per run of sweep.yaml in its order; a run results.csv does not
    have yet (or all of them, before the file exists) is read from its folder."""
    recorded = {r.get("run"): r for r in read_results(sweep_dir)} if (sweep_dir / RESULTS).is_file() else {}
    points = {p["id"]: p for p in definition["points"]}
    return [recorded.get(run["run"]) or result_row(sweep_dir / run["run"], points[run["point"]], run["seed"],
                                                   definition["keys"]) for run in definition["runs"]]


def _sweep_runs(sweep_dir: Path) -> list[tuple[dict, dict | None, dict]]:
    """(row, flat config, fallback cells) for each run of one sweep, pending ones included."""
    definition = read_definition(sweep_dir)
    results = sweep_results(sweep_dir, definition)
    points = {p["id"]: p for p in definition["points"]}
    entries = []
    for run, result in zip(definition["runs"], results):
        path = sweep_dir / str(run["run"])
        if is_run_dir(path):
            row, flat, _ = _run_entry(path)
        else:
            row, flat = _empty(path, "pending"), None
            row["dataset"] = _base_value(definition, "data.dataset")
        if result.get("status") == "failed":  # the worker died: its folder (if any) never said so
            row.update(status="failed", error=None, notes=[*row["notes"], f"failed: {result.get('error') or '?'}"])
        row.update(point=run["point"], label=label_for(path))
        entries.append((row, flat, {**(points[run["point"]].get("values") or {}), "seed": run.get("seed")}))
    return entries


def _run_entry(path: Path) -> tuple[dict, dict | None, dict]:
    try:
        run = read(path)
    except RunError as exc:
        return _empty(path, "unreadable", str(exc)), None, {}
    return overview(run), flatten(run.config), {}


def _sweep_entry(path: Path) -> tuple[dict, dict | None, dict]:
    try:
        row = sweep_overview(path)
    except RunError as exc:
        return {**_empty(path, "unreadable", str(exc)), "kind": "sweep"}, None, {}
    definition = read_definition(path)
    flat = flatten(definition["base"]) | flatten(definition.get("set") or {})
    for key, values in _swept_values(definition).items():
        flat[key] = values if len(values) > 1 else values[0]
    return row, flat, {}


def _swept_values(definition: dict) -> dict[str, list]:
    """Every key the sweep sets per point (swept keys, its variants' settings) and seed: the
    distinct values, in order of appearance."""
    swept: dict[str, list] = {}
    for point in definition["points"]:
        variant = (definition.get("variants") or {}).get(point.get("variant")) or {}
        for key, value in {**flatten(variant), **(point.get("values") or {})}.items():
            if value not in swept.setdefault(key, []):
                swept[key].append(value)
    swept["seed"] = list(definition["seeds"])
    return swept


def _with_differences(entries) -> list[dict]:
    """The rows, each with `differs`: its value of every config key that differs between them."""
    diff = config_diff([flat for _, flat, _ in entries if flat is not None])
    rank = {section: i for i, section in enumerate(COLUMN_ORDER)}
    keys = sorted(diff, key=lambda k: rank.get(k.split(".")[0], len(rank)))  # stable: config order within
    for row, flat, fallback in entries:
        row["differs"] = {k: (flat if flat is not None else fallback).get(k) for k in keys}
    return [row for row, _, _ in entries]


def _base_value(definition: dict, key: str):
    """A key of the base config as the sweep's `set` leaves it, or "mixed" when the sweep varies it."""
    swept = _swept_values(definition).get(key)
    if swept is not None and len(swept) > 1:
        return "mixed"
    fixed = flatten(definition["base"]) | flatten(definition.get("set") or {})
    return fixed.get(key) if swept is None else swept[0]


def _mean(values) -> float | None:
    present = finite(values)
    return mean(present) if present else None


def _empty(folder: Path, status: str, error: str | None = None) -> dict:
    return {"kind": "run", "run_dir": str(folder), "run": folder.name, "name": None, "dataset": None, "task": None,
            "status": status, "epochs": None, "planned_epochs": None, "best_val": None, "test": None,
            "seconds": None, "created": None, "notes": [], "error": error, "point": None, "label": None}


def _stamp(sweep_dir: Path) -> str | None:
    """When the sweep started: the <YYYYMMDD-HHMMSS> of its folder's name (local time, as
    create_run_dir writes it), in UTC like summary.json's `created`; else sweep.yaml's time."""
    match = re.search(r"-(\d{8}-\d{6})(?:-\d+)?$", sweep_dir.name)
    try:
        when = (datetime.strptime(match[1], "%Y%m%d-%H%M%S").astimezone() if match else
                datetime.fromtimestamp((sweep_dir / SWEEP_FILE).stat().st_mtime))
    except (ValueError, OSError):
        return None
    return when.astimezone(timezone.utc).isoformat(timespec="seconds")


def _age(row: dict) -> tuple[str, int]:
    """Sort key, newest largest: the creation time summary.json records (to the second; the
    folder's modification time for unreadable ones), then when the folder's first file was
    written (config.yaml, or sweep.yaml: to the nanosecond, so runs made within one second keep
    their order)."""
    folder = Path(row["run_dir"])
    try:
        written = (folder / (SWEEP_FILE if row.get("kind") == "sweep" else "config.yaml")).stat().st_mtime_ns
        created = row["created"] or datetime.fromtimestamp(folder.stat().st_mtime, timezone.utc).isoformat(
            timespec="seconds")
    except OSError:
        return row["created"] or "", 0
    return created, written
