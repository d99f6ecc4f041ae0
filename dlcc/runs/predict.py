"""`dlcc predict`: a trained run's predictions for new examples, as rows for a CSV file or JSON.

    x -> model.inputs(x) (the run's input normalization, exactly as in training) -> the network
      -> classification: class probabilities, the predicted class is the one rule of
         nn/metrics.py (argmax; a > 0.5 for one sigmoid unit) and is named by the run's class names
      -> regression: values mapped back to the target's units (t = a * target_scale + target_shift)

An ensemble predicts its members' average. The examples come as an array (n, d) of raw features
or as a file that data/inputs.py reads (CSV matched by column name, .npz with x, IDX images).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dlcc.data.inputs import pixels, read_inputs
from dlcc.errors import DataError
from dlcc.nn.metrics import predict as forward_all
from dlcc.nn.metrics import predicted_classes
from dlcc.runs.model import Model


@dataclass(frozen=True)
class Predictions:
    """outputs: class probabilities (n, K) for classification, values in the target's units (n, k)
    for regression; class_names: one per class (classification); source: the input file, if any."""

    run_dir: str
    task: str
    outputs: np.ndarray
    class_names: tuple[str, ...] | None
    source: str | None = None

    @property
    def classification(self) -> bool:
        return self.task == "classification"

    @property
    def classes(self) -> np.ndarray:
        """The predicted class index of each example (classification only)."""
        return predicted_classes(self.outputs)

    @property
    def labels(self) -> list:
        """One prediction per example: the class name, or the value (a list when k > 1)."""
        if self.classification:
            return [self.class_names[k] for k in self.classes]
        values = self.outputs.tolist()
        return [row[0] for row in values] if self.outputs.shape[1] == 1 else values

    def header(self, proba: bool = False) -> list[str]:
        if self.classification:
            return ["prediction"] + ([f"p_{name}" for name in self.class_names] if proba else [])
        k = self.outputs.shape[1]
        return ["prediction"] if k == 1 else [f"prediction_{j}" for j in range(1, k + 1)]

    def rows(self, proba: bool = False) -> list[list]:
        """The CSV rows below header(): class name (then probabilities), or the value(s)."""
        if self.classification:
            names = self.labels
            if not proba:
                return [[name] for name in names]
            return [[name, *(f"{p:.6f}" for p in row)] for name, row in zip(names, self.outputs.tolist())]
        return [[repr(v) for v in row] for row in self.outputs.tolist()]

    def to_csv(self, proba: bool = False) -> str:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(self.header(proba))
        writer.writerows(self.rows(proba))
        return buffer.getvalue()

    def to_json(self, proba: bool = False) -> dict:
        data = {"run_dir": self.run_dir, "input": self.source, "task": self.task, "examples": len(self.outputs),
                "classes": list(self.class_names) if self.classification else None, "predictions": self.labels}
        if proba and self.classification:
            data["probabilities"] = self.outputs.tolist()
        return data


def features(model: Model, x) -> tuple[np.ndarray, str | None]:
    """(raw features (n, d), the file they came from or None): x is an array-like or a file path."""
    if isinstance(x, (str, Path)):
        table = read_inputs(x, model.spec)
        return table.x, str(table.path)
    d = model.n_inputs
    columns = getattr(x, "columns", None)  # a table (pandas): its columns by name, as a CSV file's
    if columns is not None and model.feature_names:
        missing = [name for name in model.feature_names if name not in set(map(str, columns))]
        if missing:
            raise DataError(f"x: the table has no column {', '.join(map(repr, missing))}; this run was trained on "
                            f"{', '.join(model.feature_names)}")
        x = x[list(model.feature_names)]
    try:
        x = np.asarray(x)
    except ValueError:  # rows of different lengths
        raise DataError(f"x: rows of different lengths; expected numbers of shape (n, {d}) for this run") from None
    if x.ndim != 2 or x.shape[1] != d or len(x) == 0 or x.dtype.kind not in "biuf":  # as a file's features
        raise DataError(f"x: expected numbers of shape (n, {d}), n >= 1, for this run, got shape {x.shape} "
                        f"({x.dtype}); one example is x[None, :], a file is given by its path")
    if not np.isfinite(x).all():  # as for a file's features: a NaN would come out as a prediction
        raise DataError("x: holds NaN or infinity; features must be finite numbers")
    return (pixels(x, "x") if model.spec.images else x), None  # uint8 pixels scaled as training did


def predictions(model: Model, x) -> Predictions:
    """The run's predictions for x (an array of raw features or an input file's path)."""
    x, source = features(model, x)
    with np.errstate(over="ignore", invalid="ignore"):  # said below, once, in words
        a = forward_all(model.net, model.inputs(x))
    if not np.isfinite(a).all():  # finite inputs, but too large for float32 arithmetic (1e38, say)
        raise DataError(f"{source or 'x'}: the network's outputs overflowed for inputs as large as "
                        f"{np.abs(x).max():.3g}; features must be of the size the run was trained on")
    if model.classification:
        if a.shape[1] == 1:  # one sigmoid unit: p(class 1)
            a = np.hstack([1 - a, a])
        return Predictions(str(model.run.path), "classification", a, model.class_names, source)
    return Predictions(str(model.run.path), "regression", model.outputs(a), None, source)


@dataclass(frozen=True)
class Scatter:
    """What `dlcc plot --kind predictions` draws for one run. Regression: per split, (actual,
    predicted) in the target's units (first target value) and R^2. Classification: the confusion
    matrix of `split` with the class names."""

    task: str
    splits: dict            # regression: {split: (actual, predicted, r2)}
    confusion: np.ndarray | None = None
    class_names: tuple[str, ...] | None = None
    split: str | None = None
    target_name: str | None = None


def predicted_vs_actual(model: Model) -> Scatter:
    """Predicted against actual values on every split (regression), or the confusion matrix of the
    test split (else validation, else train) for classification."""
    from dlcc.runs.evaluate import scores

    present = {name: xy for name, xy in model.arrays.items() if xy is not None}
    if model.classification:
        split = next(s for s in ("test", "val", "train") if s in present)
        x, y = present[split]
        k = len(model.class_names)
        true, pred = predicted_classes(y), predicted_classes(forward_all(model.net, x))
        confusion = np.bincount(true * k + pred, minlength=k * k).reshape(k, k)
        return Scatter("classification", {}, confusion, model.class_names, split)
    points = {}
    for split, (x, y) in present.items():
        actual, predicted = model.outputs(y), model.outputs(forward_all(model.net, x))
        points[split] = (actual[:, 0], predicted[:, 0], scores(predicted, actual)["r2"])
    return Scatter("regression", points, target_name=model.target_name)
