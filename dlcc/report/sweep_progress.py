"""A live sweep display on stderr: done / running / failed / left, ETA, and the best point so far.

On a terminal it is one Rich progress line redrawn in place; otherwise (a log file, CI) one plain
line per finished run. Implements dlcc.sweeps.driver.SweepReporter.
"""

from __future__ import annotations

import time

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from dlcc.errors import DlccError
from dlcc.runs.sweepstats import default_metric, is_regression, scale_differences, sweep_stats

FINISHED = ("completed", "early_stopped", "diverged", "failed")


def _fmt(metric: str, value) -> str:
    return "-" if value is None else (f"{100 * value:.2f}%" if "accuracy" in metric else f"{value:.4g}")


class RichSweepReporter:
    def __init__(self, console: Console | None = None):
        self.console = console or Console(stderr=True)
        self.live = self.console.is_terminal
        self.progress = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[counts]}"), TimeElapsedColumn(), TextColumn("{task.fields[eta]}"),
            console=self.console, transient=False)
        self.task = None

    def start(self, plan, rows: list[dict]) -> None:
        self.plan, self.rows = plan, {r["run"]: r for r in rows}
        self.definition, self.found = plan.definition(), {}  # found: scale differences by is_regression
        self.running: set[str] = set()
        self.started_at = time.perf_counter()
        self.done_before = sum(r["status"] in FINISHED for r in rows)
        self.metric = None  # what the sweep plot and `dlcc compare` rank by, once a run has finished
        self.best = self._best() if self.live else None  # the best point so far, as _refresh shows it
        self.console.print(f"sweep {plan.name}: {len(plan.points)} point(s) x {len(plan.spec.seeds)} seed(s) = "
                           f"{len(rows)} runs" + (f", {self.done_before} done already" if self.done_before else ""),
                           highlight=False, soft_wrap=True)
        if self.live:
            self.progress.start()
            self.task = self.progress.add_task(f"sweep {plan.name}", total=len(rows), completed=self.done_before,
                                               counts="", eta="")

    def run_started(self, name: str) -> None:
        self.running.add(name)
        self._refresh()

    def run_finished(self, row: dict) -> None:
        self.running.discard(row["run"])
        self.rows[row["run"]] = row
        if self.live:
            self.best = self._best()
        else:
            rows = list(self.rows.values())
            self.metric = default_metric(rows, self._found(rows))
            best = row.get(self.metric)
            self.console.print(f"{row['run']}: {row['status']}" + (f"  {self.metric} {_fmt(self.metric, best)}"
                               if best is not None else "") + (f"  ({row['error']})" if row.get("error") else ""),
                               highlight=False, markup=False, soft_wrap=True)  # one line per run, for grep
        self._refresh()

    def _refresh(self) -> None:
        if self.task is None:  # no live bar (not a terminal): nothing to show, nothing to rank
            return
        rows = list(self.rows.values())
        done = sum(r["status"] in FINISHED for r in rows)
        failed = sum(r["status"] in ("failed", "diverged") for r in rows)
        left = len(rows) - done - len(self.running)
        counts = f"{len(self.running)} running, {failed} failed, {left} left"
        if self.best:
            counts += f" | best so far {self.best}"
        self.progress.update(self.task, completed=done, counts=counts, eta=self._eta(done))

    def _eta(self, done: int) -> str:
        finished_now = done - self.done_before
        if finished_now <= 0:
            return "ETA -"
        per_run = (time.perf_counter() - self.started_at) / finished_now
        left = len(self.rows) - done
        return f"ETA {per_run * left:.0f}s" if left else ""

    def _best(self) -> str | None:
        """The best point so far, chosen as the sweep plot's star and compare's best group are
        (runs/sweepstats.py: no loss ranks points whose losses are on different scales)."""
        rows = list(self.rows.values())
        try:
            stats = sweep_stats(self.definition, rows, found=self._found(rows))
        except DlccError:  # nothing that can rank the points yet (no test score across scales)
            return None
        best = stats.best
        if best is None:
            return None
        return f"{best.id} {best.label} ({stats.metric.removeprefix('best_')} {_fmt(stats.metric, best.mean)})"

    def _found(self, rows: list[dict]) -> dict[str, list]:
        """scale_differences of the sweep, worked out once per task (it depends on the rows only
        through is_regression): a sweep of thousands of points takes a while to check."""
        regression = is_regression(rows)
        if regression not in self.found:
            self.found[regression] = scale_differences(self.definition, rows)
        return self.found[regression]

    def close(self) -> None:
        if self.task is not None:
            self.progress.stop()
