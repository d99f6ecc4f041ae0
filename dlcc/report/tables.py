"""Rich tables and summaries printed by the CLI (stdout)."""

from __future__ import annotations

from pathlib import Path

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table


def _pct(value) -> str:
    return "-" if value is None else f"{100 * value:.2f}%"


def _num(value) -> str:
    return "-" if value is None else f"{value:.4f}"


def print_summary(run_dir: Path, summary, console: Console | None = None) -> None:
    """The end-of-training report (a runs.folder.Summary): status, best epoch, test metrics, where
    the run lives."""
    console = console or Console()
    table = Table(show_header=True, header_style="bold", title=f"{summary.name} ({summary.status})")
    for col in ("", "loss", "accuracy"):
        table.add_column(col, justify="right" if col else "left")
    best = summary.best or {}
    if best:
        table.add_row(f"train (epoch {best['epoch']})", _num(best.get("train_loss")), _pct(best.get("train_accuracy")))
        if best.get("val_loss") is not None:
            table.add_row(f"validation (epoch {best['epoch']})", _num(best["val_loss"]), _pct(best.get("val_accuracy")))
    test = summary.test
    if test:
        table.add_row("test (final model)", _num(test["loss"]), _pct(test.get("accuracy")))
    console.print(table)
    if summary.stop_reason:
        console.print(f"stopped early: {summary.stop_reason}", highlight=False)
    console.print(f"{summary.epochs_completed} epochs in {summary.seconds:.1f}s -> {run_dir}", highlight=False)


def fmt_metric(metric: str, value) -> str:
    """Accuracies as percentages, everything else as a short number."""
    if value is None:
        return "-"
    if "accuracy" in metric:
        return f"{100 * value:.2f}%"
    return f"{value:.4f}" if value == 0 or 1e-3 <= abs(value) < 1e5 else f"{value:.3e}"


def fmt_seconds(seconds) -> str:
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes}m{secs:02d}s" if minutes < 60 else f"{minutes // 60}h{minutes % 60:02d}m"


# Header rule only, no boxes: reads well in a terminal and pasted into docs.
COMPACT = {"box": box.SIMPLE_HEAD, "show_edge": False, "collapse_padding": True, "pad_edge": False,
           "header_style": "bold"}

STATUS_STYLE = {"completed": "green", "early_stopped": "green", "running": "yellow", "interrupted": "yellow",
                "diverged": "red", "unreadable": "red"}


def print_runs(rows: list[dict], runs_dir: Path, console: Console | None = None) -> None:
    """`dlcc runs`: one line per run folder, newest first."""
    console = console or Console()
    if not rows:
        console.print(f"no run folders in {runs_dir}; make one with `dlcc train CONFIG.yaml --runs-dir {runs_dir}`",
                      highlight=False, markup=False)
        return
    datasets = {r["dataset"] for r in rows if r["error"] is None}
    one_dataset = len(datasets) == 1  # then the title names it and the column is left out
    title = f"{len(rows)} run(s) in {escape(str(runs_dir))}" + (f" on {escape(str(*datasets))}" if one_dataset else "")
    table = Table(**COMPACT, title=f"{title}, newest first")
    table.add_column("run", no_wrap=True)
    if not one_dataset:
        table.add_column("dataset", no_wrap=True, min_width=max(len(str(d)) for d in datasets))
    table.add_column("status", no_wrap=True, min_width=max(len(r["status"]) for r in rows))
    for col in ("epochs", "best val", "test", "time"):
        table.add_column(col, justify="right", no_wrap=True)
    for r in rows:
        style = STATUS_STYLE.get(r["status"], "")
        status = f"[{style}]{r['status']}[/]" if style else r["status"]
        dataset = [] if one_dataset else [escape(str(r["dataset"] or "-"))]
        if r["error"] is not None:
            table.add_row(escape(r["run"]), *dataset, status, "-", "-", "-", "-")
            continue
        epochs = f"{r['epochs']}/{r['planned_epochs']}" if r["planned_epochs"] else str(r["epochs"])
        best = r["best_val"]
        best_cell = fmt_metric(best["metric"], best["value"])
        test = r["test"] or {}
        test_cell = fmt_metric("test_accuracy" if r["task"] == "classification" else "test_loss",
                                 test.get("accuracy" if r["task"] == "classification" else "loss"))
        table.add_row(escape(r["run"]), *dataset, status, epochs, best_cell, test_cell, fmt_seconds(r["seconds"]))
    console.print(table)
    if any(r["task"] == "regression" for r in rows):
        console.print("best val and test: accuracy (%) for classification, loss for regression", style="dim",
                      highlight=False)


def print_eval(result: dict, console: Console | None = None) -> None:
    """`dlcc eval`: loss and accuracy (or MSE/MAE), the confusion matrix and per-class precision/recall."""
    console = console or Console()
    console.print(f"[bold]{escape(result['run_dir'])}[/]: {result['split']} split, {result['examples']} examples",
                  highlight=False)
    rec = result.get("recorded")
    table = Table(**COMPACT)
    table.add_column("metric")
    table.add_column("value", justify="right")
    if rec:
        table.add_column("training recorded", justify="right")
    rows = [("loss", "loss")]
    rows += [("accuracy", "accuracy")] if result["task"] == "classification" else [("MSE", "mse"), ("MAE", "mae")]
    for label, key in rows:
        cells = [fmt_metric(key, result[key])]
        if rec:
            cells.append(fmt_metric(key, rec.get(key)) if key in ("loss", "accuracy") else "")
        table.add_row(label, *cells)
    console.print(table)
    if result.get("matches_recorded") is True:
        console.print(f"the same as training recorded ({rec['source']})", style="green", highlight=False)
    console.print()
    if "confusion" in result:
        print_confusion(result["confusion"], result["per_class"], console)


MAX_CONFUSION_CLASSES = 20


def print_confusion(confusion: list[list[int]], per_class: list[dict], console: Console) -> None:
    """The confusion matrix (rows: true class, columns: predicted), then precision and recall per class."""
    k = len(confusion)
    if k <= MAX_CONFUSION_CLASSES:
        console.print("confusion matrix (rows: true class, columns: predicted class)", style="bold", highlight=False)
        table = Table(**COMPACT)
        table.add_column("true", justify="right")
        for j in range(k):
            table.add_column(str(j), justify="right")
        for i, row in enumerate(confusion):
            table.add_row(str(i), *(f"[bold]{n}[/]" if i == j else (str(n) if n else "[dim]0[/]")
                                    for j, n in enumerate(row)))
        console.print(table)
        console.print()
    else:
        console.print(f"({k} classes: the confusion matrix is in eval.json)", highlight=False)
    table = Table(**COMPACT)
    for col in ("class", "precision", "recall", "support"):
        table.add_column(col, justify="right")
    for stats in per_class:
        table.add_row(str(stats["class"]), fmt_metric("accuracy", stats["precision"]),
                      fmt_metric("accuracy", stats["recall"]), str(stats["support"]))
    console.print(table)
