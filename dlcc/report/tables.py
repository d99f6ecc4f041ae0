"""Rich tables and summaries printed by the CLI (stdout)."""

from __future__ import annotations

from pathlib import Path

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from dlcc.runs.sweeplabels import format_value, format_values, short_names


def _pct(value) -> str:
    return "-" if value is None else f"{100 * value:.2f}%"


def _num(value) -> str:
    return "-" if value is None else f"{value:.4f}"


def print_summary(run_dir: Path, summary, console: Console | None = None, monitor: str = "val_loss",
                  model_epoch: int | None = None) -> None:
    """The end-of-training report (a runs.folder.Summary): the best epoch's train and validation
    metrics (best as runs/best.py defines it: chosen by `monitor`), the test metrics of the model
    the run kept (from `model_epoch`), where the run lives."""
    console = console or Console()
    table = Table(show_header=True, header_style="bold", title=f"{summary.name} ({summary.status})")
    for col in ("", "loss", "accuracy"):
        table.add_column(col, justify="right" if col else "left")
    best = summary.best or {}
    if best:
        table.add_row(f"train, best epoch ({best['epoch']})", _num(best.get("train_loss")),
                      _pct(best.get("train_accuracy")))
        if best.get("val_loss") is not None:
            table.add_row(f"validation, best epoch ({best['epoch']})", _num(best["val_loss"]),
                          _pct(best.get("val_accuracy")))
    test = summary.test
    if test:
        kept = "" if model_epoch is None else f", epoch {model_epoch}"
        table.add_row(f"test, final model{kept}", _num(test["loss"]), _pct(test.get("accuracy")))
    if best:
        table.caption = f"best epoch: the lowest {monitor}" if "accuracy" not in monitor else \
            f"best epoch: the highest {monitor}"
    console.print(table)
    if test and test.get("r2") is not None:  # regression: the loss is on standardized targets
        units = [f"{v:,.0f}" if 1e4 <= abs(v) < 1e15 else f"{v:.4g}" for v in (test["mse"], test["mae"])]
        console.print(f"test in the target's units: MSE {units[0]}, MAE {units[1]}, R² {test['r2']:.4f}",
                      highlight=False)
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
                "pending": "yellow", "incomplete": "yellow", "diverged": "red", "failed": "red", "unreadable": "red"}
MAX_KEY_COLUMNS = 5  # differing config keys shown as columns; --json has all of them
WRAPPED = ("status", "best val")  # a sweep's progress and best point wrap in a narrow terminal


