"""User data from a CSV table or an .npz archive.

csv: one example per row; the `target` column (name or index) holds the labels or values, every
other column must be a number. npz: arrays x (n, ...) and y (n,) or (n, k), optionally x_test and
y_test (then they are the test split and `data.test` is not used); loaded with allow_pickle=False.
A relative `path` is read from the current folder (where dlcc runs), not from the config's folder.

With task auto, the target is a classification label when it is integer-valued with 2 to
MAX_AUTO_CLASSES distinct values (or non-numeric, or one-hot rows), else a regression value.
Labels are remapped to 0..K-1 in sorted order of their values.
"""

import csv
import zipfile
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
from pydantic import Field

from dlcc.data.options import Options
from dlcc.data.splits import Loaded
from dlcc.errors import DataError

MAX_AUTO_CLASSES = 50

Task = Literal["auto", "classification", "regression"]
FilePath = Annotated[str, Field(min_length=1, description="file path (relative: to the cwd)")]


class CsvOptions(Options):
    path: FilePath
    target: Annotated[str | int, Field(description="target column: its name, or its index")]
    header: Annotated[bool, Field(description="the first row names the columns")] = True
    task: Task = "auto"
    delimiter: Annotated[str, Field(min_length=1, max_length=1)] = ","


class NpzOptions(Options):
    path: FilePath
    task: Task = "auto"


def csv_table(o: CsvOptions, rng: np.random.Generator) -> Loaded:
    """Features = every column but the target, as float64; targets from the target column."""
    path = user_file(o.path)
    try:
        with path.open(newline="") as handle:
            rows = [row for row in csv.reader(handle, delimiter=o.delimiter) if row]
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise DataError(f"data.options.path: cannot read {path} ({error})") from None
    names = rows.pop(0) if o.header and rows else None
    if not rows:
        raise DataError(f"{path}: no data rows")
    width = len(names or rows[0])
    for line, row in enumerate(rows, start=2 if names else 1):
        if len(row) != width:
            raise DataError(f"{path}: line {line} has {len(row)} fields, expected {width}")
    names = names or [str(i) for i in range(width)]
    target = target_index(o.target, names, o.header, path)

    table = np.array(rows, dtype=str)
    features = [j for j in range(width) if j != target]
    if not features:
        raise DataError(f"{path}: the target is the only column; there are no features")
    first_line = 2 if o.header else 1
    x = np.empty((len(rows), len(features)))
    for column, j in enumerate(features):
        x[:, column] = numeric_column(table[:, j], f"{path}, column {names[j]!r}", first_line)
    if not np.isfinite(x).all():
        raise DataError(f"{path}: features hold NaN or infinite values")
    target_cells = table[:, target]
    if all(is_number(cell) for cell in target_cells):
        target_cells = target_cells.astype(np.float64)
    where = f"{path}, target column {names[target]!r}"
    t, task, classes = labels_or_targets([target_cells], o.task, where)
    return Loaded(x=x, t=t[0], task=task, classes=classes)


def user_file(option: str) -> Path:
    """The file data.options.path names; a relative path is read from the current directory."""
    path = Path(option).expanduser()
    if not path.is_file():
        what = "is a folder, not a file" if path.is_dir() else "no such file"
        cwd = "" if path.is_absolute() else f" (relative to the current folder, {Path.cwd()})"
        raise DataError(f"data.options.path: {path}: {what}{cwd}")
    return path


def target_index(target: str | int, names: list[str], header: bool, path: Path) -> int:
    """Column index of the target (negative indices count from the end)."""
    if isinstance(target, int):
        if not -len(names) <= target < len(names):
            raise DataError(
                f"data.options.target = {target}: {path} has {len(names)} columns "
                f"(indices 0..{len(names) - 1}, or negative from the end)"
            )
        return target % len(names)
    if not header:
        raise DataError(
            f"data.options.target = {target!r} is a column name, but header is false; "
            f"give a column index"
        )
    if target not in names:
        raise DataError(
            f"data.options.target = {target!r}: no such column in {path}; "
            f"columns: {', '.join(names)}"
        )
    return names.index(target)


def numeric_column(cells: np.ndarray, where: str, first_line: int) -> np.ndarray:
    """The cells as float64; a non-numeric or empty cell is an error naming its line."""
    try:
        return cells.astype(np.float64)
    except ValueError:
        row = next(i for i, cell in enumerate(cells) if not is_number(cell))
        raise DataError(
            f"{where}, line {first_line + row}: {str(cells[row])!r} is not a number; "
            f"features must be numbers"
        ) from None


