"""User data from a CSV table or an .npz archive.

csv: one example per row; the `target` column (name or index) holds the labels or values, every
other column must be a number. npz: arrays x (n, ...) and y (n,) or (n, k), optionally x_test and
y_test (then they are the test split and `data.test` is not used); loaded with allow_pickle=False.
A relative `path` is read from the current folder (where dlcc runs), not from the config's folder.

With task auto, the target is a classification label when it is text, one-hot rows or whole
numbers, else a regression value. Whole numbers are ambiguous (ages, prices in dollars, or class
labels?): they are read as labels, and build.prepare refuses the run, naming both fixes, unless the
output layer has one unit per distinct value. Labels are remapped to 0..K-1 in sorted order of
their values, and each class keeps its value as its name ("setosa", or "7" for the label 7).
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
    names, table, lines = read_csv(path, o.delimiter, o.header, "data.options.path")
    other = next((c for c in ",;\t|" if len(names) == 1 and c in table[0, 0]), None)
    if other:
        raise DataError(f"{path}: one column only, split by {o.delimiter!r}, but its values seem separated by "
                        f"{other!r}: set data.options.delimiter: {other!r}")
    if o.header:
        check_names(names, path)
    target = target_index(o.target, names, o.header, path)
    features = [j for j in range(len(names)) if j != target]
    if not features:
        raise DataError(f"{path}: the target is the only column; there are no features")
    x = numeric_columns(table, features, names, path, lines)
    target_cells = table[:, target]
    if all(is_number(cell) for cell in target_cells):
        target_cells = target_cells.astype(np.float64)
    where = f"{path}, target column {names[target]!r}"
    t, task, classes, class_names = labels_or_targets([target_cells], o.task, where)
    return Loaded(x=x, t=t[0], task=task, classes=classes, class_names=class_names,
                  feature_names=tuple(names[j] for j in features) if o.header else None,
                  target_name=names[target] if o.header else None,
                  auto_labels=where if o.task == "auto" and target_cells.dtype.kind == "f" and classes else None)


def read_csv(path: Path, delimiter: str = ",", header: bool = True, key: str | None = "data.options.path"
             ) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(column names, the cells as an (n, columns) array of str, the line in the file where each row
    starts); without a header the columns are named by their index. UTF-8 text, with or without
    the byte-order mark spreadsheets write. Blank lines are skipped and a quoted field may span
    lines, so rows are named by their line in the file; a row of another width is an error.
    key: the config key that named the file, for messages (None: the file was given directly)."""
    rows, lines = [], []
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle, delimiter=delimiter)
            start = 1
            for row in reader:
                if row:
                    rows.append(row)
                    lines.append(start)
                start = reader.line_num + 1
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        why = f"{error}; save it as UTF-8 text" if isinstance(error, UnicodeDecodeError) else error
        raise DataError(f"{key}: cannot read {path} ({why})" if key else f"{path}: cannot read it ({why})") from None
    names = rows.pop(0) if header and rows else None
    lines = np.array(lines[1:] if names else lines, dtype=np.intp)
    if not rows:
        raise DataError(f"{path}: no data rows")
    width = len(names or rows[0])
    for line, row in zip(lines, rows):
        if len(row) != width:
            raise DataError(f"{path}: line {line} has {len(row)} fields, expected {width}")
    return names or [str(i) for i in range(width)], np.array(rows, dtype=str), lines


def check_names(names: list[str], path: Path) -> None:
    """Header names are how a run finds its columns again (dlcc predict matches them by name), so
    each must be there and be unique."""
    for j, name in enumerate(names):
        if not name.strip():
            raise DataError(f"{path}, line 1: column {j} has no name in the header; name it (a first column "
                            "without a name is often a saved row index: pandas' to_csv(index=False) leaves it out)")
        if names.index(name) != j:
            raise DataError(f"{path}, line 1: two columns are named {name!r} (columns {names.index(name)} "
                            f"and {j}); give each column its own name")


def numeric_columns(table: np.ndarray, columns: list[int], names: list[str], path, lines: np.ndarray
                    ) -> np.ndarray:
    """The chosen columns of a CSV table as an (n, len(columns)) float64 matrix of finite numbers;
    a cell that is text, empty, NaN or infinite is an error naming its line (lines: each row's line
    in the file) and column."""
    x = np.empty((len(table), len(columns)))
    for out, j in enumerate(columns):
        where = f"{path}, column {names[j]!r}"
        x[:, out] = numeric_column(table[:, j], where, lines)
        bad = np.flatnonzero(~np.isfinite(x[:, out]))
        if len(bad):
            raise DataError(f"{where}, line {lines[bad[0]]}: {str(table[bad[0], j])!r} is not a finite "
                            "number; features must be finite numbers (no NaN or infinity)")
    return x


