"""A sweep's results grouped by point: mean +- std over seeds, the best point, and the series a
metric-against-parameter figure draws (no drawing here; report/plots.py draws `SweepStats`).

    runs counted   those whose status is completed or early_stopped and that recorded the metric;
                   the others are left out and counted by status (`excluded`)
    mean, std      over a point's counted runs (its seeds); std is the sample std (n - 1), None for n < 2,
                   both computed as `dlcc compare` computes them (runs/stats.py)
    metric         by default what `dlcc compare SWEEP_DIR` ranks by: best_val_accuracy (classification),
                   best_val_loss (regression), or test_mse when the points' losses are not on one scale
                   (data.standardize_targets or loss differ: runs/scales.py)
    best point     the highest mean of an accuracy or R^2, the lowest of a loss or error; means equal
                   to 12 digits are a tie, broken by the mean of the matching loss (not when the
                   points' losses are on different scales), then by the point that comes first: the
                   rule of stats.rank, so the plot's star and compare's best group agree
    panels         one per swept key (`variant` first for named variants): x = the key's values,
                   one series per combination of the other swept keys; keys that would give more
                   than MAX_SERIES series or a lone point per series (random draws) are not split
                   on, and that panel's points are drawn unconnected
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from dlcc.errors import RunError
from dlcc.runs import scales, stats
from dlcc.runs.compare import higher_is_better, tie_breaker
from dlcc.runs.configdiff import flatten
from dlcc.runs.folder import FINISHED
from dlcc.runs.sweeplabels import axis_keys, format_value, point_label, short_names

METRICS = ("best_val_accuracy", "best_val_loss", "final_val_accuracy", "final_val_loss", "final_train_loss",
           "test_accuracy", "test_loss", *scales.REGRESSION_TESTS)
PROGRESS = ("done", "running", "interrupted", "diverged", "failed", "pending")  # how `progress` orders them
LOG_SPAN = 30      # positive values spanning at least this factor get a log axis
MAX_SERIES = 8


@dataclass(frozen=True)
class PointStat:
    id: str
    variant: str | None
    values: dict                  # swept key -> value, as in sweep.yaml
    label: str                    # "lr=0.01, units=16"
    n: int                        # counted runs (seeds)
    mean: float | None
    std: float | None


@dataclass(frozen=True)
class Series:
    label: str | None             # the other swept keys' values ("units=16"); None when nothing else varies
    x: tuple                      # numbers, or positions 0.. on a categorical axis
    points: tuple[PointStat, ...]


@dataclass(frozen=True)
class Panel:
    key: str                      # the swept config key, or "variant"
    scale: str                    # "linear" | "log" | "category"
    categories: tuple[str, ...]   # tick labels of a categorical axis (empty otherwise)
    series: tuple[Series, ...]
    connected: bool               # False when the points of a series differ in more than this key


@dataclass(frozen=True)
class SweepStats:
    name: str
    metric: str
    higher_is_better: bool
    keys: tuple[str, ...]         # the axes: variant (when named variants exist), then the swept keys
    points: tuple[PointStat, ...]
    best: PointStat | None
    counted: int                  # runs in the means
    excluded: dict                # status -> runs left out ("no value": finished without this metric)
    panels: tuple[Panel, ...]


def default_metric(results: list[dict], found: dict | None = None) -> str:
    """best_val_accuracy when any run recorded it (classification), else best_val_loss, or test_mse
    when the points' losses are not on one scale (`found`: scale_differences): what `dlcc compare`
    ranks groups by (runs/compare.py), so the plot's star and compare's winner agree."""
    if any(r.get("best_val_accuracy") is not None for r in results):
        return "best_val_accuracy"
    return "test_mse" if found else "best_val_loss"


def scale_differences(definition: dict, results: list[dict]) -> dict[str, list]:
    """The keys that put the sweep's points' losses on different scales (runs/scales.py), by point:
    loss, and for regression data.standardize_targets."""
    base, variants = flatten(definition.get("base") or {}), definition.get("variants") or {}
    configs = [{**base, **(variants.get(p.get("variant")) or {}), **(p.get("values") or {})}
               for p in definition["points"]]  # flat: dotted keys, as --set takes them
    return scales.differences(configs, is_regression(results))


def check_scales(definition: dict, found: dict[str, list], results: list[dict], metric: str, given: bool) -> None:
    """A RunError when `metric` is a loss and the points' losses are not on one scale (found), or
    when the test_mse that ranks them instead was not recorded by any finished run."""
    ids = [p["id"] for p in definition["points"]]
    scales.check(f"--metric {metric}", found, is_regression(results), ids,
                 "rank the sweep by its test scores in the target's units: --metric test_mse, test_mae or test_r2")
    finished = [r for r in results if r.get("status") in FINISHED]
    if found and not given and finished and all(r.get(metric) is None for r in finished):
        raise RunError("this sweep's points' losses are not on one scale, so best_val_loss cannot rank them: "
                       + scales.describe(found, ids) + f"; {metric} (in the target's units) would, but no finished "
                       "run recorded it (data.test: 0? a results.csv written before dlcc recorded it: "
                       "`dlcc sweep --resume SWEEP_DIR` rewrites it from the run folders)")


def is_regression(results: list[dict]) -> bool:
    """No run recorded an accuracy: the points' losses are compared as regression losses."""
    return not any(r.get("best_val_accuracy") is not None for r in results)


