"""metrics.csv: written row by row while a run trains, read back by everything that looks at runs.

    epoch,train_loss,train_accuracy,val_loss,val_accuracy,lr,seconds[,per-member][,diagnostics]

Cells are Python's shortest exact float text (repr), so reruns compare bit for bit; an empty cell
is "not recorded" (train cells of epoch 0, accuracy of a regression run). After `dlcc train
--resume`, an epoch may appear twice: the later row wins.
"""

from __future__ import annotations

import csv
import io
import math
import os
from contextlib import contextmanager
from pathlib import Path

from dlcc import atomic
from dlcc.errors import RunDamaged, WriteFailed


class MetricsWriter:
    """metrics.csv: a header, then one row per finished epoch, flushed to the OS each time.
    A failed write (disk full) is WriteFailed naming the file."""

    def __init__(self, path: Path, columns: list[str]):
        self.path, self.columns = Path(path), columns
        with self._writing():
            self.file = open(path, "a", newline="", encoding="utf-8")
            self.writer = csv.writer(self.file)
            if self.file.tell() == 0:
                self.writer.writerow(columns)
                self.sync()

    @contextmanager
    def _writing(self):
        try:
            yield
        except OSError as exc:
            if isinstance(exc, WriteFailed):
                raise
            raise WriteFailed(f"{self.path}: cannot write it: {atomic.reason(exc)}") from None

    def write(self, row: dict) -> None:
        """Append one row and flush it to the OS (readers see it at once; see sync)."""
        with self._writing():
            self.writer.writerow([_cell(row.get(c)) for c in self.columns])
            self.file.flush()

    def sync(self) -> None:
        """fsync: make the rows so far survive a power cut (done with each checkpoint)."""
        if not self.file.closed:
            with self._writing():
                self.file.flush()
                os.fsync(self.file.fileno())

    def close(self) -> None:
        if self.file.closed:
            return
        try:
            self.sync()
        finally:
            try:
                self.file.close()
            except OSError:
                pass  # its rows were flushed, or the failure was reported by sync


def metrics_text(columns: list[str], rows: list[dict]) -> str:
    """metrics.csv's text for these rows, exactly as MetricsWriter writes them."""
    buf = io.StringIO(newline="")
    writer = csv.writer(buf)
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row.get(c)) for c in columns])
    return buf.getvalue()


def write_metrics(path: Path, columns: list[str], rows: list[dict]) -> None:
    """Replace metrics.csv with these rows, exactly as MetricsWriter would have written them."""
    atomic.write_text(path, metrics_text(columns, rows))


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)  # shortest exact round trip: reruns can be compared bit for bit
    return str(value)


def read_metrics(path: Path, text: str) -> tuple[tuple[str, ...], list[dict], list[str]]:
    """(columns, rows, notes) of metrics.csv's text: rows as {column: float or None, epoch: int},
    epochs ascending; a last line cut off mid-write is dropped with a note, any other bad line is
    RunDamaged naming it."""
    lines = text.splitlines()
    try:
        header = next(csv.reader(lines[:1]))
    except csv.Error as exc:
        raise RunDamaged(f"{path}: line 1: {exc}; the header is damaged") from None
    if not header or header[0] != "epoch" or len(header) > MAX_COLUMNS or max(map(len, header)) > MAX_CELL:
        raise RunDamaged(f"{path}: the header must start with 'epoch' and name at most {MAX_COLUMNS:,} "
                         f"columns, got {','.join(header)[:60]!r}")
    by_epoch: dict[int, dict] = {}
    notes: list[str] = []
    for number, cells in _rows(lines, path):
        if not cells:
            continue
        row = _parse_row(header, cells)
        if row is None:
            if not any(line.strip() for line in lines[number:]):
                notes.append(f"metrics.csv: the last line ({number}) was cut off mid-write; ignored")
                break
            raise RunDamaged(f"{path}: line {number} has {len(cells)} cells or a non-number; "
                           f"expected {len(header)} numbers ({', '.join(header[:4])}, ...)")
        # A resumed run rewrites the epochs after its checkpoint: the later rows win. (Rows
        # normally ascend, so the scan for rows to drop is only needed when one goes back.)
        if by_epoch and row["epoch"] <= next(reversed(by_epoch)):
            for epoch in [e for e in by_epoch if e >= row["epoch"]]:
                del by_epoch[epoch]
        by_epoch[row["epoch"]] = row
    return tuple(header), list(by_epoch.values()), notes


MAX_COLUMNS = 100_000   # an ensemble of 100 members with diagnostics has a few hundred
MAX_CELL = 200          # a number is at most 24 characters, a column name a few dozen


def _rows(lines: list[str], path: Path):
    """(line number, cells) of each data line; a line the csv module cannot split (a field longer
    than its limit, say) is damage, named by its line."""
    reader = csv.reader(lines[1:])
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise RunDamaged(f"{path}: line {reader.line_num + 1}: {exc}; the file is damaged") from None
        yield reader.line_num + 1, cells


def _parse_row(header: list[str], cells: list[str]) -> dict | None:
    """The row as {column: number or None}, or None when it is malformed."""
    if len(cells) != len(header) or any(len(cell) > MAX_CELL for cell in cells):
        return None
    row: dict = {}
    try:
        for name, cell in zip(header, cells):
            row[name] = None if cell == "" else float(cell)
    except ValueError:
        return None
    epoch = row["epoch"]
    if epoch is None or not math.isfinite(epoch) or epoch != int(epoch) or epoch < 0:
        return None
    row["epoch"] = int(epoch)
    return row
