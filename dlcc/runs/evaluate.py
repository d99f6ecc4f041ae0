"""`dlcc eval`: a trained run's loss and accuracy on one split, with the details behind them.

Classification, with C[i, j] = number of examples of true class i predicted as class j:

    precision_j = C[j, j] / sum_i C[i, j]     (of the examples predicted j, the share that are j)
    recall_i    = C[i, i] / sum_j C[i, j]     (of the examples of class i, the share found)

Regression, in the target's own units (predictions mapped back from standardized targets), over
all examples and output units, with t_bar the mean target of the evaluated examples:

    MSE = mean (t_hat - t)^2,   MAE = mean |t_hat - t|,   R^2 = 1 - sum (t_hat - t)^2 / sum (t - t_bar)^2

`loss` and `accuracy` come from the same function training used (dlcc.nn.metrics.evaluate, on the
targets as the network sees them), so they equal what training recorded: summary.json "test" for
the test split, and metrics.csv's val_loss / val_accuracy of the epoch whose weights model.npz
holds for the validation split. `evaluate_file` scores the run on another file of the same shape.
"""

from __future__ import annotations

import math
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from dlcc.data.inputs import class_indices, read_inputs, target_values
from dlcc.errors import DataError, RunError
from dlcc.nn.metrics import evaluate, predict, predicted_classes
from dlcc.runs import folder
from dlcc.runs.model import Model
from dlcc.version import __version__

SPLITS = ("test", "val", "train")
SPLIT_KEYS = {"test": "data.test", "val": "data.validation", "train": "data.subset"}


def evaluate_split(model: Model, split: str = "test") -> dict:
    """Evaluate `model` on one split; the result is what eval.json stores for that split."""
    data = model.arrays.get(split)
    if data is None:
        others = [s for s in SPLITS if model.arrays.get(s) is not None and s != split]
        raise RunError(f"{model.run.path}: this run has no {split} split ({SPLIT_KEYS[split]} is 0); "
                       f"try --split {' or --split '.join(others)}")
    result = _report(model, *data, split=split, data=None)
    recorded = recorded_metrics(model, split)
    result["recorded"] = recorded
    result["matches_recorded"] = None if recorded is None else _matches(result, recorded)
    return _stamped(result)


def evaluate_file(model: Model, path: str | Path) -> dict:
    """Evaluate `model` on the examples and targets in another file (a CSV table with the target
    column, an .npz with x and y, or an IDX images file with its labels file beside it)."""
    table = read_inputs(path, model.spec, with_targets=True)
    if table.y is None:
        what = f"a column {model.target_name!r}" if model.target_name else "targets (the column after the features, array y, or the labels file)"
        raise DataError(f"{table.path}: no targets to score the predictions against; the file needs {what}")
    if model.classification:
        t = class_indices(table, model.class_names)
    else:
        t = target_values(table, model.cfg.model.layers[-1].units)
    result = _report(model, model.inputs(table.x), model.network_targets(t), split=None, data=str(table.path))
    result.update(recorded=None, matches_recorded=None)
    return _stamped(result)


def _report(model: Model, x: np.ndarray, y: np.ndarray, *, split: str | None, data: str | None) -> dict:
    """Loss and accuracy, then the confusion matrix or the regression scores, of inputs x and
    targets y as the network sees them."""
    result = {
        "run_dir": str(model.run.path),
        "split": split,
        "data": data,
        "examples": len(x),
        "task": "classification" if model.classification else "regression",
        **evaluate(model.net, x, y, model.classification),
    }
    a = predict(model.net, x)
    if model.classification:
        result["classes"] = list(model.class_names)
        result.update(classification_report(a, y, model.class_names))
    else:
        result.update(scores(model.outputs(a), model.outputs(y)))
    return result


