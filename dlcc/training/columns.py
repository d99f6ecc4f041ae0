"""The columns of metrics.csv, and the early-stopping monitor checked against them."""

from __future__ import annotations

from dlcc.errors import ConfigError
from dlcc.training import diagnostics

COLUMNS = ["epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "lr", "seconds"]


def columns(n_layers: int, with_diagnostics: bool, members: int = 1) -> list[str]:
    """metrics.csv header: SPEC's columns, per-member columns for ensembles, then diagnostics."""
    cols = list(COLUMNS)
    if members > 1:
        for m in range(1, members + 1):
            cols += [f"m{m}_train_loss", f"m{m}_val_loss", f"m{m}_val_accuracy"]
    if with_diagnostics:
        cols += diagnostics.columns(n_layers)
    return cols


def check_monitor(monitor: str, cols: list[str], has_val: bool, classification: bool) -> None:
    """A monitor that names no column, or a column that stays empty, would silently never stop."""
    key = "training.early_stopping.monitor"
    usable = [c for c in cols if c not in ("epoch", "seconds")
              and not (not has_val and "val_" in c)
              and not (not classification and "accuracy" in c)]
    if monitor not in usable:
        why = ""
        if "val_" in monitor and not has_val:
            why = " (there is no validation split: set data.validation)"
        elif "accuracy" in monitor and not classification:
            why = " (a regression run has no accuracy)"
        shown = [c for c in usable if not c.startswith(("weight_", "update_", "saturated_", "dead_"))]
        raise ConfigError(f"{key}: '{monitor}' is not a metric this run records{why}; "
                          f"choose one of {', '.join(shown)}")
