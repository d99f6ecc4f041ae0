"""Compare runs: which config keys differ, best and final value of each metric, aligned curves.

    diff   = the dotted config paths (model.layers.0.units) whose values differ between runs;
             `name` only labels a run, so it is left out (Comparison.names_differ says if it varies)
    best   = the metric in the row of the run's best epoch, the one epoch chosen by the monitored
             metric (val_loss unless early stopping names another; runs/best.py); runs are ranked
             by it, so one lucky epoch of the ranked metric does not decide
    final  = the value at the epoch whose weights the run kept: its last epoch, or the best one
             when early stopping restored it (RunFolder.model_epoch); always labelled final
    delta  = best - the best run's best (0 for the best run); an accuracy tie is broken by
             the loss on the same split
    groups = runs whose configs are equal apart from name and seed. Once a config was run with
             two or more seeds, every config is a group (one run: n = 1), labelled by the keys that
             tell the groups apart, and ranked, summarized and tested by dlcc/runs/stats.py

test_loss and test_accuracy, and for regression test_mse, test_mae and test_r2 (in the target's
units; R^2 higher is better), come from summary.json (one value per finished run, no epochs).
Runs whose losses are not on one scale (data.standardize_targets or loss differ) are not ranked
by a loss: regression runs default to test_mse, and the losses get no best run (runs/scales.py).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

from dlcc.errors import RunError
from dlcc.runs import scales, stats
from dlcc.runs.best import higher_is_better
from dlcc.runs import sweeplabels
from dlcc.runs.configdiff import REPEAT_KEYS, config_diff, flatten, group_keys, text
from dlcc.runs.folder import FINISHED
from dlcc.runs.read import RunFolder

CURVE_METRICS = ("train_loss", "train_accuracy", "val_loss", "val_accuracy")
TEST_METRICS = ("test_loss", "test_accuracy", *scales.REGRESSION_TESTS)
SHOWN = ("val_accuracy", "val_loss", "test_accuracy", "test_loss", *scales.REGRESSION_TESTS, "train_accuracy",
         "train_loss")


@dataclass(frozen=True)
class MetricResult:
    """best (at the run's best epoch) and final (at final_epoch); test_* metrics have one value,
    the kept model's, as both best and final (and no epochs)."""

    best: float | None
    best_epoch: int | None
    final: float | None
    final_epoch: int | None

    @property
    def value(self) -> float | None:
        """The value runs are ranked by: the best (runs/best.py)."""
        return self.best


@dataclass(frozen=True)
class Comparison:
    runs: tuple[RunFolder, ...]
    metric: str                  # the metric that decides the best run
    metrics: tuple[str, ...]     # every metric shown
    results: dict                # metric -> [MetricResult per run]
    best: dict                   # metric -> index of the best run, or None when no run has it
    config_diff: dict            # dotted key -> [value per run]; None where a run lacks the key
    names_differ: bool
    groups: tuple[stats.Group, ...]  # best first; empty unless some config was run with two or more seeds
    unranked: str = ""           # why the losses have no best run: "loss differs (#1 mse, #2 l1)", or ""

    def to_json(self) -> dict:
        """What `dlcc compare --json` prints."""
        return to_json(self)

    def delta(self, metric: str, i: int) -> float | None:
        best = self.best[metric]
        mine = self.results[metric][i].value
        if best is None or mine is None:
            return None
        return mine - self.results[metric][best].value


def compare(runs: list[RunFolder], metric: str | None = None) -> Comparison:
    """Everything `dlcc compare` shows, as data. RunError for an unknown metric (listing the known
    ones) and for runs that cannot be compared (one folder twice, different datasets or tasks)."""
    runs = tuple(runs)
    check_comparable(runs)
    available = available_metrics(runs)
    regression = bool(runs) and runs[0].task == "regression"
    found = scales.differences([run.config for run in runs], regression)
    metric = metric or default_metric(runs, found)
    if metric not in available:
        raise RunError(f"--metric {metric}: not recorded by these runs; available: {', '.join(available)}")
    scales.check(f"--metric {metric}", found, regression, _numbers(runs),
                 "use --metric test_mse, test_mae or test_r2 (the test split, in the target's units)")
    shown = [m for m in SHOWN if m in available]
    metrics = tuple([metric] + [m for m in shown if m != metric])
    results = {m: [metric_result(run, m) for run in runs] for m in metrics}
    ranked = {m: r for m, r in results.items() if not (found and scales.on_loss_scale(m))}  # no loss tie-breaks
    best = {m: _best_index(ranked, m) if m in ranked else None for m in metrics}
    flats = [flatten(run.config) for run in runs]
    return Comparison(
        runs=runs,
        metric=metric,
        metrics=metrics,
        results=results,
        best=best,
        config_diff=config_diff(flats),
        names_differ=len({f.get("name") for f in flats}) > 1,
        groups=tuple(_groups(runs, flats, results, metric, None if found else tie_breaker(metric))),
        unranked=scales.describe(found, _numbers(runs)),
    )


def check_comparable(runs) -> None:
    """One folder given twice, or runs of different tasks or datasets: a RunError, not a table
    (a ranking of accuracies on different data, or of an accuracy against a loss, means nothing)."""
    seen: dict = {}
    for i, run in enumerate(runs):
        where = run.path.resolve()
        if where in seen:
            raise RunError(f"{run.path}: given twice (#{seen[where] + 1} and #{i + 1}); "
                           "compare needs different run folders")
        seen[where] = i
    for what, values in (("tasks", [run.task for run in runs]), ("datasets", [run.dataset for run in runs])):
        if len(set(values)) > 1:
            listed = "; ".join(f"{v}: " + ", ".join(f"#{i + 1} {runs[i].path}" for i, w in enumerate(values) if w == v)
                               for v in dict.fromkeys(values))
            raise RunError(f"these runs cannot be compared: they are of different {what} ({listed}); "
                           f"compare runs of one {what[:-1]}")


def best_group(c: Comparison, metric: str) -> int | None:
    """Index into c.groups of the best group by mean best `metric` (ties: stats.rank)."""
    other = None if c.unranked else tie_breaker(metric)  # losses on different scales break no tie
    order = stats.rank([g.stats for g in c.groups], metric, higher_is_better(metric), other)
    return order[0] if order else None


def available_metrics(runs) -> list[str]:
    """Columns with at least one number in some run (epoch excluded), then the test metrics."""
    found: list[str] = []
    for run in runs:
        for col in run.columns[1:]:
            if col not in found and any(row.get(col) is not None for row in run.rows):
                found.append(col)
    for m in TEST_METRICS:
        if any(_test_value(run, m) is not None for run in runs):
            found.append(m)
    return found


def default_metric(runs, found: dict | None = None) -> str:
    """Validation accuracy when recorded, else validation loss, else the training ones; for
    regression runs whose losses are not on one scale (`found`: scales.differences), test_mse."""
    available = available_metrics(runs)
    if found and runs and runs[0].task == "regression" and "val_accuracy" not in available:
        # a diverged or unfinished run has no test score: its group is left unranked ("no value")
        missing = [f"#{i + 1}" for i, run in enumerate(runs) if _test_value(run, "test_mse") is None
                   and (run.status in FINISHED or all(_test_value(r, "test_mse") is None for r in runs))]
        if not missing:
            return "test_mse"
        raise RunError("these regression runs' losses are not on one scale, so val_loss cannot rank them: "
                       + scales.describe(found, _numbers(runs))
                       + f"; test_mse (in the target's units) would, but {', '.join(missing)} has no test "
                       "score (data.test: 0, or unfinished); compare runs that agree on these keys")
    for m in ("val_accuracy", "val_loss", "train_accuracy", "train_loss"):
        if m in available:
            return m
    raise RunError("these runs recorded no finished epoch yet; nothing to compare")


def curve(run: RunFolder, metric: str) -> dict[int, float]:
    """epoch -> value for every row where the metric is a finite number (epoch 0 included)."""
    return {row["epoch"]: row[metric] for row in run.rows
            if row.get(metric) is not None and math.isfinite(row[metric])}


def metric_result(run: RunFolder, metric: str) -> MetricResult:
    if metric in TEST_METRICS:
        value = _test_value(run, metric)
        return MetricResult(value, None, value, None)
    values = curve(run, metric)
    if not values:
        return MetricResult(None, None, None, None)
    final_epoch = run.model_epoch if run.model_epoch in values else max(values)
    best_epoch = run.best_epoch
    best = values.get(best_epoch) if best_epoch is not None else None
    return MetricResult(best, None if best is None else best_epoch, values[final_epoch], final_epoch)


def aligned(runs, metric: str) -> tuple[list[int], list[list[float | None]]]:
    """Curves on a shared epoch axis 0..longest run; None where a run has no value (yet)."""
    curves = [curve(run, metric) for run in runs]
    last = max((max(c) for c in curves if c), default=0)
    epochs = list(range(last + 1))
    return epochs, [[c.get(e) for e in epochs] for c in curves]


def group_curve(values: list[list[float | None]]) -> tuple[list[float | None], list[float | None]]:
    """Per-epoch mean and sample std over the runs that reached that epoch (std None below 2)."""
    means, stds = [], []
    for column in zip(*values):
        present = [v for v in column if v is not None]
        means.append(stats.mean(present) if present else None)
        stds.append(stats.sample_std(present) if len(present) > 1 else None)
    return means, stds


def tied(results: list[MetricResult], higher: bool) -> list[int]:
    """Indices of the runs that share the best value (accuracies on small splits often tie)."""
    scored = [(r.value, i) for i, r in enumerate(results) if r.value is not None]
    if not scored:
        return []
    best = (max if higher else min)(v for v, _ in scored)
    return [i for v, i in scored if v == best]


def tie_breaker(metric: str) -> str | None:
    """An accuracy tie is broken by the loss on the same split (val_accuracy -> val_loss)."""
    return metric.replace("accuracy", "loss") if "accuracy" in metric else None


def _best_index(results: dict, metric: str) -> int | None:
    candidates = tied(results[metric], higher_is_better(metric))
    other = tie_breaker(metric)
    if len(candidates) > 1 and other in results:
        losses = [results[other][i].value for i in candidates]
        if None not in losses:
            return candidates[losses.index(min(losses))]
    return candidates[0] if candidates else None  # otherwise the run given first


def _groups(runs, flats: list[dict], results: dict, metric: str, other: str | None) -> list[stats.Group]:
    """Seed groups ranked best first, or [] when every config was run once (nothing repeats)."""
    by_key, samples = {}, set()  # {config: run indices}, {(config, seed)}
    for i, flat in enumerate(flats):
        key = json.dumps({k: v for k, v in flat.items() if k not in REPEAT_KEYS}, sort_keys=True, default=str)
        if (key, str(flat.get("seed"))) not in samples:  # the same config and seed: the same numbers, one sample
            samples.add((key, str(flat.get("seed"))))
            by_key.setdefault(key, []).append(i)
    members = list(by_key.values())
    if all(len(m) < 2 for m in members):
        return []
    summaries = [{m: {"best": stats.summarize([results[m][i].best for i in g]),
                      "final": stats.summarize([results[m][i].final for i in g])} for m in results} for g in members]
    values = [stats.finite([results[metric][i].best for i in g]) for g in members]
    keys = group_keys([flats[g[0]] for g in members])
    order = stats.rank(summaries, metric, higher_is_better(metric), other)
    top = order[0] if order else None
    groups = []
    for k in order + [k for k in range(len(members)) if k not in order]:  # groups without a value last
        test, outcome, verdict = stats.judge(values[k], values[top] if order else [], summaries[k],
                                             summaries[top] if order else {}, metric, other, k == top)
        label = sweeplabels.label_for(runs[members[k][0]].path, seed=False) or " ".join(  # a sweep's own words
            f"{key}={text(v)}" for key, v in keys[k].items()) or str(flats[members[k][0]].get("name"))
        groups.append(stats.Group(tuple(members[k]), tuple(runs[i].config.get("seed") for i in members[k]),
                                  summaries[k], keys[k], label, order.index(k) + 1 if k in order else None,
                                  test, outcome, verdict))
    return groups


def _numbers(runs) -> list[str]:
    """How messages name the runs: #1, #2, ... in the order given."""
    return [f"#{i + 1}" for i in range(len(runs))]


def _test_value(run: RunFolder, metric: str) -> float | None:
    test = run.summary.test
    value = test.get(metric.removeprefix("test_")) if test is not None else None
    return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None


def to_json(c: Comparison) -> dict:
    """The comparison as plain data for `dlcc compare --json`."""
    runs = []
    for i, run in enumerate(c.runs):
        runs.append({
            "run_dir": str(run.path),
            "name": run.config.get("name"),
            "seed": run.config.get("seed"),
            "status": run.status,
            "epochs": run.last_epoch,
            "partial": run.partial,
            "notes": list(run.notes),
            "metrics": {m: {"best": c.results[m][i].best, "best_epoch": c.results[m][i].best_epoch,
                            "final": c.results[m][i].final, "final_epoch": c.results[m][i].final_epoch,
                            "delta": c.delta(m, i)} for m in c.metrics},
        })
    curves = {}
    for m in c.metrics:
        if m in TEST_METRICS:
            continue
        epochs, values = aligned(c.runs, m)
        curves[m] = {"epochs": epochs, "runs": values}
    return {
        "metric": c.metric,
        "higher_is_better": higher_is_better(c.metric),
        "best_run": None if c.best[c.metric] is None else str(c.runs[c.best[c.metric]].path),
        "losses_unranked": c.unranked or None,
        "best": {m: c.best[m] for m in c.metrics},
        "runs": runs,
        "config_diff": c.config_diff,
        "names_differ": c.names_differ,
        "alpha": stats.ALPHA,
        "best_group": best_group(c, c.metric),
        "groups": [g.to_json(c.metric) for g in c.groups],
        "curves": curves,
    }
