"""Whether runs' losses are on one scale, and what ranks regression runs when they are not.

A loss is a number on the scale the network was trained on: a regression run's train_loss,
val_loss and test_loss are on the standardized target scale when data.standardize_targets is true
(the default) and in the target's own units (squared, for mse) when false; and mse, quadratic, l1
and cross_entropy are different quantities. Two runs that differ in either key (SCALE_KEYS) have
losses that cannot be ranked against each other, so:

    default metric   regression runs: test_mse (summary.json's test scores, in the target's units)
                     when every run has it, else a RunError; classification runs keep val_accuracy
    a loss metric    (any metric whose name has "loss": val_loss, best_val_loss, ...) chosen with
                     --metric: a RunError naming the key that differs and the metrics to use instead

test_mse, test_mae (lower is better) and test_r2 (higher) are in the target's units whatever the
loss and the standardization, so they rank any regression runs of one dataset.
"""

from __future__ import annotations

from dlcc.errors import RunError
from dlcc.runs.configdiff import flatten, text

SCALE_KEYS = ("data.standardize_targets", "loss")
DEFAULTS = {"data.standardize_targets": True, "loss": "cross_entropy"}
REGRESSION_TESTS = ("test_mse", "test_mae", "test_r2")


def on_loss_scale(metric: str) -> bool:
    return "loss" in metric


def differences(configs: list[dict], regression: bool) -> dict[str, list]:
    """SCALE_KEYS whose value differs between these (nested) configs -> the value of each;
    standardize_targets only matters for regression."""
    flats = [flatten(c) if isinstance(c, dict) else {} for c in configs]
    found = {}
    for key in SCALE_KEYS:
        if key == "data.standardize_targets" and not regression:
            continue
        values = [f.get(key, DEFAULTS[key]) for f in flats]
        if len({text(v) for v in values}) > 1:
            found[key] = values
    return found


def check(metric: str, found: dict[str, list], regression: bool, labels: list[str], instead: str) -> None:
    """RunError when `metric` is a loss and the losses are not on one scale (found is not empty)."""
    if not found or not on_loss_scale(metric):
        return
    raise RunError(f"{metric}: these runs' losses are not on one scale, so it cannot rank them: "
                   + describe(found, labels) + f"; {instead if regression else 'rank by an accuracy'}")


def describe(found: dict[str, list], labels: list[str]) -> str:
    """"data.standardize_targets differs (#1 true, #2 false)" for each key that differs."""
    return "; ".join(f"{key} differs (" + ", ".join(f"{label} {text(v)}" for label, v in zip(labels, values)) + ")"
                     for key, values in found.items())
