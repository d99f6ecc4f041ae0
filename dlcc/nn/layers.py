"""Layers with forward(x, training) and backward(grad) that cache what backward needs.

Shapes follow the batch-as-rows convention: x is (n, n_in), W is (n_in, n_out), b is (n_out,), and

    z = x W + b,   a = f(z)

Backward receives dC/da (or dC/dz directly when the loss is fused with f) and computes

    delta = dC/dz = dC/da * f'(z),   dC/dW = x^T delta,   dC/db = sum over rows of delta,
    dC/dx = delta W^T

Because the loss already divides by n, these sums are the batch means the optimizer expects.
"""

from __future__ import annotations

import numpy as np

from dlcc.nn import activations


class Dropout:
    """Inverted dropout: in training, keep each unit with probability 1 - p and scale it by
    1/(1 - p), so the expected activation is unchanged and evaluation needs no rescaling.

        mask = (u >= p) / (1 - p),  u ~ U(0, 1);   out = x * mask;   dC/dx = dC/dout * mask
    """

    def __init__(self, p: float, rng: np.random.Generator):
        self.p = p
        self.rng = rng
        self.mask: np.ndarray | None = None

    def forward(self, x: np.ndarray, training: bool) -> np.ndarray:
        if not training or self.p == 0:
            self.mask = None
            return x
        keep = self.rng.random(x.shape, dtype=x.dtype) >= self.p
        self.mask = keep.astype(x.dtype) / x.dtype.type(1 - self.p)
        return x * self.mask

    def backward(self, grad: np.ndarray) -> np.ndarray:
        return grad if self.mask is None else grad * self.mask


class Dense:
    """A fully connected layer a = f(x W + b), optionally followed by dropout on its outputs."""

    def __init__(self, W: np.ndarray, b: np.ndarray, activation: str, dropout: float, rng: np.random.Generator):
        self.W, self.b = W, b
        self.f = activations.get(activation)
        self.dropout = Dropout(dropout, rng)
        self.dW = np.zeros_like(W)
        self.db = np.zeros_like(b)
        self.ones = np.ones(0, dtype=W.dtype)  # grown to the batch size on first use
        self.x = self.delta = None  # the last batch's input and dC/dz (forward, backward)

    @property
    def activation(self) -> str:
        return self.f.name

    def forward(self, x: np.ndarray, training: bool) -> np.ndarray:
        self.x = x
        z = x @ self.W
        z += self.b
        return self.dropout.forward(self.f.forward(z), training)

    def backward(self, grad: np.ndarray, fused: bool = False, need_input_grad: bool = True,
                 weight_grad: bool = True) -> np.ndarray | None:
        """Given dC/da (or dC/dz when `fused`), fill self.dW, self.db and return dC/dx.

        The first layer skips dC/dx (`need_input_grad=False`): nobody uses it, and it costs a matmul.
        With `weight_grad=False` dW is not computed, and an optimizer multiplies its factors
        self.x and self.delta inside its update (dlcc.optim.blas).
        """
        delta = self.delta = grad if fused else self.f.backward(self.dropout.backward(grad))
        if weight_grad:
            np.matmul(self.x.T, delta, out=self.dW)
        # dC/db = 1^T delta, the column sums, as a matrix-vector product: for a batch of a few
        # hundred rows BLAS does it faster than np.sum(delta, axis=0) (timed with timeit).
        n = len(delta)
        if len(self.ones) < n or self.ones.dtype != delta.dtype:
            self.ones = np.ones(n, dtype=delta.dtype)
        np.matmul(self.ones[:n], delta, out=self.db)
        return delta @ self.W.T if need_input_grad else None
