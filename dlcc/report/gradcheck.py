"""The table `dlcc gradcheck` prints: one row per parameter, worst first."""

from __future__ import annotations

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
