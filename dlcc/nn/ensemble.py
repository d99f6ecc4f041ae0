"""Ensembles: N networks trained side by side, their predictions averaged.

Each member gets its own Generator (init, shuffling, dropout) spawned from the run's seed; with
bagging it also trains on its own bootstrap sample of the training split (n draws with
replacement), the "bagging" of the course. The ensemble's output is the mean of the members'
outputs (class probabilities for classification, values for regression):

    a_ensemble(x) = 1/N sum_m a_m(x)
"""

from __future__ import annotations

import numpy as np


class Ensemble:
    """Quacks like a Network for evaluation: forward(x) averages, data_loss uses the members' loss."""

    def __init__(self, members: list):
        self.members = members

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        a = self.members[0].forward(x, training).copy()
        for net in self.members[1:]:
            a += net.forward(x, training)
        a /= len(self.members)
        return a

    def data_loss(self, a: np.ndarray, y: np.ndarray) -> float:
        return self.members[0].data_loss(a, y)


def member_rngs(seed_sequence: np.random.SeedSequence, members: int) -> list[np.random.Generator]:
    """One independent Generator per member; a single network keeps the run's own stream."""
    if members == 1:
        return [np.random.default_rng(seed_sequence)]
    return [np.random.default_rng(s) for s in seed_sequence.spawn(members)]


def bootstrap(n: int, rng: np.random.Generator) -> np.ndarray:
    """The rows of a bootstrap sample of n examples: n draws, uniform with replacement (about 63%
    distinct)."""
    return rng.integers(0, n, size=n)
