"""The training loop: mini-batch gradient descent, one epoch at a time.

Each epoch shuffles the training split once (one gather with the run's Generator), then walks it
in contiguous batches:

    a = net.forward(x_batch, training=True)      # dropout active
    net.backward(a, y_batch)                     # grads = batch means, penalties included
    optimizer.step(net.params, net.grads)        # in place
    net.apply_constraints()                      # max-norm, if configured

The reported train_loss / train_accuracy are running means over the epoch's batches (weighted by
batch size), measured as the weights change, instead of a second full pass over the data; the
penalty term is added to train_loss. Validation metrics use the weights at the end of the epoch.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from dlcc.errors import DivergedError
from dlcc.optim import build_optimizer, build_schedule, clip_grad_norm
from dlcc.train.callbacks import EarlyStopping
from dlcc.train.diagnostics import gradient_norms
from dlcc.train.ensemble import Ensemble
from dlcc.train.metrics import accuracy, evaluate

COLUMNS = ["epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "lr", "seconds"]


class Reporter:
    """What the loop tells the outside world; the CLI passes a Rich progress bar, tests pass this."""

    def start(self, epochs: int, batches_per_epoch: int) -> None: ...
    def batch(self) -> None: ...
    def epoch(self, row: dict) -> None: ...


@dataclass
class FitResult:
    status: str                       # completed | early_stopped
    epochs_completed: int
    best_epoch: int | None
    best: dict | None
    rows: list[dict] = field(default_factory=list)
    stop_reason: str | None = None


@dataclass
class Member:
    """One network with its own training data (a bootstrap sample when bagging) and Generator."""

    net: object
    train: tuple[np.ndarray, np.ndarray]
    rng: np.random.Generator


def columns(n_layers: int, diagnostics: bool, members: int = 1) -> list[str]:
    """metrics.csv header: SPEC's columns, per-member columns for ensembles, then diagnostics."""
    cols = list(COLUMNS)
    if members > 1:
        for m in range(1, members + 1):
            cols += [f"m{m}_train_loss", f"m{m}_val_loss", f"m{m}_val_accuracy"]
    if diagnostics:
        cols += [f"grad_norm_{i}" for i in range(1, n_layers + 1)]
    return cols


def fit(cfg, members: list[Member], val, classification: bool,
        on_epoch=lambda row: None, reporter: Reporter | None = None) -> FitResult:
    """Train every member for cfg.training.epochs (side by side, so the ensemble has a curve).

    Calls on_epoch(row) after each epoch with the metrics row; val is (x, y) or None.
    """
    reporter = reporter or Reporter()
    tc = cfg.training
    model = members[0].net if len(members) == 1 else Ensemble([m.net for m in members])
    steppers = [_EpochRunner(cfg, m, classification) for m in members]
    stopper = EarlyStopping(tc.early_stopping) if tc.early_stopping else None
    monitor = tc.early_stopping.monitor if stopper else ("val_loss" if val is not None else "train_loss")
    sign = -1.0 if "accuracy" in monitor else 1.0
    best_state, best_epoch, best_value, best_row = None, None, math.inf, None

    probe = None
    if cfg.diagnostics.gradient_norms:
        x, y = members[0].train
        probe = (x[: cfg.diagnostics.probe_size], y[: cfg.diagnostics.probe_size])

    cols = columns(len(members[0].net.layers), probe is not None, len(members))

    def finish_row(row: dict) -> dict:
        row.update(_val_metrics(model, val, classification))
        if len(members) > 1:
            for i, m in enumerate(members, start=1):
                row[f"m{i}_val_loss"], row[f"m{i}_val_accuracy"] = _val_metrics(m.net, val, classification).values()
        if probe is not None:
            for i, g in enumerate(gradient_norms(members[0].net, *probe), start=1):
                row[f"grad_norm_{i}"] = g
        return {c: row.get(c) for c in cols}

    lr0 = steppers[0].schedule.lr(1)
    # Epoch 0: the untrained network, so curves start where training starts.
    row0 = finish_row({"epoch": 0, "train_loss": None, "train_accuracy": None, "lr": lr0, "seconds": None})
    on_epoch(row0)
    rows = [row0]

    reporter.start(tc.epochs, sum(s.n_batches for s in steppers))
    status, reason, epoch = "completed", None, 0
    for epoch in range(1, tc.epochs + 1):
        results = [s.run(epoch, reporter) for s in steppers]
        row = {
            "epoch": epoch,
            "train_loss": float(np.mean([r["train_loss"] for r in results])),
            "train_accuracy": float(np.mean([r["train_accuracy"] for r in results])) if classification else None,
            "lr": results[0]["lr"],
            "seconds": sum(r["seconds"] for r in results),
        }
        if len(members) > 1:
            for i, r in enumerate(results, start=1):
                row[f"m{i}_train_loss"] = r["train_loss"]
        row = finish_row(row)
        rows.append(row)
        on_epoch(row)
        reporter.epoch(row)
        for s in steppers:
            s.schedule.observe(row["val_loss"] if val is not None else row["train_loss"])

        value = row.get(monitor)
        if stopper is not None:
            improved, stop = stopper.update(epoch, row)
        else:
            improved, stop = value is not None and sign * value < best_value, False
        if improved:
            best_epoch, best_row, best_value = epoch, row, sign * value
            if stopper is not None and tc.early_stopping.restore_best:
                best_state = [m.net.state() for m in members]
        if stop:
            status, reason = "early_stopped", stopper.reason
            break

    if best_state is not None:
        for m, state in zip(members, best_state):
            m.net.load_state(state)
    return FitResult(status, epoch, best_epoch, best_row, rows, reason)


