"""`dlcc compare` in the terminal: the verdict first, then config differences, metrics, curves.

Runs that form seed groups (some config run with two or more seeds, e.g. a sweep) are shown by
group instead: one ranked table with n, mean ± std, the 95% CI, the final mean and Welch's
test against the best group; the other metrics by group; the group means' curves. The per-run
legend is kept while it is short (LEGEND_MAX runs); beyond that only the runs that need a look.
"""

from __future__ import annotations

import re

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from dlcc.report import sparkline as spark
from dlcc.report.tables import COMPACT, fmt_metric
from dlcc.runs.compare import (CURVE_METRICS, Comparison, aligned, group_curve, higher_is_better, tie_breaker,
                               tied)
from dlcc.runs.configdiff import flatten
from dlcc.runs.stats import ALPHA, Stat, format_p
from dlcc.runs.sweeplabels import short_names

SPARK_WIDTH = 50
STAR = "★"
LEGEND_MAX = 12  # grouped output lists every run up to this many, else only the unusual ones
FINE = ("completed", "early_stopped")
GROUP_METRICS = 4  # metrics besides the deciding one in the by-group table (80 columns hold 4)


def print_comparison(c: Comparison, console: Console | None = None) -> None:
    console = console or Console()
    if c.groups:
        print_group_verdict(c, console)
        print_groups(c, console)
        print_group_metrics(c, console)
        print_runs_legend(c, console)
    else:
        print_verdict(c, console)
        print_runs_legend(c, console)
        print_config_diff(c, console)
        print_metrics(c, console)
    if c.unranked:
        console.print(f"The losses are not on one scale and have no best run: {escape(c.unranked)} "
                      "(docs/runs.md#dlcc-compare).", highlight=False)
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
    at = f", best epoch {r.best_epoch} by {c.runs[best].monitor}" if r.best_epoch is not None else ""
    console.print(f"[bold]Best by {m}[/]: [bold green]{STAR} {escape(_short(c, best))}[/] "
                  f"({fmt_metric(m, r.value)}{at})", highlight=False)
    ties = tied(c.results[m], higher_is_better(m))
    if len(ties) > 1:
        other = None if c.unranked else tie_breaker(m)  # no loss breaks a tie across scales (runs/scales.py)
        others = ", ".join(_tag(i) for i in ties if i != best)
        if other is None or other not in c.results:
            console.print(f"  tied with {others} on {m}; listed in the order given", highlight=False)
        else:
            console.print(f"  tied with {others} on {m}; {other} breaks the tie: " + ", ".join(
                f"{_tag(i)} {fmt_metric(other, c.results[other][i].value)}" for i in ties), highlight=False)
    for i in range(len(c.runs)):
        if i not in ties and c.results[m][i].value is not None:
            console.print(f"  {escape(_short(c, i))}: {fmt_metric(m, c.results[m][i].value)} "
                          f"({_delta(m, c.delta(m, i))})", highlight=False)
    console.print()


