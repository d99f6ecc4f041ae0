"""Examples to predict or score, read from a file: a CSV table, an .npz archive or an IDX image file.

    table = read_inputs(path, InputSpec(width=4, features=("sepal_length", ...), target="species"))
    table.x   (n, d) raw features, in the training file's column order
    table.y   the targets as written ((n,) labels or (n, k) values), or None when the file has none

What the trained network expects (InputSpec) decides how a file is read:
- CSV with a header, run trained on a CSV with a header: columns are matched by name, in any
  order; the target column may be there (it becomes y), other columns are ignored.
- CSV otherwise: d columns of features, or d + 1 with the target last; a first row without any
  number in it is a header.
- .npz: array x (n, ...) reshaped to (n, d), and y if present; read with allow_pickle=False.
- IDX (gzip-compressed or not): images (n, rows, cols). For scoring, the labels file beside it
  (t10k-images -> t10k-labels) is y.
A run trained on an image dataset takes pixels as training saw them (`pixels`): whole-number
pixels 0..255 (an IDX file, a uint8 array) are scaled x = pixel / 255, as training did; pixels
that are already floating point must lie in [0, 1], so raw 0..255 values are never silently fed
to a network trained on [0, 1].
Every problem is a DataError naming the file, and the line and column where there is one.
"""

from __future__ import annotations

import gzip
import io
import math
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dlcc.data.files import is_number, label_name, load_npz, not_a_file, numeric_columns, read_csv
from dlcc.data.idx import parse_idx
from dlcc.data.pixels import to_float32
from dlcc.errors import DataError

CSV_SUFFIXES = {".csv": ",", ".tsv": "\t", ".txt": ","}
GZIP_MAGIC = b"\x1f\x8b"
MAX_IDX_BYTES = 1 << 30  # decompressed (1 GiB, 1.3 million 28 x 28 images): MNIST's 60,000 are 47 MB


@dataclass(frozen=True)
class InputSpec:
    """What the network was trained on: d features (named when they were CSV columns), the target
    column's name, and whether inputs are images scaled by 1/255."""

    width: int
    features: tuple[str, ...] | None = None
    target: str | None = None
    images: bool = False


@dataclass(frozen=True)
class Table:
    x: np.ndarray
    y: np.ndarray | None
    path: Path
    target: str  # how the targets are named in messages ("column 'species'", "array y")
    lines: np.ndarray | None = None  # CSV: each example's line in the file (rows are named by line)
    indices: bool = False  # the labels are class indices 0..K-1 (an IDX labels file), not names

    def row(self, i: int) -> str:
        """Example i as messages name it: its line in a CSV file, else its index."""
        return f"line {self.lines[i]}" if self.lines is not None else f"row {i} (from 0)"


def read_inputs(path: str | Path, spec: InputSpec, with_targets: bool = False) -> Table:
    """The examples in `path`; with_targets: also look for the labels file beside an IDX file."""
    path = Path(path).expanduser()
    what = not_a_file(path)
    if what:
        raise DataError(f"{path}: {what}")
    suffix = path.suffix.lower()
    if suffix in CSV_SUFFIXES:
        return _csv(path, spec, CSV_SUFFIXES[suffix])
    if suffix == ".npz":
        return _npz(path, spec)
    try:
        with path.open("rb") as handle:
            head = handle.read(4)
    except OSError as error:
        raise DataError(f"{path}: cannot read it ({error})") from None
    if head[:2] == GZIP_MAGIC or (head[:2] == b"\0\0" and len(head) == 4):
        return _idx(path, spec, with_targets)
    raise DataError(f"{path}: not a file dlcc can read examples from; give a .csv table, an .npz archive "
                    "with array x, or an IDX file (such as t10k-images-idx3-ubyte[.gz])")