class _EpochRunner:
    """One member's optimizer, schedule and batching: run(epoch) trains one epoch."""

    def __init__(self, cfg, member: Member, classification: bool):
        self.cfg, self.member, self.classification = cfg, member, classification
        n = len(member.train[0])
        bs = cfg.training.batch_size
        self.batch_size = n if bs == "full" else min(bs, n)
        self.n_batches = math.ceil(n / self.batch_size)
        self.optimizer = build_optimizer(cfg.optimizer)
        self.schedule = build_schedule(cfg.schedule, cfg.optimizer.lr, cfg.training.epochs)

    def run(self, epoch: int, reporter: Reporter) -> dict:
        tc, net, (x, y) = self.cfg.training, self.member.net, self.member.train
        n, bs = len(x), self.batch_size
        self.optimizer.lr = lr = self.schedule.lr(epoch)
        start = time.perf_counter()
        if tc.shuffle:
            order = self.member.rng.permutation(n)
            x, y = x[order], y[order]  # one gather per epoch; batches below are contiguous slices
        loss_sum, correct = 0.0, 0.0
        for b in range(self.n_batches):
            xb, yb = x[b * bs:(b + 1) * bs], y[b * bs:(b + 1) * bs]
            a = net.forward(xb, training=True)
            loss = net.data_loss(a, yb)
            if not math.isfinite(loss):
                raise DivergedError(_diverged_message(epoch, b + 1, lr, "the loss"))
            loss_sum += loss * len(xb)
            if self.classification:
                correct += accuracy(a, yb) * len(xb)
            net.backward(a, yb)
            if tc.clip_grad_norm is not None:
                clip_grad_norm(net.grads, tc.clip_grad_norm)
            self.optimizer.step(net.params, net.grads)
            net.apply_constraints()
            reporter.batch()
        seconds = time.perf_counter() - start
        if not all(np.isfinite(p).all() for p in net.params.values()):
            raise DivergedError(_diverged_message(epoch, self.n_batches, lr, "the parameters"))
        return {
            "train_loss": loss_sum / n + net.penalty(),
            "train_accuracy": correct / n if self.classification else None,
            "lr": lr,
            "seconds": seconds,
        }


def _val_metrics(model, val, classification: bool) -> dict:
    if val is None:
        return {"val_loss": None, "val_accuracy": None}
    m = evaluate(model, *val, classification)
    return {"val_loss": m["loss"], "val_accuracy": m["accuracy"]}


def _diverged_message(epoch: int, batch: int, lr: float, what: str) -> str:
    return (
        f"training diverged: {what} became NaN or inf in epoch {epoch}, batch {batch} (lr {lr:g}).\n"
        "Hint: lower optimizer.lr (e.g. --set optimizer.lr=...), or set training.clip_grad_norm."
    )
