"""The `dlcc datasets` table (stdout)."""

from __future__ import annotations

from pathlib import Path

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

STATUS_STYLE = {"cached": "green", "missing": "red", "incomplete": "yellow"}


def _output(entry: dict) -> str:
    """What the network predicts: K classes, or k regression values per example."""
    if entry["classes"] is not None:
        return f"{entry['classes']} classes"
    if entry["targets"] is not None:
        return f"{entry['targets']} target value" + ("s" if entry["targets"] > 1 else "")
    return "-"


def print_datasets(entries: list[dict], cache: Path, console: Console | None = None) -> None:
    """One row per dataset: kind, features, classes or targets, cache status, description."""
    console = console or Console()
    table = Table(box=box.SIMPLE_HEAD, collapse_padding=True, pad_edge=False, header_style="bold", expand=True)
    rows = [(e["name"], e["kind"], "-" if e["features"] is None else str(e["features"]), _output(e), e["status"])
            for e in entries]
    for col in ("dataset", "kind", "features", "output", "status"):
        table.add_column(col, justify="right" if col == "features" else "left", no_wrap=True)
    # the description takes what is left, cut with an ellipsis on a narrow terminal
    table.add_column("description", no_wrap=True, overflow="ellipsis", ratio=1)
    for row, e in zip(rows, entries):
        style = STATUS_STYLE.get(e["status"])
        status = f"[{style}]{row[4]}[/]" if style else row[4]
        table.add_row(*row[:4], status, escape(e["description"]))
    console.print(table)
    console.print("synthetic: features and output for the default options; tabular: from your file",
                  highlight=False)
    console.print(f"cache: {escape(str(cache))} (DLCC_DATA_DIR sets it)", highlight=False)
    console.print("options and defaults: docs/datasets.md or `dlcc datasets --json`",
                  highlight=False, markup=False)
    if any(e["status"] != "cached" for e in entries if e["kind"] == "image"):
        console.print("get an image dataset: `dlcc data download NAME` or `dlcc data import NAME PATH`",
                      highlight=False, markup=False)