def status_counts(results: list[dict]) -> dict[str, int]:
    """Runs per PROGRESS word: completed and early_stopped count as done."""
    counts = dict.fromkeys(PROGRESS, 0)
    for row in results:
        status = row.get("status")
        counts["done" if status in FINISHED else status if status in counts else "failed"] += 1
    return counts


def progress(counts: dict[str, int]) -> str:
    """"30/30 done", or "12 done, 2 failed, 16 pending" (the words with a count, in PROGRESS order)."""
    total = sum(counts.values())
    if counts.get("done") == total:
        return f"{total}/{total} done"
    return ", ".join(f"{counts[w]} {w}" for w in PROGRESS if counts.get(w)) or "no runs"


def sweep_stats(definition: dict, results: list[dict], metric: str | None = None,
                found: dict[str, list] | None = None) -> SweepStats:
    """Group results.csv rows (sweepdir.read_results) by the points of sweep.yaml
    (sweepdir.read_definition). An unknown metric is a RunError listing the known ones.
    found: scale_differences(definition, results), when the caller has it already."""
    found = scale_differences(definition, results) if found is None else found
    given, metric = metric is not None, metric or default_metric(results, found)
    if metric not in METRICS:
        raise RunError(f"--metric {metric}: a sweep is plotted by one of {', '.join(METRICS)} (results.csv columns)")
    check_scales(definition, found, results, metric, given)
    keys = axis_keys(definition)
    names = short_names(keys)
    by_point: dict[str, list[dict]] = {}
    excluded: dict[str, int] = {}
    for row in results:
        if row.get("status") not in FINISHED:
            excluded[row.get("status") or "pending"] = excluded.get(row.get("status") or "pending", 0) + 1
        elif not stats.finite([row.get(metric)]):  # empty, or a NaN typed into results.csv
            excluded["no value"] = excluded.get("no value", 0) + 1
        else:
            by_point.setdefault(row.get("point"), []).append(row)
    points = tuple(_point(p, by_point.get(p["id"], []), metric, keys, names) for p in definition["points"])
    return SweepStats(
        name=str(definition["name"]), metric=metric, higher_is_better=higher_is_better(metric), keys=tuple(keys),
        points=points, best=_best(points, by_point, metric, found), counted=sum(p.n for p in points),
        excluded=excluded,
        panels=tuple(_panel(k, [p for p in points if p.n], keys, names) for k in keys or ["point"]),
    )


def _point(point: dict, rows: list[dict], metric: str, keys, names) -> PointStat:
    values = [r[metric] for r in rows]
    label = point_label(point, keys, names) or point["id"]
    return PointStat(id=point["id"], variant=point.get("variant"), values=dict(point.get("values") or {}),
                     label=label, n=len(values), mean=stats.mean(values) if values else None,
                     std=stats.sample_std(values) if len(values) > 1 else None)


def _best(points, by_point: dict, metric: str, found: dict) -> PointStat | None:
    scored = [p for p in points if p.mean is not None]
    if not scored:
        return None
    sign = -1 if higher_is_better(metric) else 1
    other = None if found else tie_breaker(metric)  # losses on different scales break no tie

    def rank(k_p):  # float noise must not split a tie: (0.95 + 0.85 + 0.9) / 3 is 0.8999999999999999
        k, p = k_p
        loss = stats.summarize([r.get(other) for r in by_point[p.id]]) if other else None
        return sign * stats.rounded(p.mean), math.inf if loss is None else stats.rounded(loss.mean), k

    return min(enumerate(scored), key=rank)[1]


def _value(p: PointStat, key: str):
    return p.id if key == "point" else (p.variant if key == "variant" else p.values.get(key))


def _panel(key: str, points: list[PointStat], keys: list[str], names: dict) -> Panel:
    raw = [_value(p, key) for p in points]
    numeric = bool(raw) and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in raw)
    if numeric:
        scale = "log" if min(raw) > 0 and max(raw) / min(raw) >= LOG_SPAN else "linear"
        categories: tuple[str, ...] = ()
        xs = [float(v) for v in raw]
    else:
        scale = "category"
        categories = tuple(dict.fromkeys(format_value(v) for v in raw))
        xs = [float(categories.index(format_value(v))) for v in raw]
    others = [k for k in keys if k != key]
    split_on = list(others)
    while split_on:
        groups = _split(points, split_on)
        if len(groups) <= MAX_SERIES and not (len(groups) > 1 and all(len(g) == 1 for g in groups.values())):
            break
        split_on.remove(max(split_on, key=lambda k: len({format_value(_value(p, k)) for p in points})))
    series = []
    for combo, members in _split(points, split_on).items():
        members.sort(key=lambda i: xs[i])
        label = ", ".join(f"{names[k]}={v}" for k, v in zip(split_on, combo)) or None
        series.append(Series(label, tuple(xs[i] for i in members), tuple(points[i] for i in members)))
    return Panel(key, scale, categories, tuple(series), connected=split_on == others)


def _split(points: list[PointStat], keys: list[str]) -> dict[tuple, list[int]]:
    """Indices of the points per combination of these keys' values, in order of first appearance."""
    groups: dict[tuple, list[int]] = {}
    for i, p in enumerate(points):
        groups.setdefault(tuple(format_value(_value(p, k)) for k in keys), []).append(i)
    return groups
