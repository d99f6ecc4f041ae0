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
from pathlib import Path

from dlcc import atomic
from dlcc.errors import RunError


class MetricsWriter:
    """metrics.csv: a header, then one row per finished epoch, flushed to the OS each time."""

    def __init__(self, path: Path, columns: list[str]):
        self.columns = columns
        self.file = open(path, "a", newline="", encoding="utf-8")
        self.writer = csv.writer(self.file)
        if self.file.tell() == 0:
            self.writer.writerow(columns)
            self.sync()

    def write(self, row: dict) -> None:
        """Append one row and flush it to the OS (readers see it at once; see sync)."""
        self.writer.writerow([_cell(row.get(c)) for c in self.columns])
        self.file.flush()

    def sync(self) -> None:
        """fsync: make the rows so far survive a power cut (done with each checkpoint)."""
        if not self.file.closed:
            self.file.flush()
            os.fsync(self.file.fileno())

    def close(self) -> None:
        self.sync()
        self.file.close()


def write_metrics(path: Path, columns: list[str], rows: list[dict]) -> None:
    """Replace metrics.csv with these rows, exactly as MetricsWriter would have written them."""
    buf = io.StringIO(newline="")
    writer = csv.writer(buf)
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row.get(c)) for c in columns])
    atomic.write_text(path, buf.getvalue())


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)  # shortest exact round trip: reruns can be compared bit for bit
    return str(value)


def read_metrics(path: Path, text: str) -> tuple[tuple[str, ...], list[dict], list[str]]:
    """(columns, rows, notes) of metrics.csv's text: rows as {column: float or None, epoch: int},
    epochs ascending; a last line cut off mid-write is dropped with a note, any other bad line is
    a RunError naming it."""
    lines = text.splitlines()
    header = next(csv.reader(lines[:1]))
    if not header or header[0] != "epoch":
        raise RunError(f"{path}: the header must start with 'epoch', got {','.join(header)[:60]!r}")
    by_epoch: dict[int, dict] = {}
    notes: list[str] = []
    for number, cells in enumerate(csv.reader(lines[1:]), start=2):
        if not cells:
            continue
        row = _parse_row(header, cells)
        if row is None:
            if not any(line.strip() for line in lines[number:]):
                notes.append(f"metrics.csv: the last line ({number}) was cut off mid-write; ignored")
                break
            raise RunError(f"{path}: line {number} has {len(cells)} cells or a non-number; "
                           f"expected {len(header)} numbers ({', '.join(header[:4])}, ...)")
        # A resumed run rewrites the epochs after its checkpoint: the later rows win.
        for epoch in [e for e in by_epoch if e >= row["epoch"]]:
            del by_epoch[epoch]
        by_epoch[row["epoch"]] = row
    return tuple(header), list(by_epoch.values()), notes


def _parse_row(header: list[str], cells: list[str]) -> dict | None:
    """The row as {column: number or None}, or None when it is malformed."""
    if len(cells) != len(header):
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
