"""Loss and accuracy of a network on a split, evaluated in chunks (bounded memory)."""

from __future__ import annotations

import numpy as np


def n_correct(a: np.ndarray, y: np.ndarray) -> int:
    """How many rows have the predicted class equal to the target class.

    One output unit (binary, sigmoid): predicted class is a > 0.5. Several: argmax over units.
    """
    if a.shape[1] == 1:
        return int(np.count_nonzero((a[:, 0] > 0.5) == (y[:, 0] > 0.5)))
    return int(np.count_nonzero(a.argmax(axis=1) == y.argmax(axis=1)))


def accuracy(a: np.ndarray, y: np.ndarray) -> float:
    """Fraction of rows where the predicted class equals the target class (see n_correct)."""
    return n_correct(a, y) / len(a)


def evaluate(net, x: np.ndarray, y: np.ndarray, classification: bool, chunk: int = 8192) -> dict:
    """{"loss": mean per-example loss (no penalty), "accuracy": ... or None for regression}.

    The forward pass runs `chunk` examples at a time, so the activations held at once are bounded
    (8192 x the widest layer) however large the split is, while each matrix product stays large.
    """
    n = len(x)
    loss_sum, correct = 0.0, 0
    for i in range(0, n, chunk):
        xb, yb = x[i:i + chunk], y[i:i + chunk]
        a = net.forward(xb, training=False)
        loss_sum += net.data_loss(a, yb) * len(xb)
        if classification:
            correct += n_correct(a, yb)
    return {"loss": loss_sum / n, "accuracy": correct / n if classification else None}