def is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def npz_archive(o: NpzOptions, rng: np.random.Generator) -> Loaded:
    """x reshaped to (n, d) float64; optional x_test / y_test become the official test split."""
    path = user_file(o.path)
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
    except (OSError, ValueError, zipfile.BadZipFile) as error:
        raise DataError(
            f"data.options.path: {path} is not an .npz archive of plain arrays ({error})"
        ) from None
    for required in ("x", "y"):
        if required not in arrays:
            held = ", ".join(arrays) or "nothing"
            raise DataError(f"{path}: no array {required!r} (it holds {held}); need x and y")
    if ("x_test" in arrays) != ("y_test" in arrays):
        raise DataError(f"{path}: give both x_test and y_test, or neither")
    pairs = [("x", "y")] + ([("x_test", "y_test")] if "x_test" in arrays else [])
    xs = [features_matrix(arrays[xk], arrays[yk], f"{path}: {xk}") for xk, yk in pairs]
    if len(xs) == 2 and xs[0].shape[1] != xs[1].shape[1]:
        raise DataError(
            f"{path}: x has {xs[0].shape[1]} features per example but x_test has {xs[1].shape[1]}"
        )
    ts, task, classes = labels_or_targets([arrays[yk] for _, yk in pairs], o.task, f"{path}: y")
    has_test = len(xs) == 2
    return Loaded(
        x=xs[0],
        t=ts[0],
        task=task,
        classes=classes,
        x_test=xs[1] if has_test else None,
        t_test=ts[1] if has_test else None,
    )


def features_matrix(x: np.ndarray, y: np.ndarray, where: str) -> np.ndarray:
    """x as an (n, d) float64 matrix with finite values and as many rows as y."""
    if x.dtype.kind not in "biuf" or x.ndim == 0:
        raise DataError(f"{where} has dtype {x.dtype}, shape {x.shape}; expected numbers (n, ...)")
    if len(x) != len(y):
        raise DataError(f"{where} has {len(x)} examples but its targets have {len(y)}")
    x = x.reshape(len(x), -1).astype(np.float64)
    if not np.isfinite(x).all():
        raise DataError(f"{where} holds NaN or infinite values")
    return x


def labels_or_targets(parts: list[np.ndarray], task: str, where: str):
    """Integer labels 0..K-1 or (n, k) float targets for each part (train, then test).

    All parts share one label mapping: sorted distinct values -> 0..K-1. Returns (parts, task, K).
    """
    values = np.concatenate([p.reshape(len(p), -1) for p in parts])
    numeric = values.dtype.kind in "biuf"
    if numeric and not np.isfinite(values.astype(np.float64)).all():
        raise DataError(f"{where} holds NaN or infinite values")
    if task == "auto":
        task = "classification" if looks_categorical(values) else "regression"
    if task == "regression":
        if not numeric:
            raise DataError(f"{where} is not numeric, so it cannot be a regression target")
        return [p.reshape(len(p), -1).astype(np.float64) for p in parts], task, None

    if values.shape[1] > 1:
        if not is_one_hot(values):
            raise DataError(
                f"{where} has {values.shape[1]} columns that are not one-hot rows; "
                f"classification needs labels (n,) or one-hot rows (n, K)"
            )
        return [p.reshape(len(p), -1).argmax(axis=1) for p in parts], task, values.shape[1]
    distinct, labels = np.unique(values[:, 0], return_inverse=True)
    if len(distinct) < 2:
        raise DataError(f"{where} has a single distinct value; classification needs 2 or more")
    bounds = np.cumsum([len(p) for p in parts])[:-1]
    return np.split(labels, bounds), task, len(distinct)


def looks_categorical(values: np.ndarray) -> bool:
    """Non-numeric, one-hot, or integer-valued with 2..MAX_AUTO_CLASSES distinct values."""
    if values.dtype.kind not in "biuf":
        return True
    if values.shape[1] > 1:
        return is_one_hot(values)
    distinct = np.unique(values)
    return bool(np.all(distinct == np.round(distinct))) and 2 <= len(distinct) <= MAX_AUTO_CLASSES


def is_one_hot(values: np.ndarray) -> bool:
    """Every row is 0s and a single 1."""
    if values.dtype.kind not in "biuf":
        return False
    return bool(np.all((values == 0) | (values == 1)) and np.all(values.sum(axis=1) == 1))
