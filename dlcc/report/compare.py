"""`dlcc compare` in the terminal: the verdict first, then config differences, metrics, curves."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from dlcc.report import sparkline as spark
from dlcc.report.tables import COMPACT, fmt_metric
from dlcc.runs.compare import (CURVE_METRICS, Comparison, aligned, best_group, flatten, group_curve, higher_is_better,
                               tie_breaker, tied)

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


def _tag(i: int) -> str:
    return f"#{i + 1}"


def _short(c: Comparison, i: int) -> str:
    """#N and the config's name: the runs legend maps it to the full folder name."""
    return f"#{i + 1} {c.runs[i].config.get('name') or c.runs[i].label}"


def print_verdict(c: Comparison, console: Console) -> None:
    m = c.metric
    best = c.best[m]
    if best is None:
        console.print(f"No run recorded {m} yet.", highlight=False)
        return
    r = c.results[m][best]
    at = f", epoch {r.final_epoch}" if r.final_epoch is not None else ""
    console.print(f"[bold]Best by final {m}[/]: [bold green]{STAR} {escape(_short(c, best))}[/] "
                  f"({fmt_metric(m, r.value)}{at})", highlight=False)
    ties = tied(c.results[m], higher_is_better(m))
    if len(ties) > 1:
        other = tie_breaker(m)
        others = ", ".join(_tag(i) for i in ties if i != best)
        console.print(f"  tied with {others} on {m}; {other} breaks the tie: " + ", ".join(
            f"{_tag(i)} {fmt_metric(other, c.results[other][i].value)}" for i in ties), highlight=False)
    for i in range(len(c.runs)):
        if i not in ties and c.results[m][i].value is not None:
            console.print(f"  {escape(_short(c, i))}: {fmt_metric(m, c.results[m][i].value)} "
                          f"({_delta(m, c.delta(m, i))})", highlight=False)
    winner = best_group(c, m)
    if winner is not None:
        console.print(f"[bold]Repeats over seeds[/], mean ± std of final {m}:", highlight=False)
        for k, g in enumerate(c.groups):
            star = f"[bold green]{STAR}[/]" if k == winner else " "
            console.print(f"  {star} {escape(_group(c, g))}: {_stat(m, g.stats[m]['final'])}", highlight=False)
    console.print()


def print_runs_legend(c: Comparison, console: Console) -> None:
    table = Table(**COMPACT, title="runs")
    for col in ("#", "run", "status", "epochs", "seed", "notes"):
        table.add_column(col, justify="right" if col in ("#", "epochs", "seed") else "left")
    for i, run in enumerate(c.runs):
        planned = run.planned_epochs
        epochs = f"{run.last_epoch}/{planned}" if planned else str(run.last_epoch)
        table.add_row(_tag(i), escape(run.label), run.status, epochs, str(run.config.get("seed", "-")),
                      escape("; ".join(run.notes)) if run.notes else "")
    console.print(table)
    console.print()


def print_config_diff(c: Comparison, console: Console) -> None:
    diff = c.config_diff
    also = " (the run names differ too; a name only labels a run)" if c.names_differ else ""
    if not diff:
        console.print(f"The configs are identical{' apart from the name' if c.names_differ else ''}.\n",
                      highlight=False)
        return
    if list(diff) == ["seed"]:
        console.print(f"The configs differ only in seed{also}: repeats of one experiment, summarized below "
                      "as mean ± std.\n", highlight=False)
        return
    table = Table(**COMPACT, title="config differences")
    table.add_column("key")
    for i in range(len(c.runs)):
        table.add_column(_tag(i))
    flats = [flatten(run.config) for run in c.runs]
    for key in diff:
        table.add_row(escape(key), *(escape(_value(flat[key])) if key in flat else "—" for flat in flats))
    console.print(table)
    if also:
        console.print(also.strip(" ()").capitalize() + ".", highlight=False)
    console.print()


