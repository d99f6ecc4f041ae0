"""`dlcc eval`: a trained run's loss and accuracy on one split, with the details behind them.

Classification, with C[i, j] = number of examples of true class i predicted as class j:

    precision_j = C[j, j] / sum_i C[i, j]     (of the examples predicted j, the share that are j)
    recall_i    = C[i, i] / sum_j C[i, j]     (of the examples of class i, the share found)

Regression, over all examples and output units:  MSE = mean (a - y)^2,  MAE = mean |a - y|.

`loss` and `accuracy` come from the same function training used (dlcc.nn.metrics.evaluate),
so they equal what training recorded: summary.json "test" for the test split, and metrics.csv's
val_loss / val_accuracy of the epoch whose weights model.npz holds for the validation split.
"""

from __future__ import annotations

import math
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from dlcc.errors import RunError
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
    x, y = data
    result = {
        "run_dir": str(model.run.path),
        "split": split,
        "examples": len(x),
        "task": model.splits.task,
        **evaluate(model.net, x, y, model.classification),
    }
    a = predict(model.net, x)
    if model.classification:
        result.update(classification_report(a, y, model.splits.classes))
    else:
        result.update(mse=float(np.mean((a - y) ** 2)), mae=float(np.mean(np.abs(a - y))))
    recorded = recorded_metrics(model, split)
    result["recorded"] = recorded
    result["matches_recorded"] = None if recorded is None else _matches(result, recorded)
    result["evaluated"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    result["dlcc_version"] = __version__
    return result


def classification_report(a: np.ndarray, y: np.ndarray, classes: int) -> dict:
    """Confusion matrix (rows: true class, columns: predicted) and per-class precision and recall."""
    true = predicted_classes(y)
    pred = predicted_classes(a)
    confusion = np.bincount(true * classes + pred, minlength=classes * classes).reshape(classes, classes)
    predicted_as = confusion.sum(axis=0)
    support = confusion.sum(axis=1)
    per_class = [
        {
            "class": k,
            "precision": float(confusion[k, k] / predicted_as[k]) if predicted_as[k] else None,
            "recall": float(confusion[k, k] / support[k]) if support[k] else None,
            "support": int(support[k]),
        }
        for k in range(classes)
    ]
    return {"confusion": confusion.tolist(), "per_class": per_class}


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
        epoch = model.run.model_epoch
        row = next((r for r in model.run.rows if r["epoch"] == epoch), None)
        if row is None:
            return None
        return {"loss": row.get("val_loss"), "accuracy": row.get("val_accuracy"),
                "source": f"metrics.csv epoch {epoch}"}
    return None


def _matches(result: dict, recorded: dict) -> bool:
    def same(a, b) -> bool:
        if a is None or b is None:
            return a is None and b is None
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)

    return same(result["loss"], recorded["loss"]) and same(result["accuracy"], recorded["accuracy"])


def write_eval_json(run_dir: Path, result: dict) -> Path:
    """Add this split's result to RUN_DIR/eval.json (one entry per split, newest wins), atomically."""
    path = Path(run_dir) / folder.EVAL
    try:
        existing = folder.read_json(path)
    except RunError:
        existing = {}  # absent or damaged: start afresh
    if not isinstance(existing, dict):
        existing = {}
    existing[result["split"]] = result
    folder.write_json(path, existing)
    return path