def print_runs_legend(c: Comparison, console: Console) -> None:
    """#N -> run folder, status, epochs, seed (and its group's rank); long grouped lists shortened."""
    shown = range(len(c.runs))
    if c.groups and len(c.runs) > LEGEND_MAX:
        shown = [i for i, run in enumerate(c.runs) if run.notes or run.status not in FINE]
        fine = len(c.runs) - len(shown)
        console.print(f"{fine} of {len(c.runs)} runs finished normally" + (", the others:" if shown else "")
                      + (" (`--json` lists every run folder)" if not shown else ""), highlight=False)
        if not shown:
            console.print()
            return
    rank = {i: g.rank for g in c.groups for i in g.members}
    value = "best"
    extra = ("group", value) if c.groups else ()  # grouped: the per-run values are only here
    title = f"runs (best: {c.metric} at the run's best epoch)" if c.groups else "runs"
    table = Table(**COMPACT, title=None if c.groups and len(c.runs) > LEGEND_MAX else title)
    for col in ("#", "run", "status", "epochs", "seed") + extra + ("notes",):
        table.add_column(col, justify="right" if col in ("#", "epochs", "seed", "group", value) else "left")
    for i in shown:
        run = c.runs[i]
        planned = run.planned_epochs
        epochs = f"{run.last_epoch}/{planned}" if planned else str(run.last_epoch)
        group = (str(rank.get(i) or "-"), fmt_metric(c.metric, c.results[c.metric][i].best)) if c.groups else ()
        table.add_row(_tag(i), escape(run.label), run.status, epochs, str(run.config.get("seed", "-")), *group,
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
    flats = [flatten(run.config) for run in c.runs]
    cells = {key: [_value(flat[key]) if key in flat else "—" for flat in flats] for key in diff}
    widths = [max(len(_tag(i)), *(len(cells[k][i]) for k in diff)) + 2 for i in range(len(c.runs))]
    names = {key: key for key in diff}
    if max(map(len, diff)) + sum(widths) > console.width:  # too wide: keys by their tails (…momentum)
        names = {key: key if tail == key else "…" + tail for key, tail in short_names(diff).items()}
    # Runs side by side as far as the width allows, then the next runs in a table of their own:
    # values are never cut.
    room = max(20, console.width - max(map(len, names.values())) - 1)
    chunks, chunk = [], []
    for i, width in enumerate(widths):
        if chunk and sum(widths[j] for j in chunk) + width > room:
            chunks.append(chunk)
            chunk = []
        chunk.append(i)
    chunks.append(chunk)
    for chunk in chunks:
        part = f" ({_tag(chunk[0])}-{_tag(chunk[-1])})" if len(chunks) > 1 else ""
        table = Table(**COMPACT, title=f"config differences{part}")
        table.add_column("key", overflow="fold")
        for i in chunk:
            table.add_column(_tag(i), overflow="fold")
        for key in diff:
            table.add_row(escape(names[key]), *(escape(cells[key][i]) for i in chunk))
        console.print(table)
    if also:
        console.print(also.strip(" ()").capitalize() + ".", highlight=False)
    console.print()


def print_metrics(c: Comparison, console: Console) -> None:
    table = Table(**COMPACT, title=f"metrics: best = at the run's best epoch (by {monitors(c)}); "
                                   f"{STAR} = best run per metric, Δ = difference to it")
    rows = []
    for m in c.metrics:
        for i, run in enumerate(c.runs):
            r = c.results[m][i]
            star = f"[bold green]{STAR}[/] " if c.best[m] == i else "  "
            delta = "" if c.best[m] == i or r.value is None else _delta(m, c.delta(m, i))
            rows.append([m if i == 0 else "", f"{star}{escape(_short(c, i))}",
                         fmt_metric(m, r.best) if r.best is not None else "",
                         "" if r.best_epoch is None else str(r.best_epoch), _final(m, r, run), delta])
    for k, col in enumerate(("metric", "run", "best", "at epoch", "final", "Δ to best")):
        text = k < 2  # names fold onto a second line in a narrow terminal; numbers are never cut
        table.add_column(col, justify="left" if text else "right", overflow="fold", no_wrap=not text,
                         min_width=None if text else max(len(col), *(len(row[k]) for row in rows)))
    for n, row in enumerate(rows):
        table.add_row(*row, end_section=n % len(c.runs) == len(c.runs) - 1)
    console.print(table)
    console.print()


def print_group_verdict(c: Comparison, console: Console) -> None:
    """What the groups are and which one is best."""
    m = c.metric
    seeds = ", ".join(dict.fromkeys(str(seed) for g in c.groups for seed in g.seeds))
    if len(c.groups) == 1:
        console.print(f"The configs differ only in seed{' (and name)' if c.names_differ else ''}: "
                      f"{len(c.runs)} repeats of one experiment (seeds {seeds}).", highlight=False)
    else:
        keys = ", ".join(dict.fromkeys(k for g in c.groups for k in g.keys))
        console.print(f"{len(c.runs)} runs in {len(c.groups)} groups; the groups differ in {escape(keys)}, "
                      f"the runs within a group only in seed (seeds {seeds}).", highlight=False)
    best = c.groups[0]
    value = best.stats[m]["best"]
    if best.rank is None or value is None:
        console.print(f"No run recorded {m} yet.\n", highlight=False)
        return
    if len(c.groups) > 1:
        console.print(f"[bold]Best group by mean {m}[/] at the runs' best epochs: [bold green]{STAR}1 "
                      f"{escape(best.label)}[/] ({_stat(m, value)}, n={value.n})", highlight=False)
    console.print()


def print_groups(c: Comparison, console: Console) -> None:
    """The ranked group table: best values (mean ± std, 95% CI), final mean, Welch's test vs the best."""
    m = c.metric
    unit = " (%)" if "accuracy" in m else ""
    rows = [_group_row(m, g) for g in c.groups]
    headers = ("group", "n", "mean ± std", "95% CI", "final mean", "p vs best", "verdict")
    widths = [max(len(r[k]) for r in rows) for k in range(len(headers))]
    numbers = [max(widths[k], *map(len, headers[k].split())) for k in range(1, 6)]
    shortest = max(len(word) for r in rows for word in r[0].split())
    # the label and the verdict share what the numbers and the gaps between columns leave (both wrap at
    # spaces); gaps of two spaces when that leaves room for a 20-character verdict, else one
    gap = 2 if console.width - sum(numbers) - 2 * (len(headers) - 1) >= shortest + 20 else 1
    room = console.width - sum(numbers) - gap * (len(headers) - 1)
    table = Table(**{**COMPACT, "padding": (0, gap - 1, 0, 0)},
                  title=f"groups of runs that differ only in seed, ranked by mean {m}{unit} at the best epoch")
    verdict = max(len(headers[6]), min(widths[6], max(12, room - max(shortest, min(widths[0], room // 2)))))
    group = max(shortest, min(widths[0], room - verdict))
    table.add_column(headers[0], width=group, overflow="fold")
    for header, width in zip(headers[1:6], numbers):
        table.add_column(header, justify="right", width=width)
    table.add_column(headers[6], width=verdict)
    for g, row in zip(c.groups, rows):
        table.add_row(*map(escape, row), style="bold" if g.rank == 1 else None)
    console.print(table)
    console.print(f"[dim]each run's {m} at its best epoch (the epoch of its best {monitors(c)}); n: runs with a "
                  f"value; std: sample std (n - 1); 95% CI: mean ± t(0.975, n-1)·std/√n; final mean: at the epoch of "
                  f"the weights each run kept; p: Welch's two-sided t-test against the best group; worse: p < {ALPHA}; not distinguishable: p ≥ {ALPHA} at these n "
                  f"(more seeds may still separate them).[/]", highlight=False)
    console.print()


def print_group_metrics(c: Comparison, console: Console) -> None:
    """The next metrics by group (at most GROUP_METRICS, to stay readable): mean ± std at the best epochs."""
    others = [m for m in c.metrics if m != c.metric][:GROUP_METRICS]
    if not others:
        return
    console.print("[bold]Other metrics by group[/], at the runs' best epochs: mean ± std", highlight=False)
    table = Table(**COMPACT)
    table.add_column("", justify="right")
    for m in others:
        table.add_column(m + (" (%)" if "accuracy" in m else ""), justify="right")
    for g in c.groups:
        table.add_row(str(g.rank or "-"), *(_stat(m, g.stats[m]["best"], unit=False) for m in others))
    console.print(table)
    console.print()


def _group_row(m: str, g) -> list[str]:
    best, final = g.stats[m]["best"], g.stats[m]["final"]
    n = "0" if best is None else str(best.n) + (f"/{len(g.members)}" if best.n < len(g.members) else "")
    rank = f"{STAR}1" if g.rank == 1 else str(g.rank or "-")
    return [f"{rank} {g.label} ({_runs(g.members)})", n, _stat(m, best, unit=False), _ci(m, best),
            _number(m, None if final is None else final.mean), "" if g.p_value is None else format_p(g.p_value),
            re.sub(r" \(p = [^)]*\)$", "", g.verdict)]  # p has its own column


def monitors(c: Comparison) -> str:
    """The metric(s) that chose the runs' best epochs: val_loss unless early stopping named another."""
    return ", ".join(dict.fromkeys(run.monitor for run in c.runs))


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
    if c.groups:  # one line per group: the mean over its seeds, named by short keys (lr=0.1)
        short = short_names([k for g in c.groups for k in g.keys])
        rows = [(f"{g.rank or '-'} " + (" ".join(f"{short[k]}={_value(v)}" for k, v in g.keys.items()) or g.label),
                 group_curve([curves[i] for i in g.members])[0]) for g in c.groups]
    else:
        rows = [(_short(c, i), values) for i, values in enumerate(curves)]
    longest = max(12, console.width - 14 - min(20, len(epochs)))  # leave room for a 20-character sparkline
    rows = [(t if len(t) <= longest else t[:longest - 1] + "…", values) for t, values in rows]
    pad = max(len(t) for t, _ in rows)
    width = max(10, min(SPARK_WIDTH, len(epochs), console.width - pad - 14))
    scale = f"{'log ' if log else ''}scale {fmt_metric(metric, lo)} (▁) to {fmt_metric(metric, hi)} (█)"
    what = "group means " if c.groups else ""
    console.print(f"[bold]{metric}[/] by epoch, {what}{scale}", highlight=False)
    for tag, values in rows:
        last = next((v for v in reversed(values) if v is not None), None)
        line = spark.sparkline(spark.resample(values, width), lo, hi, log)
        console.print(f"  {escape(tag.ljust(pad))}  {line}  {fmt_metric(metric, last)}", highlight=False)
    console.print(f"  {' ' * pad}  [dim]{spark.axis(epochs[-1], width)}[/]  [dim]epoch[/]\n", highlight=False)


def _final(metric: str, r, run) -> str:
    """The final value; its epoch too when that is not the last one (restored by early stopping)."""
    text = fmt_metric(metric, r.final)
    return text if r.final_epoch in (None, run.last_epoch) else f"{text} (e{r.final_epoch})"


def _runs(members) -> str:
    """#1-#3,#7: run numbers with consecutive ones joined (a sweep's seeds usually are)."""
    spans: list[list[int]] = []
    for i in members:
        if spans and i == spans[-1][-1] + 1:
            spans[-1].append(i)
        else:
            spans.append([i])
    return ",".join(_tag(s[0]) if len(s) == 1 else f"{_tag(s[0])}-{_tag(s[-1])}" for s in spans)


def _delta(metric: str, delta: float | None) -> str:
    if delta is None:
        return ""
    if delta == 0:
        return "tied"
    if "accuracy" in metric:
        return f"{100 * delta:+.2f} pp"
    return f"{delta:+.4f}" if abs(delta) >= 1e-3 else f"{delta:+.3e}"


def _stat(metric: str, stat: Stat | None, unit: bool = True) -> str:
    """mean ± std; one value alone (n = 1) without the ± (it has no spread to show)."""
    if stat is None:
        return "-"
    spread = f" ± {_number(metric, stat.std)}" if stat.n > 1 else ""
    return _number(metric, stat.mean) + spread + ("%" if unit and "accuracy" in metric else "")


def _ci(metric: str, stat: Stat | None) -> str:
    """lo–hi of the 95% interval; "-" for n = 1. It is the formula's: with few seeds an accuracy's
    interval can reach past 100%, which says how little n seeds pin the mean down."""
    if stat is None or stat.ci95 is None:
        return "-"
    return "–".join(_number(metric, v) for v in stat.ci95)


def _number(metric: str, value: float | None) -> str:
    """Accuracies as percentages without the % sign (the header says it), the rest as fmt_metric."""
    if value is None:
        return "-"
    return f"{100 * value:.2f}" if "accuracy" in metric else fmt_metric(metric, value)


def _value(value) -> str:
    """A config value as YAML writes it: null, true/false, numbers and strings as they are."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)
