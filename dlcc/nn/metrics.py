"""From network outputs to classes, and a network's loss and accuracy on a split.

One rule turns outputs into classes everywhere (training accuracy, eval, confusion matrices,
decision boundaries, predictions):

    one output unit (sigmoid, binary):  class = 1 if a > 0.5 else 0
    several output units:               class = argmax_k a_k

Targets are classes by the same rule (one-hot rows, or a single 0/1 column).
"""

from __future__ import annotations

import numpy as np


def predicted_classes(a: np.ndarray) -> np.ndarray:
    """Class index per row of outputs (or of targets): a > 0.5 for one unit, else argmax."""
    return (a[:, 0] > 0.5).astype(np.intp) if a.shape[1] == 1 else a.argmax(axis=1)


def n_correct(a: np.ndarray, y: np.ndarray) -> int:
    """How many rows have the predicted class equal to the target class."""
    return int(np.count_nonzero(predicted_classes(a) == predicted_classes(y)))


def predict(net, x: np.ndarray, chunk: int = 8192) -> np.ndarray:
    """The outputs of a network or an ensemble for many examples, `chunk` at a time (bounded memory)."""
    return np.concatenate([net.forward(x[i:i + chunk], training=False) for i in range(0, len(x), chunk)])


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
