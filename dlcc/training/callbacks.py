"""Early stopping on any metrics.csv column (Keras-style patience, min_delta, restore_best)."""

from __future__ import annotations

import math


class EarlyStopping:
    """Stop when `monitor` has not improved by more than `min_delta` for `patience` epochs.

    Improvement means a decrease for losses and an increase for accuracies. Epochs before
    `start_from_epoch` are neither counted nor eligible as the best. With `restore_best`, the
    trainer puts back the weights of the best epoch at the end, whether or not patience ran out.
    """

    def __init__(self, cfg):
        self.cfg = cfg
        self.sign = -1.0 if cfg.mode == "max" else 1.0  # compare sign * value: smaller is better
        self.best_value = math.inf
        self.best_epoch: int | None = None
        self.wait = 0
        self.reason: str | None = None

    def update(self, epoch: int, row: dict) -> tuple[bool, bool]:
        """Record one epoch's row; return (is_new_best, should_stop)."""
        value = row.get(self.cfg.monitor)
        if epoch < self.cfg.start_from_epoch or value is None or not math.isfinite(value):
            return False, False
        if self.sign * value < self.best_value - self.cfg.min_delta or self.best_epoch is None:
            self.best_value, self.best_epoch, self.wait = self.sign * value, epoch, 0
            return True, False
        self.wait += 1
        return False, self._stopped()

    def _stopped(self) -> bool:
        """Patience ran out (also true right after restoring the state of the epoch that stopped)."""
        if self.wait < self.cfg.patience:
            return False
        best = self.sign * self.best_value
        shown = f"{best:.2%}" if "accuracy" in self.cfg.monitor else f"{best:.6g}"  # as the tables show it
        self.reason = (f"{self.cfg.monitor} did not improve by more than {self.cfg.min_delta:g} for "
                       f"{self.cfg.patience} epochs (best {shown} at epoch {self.best_epoch})")
        return True

    def state_dict(self) -> dict:
        return {"best_value": self.best_value, "best_epoch": self.best_epoch, "wait": self.wait}

    def load_state_dict(self, state: dict) -> None:
        self.best_value, self.best_epoch, self.wait = state["best_value"], state["best_epoch"], state["wait"]
        self._stopped()  # a run killed after its stopping epoch resumes as stopped