def _stamped(result: dict) -> dict:
    result["evaluated"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    result["dlcc_version"] = __version__
    return result


def classification_report(a: np.ndarray, y: np.ndarray, names) -> dict:
    """Confusion matrix (rows: true class, columns: predicted) and per-class precision and recall."""
    classes = len(names)
    true = predicted_classes(y)
    pred = predicted_classes(a)
    confusion = np.bincount(true * classes + pred, minlength=classes * classes).reshape(classes, classes)
    predicted_as = confusion.sum(axis=0)
    support = confusion.sum(axis=1)
    per_class = [
        {
            "class": k,
            "name": names[k],
            "precision": float(confusion[k, k] / predicted_as[k]) if predicted_as[k] else None,
            "recall": float(confusion[k, k] / support[k]) if support[k] else None,
            "support": int(support[k]),
        }
        for k in range(classes)
    ]
    return {"confusion": confusion.tolist(), "per_class": per_class}


def scores(predicted: np.ndarray, t: np.ndarray) -> dict:
    """MSE, MAE and R^2 of predictions against targets (both in the target's units).

    R^2 = 1 - sum(e**2) / sum((t - mean t)**2) is a ratio: for targets beyond 1e150, whose squares
    overflow, it is computed on everything divided by m = max|t| (their MSE, above float64's
    1.8e308, is inf).
    """
    m = float(np.max(np.abs(t))) if t.size else 1.0
    m = m if 1e150 < m < np.inf else 1.0
    with np.errstate(over="ignore"):  # an MSE beyond float64's range is reported as inf
        error = predicted / m - t / m
        total = float(np.sum((t / m - np.mean(t / m, axis=0)) ** 2))
        r2 = 1 - float(np.sum(error ** 2)) / total if total > 0 else None
        return {"mse": float(np.mean(error ** 2)) * m * m, "mae": float(np.mean(np.abs(error))) * m, "r2": r2}


def regression_scores(splits, net, x: np.ndarray, y: np.ndarray) -> dict:
    """scores() of a network on inputs x and targets y as it sees them, in the target's units
    (training's summary.json test entry)."""
    return scores(splits.target_units(predict(net, x)), splits.target_units(y))


def data_facts(splits) -> dict:
    """What summary.json records about the data: class names, and the CSV columns trained on."""
    return {
        "class_names": list(splits.class_names) if splits.class_names else None,
        "feature_names": list(splits.feature_names) if splits.feature_names else None,
        "target_name": splits.target_name,
    }


def recorded_metrics(model: Model, split: str) -> dict | None:
    """What training recorded for this split with the weights in model.npz, or None.

    test: summary.json "test". val: the metrics.csv row of the epoch model.npz holds, which is the
    best epoch when early stopping restored it, else the last one. train: none (training records
    running means over the epoch, with the weights still changing).
    """
    if split == "test":
        test = model.run.summary.test
        if test is None:
            return None
        return {"loss": test.get("loss"), "accuracy": test.get("accuracy"), "source": "summary.json test"}
    if split == "val":
        row = model.run.model_row
        if row is None:
            return None
        return {"loss": row.get("val_loss"), "accuracy": row.get("val_accuracy"),
                "source": f"metrics.csv epoch {row['epoch']}"}
    return None


def _matches(result: dict, recorded: dict) -> bool:
    def same(a, b) -> bool:
        if a is None or b is None:
            return a is None and b is None
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)

    return same(result["loss"], recorded["loss"]) and same(result["accuracy"], recorded["accuracy"])


def write_eval_json(run_dir: Path, result: dict) -> Path:
    """Add this result to RUN_DIR/eval.json, atomically: one entry per split, and one per other file
    evaluated (keyed "data:PATH"); the newest wins."""
    path = Path(run_dir) / folder.EVAL
    try:
        existing = folder.read_json(path)
    except RunError:
        existing = {}  # absent or damaged: start afresh
    if not isinstance(existing, dict):
        existing = {}
    existing[result["split"] or f"data:{result['data']}"] = result
    folder.write_json(path, existing)
    return path
