"""Divergence that stays finite: a learning rate too large for the problem often does not give
NaN (the losses clip their logarithms), it gives a training loss that jumps far above where it
started and stays there. The rule:

    diverging  <=>  train_loss > FACTOR * L0  for PATIENCE epochs in a row

where L0 is the untrained network's mean loss on (up to) the first REFERENCE_EXAMPLES training
examples. A network that learns anything falls below L0 within an epoch or two; one whose loss
is several times L0 for three epochs is being thrown around by its steps, not learning.
"""

from __future__ import annotations

from dlcc.nn.metrics import evaluate

FACTOR = 3.0
PATIENCE = 3
REFERENCE_EXAMPLES = 1000


def reference_loss(model, x, y, classification: bool) -> float:
    """L0: the untrained model's mean loss (no penalty) on the first training examples."""
    return evaluate(model, x[:REFERENCE_EXAMPLES], y[:REFERENCE_EXAMPLES], classification)["loss"]


def diverging(rows: list[dict], l0: float) -> bool:
    """True when the last PATIENCE finished epochs all had train_loss > FACTOR * L0."""
    # Only the tail: the loop asks after every epoch, and a run may have 10,000 of them.
    recent = [r.get("train_loss") for r in rows[-PATIENCE:] if r["epoch"] > 0]
    return len(recent) == PATIENCE and all(_above(v, l0) for v in recent)


def _above(loss: float | None, l0: float) -> bool:
    return loss is not None and loss > FACTOR * l0


def message(rows: list[dict], l0: float) -> str:
    """Why the last PATIENCE rows count as diverging, in one line."""
    losses = ", ".join(f"{r['train_loss']:.3g}" for r in rows[-PATIENCE:])
    return (f"diverging: the training loss stayed above {FACTOR:g} x the untrained network's loss "
            f"({l0:.3g}) for {PATIENCE} epochs (epochs {rows[-PATIENCE]['epoch']}-{rows[-1]['epoch']}: {losses}); "
            f"the learning rate ({rows[-1]['lr']:g}) may be too large")


def first(rows: list[dict], l0: float) -> str | None:
    """The message for the first epoch at which the rule held, or None (for the summary's warnings
    when training went on regardless)."""
    streak = 0  # finished epochs in a row above FACTOR * L0: one pass, not one rule check per epoch
    for end, row in enumerate(rows, start=1):
        streak = streak + 1 if row["epoch"] > 0 and _above(row.get("train_loss"), l0) else 0
        if streak == PATIENCE:
            return message(rows[end - PATIENCE:end], l0)
    return None
