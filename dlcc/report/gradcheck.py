"""What `dlcc gradcheck` prints: the table (one row per parameter, in the network's order), a
progress bar on stderr while a big network is checked, the JSON document and the failure message."""

from __future__ import annotations

import math
import sys
from contextlib import contextmanager

from rich.console import Console
from rich.table import Table


def print_gradcheck(source: str, results, tolerance: float, console: Console | None = None) -> None:
    console = console or Console()
    table = Table(title=f"gradient check: {source} (float64, tolerance {tolerance:g})", header_style="bold")
    for col, justify in (("parameter", "left"), ("shape", "left"), ("checked", "right"),
                         ("|analytic|", "right"), ("relative error", "right"), ("", "left")):
        table.add_column(col, justify=justify)
    for r in results:
        ok = r.rel_error <= tolerance
        table.add_row(r.name, "x".join(map(str, r.shape)), str(r.checked), f"{r.analytic_norm:.3e}",
                      f"{r.rel_error:.2e}", "[green]ok[/green]" if ok else "[bold red]FAIL[/bold red]")
    console.print(table)


def gradcheck_json(source: str, results, tolerance: float) -> dict:
    """The --json document: strict JSON, so a relative error that is not a number is null."""
    return {"config": source, "tolerance": tolerance, "passed": not failures(results, tolerance),
            "parameters": [{"name": r.name, "shape": list(r.shape), "checked": r.checked,
                            "rel_error": r.rel_error if math.isfinite(r.rel_error) else None}
                           for r in results]}


def failures(results, tolerance: float) -> list:
    return [r for r in results if not r.rel_error <= tolerance]  # NaN fails too


FLAT = 1e-3  # a numeric gradient this small next to backprop's: the cost looks flat to finite differences


def failure_message(failed, tolerance: float) -> str:
    """Why the check failed, naming the parameters. Two failures are not backprop's fault: a cost that
    is not finite at the initial weights, and a cost that finite differences see as flat (the loss is
    clipped where the outputs saturate) while its gradient formula is not."""
    names = ", ".join(r.name for r in failed)
    if all(not math.isfinite(r.rel_error) for r in failed):
        return (f"gradient check could not compare {names}: the cost is not a finite number at the initial "
                "weights (the outputs overflow); use a smaller model.init")
    if all(r.numeric_norm <= FLAT * r.analytic_norm for r in failed):  # 0, or all but (a partial saturation)
        return (f"gradient check failed for {names}: finite differences see a (nearly) flat cost where backprop "
                "does not, which is what saturated outputs do (the loss is clipped near 0 or 1): the initial "
                "weights are probably too large to check; use a smaller model.init (if it still fails with "
                "small weights, backprop is wrong)")
    return (f"gradient check failed for {names}: backprop disagrees with finite differences "
            f"(relative error above {tolerance:g})")


@contextmanager
def gradcheck_progress(stream=None):
    """A transient progress bar on stderr (a terminal only): yields progress(done, total), or None."""
    stream = stream or sys.stderr
    console = Console(file=stream)
    if not console.is_terminal:
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(TextColumn("checking elements"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=console, transient=True) as bar:
        task = bar.add_task("gradcheck", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield progress
