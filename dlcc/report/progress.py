"""A Rich progress bar on stderr that follows the training loop (implements trainer.Reporter)."""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn


def _fmt(value, pct: bool = False) -> str:
    if value is None:
        return "-"
    return f"{100 * value:.2f}%" if pct else f"{value:.4f}"


def epoch_line(row: dict) -> str:
    parts = [f"epoch {row['epoch']:>3}", f"loss {_fmt(row.get('train_loss'))}"]
    if row.get("train_accuracy") is not None:
        parts.append(f"acc {_fmt(row['train_accuracy'], True)}")
    if row.get("val_loss") is not None:
        parts.append(f"val_loss {_fmt(row['val_loss'])}")
    if row.get("val_accuracy") is not None:
        parts.append(f"val_acc {_fmt(row['val_accuracy'], True)}")
    if row.get("seconds") is not None:
        parts.append(f"{row['seconds']:.2f}s")
    return "  ".join(parts)


class RichReporter:
    """Progress over all batches of the run, with one log line per finished epoch."""

    # Redrawing on every batch would cost more than an online-SGD step; Rich refreshes at 10 Hz
    # from its own thread, and we only bump a counter here.
    def __init__(self, console: Console | None = None):
        self.console = console or Console(stderr=True)
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[status]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=self.console,
            transient=True,
        )
        self.task = None

    def start(self, epochs: int, batches_per_epoch: int) -> None:
        self.epochs = epochs
        self.progress.start()
        self.task = self.progress.add_task("epoch 1", total=epochs * batches_per_epoch, status="")

    def batch(self) -> None:
        self.progress.advance(self.task)

    def epoch(self, row: dict) -> None:
        self.progress.console.print(epoch_line(row), highlight=False)
        self.progress.update(self.task, description=f"epoch {min(row['epoch'] + 1, self.epochs)}/{self.epochs}",
                             status=f"val_acc {_fmt(row.get('val_accuracy'), True)}")

    def close(self) -> None:
        if self.task is not None:
            self.progress.stop()
