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


def columns(n_layers: int, diagnostics: bool) -> list[str]:
    extra = [f"grad_norm_{i}" for i in range(1, n_layers + 1)] if diagnostics else []
    return COLUMNS + extra


def fit(cfg, net, train, val, classification: bool, rng: np.random.Generator,
        on_epoch=lambda row: None, reporter: Reporter | None = None) -> FitResult:
    """Train `net` on `train` = (x, y); validate on `val` (or None). Calls on_epoch(row) per epoch."""
    reporter = reporter or Reporter()
    tc = cfg.training
    x, y = train
    n = len(x)
    batch_size = n if tc.batch_size == "full" else min(tc.batch_size, n)
    n_batches = math.ceil(n / batch_size)
    optimizer = build_optimizer(cfg.optimizer)
    schedule = build_schedule(cfg.schedule, cfg.optimizer.lr, tc.epochs)
    stopper = EarlyStopping(tc.early_stopping) if tc.early_stopping else None
    monitor = tc.early_stopping.monitor if stopper else ("val_loss" if val is not None else "train_loss")
    best_state, best_epoch, best_value, best_row = None, None, math.inf, None
    sign = -1.0 if "accuracy" in monitor else 1.0

    probe = None
    if cfg.diagnostics.gradient_norms:
        probe = (x[: cfg.diagnostics.probe_size], y[: cfg.diagnostics.probe_size])

    def diagnostics(row: dict) -> None:
        if probe is not None:
            for i, g in enumerate(gradient_norms(net, *probe), start=1):
                row[f"grad_norm_{i}"] = g

    rows: list[dict] = []
    # Epoch 0: the untrained network, so curves start where training starts.
    row0 = {"epoch": 0, "train_loss": None, "train_accuracy": None,
            **_val_metrics(net, val, classification), "lr": schedule.lr(1), "seconds": None}
    diagnostics(row0)
    rows.append(row0)
    on_epoch(row0)

    reporter.start(tc.epochs, n_batches)
    status, reason = "completed", None
    for epoch in range(1, tc.epochs + 1):
        optimizer.lr = lr = schedule.lr(epoch)
        start = time.perf_counter()
        if tc.shuffle:
            order = rng.permutation(n)
            xs, ys = x[order], y[order]
        else:
            xs, ys = x, y
        loss_sum, correct = 0.0, 0.0
        for b in range(n_batches):
            xb = xs[b * batch_size:(b + 1) * batch_size]
            yb = ys[b * batch_size:(b + 1) * batch_size]
            a = net.forward(xb, training=True)
            loss = net.data_loss(a, yb)
            if not math.isfinite(loss):
                raise DivergedError(_diverged_message(epoch, b + 1, lr, "the loss"))
            loss_sum += loss * len(xb)
            if classification:
                correct += accuracy(a, yb) * len(xb)
            net.backward(a, yb)
            if tc.clip_grad_norm is not None:
                clip_grad_norm(net.grads, tc.clip_grad_norm)
            optimizer.step(net.params, net.grads)
            net.apply_constraints()
            reporter.batch()
        seconds = time.perf_counter() - start
        if not all(np.isfinite(p).all() for p in net.params.values()):
            raise DivergedError(_diverged_message(epoch, n_batches, lr, "the parameters"))

        row = {
            "epoch": epoch,
            "train_loss": loss_sum / n + net.penalty(),
            "train_accuracy": correct / n if classification else None,
            **_val_metrics(net, val, classification),
            "lr": lr,
            "seconds": seconds,
        }
        diagnostics(row)
        rows.append(row)
        on_epoch(row)
        reporter.epoch(row)
        schedule.observe(row["val_loss"] if val is not None else row["train_loss"])

        value = row.get(monitor)
        if stopper is not None:
            improved, stop = stopper.update(epoch, row)
        else:
            improved = value is not None and sign * value < best_value
            stop = False
        if improved:
            best_epoch, best_row = epoch, row
            best_value = sign * value
            if stopper is not None and tc.early_stopping.restore_best:
                best_state = net.state()
        if stop:
            status, reason = "early_stopped", stopper.reason
            break

    if best_state is not None:
        net.load_state(best_state)
    return FitResult(status, epoch, best_epoch, best_row, rows, reason)


def _val_metrics(net, val, classification: bool) -> dict:
    if val is None:
        return {"val_loss": None, "val_accuracy": None}
    m = evaluate(net, *val, classification)
    return {"val_loss": m["loss"], "val_accuracy": m["accuracy"]}


def _diverged_message(epoch: int, batch: int, lr: float, what: str) -> str:
    return (
        f"training diverged: {what} became NaN or inf in epoch {epoch}, batch {batch} (lr {lr:g}).\n"
        "Hint: lower optimizer.lr (e.g. --set optimizer.lr=...), or set training.clip_grad_norm."
    )
