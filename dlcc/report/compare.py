"""`dlcc compare` in the terminal: the verdict first, then config differences, metrics, curves."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from dlcc.report import sparkline as spark
from dlcc.report.tables import fmt_metric
from dlcc.runs.compare import Comparison, aligned, flatten, group_curve, higher_is_better, tie_breaker, tied

SPARK_WIDTH = 50
STAR = "★"


def print_comparison(c: Comparison, console: Console | None = None) -> None:
    console = console or Console()
    print_verdict(c, console)
    print_runs_legend(c, console)
    print_config_diff(c, console)
    print_metrics(c, console)
    if c.groups:
        print_groups(c, console)
    for metric in curve_metrics(c):
        print_curves(c, metric, console)


def _tag(c: Comparison, i: int) -> str:
    return f"#{i + 1}"


def print_verdict(c: Comparison, console: Console) -> None:
    m = c.metric
    best = c.best[m]
    direction = "higher" if higher_is_better(m) else "lower"
    if best is None:
        console.print(f"No run recorded {m} yet.", highlight=False)
        return
    value = c.results[m][best].value
    run = c.runs[best]
    console.print(f"[bold]Best by {m}[/] ({direction} is better): [bold green]{STAR} {_tag(c, best)} "
                  f"{escape(run.label)}[/] with {fmt_metric(m, value)}", highlight=False)
    ties = tied(c.results[m], higher_is_better(m))
    if len(ties) > 1:
        other = tie_breaker(m)
        others = ", ".join(_tag(c, i) for i in ties if i != best)
        console.print(f"  tied with {others} on {m}; {other} breaks the tie: " + ", ".join(
            f"{_tag(c, i)} {fmt_metric(other, c.results[other][i].value)}" for i in ties), highlight=False)
    for i in range(len(c.runs)):
        if i not in ties and c.results[m][i].value is not None:
            console.print(f"  {_tag(c, i)} {escape(c.runs[i].label)}: {fmt_metric(m, c.results[m][i].value)} "
                          f"({_delta(m, c.delta(m, i))})", highlight=False)


def print_runs_legend(c: Comparison, console: Console) -> None:
    table = Table(header_style="bold", title="runs")
    for col in ("#", "run", "status", "epochs", "seed", "notes"):
        table.add_column(col, justify="right" if col in ("#", "epochs", "seed") else "left")
    for i, run in enumerate(c.runs):
        planned = run.planned_epochs
        epochs = f"{run.last_epoch}/{planned}" if planned else str(run.last_epoch)
        table.add_row(_tag(c, i), escape(run.label), run.status, epochs, str(run.config.get("seed", "-")),
                      escape("; ".join(run.notes)) if run.notes else "")
    console.print(table)


def print_config_diff(c: Comparison, console: Console) -> None:
    diff = c.config_diff
    also = " (the run names differ too; names only label runs)" if c.names_differ else ""
    if not diff:
        console.print(f"The configs are identical{' apart from the name' if c.names_differ else ''}.",
                      highlight=False)
        return
    if list(diff) == ["seed"]:
        console.print(f"The configs differ only in seed{also}: repeats of one experiment, summarized below "
                      "as mean ± std.", highlight=False)
        return
    table = Table(header_style="bold", title=f"config differences{also}")
    table.add_column("key")
    for i in range(len(c.runs)):
        table.add_column(_tag(c, i))
    flats = [flatten(run.config) for run in c.runs]
    for key in diff:
        table.add_row(escape(key), *(escape(_value(flat[key])) if key in flat else "—" for flat in flats))
    console.print(table)


def print_metrics(c: Comparison, console: Console) -> None:
    table = Table(header_style="bold", title=f"metrics ({STAR} best run per metric, Δ = difference to it)")
    for col in ("metric", "run", "best", "at epoch", "final", "Δ to best"):
        table.add_column(col, justify="left" if col in ("metric", "run") else "right")
    for m in c.metrics:
        for i, run in enumerate(c.runs):
            r = c.results[m][i]
            star = f"[bold green]{STAR}[/] " if c.best[m] == i else "  "
            delta = "" if c.best[m] == i or r.value is None else _delta(m, c.delta(m, i))
            table.add_row(m if i == 0 else "", f"{star}{_tag(c, i)} {escape(run.label)}",
                          fmt_metric(m, r.best) if r.best is not None else "",
                          "" if r.best_epoch is None else str(r.best_epoch),
                          fmt_metric(m, r.final), delta, end_section=i == len(c.runs) - 1)
    console.print(table)


def print_groups(c: Comparison, console: Console) -> None:
    table = Table(header_style="bold", title="runs that differ only in seed: mean ± std (n - 1)")
    for col in ("runs", "seeds", "metric", "best", "final"):
        table.add_column(col, justify="left" if col in ("runs", "seeds", "metric") else "right")
    for g in c.groups:
        for k, m in enumerate(c.metrics):
            stats = g.stats[m]
            table.add_row(", ".join(_tag(c, i) for i in g.members) if k == 0 else "",
                          ", ".join(map(str, g.seeds)) if k == 0 else "", m,
                          _stat(m, stats["best"]) if m.startswith(("train", "val")) else "",
                          _stat(m, stats["final"]), end_section=k == len(c.metrics) - 1)
    console.print(table)


def curve_metrics(c: Comparison) -> list[str]:
    """The deciding metric and its partner on the same split (accuracy <-> loss), when recorded."""
    metrics = [m for m in (c.metric,) if m in ("train_loss", "train_accuracy", "val_loss", "val_accuracy")]
    for m in metrics[:1]:
        partner = m.replace("accuracy", "loss") if "accuracy" in m else m.replace("loss", "accuracy")
        if partner in c.metrics:
            metrics.append(partner)
    return metrics


def print_curves(c: Comparison, metric: str, console: Console) -> None:
    epochs, curves = aligned(c.runs, metric)
    lo, hi, log = spark.scale(curves, metric)
    width = min(SPARK_WIDTH, len(epochs))
    tags = [f"{_tag(c, i)} {run.label}" for i, run in enumerate(c.runs)]
    rows = list(zip(tags, curves))
    for g in c.groups:
        mean, _ = group_curve([curves[i] for i in g.members])
        rows.append(("mean of " + ",".join(_tag(c, i) for i in g.members), mean))
    pad = max(len(t) for t, _ in rows)
    scale = f"{'log ' if log else ''}scale {fmt_metric(metric, lo)} (▁) to {fmt_metric(metric, hi)} (█)"
    console.print(f"\n[bold]{metric}[/] by epoch, {scale}", highlight=False)
    for tag, values in rows:
        last = next((v for v in reversed(values) if v is not None), None)
        line = spark.sparkline(spark.resample(values, width), lo, hi, log)
        console.print(f"  {escape(tag.ljust(pad))}  {line}  {fmt_metric(metric, last)}", highlight=False)
    console.print(f"  {' ' * pad}  [dim]{spark.axis(epochs[-1], width)}[/]  [dim]epoch[/]", highlight=False)


def _delta(metric: str, delta: float | None) -> str:
    if delta is None:
        return ""
    if "accuracy" in metric:
        return f"{100 * delta:+.2f} pp"
    return f"{delta:+.4f}" if delta == 0 or abs(delta) >= 1e-3 else f"{delta:+.3e}"


def _stat(metric: str, stat) -> str:
    if stat is None:
        return "-"
    if "accuracy" in metric:
        return f"{100 * stat.mean:.2f}% ± {100 * stat.std:.2f}"
    return f"{fmt_metric(metric, stat.mean)} ± {fmt_metric(metric, stat.std)}"


def _value(value) -> str:
    """A config value as YAML writes it: null, true/false, numbers and strings as they are."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)