def print_runs(rows: list[dict], runs_dir: Path, console: Console | None = None, sweep: dict | None = None,
               wide: bool = False) -> None:
    """`dlcc runs`: one line per run or sweep folder, newest first, with the config keys that differ
    between them as columns (as many as fit; wide: all, at any width); for a sweep folder (`sweep`:
    its listing.sweep_overview row, read when not given) its runs in order, then the sweep's
    progress and best point."""
    from dlcc.runs.sweepdir import is_sweep_dir

    console = console or (Console(width=100_000) if wide else Console())
    if sweep is None and is_sweep_dir(Path(runs_dir)):
        from dlcc.errors import RunError
        from dlcc.runs.listing import sweep_overview

        try:
            sweep = sweep_overview(runs_dir)
        except RunError:
            pass
    if not rows:
        console.print(f"no run folders in {runs_dir}; make one with `dlcc train CONFIG.yaml --runs-dir {runs_dir}`",
                      highlight=False, markup=False)
        return
    datasets = {r["dataset"] for r in rows if r["error"] is None and r["dataset"] is not None}
    one_dataset = len(datasets) <= 1  # then the title names it and the column is left out
    on = f" on {escape(str(*datasets))}" if len(datasets) == 1 else ""
    n_sweeps = sum(r.get("kind") == "sweep" for r in rows)
    if sweep is not None:
        title = f"sweep {escape(str(sweep['name']))}{on}: {len(rows)} run(s), in the sweep's order"
    else:
        title = (f"{len(rows) - n_sweeps} run(s)" + (f" and {n_sweeps} sweep(s)" if n_sweeps else "")
                 + f" in {escape(str(runs_dir))}{on}, newest first")
    differing = [k for k in rows[0].get("differs", {}) if one_dataset or k != "data.dataset"]
    names = short_names(differing)
    header = ["run", *([] if one_dataset else ["dataset"]), "status", "epochs", "best val", "test", "time"]
    body = [[escape(r["run"]), *([] if one_dataset else [escape(str(r["dataset"] or "-"))]), *_cells(r)]
            for r in rows]
    if sum(_width(c, h) for c, h in zip(zip(*body), header)) > console.width:  # no room for the best points' names
        body = [[*cells[:-3], cells[-3].split(" [dim](")[0], *cells[-2:]] for cells in body]
    extra = {k: [_value_cell(r["differs"].get(k)) for r in rows] for k in differing}
    # As many differing keys as fit the terminal beside the fixed columns (the others are named below).
    room = console.width - sum(_width(c, h) for c, h in zip(zip(*body), header))
    shown = []
    for key in differing if wide else differing[:MAX_KEY_COLUMNS]:
        room -= _width(extra[key], names[key])
        if room < 0:
            break
        shown.append(key)
    table = Table(**COMPACT, title=title)
    for col, cells in zip(header, zip(*body)):
        # A wrapped column still keeps its longest word (a status such as early_stopped) on one line.
        # Numbers are never cut: their columns keep their widest cell. A long run name folds onto a
        # second line instead (it is the one column that can give way in a narrow terminal).
        plain = [Text.from_markup(c).plain for c in cells]
        folds = col == "run"
        table.add_column(col, no_wrap=col not in WRAPPED and not folds, overflow="fold" if folds else "ellipsis",
                         justify="left" if col in ("run", "dataset", "status") else "right",
                         min_width=12 if folds else max(len(w) for c in plain for w in c.split()))
    for key in shown:
        table.add_column(escape(names[key]), justify="right", no_wrap=True)
    for cells, k in zip(body, range(len(rows))):
        table.add_row(*cells, *(extra[key][k] for key in shown))
    console.print(table)
    _print_notes(rows, differing, shown, sweep, console)


def print_runs_tsv(rows: list[dict], file=None) -> None:
    """`dlcc runs` into a pipe or file: plain tab-separated lines, the header first, every config key
    that differs as a column under its full dotted name; the cells read as in the table (98.33%,
    1m05s, - for none), no colours, no wrapping, nothing cut. `--json` has the full precision."""
    import sys

    file = file or sys.stdout
    differing = list(rows[0].get("differs", {})) if rows else []
    print("\t".join(["run", "dataset", "status", "epochs", "best_val", "test", "time", *differing]), file=file)
    for r in rows:
        cells = [Text.from_markup(c).plain for c in _cells(r)]
        cells[2] = cells[2].split(" (")[0]  # a sweep's best point is named in --json
        keys = [Text.from_markup(_value_cell(r.get("differs", {}).get(k))).plain for k in differing]
        line = [r["run"], str(r["dataset"] or "-"), *cells, *keys]
        print("\t".join(c.replace("\t", " ").replace("\n", " ") for c in line), file=file)


def _width(cells, header: str) -> int:
    """Columns a table column takes: its widest cell (markup not counted) and the gap before it."""
    return max(Text.from_markup(c).cell_len for c in [escape(header), *cells]) + 2


def _status_text(r: dict) -> str:
    return r.get("progress") or r["status"]


def _cells(r: dict) -> list[str]:
    """status, epochs, best val, test, time of one row."""
    style = "red" if r.get("kind") == "sweep" and r.get("counts", {}).get("failed") else STATUS_STYLE.get(r["status"])
    status = f"[{style}]{escape(_status_text(r))}[/]" if style else escape(_status_text(r))
    best = r["best_val"]
    if r["error"] is not None or best is None:
        return [status, "-", "-", "-", fmt_seconds(r["seconds"])]
    epochs = "-" if r["epochs"] is None else (
        f"{r['epochs']}/{r['planned_epochs']}" if r["planned_epochs"] else str(r["epochs"]))
    best_cell = fmt_metric(best["metric"], best["value"])
    if r.get("best_point"):
        best_cell += f" [dim]({escape(r['best_point']['label'])})[/]"
    classification = r["task"] == "classification"
    test = r["test"] or {}
    test_cell = fmt_metric("test_accuracy" if classification else "test_loss",
                           test.get("accuracy" if classification else "loss"))
    return [status, epochs, best_cell, test_cell, fmt_seconds(r["seconds"])]


