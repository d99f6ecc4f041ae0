"""Gradient clipping by global norm (guards against exploding gradients)."""

import math

import numpy as np


def clip_grad_norm(grads: dict[str, np.ndarray], max_norm: float) -> float:
    """Rescale all gradients together so that their global L2 norm is at most `max_norm`.

        norm = sqrt(sum over all arrays g of sum(g * g))
        if norm > max_norm:  g *= max_norm / norm   for every g (in place)

    Scaling every array by the same factor keeps the direction of the full gradient; only
    the step length shrinks. Returns the global norm before clipping (inf or NaN once the
    gradients have diverged); a caller that only wants the clipping may ignore it.
    """
    norm = math.sqrt(sum(float(np.sum(g * g)) for g in grads.values()))
    if norm > max_norm:
        scale = max_norm / norm
        for g in grads.values():
            g *= scale
    return norm
