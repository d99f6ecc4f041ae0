"""Optimizers, learning-rate schedules and gradient clipping."""

from dlcc.optim.clip import clip_grad_norm
from dlcc.optim.optimizers import OPTIMIZERS, Optimizer, build_optimizer
from dlcc.optim.schedules import SCHEDULES, Schedule, build_schedule

__all__ = [
    "OPTIMIZERS",
    "SCHEDULES",
    "Optimizer",
    "Schedule",
    "build_optimizer",
    "build_schedule",
    "clip_grad_norm",
]
