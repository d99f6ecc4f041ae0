"""Numerical gradient checking: finite differences against backpropagation.

For a parameter element theta_i, the central difference

    dC/dtheta_i  ~  (C(theta_i + h) - C(theta_i - h)) / (2h)

has error O(h^2); in float64 with h = 1e-6 it agrees with a correct analytic gradient to about
1e-9 relative. For each parameter we compare the two gradient vectors (over all its elements, or
a random sample of them for large matrices) with

    rel_error = ||g_analytic - g_numeric|| / max(||g_analytic|| + ||g_numeric||, 1e-12)

C is exactly what training minimises: the mean loss over the batch plus the L1/L2 penalty, with
dropout masks held fixed (every forward pass re-seeds the dropout Generators identically).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# A wrong formula gives errors of 1e-2 and up; deep saturated sigmoid nets, whose early-layer
# gradients are tiny, reach ~1e-6 from round-off alone.
DEFAULT_TOLERANCE = 1e-5


@dataclass(frozen=True)
class ParamCheck:
    name: str
    shape: tuple[int, ...]
    checked: int          # how many elements were perturbed
    rel_error: float      # NaN when the cost is not finite at these weights (nothing to compare)
    analytic_norm: float
    numeric_norm: float   # of the checked elements; 0 where the cost is flat (a saturated, clipped loss)


def numerical_grad(f, theta: np.ndarray, idx: np.ndarray | None = None, h: float = 1e-6) -> np.ndarray:
    """(f() at theta_i + h  -  f() at theta_i - h) / 2h for the flat indices idx (all by default).

    f takes no arguments and reads theta (or an array theta is a view of, such as a network
    parameter), which is perturbed in place one element at a time and restored exactly.
    Returns the differences in the order of idx (flat), or shaped like theta when idx is None.
    """
    flat = theta.reshape(-1)  # a view: writing to it perturbs theta itself
    indices = np.arange(flat.size) if idx is None else idx
    numeric = np.empty(len(indices))
    for j, i in enumerate(indices):
        old = flat[i]
        flat[i] = old + h
        plus = f()
        flat[i] = old - h
        minus = f()
        flat[i] = old
        numeric[j] = (plus - minus) / (2 * h)
    return numeric.reshape(theta.shape) if idx is None else numeric


def check_network(net, x: np.ndarray, y: np.ndarray, rng: np.random.Generator,
                  max_elements: int = 200, h: float = 1e-6, progress=None) -> list[ParamCheck]:
    """Compare backprop with central differences for every parameter of `net` (float64).

    progress(done, total), when given, is called every 20 elements with the number checked so far
    and in all: each element costs two forward passes, which add up to minutes for a big network.
    """
    dropouts = [net.input_dropout] + [layer.dropout for layer in net.layers]

    def forward():
        for d in dropouts:  # the same masks on every pass: the function being differentiated is fixed
            d.rng = np.random.default_rng(12345)
        return net.forward(x, training=True)

    def cost() -> float:
        return net.data_loss(forward(), y) + net.penalty()

    # Weights so large that the cost overflows give NaN errors, reported as "not a finite number".
    with np.errstate(over="ignore", invalid="ignore"):
        a = forward()
        net.backward(a, y)
        analytic = {k: g.copy() for k, g in net.grads.items()}

        results, done = [], 0
        total = sum(min(theta.size, max_elements) for theta in net.params.values())
        for name, theta in net.params.items():
            size = theta.size
            idx = np.arange(size) if size <= max_elements else rng.choice(size, max_elements, replace=False)
            numeric = np.empty(len(idx))
            for start in range(0, len(idx), 20):  # in slices, so a slow check can show it is moving
                numeric[start:start + 20] = numerical_grad(cost, theta, idx[start:start + 20], h)
                done += len(idx[start:start + 20])
                if progress is not None:
                    progress(done, total)
            g = analytic[name].reshape(-1)[idx]
            err = float(np.linalg.norm(g - numeric) / max(np.linalg.norm(g) + np.linalg.norm(numeric), 1e-12))
            results.append(ParamCheck(name, theta.shape, len(idx), err, float(np.linalg.norm(analytic[name])),
                                      float(np.linalg.norm(numeric))))
    return results
