"""What "best" means, everywhere in dlcc: the end-of-training table, summary.json, `dlcc runs`,
`dlcc compare`, sweeps' results.csv and the HTML report.

    monitor     training.early_stopping.monitor when early stopping is on, else val_loss
                (train_loss when the run has no validation split)
    best epoch  the first epoch >= 1 (and >= early_stopping.start_from_epoch) whose monitor is
                better than at every earlier such epoch by more than early_stopping.min_delta
                (0 without early stopping): what the trainer records as summary.json's best_epoch
    best X      X in the metrics row of the best epoch: "best val_accuracy" is the validation
                accuracy at the epoch of lowest val_loss, not the highest val_accuracy of any epoch
    final X     X at the epoch whose weights the run kept (the last one, or the best one when early
                stopping restored it); always labelled "final"

Runs and seed groups are ranked by the best value of the chosen metric. For the test split there
is one value per run (the kept model's), so its best and final are the same number.
"""

from __future__ import annotations

import math


def higher_is_better(metric: str) -> bool:
    """Accuracies and R^2 (test_r2): higher is better; losses, MSE and MAE: lower."""
    return "accuracy" in metric or metric.endswith("r2")


def monitor(config: dict, has_val: bool) -> tuple[str, float, int]:
    """(monitored metric, min_delta, start_from_epoch) of a run's config.yaml as plain data."""
    training = config.get("training") if isinstance(config, dict) else None
    stopping = training.get("early_stopping") if isinstance(training, dict) else None
    if isinstance(stopping, dict) and isinstance(stopping.get("monitor"), str):
        delta, start = stopping.get("min_delta", 0.0), stopping.get("start_from_epoch", 0)
        return (stopping["monitor"], float(delta) if isinstance(delta, (int, float)) else 0.0,
                start if isinstance(start, int) else 0)
    return ("val_loss" if has_val else "train_loss"), 0.0, 0


def best_epoch(rows, metric: str, min_delta: float = 0.0, start_from_epoch: int = 0) -> int | None:
    """The best epoch of metrics rows (dicts with "epoch") by `metric`, as defined above."""
    sign = -1.0 if higher_is_better(metric) else 1.0
    best, epoch = math.inf, None
    for row in rows:
        value = row.get(metric)
        if row["epoch"] < max(1, start_from_epoch) or value is None or not math.isfinite(value):
            continue
        if epoch is None or sign * value < best - min_delta:
            best, epoch = sign * value, row["epoch"]
    return epoch
