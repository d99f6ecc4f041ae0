"""Learning-rate schedules: the learning rate to use in each epoch of a run.

Epochs are numbered from 1. The trainer asks `lr(epoch)` before the epoch, sets
`optimizer.lr` to it, and after the epoch calls `observe(value)` with the monitored metric
(val_loss, or train_loss without a validation split). Only `plateau` reacts to `observe`.

Every schedule is built as `Schedule(lr0, epochs, **options)`: `lr0` is optimizer.lr from
the config and `epochs` is training.epochs (only cosine needs it).
"""

import math

import numpy as np


class Schedule:
    """Base class: constant learning rate, no state."""

    def __init__(self, lr0: float, epochs: int) -> None:
        self.lr0 = lr0
        self.epochs = epochs

    def lr(self, epoch: int) -> float:
        return self.lr0

    def observe(self, value: float) -> None:
        """Most schedules depend on the epoch number only, so they ignore the metric."""

    def state_dict(self) -> dict[str, np.ndarray]:
        return {}

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        if state:
            raise KeyError(f"{type(self).__name__} has no state; got {', '.join(state)}")


class Constant(Schedule):
    """lr(epoch) = lr0"""


class StepDecay(Schedule):
    """lr(epoch) = lr0 * gamma ** ((epoch - 1) // step_size)

    The rate is multiplied by gamma every step_size epochs: epochs 1..step_size use lr0.
    """

    def __init__(self, lr0: float, epochs: int, *, step_size: int, gamma: float) -> None:
        super().__init__(lr0, epochs)
        self.step_size = step_size
        self.gamma = gamma

    def lr(self, epoch):
        return self.lr0 * self.gamma ** ((epoch - 1) // self.step_size)


class Exponential(Schedule):
    """lr(epoch) = lr0 * gamma ** (epoch - 1)"""

    def __init__(self, lr0: float, epochs: int, *, gamma: float) -> None:
        super().__init__(lr0, epochs)
        self.gamma = gamma

    def lr(self, epoch):
        return self.lr0 * self.gamma ** (epoch - 1)


class Cosine(Schedule):
    """lr(epoch) = min_lr + (lr0 - min_lr) * (1 + cos(pi * (epoch - 1) / (epochs - 1))) / 2

    Half a cosine wave over the run: lr0 in the first epoch, min_lr in the last
    (a one-epoch run uses lr0).
    """

    def __init__(self, lr0: float, epochs: int, *, min_lr: float = 0.0) -> None:
        super().__init__(lr0, epochs)
        self.min_lr = min_lr

    def lr(self, epoch):
        progress = (epoch - 1) / max(self.epochs - 1, 1)
        return self.min_lr + (self.lr0 - self.min_lr) * (1 + math.cos(math.pi * progress)) / 2


class Plateau(Schedule):
    """Reduce on plateau: lr = max(lr * factor, min_lr) after `patience` epochs without improvement.

        after each epoch, with the monitored value (lower is better):
            if value < best:  best = value; wait = 0
            else:             wait += 1
            if wait >= patience:  lr = max(lr * factor, min_lr); wait = 0
    """

    def __init__(
        self, lr0: float, epochs: int, *, factor: float, patience: int, min_lr: float = 0.0
    ) -> None:
        super().__init__(lr0, epochs)
        self.factor = factor
        self.patience = patience
        self.min_lr = min_lr
        self.current = lr0
        self.best = math.inf
        self.wait = 0

    def lr(self, epoch):
        return self.current

    def observe(self, value):
        # A NaN value compares False, so it counts as no improvement.
        if value < self.best:
            self.best = value
            self.wait = 0
        else:
            self.wait += 1
        if self.wait >= self.patience:
            self.current = max(self.current * self.factor, self.min_lr)
            self.wait = 0

    def state_dict(self):
        return {
            "lr": np.array(self.current),
            "best": np.array(self.best),
            "wait": np.array(self.wait),
        }

    def load_state_dict(self, state):
        self.current = float(state["lr"])
        self.best = float(state["best"])
        self.wait = int(state["wait"])


SCHEDULES = {
    "constant": Constant,
    "step": StepDecay,
    "exponential": Exponential,
    "cosine": Cosine,
    "plateau": Plateau,
}


def build_schedule(cfg, lr0: float, epochs: int) -> Schedule:
    """The schedule named by `cfg.name`, with cfg's other fields as its options.

    The config schema only accepts names in SCHEDULES, so the lookup cannot miss.
    """
    return SCHEDULES[cfg.name](lr0, epochs, **cfg.model_dump(exclude={"name"}))
