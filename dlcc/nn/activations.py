"""Activation functions a = f(z), each with forward(z) and backward(grad_a) -> grad_z.

An activation object caches what its backward pass needs (the output `a`, or `z`), so each
layer owns its own instance. `backward` applies the chain rule: grad_z = grad_a * f'(z), except for
softmax whose Jacobian is not diagonal.
"""

from __future__ import annotations

import numpy as np


class Linear:
    """a = z;  da/dz = 1."""

    name = "linear"

    def forward(self, z: np.ndarray) -> np.ndarray:
        return z

    def backward(self, grad: np.ndarray) -> np.ndarray:
        return grad


class Sigmoid:
    """a = 1 / (1 + exp(-z));  da/dz = a (1 - a).

    Computed as (1 + tanh(z/2)) / 2, the same function without overflow in exp(-z) for large |z|.
    """

    name = "sigmoid"

    def forward(self, z: np.ndarray) -> np.ndarray:
        a = np.tanh(z * 0.5)
        a += 1
        a *= 0.5
        self.a = a
        return a

    def backward(self, grad: np.ndarray) -> np.ndarray:
        a = self.a
        return grad * a * (1 - a)


class Tanh:
    """a = tanh(z);  da/dz = 1 - a^2."""

    name = "tanh"

    def forward(self, z: np.ndarray) -> np.ndarray:
        self.a = np.tanh(z)
        return self.a

    def backward(self, grad: np.ndarray) -> np.ndarray:
        return grad * (1 - self.a * self.a)


class ReLU:
    """a = max(0, z);  da/dz = 1 if z > 0 else 0 (we take 0 at z = 0).

    Both passes work in place: forward turns z into a, backward turns grad into grad_z. Each array
    belongs to the layer that calls them (its fresh z = x W + b; the fresh dC/da from the layer
    above), so no one else sees the change, and each pass writes into memory that is already in
    cache instead of a new array (benchmarks/profile_epoch.py times both forms).
    """

    name = "relu"

    def __init__(self):
        self.zeros = np.zeros(0)

    def forward(self, z: np.ndarray) -> np.ndarray:
        # max(z, 0) against a row of zeros rather than the scalar 0: NumPy (2.x) broadcasts the row
        # with its vectorized array-array loop, faster than its array-scalar loop (timed with timeit).
        if self.zeros.shape != z.shape[-1:] or self.zeros.dtype != z.dtype:
            self.zeros = np.zeros(z.shape[-1:], dtype=z.dtype)
        self.a = np.maximum(z, self.zeros, out=z)
        return self.a

    def backward(self, grad: np.ndarray) -> np.ndarray:
        return np.multiply(grad, self.a > 0, out=grad)


class LeakyReLU:
    """a = z if z > 0 else alpha z;  da/dz = 1 if z > 0 else alpha (alpha = 0.01)."""

    name = "leaky_relu"

    def __init__(self, alpha: float = 0.01):
        self.alpha = alpha

    def forward(self, z: np.ndarray) -> np.ndarray:
        self.positive = z > 0
        return np.where(self.positive, z, self.alpha * z)

    def backward(self, grad: np.ndarray) -> np.ndarray:
        return np.where(self.positive, grad, self.alpha * grad)


class Softmax:
    """a_k = exp(z_k) / sum_j exp(z_j), row by row.

    Subtracting max_j z_j first leaves a unchanged and keeps exp from overflowing.
    Backward (Jacobian-vector product): grad_z = a * (grad_a - sum_k grad_a_k a_k).
    With the cross-entropy loss the network skips this and uses the fused delta a - y instead.
    """

    name = "softmax"

    def forward(self, z: np.ndarray) -> np.ndarray:
        # The row maxima as z at each row's argmax: the same numbers as z.max(axis=1), three times
        # faster for a few columns (NumPy's max reduces each short row in a separate inner loop).
        rows = np.arange(len(z))
        e = z - z[rows, z.argmax(axis=1)][:, None]
        np.exp(e, out=e)
        e /= e.sum(axis=1, keepdims=True)
        self.a = e
        return e

    def backward(self, grad: np.ndarray) -> np.ndarray:
        a = self.a
        return a * (grad - (grad * a).sum(axis=1, keepdims=True))


class Step:
    """a = 1 if z > 0 else 0: the perceptron. Its derivative is 0 almost everywhere, so
    gradient descent cannot train it; it is here for forward-only perceptron demos."""

    name = "step"

    def forward(self, z: np.ndarray) -> np.ndarray:
        return (z > 0).astype(z.dtype)

    def backward(self, grad: np.ndarray) -> np.ndarray:
        raise NotImplementedError("the step activation has no useful gradient; use sigmoid or relu")


ACTIVATIONS = {
    cls.name: cls for cls in (Linear, Sigmoid, Tanh, ReLU, LeakyReLU, Softmax, Step)
}


def get(name: str):
    """A fresh activation object by name."""
    try:
        return ACTIVATIONS[name]()
    except KeyError:
        raise ValueError(f"unknown activation '{name}'; choose one of {', '.join(ACTIVATIONS)}") from None