def user_file(option: str) -> Path:
    """The file data.options.path names; a relative path is read from the current directory."""
    path = Path(option).expanduser()
    what = not_a_file(path)
    if what:
        cwd = "" if path.is_absolute() else f" (relative to the current folder, {Path.cwd()})"
        raise DataError(f"data.options.path: {path}: {what}{cwd}")
    return path


def not_a_file(path: Path) -> str | None:
    """Why `path` cannot be read as a data file, in words, or None when it is a regular file."""
    if path.is_file():
        return None
    return ("is a folder, not a file" if path.is_dir() else
            "is not a regular file (a pipe or a device)" if path.exists() else
            "is a symbolic link to nothing (a loop of links, or its target is gone)" if path.is_symlink() else
            "no such file")


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
            f"columns: {', '.join(n if n.strip() == n and n.isprintable() else repr(n) for n in names)}"
        )
    return names.index(target)


def numeric_column(cells: np.ndarray, where: str, lines: np.ndarray) -> np.ndarray:
    """The cells as float64; a non-numeric or empty cell is an error naming its line."""
    try:
        return cells.astype(np.float64)
    except ValueError:
        row = next(i for i, cell in enumerate(cells) if not is_number(cell))
        raise DataError(
            f"{where}, line {lines[row]}: {str(cells[row])!r} is not a number; "
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
    arrays = load_npz(path, "data.options.path: ")
    for required in ("x", "y"):
        if required not in arrays:
            held = ", ".join(arrays) or "nothing"
            raise DataError(f"{path}: no array {required!r} (it holds {held}); need x and y")
    if ("x_test" in arrays) != ("y_test" in arrays):
        raise DataError(f"{path}: give both x_test and y_test, or neither")
    pairs = [("x", "y")] + ([("x_test", "y_test")] if "x_test" in arrays else [])
    xs = [features_matrix(arrays[xk], arrays[yk], f"{path}: {xk}", f"{path}: {yk}") for xk, yk in pairs]
    if len(xs) == 2 and xs[0].shape[1] != xs[1].shape[1]:
        raise DataError(
            f"{path}: x has {xs[0].shape[1]} features per example but x_test has {xs[1].shape[1]}"
        )
    ys = [arrays[yk] for _, yk in pairs]
    ts, task, classes, class_names = labels_or_targets(ys, o.task, f"{path}: y")
    has_test = len(xs) == 2
    whole_numbers = ys[0].dtype.kind in "biuf" and ys[0].reshape(len(ys[0]), -1).shape[1] == 1
    return Loaded(
        x=xs[0],
        t=ts[0],
        task=task,
        classes=classes,
        x_test=xs[1] if has_test else None,
        t_test=ts[1] if has_test else None,
        class_names=class_names,
        auto_labels=f"{path}: y" if o.task == "auto" and classes and whole_numbers else None,
    )


def load_npz(path: Path, where: str = "") -> dict[str, np.ndarray]:
    """The arrays of an .npz archive (allow_pickle=False); a .npy file, a pickle or a damaged
    archive is a DataError naming the file."""
    try:
        loaded = np.load(path, allow_pickle=False)
        if not isinstance(loaded, np.lib.npyio.NpzFile):  # a .npy file: one bare array
            raise DataError(f"{where}{path} is a .npy file holding one array; an .npz archive with named "
                            "arrays is needed (numpy.savez(path, x=x, y=y))")
        with loaded as archive:
            return plain_arrays({key: archive[key] for key in archive.files})
    except (OSError, ValueError, EOFError, MemoryError, zipfile.BadZipFile) as error:
        raise DataError(f"{where}{path} is not an .npz archive of plain arrays ({str(error)[:200]})") from None


def plain_arrays(members: dict) -> dict[str, np.ndarray]:
    """The members of an .npz archive, all of them arrays: NumPy hands back a member that is not a
    .npy file (a text file, a folder entry zipped in beside the arrays) as its raw bytes, which
    the code that uses `x` or `W1` would trip over; such an archive is a ValueError here."""
    for key, value in members.items():
        if not isinstance(value, np.ndarray):
            raise ValueError(f"its member {key!r} is not a .npy array")
    return members


def features_matrix(x: np.ndarray, y: np.ndarray, where: str, targets: str) -> np.ndarray:
    """x as an (n, d) float64 matrix with finite values and as many rows as y: n >= 1 examples
    of d >= 1 numbers each; y an array (n,) or (n, k) of numbers or labels."""
    if x.dtype.kind not in "biuf" or x.ndim == 0:
        raise DataError(f"{where} has dtype {x.dtype}, shape {x.shape}; expected numbers (n, ...)")
    if y.ndim == 0 or y.dtype.kind not in "biufUS" or y.ndim > 2:
        raise DataError(f"{targets} has dtype {y.dtype}, shape {y.shape}; expected one label or value per "
                        "example, (n,) or (n, k), numbers or text")
    if len(x) == 0:
        raise DataError(f"{where} has no examples (shape {x.shape})"
                        + ("; leave x_test and y_test out to hold out data.test of x instead" if "test" in where else ""))
    if x[0].size == 0:
        raise DataError(f"{where} has no features (shape {x.shape}); each example needs at least one number")
    if len(x) != len(y):
        raise DataError(f"{where} has {len(x)} examples but its targets have {len(y)}")
    if y.ndim == 2 and y.shape[1] == 0:
        raise DataError(f"{targets} has shape {y.shape}: no target values")
    x = x.reshape(len(x), -1).astype(np.float64)
    if not np.isfinite(x).all():
        raise DataError(f"{where} holds NaN or infinite values")
    return x


def labels_or_targets(parts: list[np.ndarray], task: str, where: str):
    """Integer labels 0..K-1 or (n, k) float targets for each part (train, then test).

    All parts share one label mapping: sorted distinct values -> 0..K-1, each class named by its
    value (label_name). Returns (parts, task, K, class names); K and the names are None for
    regression, and the names None for one-hot rows (classes "0".."K-1").
    """
    values = np.concatenate([p.reshape(len(p), -1) for p in parts])
    numeric = values.dtype.kind in "biuf"
    if numeric and not np.isfinite(values.astype(np.float64)).all():
        raise DataError(f"{where} holds NaN or infinite values")
    if task == "auto":
        refuse_ambiguous(values, where)
        task = "classification" if looks_categorical(values) else "regression"
    if task == "regression":
        if not numeric:
            raise DataError(f"{where} is not numeric, so it cannot be a regression target")
        return [p.reshape(len(p), -1).astype(np.float64) for p in parts], task, None, None

    if values.shape[1] > 1:
        if not is_one_hot(values):
            raise DataError(
                f"{where} has {values.shape[1]} columns that are not one-hot rows; "
                f"classification needs labels (n,) or one-hot rows (n, K)"
            )
        return [p.reshape(len(p), -1).argmax(axis=1) for p in parts], task, values.shape[1], None
    distinct, labels = np.unique(values[:, 0], return_inverse=True)
    if len(distinct) < 2:
        raise DataError(f"{where} has a single distinct value; classification needs 2 or more")
    bounds = np.cumsum([len(p) for p in parts])[:-1]
    names = tuple(label_name(value) for value in distinct)
    return np.split(labels.reshape(-1), bounds), task, len(distinct), names


def label_name(value) -> str:
    """A class's name: the label as written (setosa), a whole number without ".0" (7), else the
    shortest text that reads back as the same float (0.5)."""
    if isinstance(value, (str, np.str_)):
        return str(value)
    value = float(value)
    return str(int(value)) if value.is_integer() else repr(value)


def refuse_ambiguous(values: np.ndarray, where: str) -> None:
    """Targets that would silently become a regression although they were meant as classes (task
    auto): one distinct value, or 0/1 columns that are not one-hot rows."""
    if values.dtype.kind in "biuf" and len(np.unique(values[:, 0] if values.shape[1] == 1 else values, axis=0)) < 2:
        raise DataError(f"{where} has a single distinct value ({label_name(values.flat[0])}): classification "
                        "needs 2 or more classes, and there is nothing to regress; check the file, or set "
                        "data.options.task: regression to fit a constant")
    if values.shape[1] > 1 and values.dtype.kind in "biuf" and np.all((values == 0) | (values == 1)) \
            and not is_one_hot(values):
        row = int(np.flatnonzero(values.sum(axis=1) != 1)[0])
        raise DataError(f"{where} has 0/1 columns but row {row} holds {int(values[row].sum())} ones, so these "
                        "are not one-hot rows (one 1 per row); fix the rows to classify, or set "
                        "data.options.task: regression to fit the columns as numbers")


def looks_categorical(values: np.ndarray) -> bool:
    """Non-numeric, one-hot, or whole numbers with 2 or more distinct values (build.prepare then
    asks the output layer to agree, since whole numbers may as well be a quantity)."""
    if values.dtype.kind not in "biuf":
        return True
    if values.shape[1] > 1:
        return is_one_hot(values)
    distinct = np.unique(values)
    return bool(np.all(distinct == np.round(distinct))) and len(distinct) >= 2


def is_one_hot(values: np.ndarray) -> bool:
    """Every row is 0s and a single 1."""
    if values.dtype.kind not in "biuf":
        return False
    return bool(np.all((values == 0) | (values == 1)) and np.all(values.sum(axis=1) == 1))