def _value_cell(value) -> str:
    return "-" if value is None else escape(format_values(value) if isinstance(value, list) else format_value(value))


def _print_notes(rows, differing, shown, sweep, console: Console) -> None:
    """What the table leaves out: hidden keys, failures, the sweep's best point, how to go on."""
    def dim(text: str) -> None:
        console.print(text, style="dim", highlight=False, markup=False)

    if any(r["task"] == "regression" for r in rows):
        dim("best val and test: accuracy (%) for classification, loss for regression")
    if len(differing) > len(shown):
        more = differing[len(shown):]
        names = ", ".join(more) if len(more) <= 4 else f"{', '.join(more[:3])}, ..."
        dim(f"{len(more)} more config key(s) differ: {names} (all of them in --json)")
    for r in rows:
        if r["status"] == "failed":
            dim(f"{r['run']}: " + "; ".join(r["notes"]))
    sweeps = [r for r in rows if r.get("kind") == "sweep" and r["error"] is None]
    if sweeps:
        dim(f"sweeps: best val and test are the means over seeds of the best point (named); "
            f"expand one with `dlcc runs {sweeps[0]['run_dir']}`")
    if sweep is None:
        return
    line = f"{sweep['progress']}, {fmt_seconds(sweep['seconds'])} of training"
    best = sweep["best_point"]
    if best:
        spread = f" ± {fmt_metric(best['metric'], best['std'])}" if best["std"] is not None else ""
        line += (f"; best point {best['point']} ({best['label']}): {best['metric']} "
                 f"{fmt_metric(best['metric'], best['mean'])}{spread} over {best['n']} seed(s)")
    console.print(line, highlight=False, markup=False)
    if sweep["status"] == "incomplete":
        dim(f"finish it with `dlcc sweep --resume {sweep['run_dir']}`")


def print_eval(result: dict, console: Console | None = None) -> None:
    """`dlcc eval`: loss and accuracy (or MSE/MAE), the confusion matrix and per-class precision/recall."""
    console = console or Console()
    what = f"{result['split']} split" if result.get("split") else escape(str(result.get("data")))
    console.print(f"[bold]{escape(result['run_dir'])}[/]: {what}, {result['examples']} examples", highlight=False)
    rec = result.get("recorded")
    table = Table(**COMPACT)
    table.add_column("metric")
    table.add_column("value", justify="right")
    if rec:
        table.add_column("training recorded", justify="right")
    rows = [("loss", "loss")]
    rows += ([("accuracy", "accuracy")] if result["task"] == "classification" else
             [("MSE (target units)", "mse"), ("MAE (target units)", "mae"), ("R²", "r2")])
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
    names = [escape(str(stats.get("name", stats["class"]))) for stats in per_class]
    if k <= MAX_CONFUSION_CLASSES:
        console.print("confusion matrix (rows: true class, columns: predicted class)", style="bold", highlight=False)
        table = Table(**COMPACT)
        table.add_column("true", justify="right")
        short = max(map(len, names)) <= 12  # long class names label the rows only
        for j in range(k):
            table.add_column(names[j] if short else str(j), justify="right")
        for i, row in enumerate(confusion):
            table.add_row(names[i] if short else f"{i} {names[i]}",
                          *(f"[bold]{n}[/]" if i == j else (str(n) if n else "[dim]0[/]") for j, n in enumerate(row)))
        console.print(table)
        console.print()
    else:
        console.print(f"({k} classes: the confusion matrix is in eval.json)", highlight=False)
    table = Table(**COMPACT)
    for col in ("class", "precision", "recall", "support"):
        table.add_column(col, justify="right")
    for stats in per_class:
        table.add_row(names[stats["class"]], fmt_metric("accuracy", stats["precision"]),
                      fmt_metric("accuracy", stats["recall"]), str(stats["support"]))
    console.print(table)
