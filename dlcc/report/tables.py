"""Rich tables and summaries printed by the CLI (stdout)."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.table import Table


def _pct(value) -> str:
    return "-" if value is None else f"{100 * value:.2f}%"


def _num(value) -> str:
    return "-" if value is None else f"{value:.4f}"


def print_summary(run_dir: Path, summary: dict, console: Console | None = None) -> None:
    """The end-of-training report: status, best epoch, test metrics, where the run lives."""
    console = console or Console()
    table = Table(show_header=True, header_style="bold", title=f"{summary['name']} ({summary['status']})")
    for col in ("", "loss", "accuracy"):
        table.add_column(col, justify="right" if col else "left")
    best = summary.get("best") or {}
    if best:
        table.add_row(f"train (epoch {best['epoch']})", _num(best.get("train_loss")), _pct(best.get("train_accuracy")))
        if best.get("val_loss") is not None:
            table.add_row(f"validation (epoch {best['epoch']})", _num(best["val_loss"]), _pct(best.get("val_accuracy")))
    test = summary.get("test")
    if test:
        table.add_row("test (final model)", _num(test["loss"]), _pct(test.get("accuracy")))
    console.print(table)
    if summary.get("stop_reason"):
        console.print(f"stopped early: {summary['stop_reason']}", highlight=False)
    console.print(f"{summary['epochs_completed']} epochs in {summary['seconds']:.1f}s -> {run_dir}", highlight=False)