def print_metrics(c: Comparison, console: Console) -> None:
    table = Table(**COMPACT, title=f"metrics ({STAR} best run per metric, Δ = difference to it)")
    for col in ("metric", "run", "best", "at epoch", "final", "Δ to best"):
        table.add_column(col, justify="left" if col in ("metric", "run") else "right", no_wrap=col == "run")
    for m in c.metrics:
        for i, run in enumerate(c.runs):
            r = c.results[m][i]
            star = f"[bold green]{STAR}[/] " if c.best[m] == i else "  "
            delta = "" if c.best[m] == i or r.value is None else _delta(m, c.delta(m, i))
            table.add_row(m if i == 0 else "", f"{star}{escape(_short(c, i))}",
                          fmt_metric(m, r.best) if r.best is not None else "",
                          "" if r.best_epoch is None else str(r.best_epoch),
                          _final(m, r, run), delta, end_section=i == len(c.runs) - 1)
    console.print(table)
    console.print()


def print_groups(c: Comparison, console: Console) -> None:
    table = Table(**COMPACT, title="runs that differ only in seed: mean ± std (n - 1)")
    for col in ("runs", "seeds", "metric", "best", "final"):
        table.add_column(col, justify="left" if col in ("runs", "seeds", "metric") else "right")
    for g in c.groups:
        for k, m in enumerate(c.metrics):
            stats = g.stats[m]
            table.add_row(_group(c, g) if k == 0 else "",
                          ", ".join(map(str, g.seeds)) if k == 0 else "", m,
                          _stat(m, stats["best"]) if m.startswith(("train", "val")) else "",
                          _stat(m, stats["final"]), end_section=k == len(c.metrics) - 1)
    console.print(table)
    console.print()


def curve_metrics(c: Comparison) -> list[str]:
    """The deciding metric (or the first per-epoch one shown) and its partner on the same split."""
    base = next((m for m in (c.metric, *c.metrics) if m in CURVE_METRICS), None)
    if base is None:
        return []
    partner = base.replace("accuracy", "loss") if "accuracy" in base else base.replace("loss", "accuracy")
    return [base, partner] if partner in c.metrics else [base]


def print_curves(c: Comparison, metric: str, console: Console) -> None:
    epochs, curves = aligned(c.runs, metric)
    lo, hi, log = spark.scale(curves, metric)
    rows = [(_short(c, i), values) for i, values in enumerate(curves)]
    for g in c.groups:
        mean, _ = group_curve([curves[i] for i in g.members])
        rows.append(("mean " + _group(c, g), mean))
    pad = max(len(t) for t, _ in rows)
    width = max(10, min(SPARK_WIDTH, len(epochs), console.width - pad - 14))
    scale = f"{'log ' if log else ''}scale {fmt_metric(metric, lo)} (▁) to {fmt_metric(metric, hi)} (█)"
    console.print(f"[bold]{metric}[/] by epoch, {scale}", highlight=False)
    for tag, values in rows:
        last = next((v for v in reversed(values) if v is not None), None)
        line = spark.sparkline(spark.resample(values, width), lo, hi, log)
        console.print(f"  {escape(tag.ljust(pad))}  {line}  {fmt_metric(metric, last)}", highlight=False)
    console.print(f"  {' ' * pad}  [dim]{spark.axis(epochs[-1], width)}[/]  [dim]epoch[/]\n", highlight=False)


def _final(metric: str, r, run) -> str:
    """The final value; its epoch too when that is not the last one (restored by early stopping)."""
    text = fmt_metric(metric, r.final)
    return text if r.final_epoch in (None, run.last_epoch) else f"{text} (e{r.final_epoch})"


def _group(c: Comparison, g) -> str:
    return ",".join(_tag(i) for i in g.members) + f" {c.runs[g.members[0]].config.get('name', '')}"


def _delta(metric: str, delta: float | None) -> str:
    if delta is None:
        return ""
    if delta == 0:
        return "tied"
    if "accuracy" in metric:
        return f"{100 * delta:+.2f} pp"
    return f"{delta:+.4f}" if abs(delta) >= 1e-3 else f"{delta:+.3e}"


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
