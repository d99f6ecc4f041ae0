"""Weight penalties added to the mean per-example loss; they apply to weights W, never biases.

    L2:  R = l2/2 * sum(W**2),   dR/dW = l2 * W
    L1:  R = l1 * sum(|W|),      dR/dW = l1 * sign(W)

The course writes L2 as lambda/(2n) * sum(W**2) with n the training-set size; that is l2 = lambda/n
here (e.g. lambda = 5.0 on 50,000 images is l2 = 1e-4).

Max-norm is a constraint, not a penalty: after each update, every unit's incoming weight vector
(a column of W) with norm above c is scaled back to norm c.
"""

from __future__ import annotations

import numpy as np


def penalty(weights: list[np.ndarray], l1: float, l2: float) -> float:
    """R = l1 * sum |W| + l2/2 * sum W^2 over all weight matrices."""
    total = 0.0
    for W in weights:
        if l2:
            total += 0.5 * l2 * float(np.vdot(W, W))
        if l1:
            total += l1 * float(np.abs(W).sum())
    return total


def add_penalty_grad(W: np.ndarray, dW: np.ndarray, l1: float, l2: float) -> None:
    """dW += l2 * W + l1 * sign(W), in place."""
    if l2:
        dW += l2 * W
    if l1:
        dW += l1 * np.sign(W)


def apply_max_norm(W: np.ndarray, c: float) -> None:
    """Scale each column w_j of W (a unit's incoming weights) so that ||w_j|| <= c, in place."""
    norms = np.sqrt((W * W).sum(axis=0))
    W *= np.minimum(1.0, c / np.maximum(norms, 1e-12)).astype(W.dtype)
