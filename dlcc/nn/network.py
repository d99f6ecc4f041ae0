"""A feed-forward network: a stack of Dense layers, a loss, and weight penalties.

Parameters live in one dict keyed by the names W1, b1, ..., WL, bL (layers numbered from the input
side), so optimizers, checkpoints and model.npz all use the same keys. The gradient dict holds
arrays with the same keys; both are views of the layers' own arrays, updated in place.
"""

from __future__ import annotations

import numpy as np

from dlcc.nn import initializers, losses, regularizers
from dlcc.nn.layers import Dense, Dropout


class Network:
    def __init__(self, layers: list[Dense], loss: str, input_dropout: Dropout,
                 l1: float = 0.0, l2: float = 0.0, max_norm: float | None = None):
        self.layers = layers
        self.loss = losses.get(loss)
        self.input_dropout = input_dropout
        self.l1, self.l2, self.max_norm = l1, l2, max_norm
        # The fused delta (a - y)/n is used when the loss is paired with its matching output.
        self.fused = getattr(self.loss, "fuses_with", None) == layers[-1].activation
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        for i, layer in enumerate(layers, start=1):
            self.params[f"W{i}"], self.params[f"b{i}"] = layer.W, layer.b
            self.grads[f"W{i}"], self.grads[f"b{i}"] = layer.dW, layer.db

    @classmethod
    def from_config(cls, cfg, n_inputs: int, rng: np.random.Generator) -> Network:
        """Build and initialize the network described by a validated `Config`."""
        dtype = np.dtype(cfg.precision)
        layers, n_in = [], n_inputs
        for spec in cfg.model.layers:
            override = spec.init
            w_init = (override and override.weights) or cfg.model.init.weights
            b_init = (override and override.biases) or cfg.model.init.biases
            W = initializers.draw(w_init, (n_in, spec.units), n_in, spec.units, rng, dtype)
            b = initializers.draw(b_init, (spec.units,), n_in, spec.units, rng, dtype)
            layers.append(Dense(W, b, spec.activation, spec.dropout, rng))
            n_in = spec.units
        reg = cfg.regularization
        return cls(layers, cfg.loss, Dropout(cfg.model.input_dropout, rng), reg.l1, reg.l2, reg.max_norm)

    @property
    def dtype(self) -> np.dtype:
        return self.layers[0].W.dtype

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        a = self.input_dropout.forward(x, training)
        for layer in self.layers:
            a = layer.forward(a, training)
        return a

    def backward(self, a: np.ndarray, y: np.ndarray, weight_grads: bool = True) -> None:
        """Backpropagate the loss of output `a` against targets `y`; fills self.grads (batch means).

        weight_grads=False leaves the weight gradients uncomputed, as their factors x^T delta
        (`weight_factors`), for an optimizer that fuses the product into its update; it needs a
        network without L1/L2 penalties, whose gradient terms are added to dW here.
        """
        if not weight_grads and (self.l1 or self.l2):
            raise ValueError("the L1/L2 penalty gradients need the weight gradients (weight_grads=True)")
        if self.fused:
            grad, fused = self.loss.delta(a, y), True
        else:
            grad, fused = self.loss.grad(a, y), False
        last = len(self.layers) - 1
        for i in range(last, -1, -1):
            layer = self.layers[i]
            grad = layer.backward(grad, fused=fused and i == last, need_input_grad=i > 0, weight_grad=weight_grads)
            if self.l1 or self.l2:
                regularizers.add_penalty_grad(layer.W, layer.dW, self.l1, self.l2)

    def weight_factors(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """{"W<i>": (x, delta)} of the last backward pass: each weight gradient is dC/dW = x^T delta."""
        return {f"W{i}": (layer.x, layer.delta) for i, layer in enumerate(self.layers, start=1)}

    def data_loss(self, a: np.ndarray, y: np.ndarray) -> float:
        return self.loss.value(a, y)

    def penalty(self) -> float:
        """The regularization term added to the mean per-example loss (0 without penalties)."""
        if not (self.l1 or self.l2):
            return 0.0
        return regularizers.penalty([layer.W for layer in self.layers], self.l1, self.l2)

    def apply_constraints(self) -> None:
        """Max-norm: called after every optimizer step."""
        if self.max_norm is not None:
            for layer in self.layers:
                regularizers.apply_max_norm(layer.W, self.max_norm)

    def state(self) -> dict[str, np.ndarray]:
        """A copy of the parameters (for restoring the best epoch, saving model.npz)."""
        return {k: v.copy() for k, v in self.params.items()}

    def load_state(self, state: dict[str, np.ndarray]) -> None:
        for k, v in self.params.items():
            if state[k].shape != v.shape:
                raise ValueError(f"parameter {k} has shape {state[k].shape}, the network expects {v.shape}")
            v[...] = state[k]
