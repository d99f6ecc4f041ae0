"""Per-layer diagnostics of the unstable-gradient problem, measured on a fixed probe set.

For each layer l (numbered from the input side), with the gradient of the mean loss over the probe
examples (no dropout):

    grad_norm_l        ||dC/db_l||   the course's "speed of learning" of layer l
    weight_grad_norm_l ||dC/dW_l||
    weight_norm_l      ||W_l||
    update_ratio_l     ||W_l(end of epoch) - W_l(start)|| / ||W_l(start)||   how far one epoch moved W
    saturated_l        sigmoid/tanh layers: fraction of (example, unit) activations within 1% of
                       the asymptotes (sigmoid a < 0.01 or a > 0.99; tanh |a| > 0.98)
    dead_l             ReLU layers: fraction of units that output 0 for every probe example

In a deep sigmoid net grad_norm_1 is orders of magnitude below grad_norm_L: the early layers learn
far more slowly (vanishing gradients). `gradient_warnings` turns that into a one-line hint.
"""

from __future__ import annotations

import math

import numpy as np

KINDS = ("grad_norm", "weight_grad_norm", "weight_norm", "update_ratio", "saturated", "dead")
VANISHING_RATIO = 100.0
EXPLODING_GROWTH = 1000.0


def columns(n_layers: int) -> list[str]:
    """grad_norm_1..L first (SPEC), then the other kinds, layer by layer."""
    return [f"{kind}_{i}" for kind in KINDS for i in range(1, n_layers + 1)]


def probe(net, x: np.ndarray, y: np.ndarray, start_weights: list[np.ndarray] | None = None) -> dict:
    """All diagnostics for `net` on the probe set (x, y); start_weights: W_l at the epoch's start."""
    a = net.forward(x, training=False)
    net.backward(a, y)
    row = {}
    for i, layer in enumerate(net.layers, start=1):
        W = layer.W
        row[f"grad_norm_{i}"] = float(np.linalg.norm(layer.db))
        row[f"weight_grad_norm_{i}"] = float(np.linalg.norm(layer.dW))
        row[f"weight_norm_{i}"] = float(np.linalg.norm(W))
        if start_weights is not None:
            start_norm = float(np.linalg.norm(start_weights[i - 1]))
            moved = float(np.linalg.norm(W - start_weights[i - 1]))
            row[f"update_ratio_{i}"] = moved / start_norm if start_norm > 0 else (math.inf if moved else 0.0)
        out = getattr(layer.f, "a", None)  # the activations this forward pass cached
        if layer.activation == "sigmoid":
            row[f"saturated_{i}"] = float(np.mean((out < 0.01) | (out > 0.99)))
        elif layer.activation == "tanh":
            row[f"saturated_{i}"] = float(np.mean(np.abs(out) > 0.98))
        elif layer.activation == "relu":
            row[f"dead_{i}"] = float(np.mean(~(out > 0).any(axis=0)))
    return row


def gradient_warnings(rows: list[dict], n_layers: int) -> list[str]:
    """Warnings about vanishing or exploding gradients between the first and last hidden layer.

    Vanishing: at some recorded epoch the last hidden layer's grad_norm exceeds the first's by
    more than 100x. Exploding: the first hidden layer's exceeds the last's by more than 100x, or a
    layer's grad_norm grew more than 1000-fold over its epoch-0 value (or became NaN/inf).
    """
    hidden = n_layers - 1
    if hidden < 1 or not rows or "grad_norm_1" not in rows[0]:
        return []
    first, last = "grad_norm_1", f"grad_norm_{hidden}"
    warnings = []
    ratios = [(r[last] / r[first], r["epoch"]) for r in rows
              if r.get(first) and r.get(last) and math.isfinite(r[first]) and math.isfinite(r[last])]
    if hidden >= 2 and ratios:
        worst, epoch = max(ratios)
        if worst > VANISHING_RATIO:
            warnings.append(
                f"vanishing gradients: at epoch {epoch} the last hidden layer's gradient norm was {worst:.0f}x "
                "the first's, so the first layers learn far more slowly. Hint: relu activations with he_normal "
                "init, or scaled_normal/glorot init for sigmoid/tanh; see docs/diagnostics.md"
            )
        smallest, epoch = min(ratios)
        if smallest < 1 / VANISHING_RATIO:
            warnings.append(
                f"exploding gradients: at epoch {epoch} the first hidden layer's gradient norm was "
                f"{1 / smallest:.0f}x the last's. Hint: smaller initial weights, a lower lr, or "
                "training.clip_grad_norm; see docs/diagnostics.md"
            )
    for i in range(1, n_layers + 1):
        key = f"grad_norm_{i}"
        values = [r[key] for r in rows if r.get(key) is not None]
        if len(values) >= 2 and values[0] > 0 and (not all(map(math.isfinite, values))
                                                    or max(values) > EXPLODING_GROWTH * values[0]):
            warnings.append(
                f"exploding gradients: {key} grew more than {EXPLODING_GROWTH:.0f}-fold during training. "
                "Hint: a lower lr or training.clip_grad_norm"
            )
            break
    return warnings
