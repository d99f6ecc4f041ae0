"""Hooks: things that watch a run between epochs without being part of the loop.

    session.train(cfg, runs_dir, reporter, hooks=[...])     (and session.resume)

Each hook gets
    ready(cfg)       before the run folder is created (or a resumed one reopened): raise the
                     DlccError of a hook that cannot run (TensorBoard without tensorboardX)
    begin(run)       once per session, after the run folder exists and before epoch 0 is recorded
    epoch(row)       after every finished epoch (and epoch 0), once metrics.csv has its row
    end(status)      once, however the session ended: completed, early_stopped, diverged, interrupted

`run` is a RunContext: the folder, the config, the data and the networks being trained. A hook
reads the networks; it never changes their parameters or draws from their Generators, so a run's
metrics are the same with or without hooks (tests/test_tensorboard.py checks it).

The loop cannot import report/ (imports point down), so the TensorBoard writer
(dlcc/report/tensorboard.py) is built above it, by the API or a sweep worker, and passed down here.
Weight snapshots (`diagnostics.snapshots`) belong to the run folder, so the session adds
`Snapshots` itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dlcc.runs import snapshots


@dataclass(frozen=True)
class RunContext:
    """What a hook may look at. members: the build.Member objects being trained (.net, .train);
    model: the network whose outputs the run reports (an Ensemble for ensembles); probe: (x, y),
    the first diagnostics.probe_size training examples as the network sees them; arrays[split]:
    (x, y) network inputs and one-hot/target outputs, or None; first_epoch: 1, or where a resumed
    run continues."""

    run_dir: Path
    cfg: object
    splits: object
    arrays: dict
    members: list
    model: object
    probe: tuple[np.ndarray, np.ndarray]
    first_epoch: int


class Hook:
    def ready(self, cfg) -> None: ...
    def begin(self, run: RunContext) -> None: ...
    def epoch(self, row: dict) -> None: ...
    def end(self, status: str) -> None: ...


class Snapshots(Hook):
    """The weights every `diagnostics.snapshots` epochs (epoch 0 included), into snapshots/."""

    def begin(self, run: RunContext) -> None:
        self.run, self.every = run, run.cfg.diagnostics.snapshots

    def epoch(self, row: dict) -> None:
        if self.every is not None and row["epoch"] % self.every == 0:
            snapshots.write(self.run.run_dir, row["epoch"], [m.net.params for m in self.run.members])


class Hooks(Hook):
    """Several hooks as one, in order; `end` reaches every hook even when one of them fails."""

    def __init__(self, hooks):
        self.hooks = [Snapshots(), *hooks]

    def ready(self, cfg) -> None:
        for hook in self.hooks:
            hook.ready(cfg)

    def begin(self, run: RunContext) -> None:
        for hook in self.hooks:
            hook.begin(run)

    def epoch(self, row: dict) -> None:
        for hook in self.hooks:
            hook.epoch(row)

    def end(self, status: str) -> None:
        errors = []
        for hook in self.hooks:
            try:
                hook.end(status)
            except Exception as exc:  # noqa: BLE001 - closed all the same, re-raised below
                errors.append(exc)
        if errors:
            raise errors[0]


def context(run_dir: Path, fit, splits, arrays) -> RunContext:
    x, y = fit.members[0].train
    n = fit.cfg.diagnostics.probe_size
    return RunContext(Path(run_dir), fit.cfg, splits, arrays, fit.members, fit.model, (x[:n], y[:n]),
                      fit.epoch + 1)