def _csv(path: Path, spec: InputSpec, delimiter: str) -> Table:
    names, table, lines = read_csv(path, delimiter, header=False, key=None)
    header = not any(is_number(cell) for cell in table[0])  # names, not values (a label may be text)
    if header:
        names, table, lines = [str(cell) for cell in table[0]], table[1:], lines[1:]
        if not len(table):
            raise DataError(f"{path}: no data rows below the header")
    if spec.features is not None and header:
        missing = [name for name in spec.features if name not in names]
        if missing:
            raise DataError(
                f"{path}, line 1: no column {', '.join(map(repr, missing))}; the run was trained on the "
                f"columns {', '.join(spec.features)} (matched by name, in any order)")
        twice = [name for name in (*spec.features, spec.target) if name is not None and names.count(name) > 1]
        if twice:
            raise DataError(f"{path}, line 1: two columns are named {twice[0]!r}; the run reads its columns by "
                            "name, so give each its own")
        columns = [names.index(name) for name in spec.features]
        target = names.index(spec.target) if spec.target in names else None
    elif spec.features is not None and len(names) not in (spec.width, spec.width + 1):
        raise DataError(f"{path}, line 1: {len(names)} columns and no header; the run takes the {spec.width} "
                        f"columns {', '.join(spec.features)}: add a header naming them (any order), or give "
                        "the values in that order")
    else:
        if len(names) not in (spec.width, spec.width + 1):
            raise DataError(f"{path}, line {lines[0]}: {len(names)} columns, but the run takes {spec.width} "
                            f"features per example (or {spec.width + 1}: the features, then the target)")
        columns = list(range(spec.width))
        target = spec.width if len(names) == spec.width + 1 else None
    x = numeric_columns(table, columns, names, path, lines)
    if spec.images:
        x = pixels(x, str(path))
    y = None if target is None else table[:, target]
    if y is not None and all(is_number(cell) for cell in y):
        y = y.astype(np.float64)
    return Table(x, y, path, f"column {names[target]!r}" if target is not None else "target", lines)


def _npz(path: Path, spec: InputSpec) -> Table:
    arrays = load_npz(path)
    if "x" not in arrays:
        raise DataError(f"{path}: no array 'x' (it holds {', '.join(arrays) or 'nothing'}); "
                        "put the examples in x, one per row")
    x, y = arrays["x"], arrays.get("y")
    if x.dtype.kind not in "biuf" or x.ndim == 0 or len(x) == 0:
        raise DataError(f"{path}: x has dtype {x.dtype}, shape {x.shape}; expected numbers (n, ...), n >= 1")
    if y is not None and y.ndim == 0:
        raise DataError(f"{path}: y is a single value (shape ()); expected one target per example")
    x = x.reshape(len(x), -1)
    x = _check_width(pixels(x, f"{path}: x") if spec.images else x.astype(np.float64), spec, f"{path}: x")
    if y is not None and len(y) != len(x):
        raise DataError(f"{path}: x has {len(x)} examples but y has {len(y)}")
    return Table(x, y, path, "array y")


def _idx(path: Path, spec: InputSpec, with_targets: bool) -> Table:
    images = _parse(path)
    if images.ndim < 2 or len(images) == 0:
        raise DataError(f"{path}: an IDX file of shape {images.shape}; expected images (n, rows, cols), n >= 1")
    x = images.reshape(len(images), math.prod(images.shape[1:]))
    x = _check_width(pixels(x, str(path)) if spec.images else x.astype(np.float64), spec, str(path))
    y = None
    labels = path.with_name(path.name.replace("images-idx3", "labels-idx1"))
    if with_targets and labels != path:
        found = next((p for p in (labels, labels.with_name(labels.name + ".gz"),
                                  labels.with_name(labels.name.removesuffix(".gz"))) if p.is_file()), None)
        if found is not None:
            y = _parse(found)
            if y.shape != (len(x),):
                raise DataError(f"{found}: labels of shape {y.shape}; expected ({len(x)},), one per image in {path}")
    return Table(x, y, path, f"labels file {labels.name}", indices=True)


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise DataError(f"{path}: cannot read it ({error})") from None


def _parse(path: Path) -> np.ndarray:
    raw = _read(path)
    if raw[:2] != GZIP_MAGIC:
        return parse_idx(raw, str(path))
    try:  # read at most MAX_IDX_BYTES: a small file may unpack to more than the memory holds
        with gzip.GzipFile(fileobj=io.BytesIO(raw)) as unpacked:
            data = unpacked.read(MAX_IDX_BYTES + 1)
    except (EOFError, zlib.error, gzip.BadGzipFile) as error:
        raise DataError(f"{path}: cannot decompress it ({error})") from None
    except MemoryError:  # a memory limit below MAX_IDX_BYTES (ulimit -v, a container)
        raise DataError(f"{path}: unpacks to more than this process may hold in memory") from None
    if len(data) > MAX_IDX_BYTES:
        raise DataError(f"{path}: unpacks to more than {MAX_IDX_BYTES:,} bytes; not an image file dlcc reads")
    return parse_idx(data, str(path))


