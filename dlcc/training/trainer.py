"""The training loop: mini-batch gradient descent, one epoch at a time.

Each epoch shuffles the training split once (one permutation drawn from the run's Generator, one
gather into buffers that are reused every epoch), then walks it in contiguous batches:

    a = net.forward(x_batch, training=True)      # dropout active
    net.backward(a, y_batch)                     # grads = batch means, penalties included
    optimizer.step(net.params, net.grads)        # in place
    net.apply_constraints()                      # max-norm, if configured

With SGD (not Nesterov), no clipping and no L1/L2 penalty, nothing needs the weight gradients
themselves, so backward leaves them as their factors x^T delta and the optimizer multiplies them
inside its update, in one BLAS call (`factored`; dlcc.optim.blas).

The reported train_loss / train_accuracy are running means over the epoch's batches (weighted by
batch size), measured as the weights change, instead of a second full pass over the data; the
penalty term is added to train_loss. Validation metrics use the weights at the end of the epoch.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from dlcc.build import Member
from dlcc.errors import DivergedError
from dlcc.nn.ensemble import Ensemble
from dlcc.nn.metrics import evaluate, n_correct
from dlcc.optim import build_optimizer, build_schedule, clip_grad_norm
from dlcc.training import diagnostics, divergence
from dlcc.training.callbacks import EarlyStopping
from dlcc.training.columns import check_monitor, columns


class Reporter:
    """What the loop tells the outside world; the CLI passes a Rich progress bar, tests pass this.

    start: before the first epoch of this session (epochs: the run's planned total; first_epoch > 1
    on resume; log_every: training.log_interval). batch: after every optimizer step, with the
    batch's size, mean data loss and number of correct predictions (None for regression).
    epoch: after every finished epoch, with its metrics row.
    """

    def start(self, epochs: int, batches_per_epoch: int, first_epoch: int = 1, log_every: int = 1) -> None: ...
    def batch(self, size: int, loss: float, correct: int | None) -> None: ...
    def epoch(self, row: dict) -> None: ...


@dataclass
class FitResult:
    status: str                       # completed | early_stopped
    epochs_completed: int
    best_epoch: int | None
    best: dict | None
    rows: list[dict] = field(default_factory=list)
    stop_reason: str | None = None


class Fit:
    """The state of one training run between epochs, and the loop that advances it.

    Everything here can be snapshotted after an epoch (`state()`) and restored (`restore()`), which
    is what checkpoint.npz holds: resuming continues exactly as if training had not stopped.
    """

    def __init__(self, cfg, members: list[Member], val, classification: bool):
        self.cfg, self.members, self.val, self.classification = cfg, members, val, classification
        tc = cfg.training
        self.model = members[0].net if len(members) == 1 else Ensemble([m.net for m in members])
        # One shuffled copy of the training split for the whole run, members taking turns with it;
        # image data is shuffled as bytes, each batch decoded into one float32 buffer (data.pixels).
        (x, y), pixels, shuffled = members[0].train, members[0].pixels, None
        if tc.shuffle and pixels is None:
            shuffled = Shuffled(np.empty_like(x), np.empty_like(y))
        elif tc.shuffle:
            batch = batch_size(tc.batch_size, len(x))
            shuffled = Shuffled(np.empty_like(pixels.bytes), np.empty_like(y), np.empty((batch, x.shape[1]), x.dtype))
        self.runners = [_EpochRunner(cfg, m, classification, shuffled) for m in members]
        self.stopper = EarlyStopping(tc.early_stopping) if tc.early_stopping else None
        self.monitor = tc.early_stopping.monitor if self.stopper else ("val_loss" if val is not None else "train_loss")
        self.sign = -1.0 if "accuracy" in self.monitor else 1.0
        self.restore_best = self.stopper is not None and tc.early_stopping.restore_best
        self.best_epoch, self.best_value, self.best_row, self.best_params = None, math.inf, None, None
        self.rows: list[dict] = []
        self.probe = None
        if cfg.diagnostics.gradient_norms:
            x, y = members[0].train
            self.probe = (x[: cfg.diagnostics.probe_size], y[: cfg.diagnostics.probe_size])
        self.start_weights: list[np.ndarray] | None = None
        self.columns = columns(len(members[0].net.layers), self.probe is not None, len(members))
        if self.stopper is not None:
            check_monitor(self.monitor, self.columns, val is not None, classification)
        # L0 for the divergence rule, from the untrained networks (the same on every resume: the
        # same seed gives the same initial weights, and evaluation draws no random numbers).
        self.reference_loss = divergence.reference_loss(self.model, *members[0].train, classification)

    @property
    def epoch(self) -> int:
        """The last finished epoch (0 before training)."""
        return self.rows[-1]["epoch"] if self.rows else 0

    def run(self, on_epoch=lambda row: None, reporter: Reporter | None = None,
            interrupted=lambda: False) -> FitResult:
        """Train up to cfg.training.epochs; on_epoch(row) after each epoch (and for epoch 0).

        `interrupted()` is polled after every batch; when it turns true the unfinished epoch is
        dropped and KeyboardInterrupt raised, so the state stays that of the last finished epoch.
        """
        reporter = reporter or Reporter()
        epochs = self.cfg.training.epochs
        if not self.rows:
            # Epoch 0: the untrained network, so curves start where training starts.
            lr0 = self.runners[0].schedule.lr(1)
            self._finish(self._row({"epoch": 0, "train_loss": None, "train_accuracy": None, "lr": lr0, "seconds": None}))
            on_epoch(self.rows[-1])
        reporter.start(epochs, sum(r.n_batches for r in self.runners), self.epoch + 1,
                       self.cfg.training.log_interval)
        # Resumed from the checkpoint of the epoch where early stopping stopped (the process was
        # killed before it finished writing): stopped it stays, as the uninterrupted run did.
        stop = self.stopper is not None and self.stopper.reason is not None
        for epoch in range(self.epoch + 1, self.epoch if stop else epochs + 1):
            if self.probe is not None:  # for update_ratio_l: how far this epoch moves each W
                self.start_weights = [layer.W.copy() for layer in self.members[0].net.layers]
            results = [r.run(epoch, reporter, interrupted) for r in self.runners]
            row = {
                "epoch": epoch,
                "train_loss": float(np.mean([r["train_loss"] for r in results])),
                "train_accuracy": float(np.mean([r["train_accuracy"] for r in results])) if self.classification else None,
                "lr": results[0]["lr"],
                "seconds": sum(r["seconds"] for r in results),
            }
            if len(self.members) > 1:
                for i, r in enumerate(results, start=1):
                    row[f"m{i}_train_loss"] = r["train_loss"]
            stop = self._finish(self._row(row))
            on_epoch(self.rows[-1])
            reporter.epoch(self.rows[-1])
            if self.cfg.training.stop_on_divergence and divergence.diverging(self.rows, self.reference_loss):
                why = divergence.message(self.rows, self.reference_loss).removeprefix("diverging: ")
                raise DivergedError(f"training diverged: {why}.\n"
                                    "Hint: lower optimizer.lr, or set training.stop_on_divergence: false "
                                    "to train on regardless.")
            if stop:
                break
        if self.best_params is not None:
            for m, params in zip(self.members, self.best_params):
                m.net.load_state(params)
        status = "early_stopped" if stop else "completed"
        return FitResult(status, self.epoch, self.best_epoch, self.best_row, self.rows,
                         self.stopper.reason if stop else None)

    def _row(self, row: dict) -> dict:
        """Add validation metrics and diagnostics; order the keys as the metrics.csv columns."""
        row.update(_val_metrics(self.model, self.val, self.classification))
        if len(self.members) > 1:
            for i, m in enumerate(self.members, start=1):
                metrics = _val_metrics(m.net, self.val, self.classification)
                row[f"m{i}_val_loss"], row[f"m{i}_val_accuracy"] = metrics["val_loss"], metrics["val_accuracy"]
        if self.probe is not None:
            row.update(diagnostics.probe(self.members[0].net, *self.probe, self.start_weights))
        return {c: row.get(c) for c in self.columns}

    def _finish(self, row: dict) -> bool:
        """Record a finished epoch: schedules, best epoch, early stopping. Returns should_stop."""
        self.rows.append(row)
        if row["epoch"] == 0:
            return False
        for r in self.runners:
            r.schedule.observe(row["val_loss"] if self.val is not None else row["train_loss"])
        value = row.get(self.monitor)
        if self.stopper is not None:
            improved, stop = self.stopper.update(row["epoch"], row)
        else:
            improved, stop = value is not None and self.sign * value < self.best_value, False
        if improved:
            self.best_epoch, self.best_row, self.best_value = row["epoch"], row, self.sign * value
            if self.restore_best:
                self.best_params = [m.net.state() for m in self.members]
        return stop

    # ----------------------------------------------------------------------- checkpoints

    def state(self) -> dict:
        """Everything needed to continue, as checkpoint.npz stores it (dlcc.runs.folder):
        per member its parameters, optimizer and schedule state and best weights, plus JSON-able
        bookkeeping."""
        members = [
            {
                "param": {k: v.copy() for k, v in m.net.params.items()},
                "opt": r.optimizer.state_dict(),
                "sched": r.schedule.state_dict(),
                "best": None if self.best_params is None else self.best_params[i],
            }
            for i, (m, r) in enumerate(zip(self.members, self.runners))
        ]
        info = {
            "rows": list(self.rows),
            "best_epoch": self.best_epoch,
            "best_value": self.best_value,
            "best_row": self.best_row,
            "stopper": self.stopper.state_dict() if self.stopper else None,
            "rng": [m.rng.bit_generator.state for m in self.members],
        }
        return {"members": members, "info": info}

    def restore(self, state: dict) -> None:
        """Continue from a `state()` snapshot."""
        info = state["info"]
        for m, r, saved, rng in zip(self.members, self.runners, state["members"], info["rng"]):
            m.net.load_state(saved["param"])
            r.optimizer.load_state_dict(saved["opt"])
            r.schedule.load_state_dict(saved["sched"])
            m.rng.bit_generator.state = rng
        if state["members"][0]["best"]:
            self.best_params = [saved["best"] for saved in state["members"]]
        self.rows = info["rows"]
        self.best_epoch, self.best_value, self.best_row = info["best_epoch"], info["best_value"], info["best_row"]
        if self.stopper is not None:
            self.stopper.load_state_dict(info["stopper"])


def batch_size(setting: int | str, n: int) -> int:
    """The examples per batch: training.batch_size, or all n for "full" (at most n either way)."""
    return n if setting == "full" else min(setting, n)


@dataclass
class Shuffled:
    """Buffers for one shuffled copy of the training split: x (or its bytes) and y, and for bytes
    the float32 buffer each batch is decoded into."""

    x: np.ndarray
    y: np.ndarray
    decoded: np.ndarray | None = None


class _EpochRunner:
    """One member's optimizer, schedule and batching: run(epoch) trains one epoch."""

    def __init__(self, cfg, member: Member, classification: bool, shuffled=None):
        self.cfg, self.member, self.classification = cfg, member, classification
        n = len(member.train[0])
        self.batch_size = batch_size(cfg.training.batch_size, n)
        self.n_batches = math.ceil(n / self.batch_size)
        self.optimizer = build_optimizer(cfg.optimizer)
        self.schedule = build_schedule(cfg.schedule, cfg.optimizer.lr, cfg.training.epochs)
        self.shuffled = shuffled
        net = member.net
        self.factored = self.optimizer.takes_factors and cfg.training.clip_grad_norm is None and not (net.l1 or net.l2)

    def epoch_order(self) -> tuple[np.ndarray, np.ndarray]:
        """x[order], y[order] for a fresh permutation (image data: the bytes of x[order]), gathered
        into the same buffers every epoch: a new x[order] per epoch would allocate 188 MB per MNIST
        epoch while the layers still hold views of the last one, twice the memory at the peak."""
        x, y = self.member.train
        if self.shuffled is None:
            return x, y
        if self.shuffled.decoded is not None:
            x = self.member.pixels.bytes
        order = self.member.rng.permutation(len(x))
        # mode="clip": with the default "raise", np.take gathers into a temporary and copies that
        # into `out`; a permutation's indices are in range anyway.
        np.take(x, order, axis=0, out=self.shuffled.x, mode="clip")
        np.take(y, order, axis=0, out=self.shuffled.y, mode="clip")
        return self.shuffled.x, self.shuffled.y

    def batches(self):
        """This epoch's mini-batches (x_b, y_b): contiguous slices of epoch_order(), no copies; image
        bytes are decoded batch by batch into the one float32 buffer, bit for bit the rows of x."""
        x, y = self.epoch_order()
        bs = self.batch_size
        decoded = None if self.shuffled is None else self.shuffled.decoded
        for b in range(self.n_batches):
            xb, yb = x[b * bs:(b + 1) * bs], y[b * bs:(b + 1) * bs]
            if decoded is not None:
                xb = self.member.pixels.decode(xb, out=decoded[:len(xb)])
            yield xb, yb

    def run(self, epoch: int, reporter: Reporter, interrupted=lambda: False) -> dict:
        tc, net, optimizer = self.cfg.training, self.member.net, self.optimizer
        optimizer.lr = lr = self.schedule.lr(epoch)
        start = time.perf_counter()
        n = len(self.member.train[0])
        loss_sum, correct = 0.0, 0
        for b, (xb, yb) in enumerate(self.batches()):
            a = net.forward(xb, training=True)
            loss = net.data_loss(a, yb)
            if not math.isfinite(loss):
                raise DivergedError(_diverged_message(epoch, b + 1, lr, "the loss"))
            loss_sum += loss * len(xb)
            right = n_correct(a, yb) if self.classification else None
            if right is not None:
                correct += right
            if self.factored:
                net.backward(a, yb, weight_grads=False)
                optimizer.step(net.params, net.grads, net.weight_factors())
            else:
                net.backward(a, yb)
                if tc.clip_grad_norm is not None:
                    clip_grad_norm(net.grads, tc.clip_grad_norm)
                optimizer.step(net.params, net.grads)
            net.apply_constraints()
            reporter.batch(len(xb), loss, right)
            if interrupted():
                raise KeyboardInterrupt
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
