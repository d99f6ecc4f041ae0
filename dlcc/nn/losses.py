"""Losses: per example, summed over output units, then averaged over the n examples of a batch.

Each loss has `value(a, y)` -> float and `grad(a, y)` -> dL/da (already divided by n, so the
layer gradients are batch means). A loss that pairs with a particular output activation also has
`delta(a, y)` = dL/dz, the *fused* gradient through that activation: for softmax + cross-entropy
and sigmoid + binary cross-entropy it is simply (a - y) / n, which is both cheaper and more
accurate than multiplying the two Jacobians.
"""

from __future__ import annotations

import numpy as np

# log(a) of an a that underflowed to 0 would be -inf; clipping at EPS caps one term at ~27.6.
EPS = 1e-12


class Quadratic:
    """C = 1/n sum_x 1/2 sum_k (a_k - y_k)^2;  dC/da = (a - y) / n."""

    name = "quadratic"

    def value(self, a, y):
        d = a - y
        return 0.5 * float(np.vdot(d, d)) / len(a)

    def grad(self, a, y):
        return (a - y) / len(a)


class MSE:
    """Keras/PyTorch convention: C = 1/(n K) sum_x sum_k (a_k - y_k)^2;  dC/da = 2 (a - y) / (n K)."""

    name = "mse"

    def value(self, a, y):
        d = a - y
        return float(np.vdot(d, d)) / d.size

    def grad(self, a, y):
        return 2 * (a - y) / a.size


class L1:
    """C = 1/n sum_x sum_k |a_k - y_k|;  dC/da = sign(a - y) / n (0 where a = y)."""

    name = "l1"

    def value(self, a, y):
        return float(np.abs(a - y).sum()) / len(a)

    def grad(self, a, y):
        return np.sign(a - y) / len(a)


class CrossEntropy:
    """C = -1/n sum_x sum_k y_k log a_k, with a = softmax(z).

    dC/da = -y / (n a);  fused with softmax: dC/dz = (a - y) / n.
    """

    name = "cross_entropy"
    fuses_with = "softmax"

    def value(self, a, y):
        return -float(np.vdot(y, np.log(np.maximum(a, EPS)))) / len(a)

    def grad(self, a, y):
        return -y / (np.maximum(a, EPS) * len(a))

    def delta(self, a, y):
        return (a - y) / len(a)


class BinaryCrossEntropy:
    """C = -1/n sum_x sum_k [y_k log a_k + (1 - y_k) log(1 - a_k)], with a = sigmoid(z).

    dC/da = (a - y) / (n a (1 - a));  fused with sigmoid: dC/dz = (a - y) / n.
    """

    name = "binary_cross_entropy"
    fuses_with = "sigmoid"

    def value(self, a, y):
        a = _clip_open_unit(a)
        return -float(np.vdot(y, np.log(a)) + np.vdot(1 - y, np.log1p(-a))) / len(a)

    def grad(self, a, y):
        a = _clip_open_unit(a)
        return (a - y) / (a * (1 - a) * len(a))

    def delta(self, a, y):
        return (a - y) / len(a)


def _clip_open_unit(a: np.ndarray) -> np.ndarray:
    """a clipped into (0, 1): a saturated sigmoid rounds to exactly 1.0 in float32, where
    log(1 - a) = -inf and 0 * -inf = NaN. In float32, 1 - 1e-12 is 1.0 again, so the upper bound
    is the largest number below 1 in a's own precision."""
    return np.clip(a, EPS, 1 - max(EPS, np.finfo(a.dtype).epsneg))


LOSSES = {cls.name: cls for cls in (Quadratic, MSE, L1, CrossEntropy, BinaryCrossEntropy)}


def get(name: str):
    try:
        return LOSSES[name]()
    except KeyError:
        raise ValueError(f"unknown loss '{name}'; choose one of {', '.join(LOSSES)}") from None