def pixels(x: np.ndarray, where: str) -> np.ndarray:
    """Image rows (n, d) as a network trained on an image dataset takes them: whole numbers
    0..255 -> x = pixel / 255 (float32, training's arithmetic); floating point: already in [0, 1]."""
    if x.dtype.kind in "iu":
        if x.size and (x.min() < 0 or x.max() > 255):
            raise DataError(f"{where}: pixel values {x.min()}..{x.max()}; whole-number pixels must be 0..255")
        return to_float32(x)
    x = x.astype(np.float32 if x.dtype.kind == "b" else x.dtype, copy=False)
    finite = x[np.isfinite(x)]  # NaN and infinity: _check_width names the cell
    low, high = (finite.min(), finite.max()) if finite.size else (0, 0)
    if low < 0 or high > 1:
        raise DataError(f"{where}: pixel values {low:g}..{high:g}; this run was trained on images scaled to "
                        "[0, 1] (x = pixel / 255): divide by 255, or give whole-number pixels 0..255 "
                        "(uint8) and dlcc scales them")
    return x


def _check_width(x: np.ndarray, spec: InputSpec, where: str) -> np.ndarray:
    if x.shape[1] != spec.width:
        raise DataError(f"{where}: {x.shape[1]} features per example, but the run takes {spec.width}")
    if x.dtype.kind == "f" and not np.isfinite(x).all():
        row, column = np.argwhere(~np.isfinite(x))[0]
        raise DataError(f"{where}: row {row} (from 0), column {column} is {x[row, column]}; "
                        "features must be finite numbers (no NaN or infinity)")
    return x


def class_indices(table: Table, names: tuple[str, ...]) -> np.ndarray:
    """The table's labels as written (text, numbers, or one-hot rows) -> class indices 0..K-1 by
    the run's class names; a label the run does not know is an error naming its row."""
    labels = np.asarray(table.y)
    if labels.ndim == 2 and labels.shape[1] == len(names) > 1:
        return labels.argmax(axis=1)
    if table.indices:
        outside = np.flatnonzero((labels < 0) | (labels >= len(names)))
        if len(outside):
            raise DataError(f"{table.path}, {table.target}, {table.row(outside[0])}: label {labels[outside[0]]} is "
                            f"not a class index of this run (0..{len(names) - 1})")
        return labels.astype(np.intp)
    labels = labels.reshape(len(labels))
    index = {name: k for k, name in enumerate(names)}
    out = np.empty(len(labels), dtype=np.intp)
    for i, label in enumerate(labels):
        name = label_name(float(label)) if labels.dtype.kind in "biuf" or is_number(str(label)) else str(label)
        k = index.get(str(label), index.get(name))
        if k is None:
            shown = ", ".join(names) if len(names) <= 12 else f"{', '.join(names[:12])}, ..."
            raise DataError(f"{table.path}, {table.target}, {table.row(i)}: {str(label)!r} is not one of the "
                            f"run's classes ({shown})")
        out[i] = k
    return out


def target_values(table: Table, k: int) -> np.ndarray:
    """The table's regression targets as written -> an (n, k) float64 matrix of finite numbers."""
    values = np.asarray(table.y)
    values = values.reshape(len(values), -1)
    where = f"{table.path}, {table.target}"
    if values.dtype.kind not in "biuf":
        bad = next(i for i, v in enumerate(values[:, 0]) if not is_number(str(v)))
        raise DataError(f"{where}, {table.row(bad)}: {str(values[bad, 0])!r} is not a number; "
                        "regression targets must be numbers")
    values = values.astype(np.float64)
    if values.shape[1] != k:
        raise DataError(f"{where}: {values.shape[1]} target value(s) per example; the run predicts {k}")
    if not np.isfinite(values).all():
        bad = int(np.argwhere(~np.isfinite(values))[0, 0])
        raise DataError(f"{where}, {table.row(bad)}: {values[bad, 0]} is not a finite number")
    return values
