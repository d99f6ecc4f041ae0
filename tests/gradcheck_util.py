"""Finite-difference gradients for the tests: the reference every analytic gradient is checked against.

    numerical_grad(f, x)[i] = (f(x + h e_i) - f(x - h e_i)) / (2 h)    for every element i of x

Central differences have error O(h^2) (about 1e-12 with h = 1e-6 in float64) plus rounding of
about eps * |f| / h (about 1e-10), so a correct gradient agrees to ~1e-8 relative error while a
wrong formula is off by O(1).
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from dlcc.nn import gradcheck

H = 1e-6
TOL = 1e-7


def numerical_grad(f: Callable[[], float], x: np.ndarray, h: float = H) -> np.ndarray:
    """dF/dx by central differences over every element (dlcc.nn.gradcheck.numerical_grad)."""
    assert x.dtype == np.float64, "finite differences need float64"
    assert x.flags.c_contiguous, "x is perturbed through a flat view"
    return gradcheck.numerical_grad(f, x, h=h)


def rel_error(analytic: np.ndarray, numeric: np.ndarray) -> float:
    """max|a - n| / max(1e-8, max|a| + max|n|): 0 for a perfect match, about 1 for an unrelated one.

    The 1e-8 floor keeps an all-zero gradient (e.g. a dead ReLU unit) from dividing by zero.
    """
    assert analytic.shape == numeric.shape, (analytic.shape, numeric.shape)
    diff = np.max(np.abs(analytic - numeric))
    scale = np.max(np.abs(analytic)) + np.max(np.abs(numeric))
    return float(diff / max(1e-8, scale))


def vjp(forward: Callable[[np.ndarray], np.ndarray], z: np.ndarray, g: np.ndarray) -> np.ndarray:
    """The vector-Jacobian product g^T (d forward / d z) by finite differences of sum(g * forward(z)).

    forward gets a copy of z each time: an activation may work in place (ReLU turns z into a).
    """
    return numerical_grad(lambda: float(np.sum(g * forward(z.copy()))), z)
