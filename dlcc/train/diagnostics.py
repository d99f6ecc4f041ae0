"""Per-layer "speed of learning": the course's measure of unstable gradients.

For layer l, grad_norm_l = || dC/db_l ||, the norm of the bias gradient averaged over a fixed probe
set of training examples. In a deep sigmoid net the early layers' norms are orders of magnitude
smaller than the last layers' (vanishing gradients).
"""

from __future__ import annotations

import numpy as np


def gradient_norms(net, x_probe: np.ndarray, y_probe: np.ndarray) -> list[float]:
    """[||dC/db_1||, ..., ||dC/db_L||] for the mean loss over the probe set (no dropout)."""
    a = net.forward(x_probe, training=False)
    net.backward(a, y_probe)
    return [float(np.linalg.norm(layer.db)) for layer in net.layers]
