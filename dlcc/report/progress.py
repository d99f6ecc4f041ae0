"""The training progress display on stderr, in the manner of Keras's `fit` (implements trainer.Reporter).

On a terminal, a live two-line display redrawn in place, with one line printed above it for each
logged epoch:

    epoch  2/10  loss 0.1345  acc 96.12%  val_loss 0.1306  val_acc 96.35%  time 1.25s
    epoch 3/10 ━━━━━━━━━━━━━━━━━━━━━━━╸━━━━━━━━━━━━━━━━ 919/1563 batches  loss 0.0700  acc 98.05%
      last epoch: val_loss 0.1306  val_acc 96.35%   elapsed 0:04   ETA 0:11

The bar covers the current epoch's batches; loss and acc are running means over the batches seen
so far (the data loss, before any regularization penalty). When stderr is not a terminal (a log
file, CI, a pipe) only the epoch lines are written, as plain text with no control characters, each
ending in the run's elapsed time and ETA (`elapsed 0:03  ETA 0:12`).

The ETA is the mean wall time of the epochs finished so far (their batches, then validation and
diagnostics) times the epochs left, plus what the current epoch still needs: its batches not done
and the validation after them. The first epoch's batches are timed over its second half only (a
process's first epoch starts slowly); during the first epoch the ETA comes from the batches done.
`training.log_every` (`--log-every N`) prints every Nth epoch.
"""

from __future__ import annotations

import sys
import time


def _fmt(value, pct: bool = False) -> str:
    if value is None:
        return "-"
    return f"{100 * value:.2f}%" if pct else f"{value:.4f}"


def clock_time(seconds: float | None) -> str:
    """0:07, 12:34, 1:02:03."""
    if seconds is None:
        return "-:--"
    s = int(round(max(seconds, 0.0)))
    h, m, s = s // 3600, s // 60 % 60, s % 60
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def epoch_line(row: dict, epochs: int | None = None) -> str:
    """One finished epoch: `epoch   3/10  loss 0.2345  acc 93.21%  val_loss ...  time 1.23s`."""
    label = f"{row['epoch']:>3}" if epochs is None else f"{row['epoch']:>{len(str(epochs))}}/{epochs}"
    parts = [f"epoch {label}", f"loss {_fmt(row.get('train_loss'))}"]
    if row.get("train_accuracy") is not None:
        parts.append(f"acc {_fmt(row['train_accuracy'], True)}")
    if row.get("val_loss") is not None:
        parts.append(f"val_loss {_fmt(row['val_loss'])}")
    if row.get("val_accuracy") is not None:
        parts.append(f"val_acc {_fmt(row['val_accuracy'], True)}")
    if row.get("seconds") is not None:
        parts.append(f"time {row['seconds']:.2f}s")
    return "  ".join(parts)


class ProgressState:
    """What the display shows, kept apart from drawing it so it can be tested with a fake clock."""

    def __init__(self, clock=time.monotonic):
        self.clock = clock
        self.epochs, self.batches_per_epoch, self.first_epoch, self.log_every = 0, 1, 1, 1
        self.current = 1
        self.last_row: dict | None = None

    def start(self, epochs: int, batches_per_epoch: int, first_epoch: int = 1, log_every: int = 1) -> None:
        self.epochs, self.batches_per_epoch = epochs, max(batches_per_epoch, 1)
        self.first_epoch, self.log_every, self.current = first_epoch, log_every, first_epoch
        self.started = self.epoch_started = self.clock()
        self.finished = 0  # epochs finished in this session
        self.batch_seconds = 0.0  # of the finished epochs: time in batches (the rest: validation, ...)
        self.after_batches = 0.0  # ... and time after them
        self.half = batches_per_epoch // 2 if batches_per_epoch >= 4 else None
        self.batches_ended = self.half_done = None
        self._new_epoch()

    def _new_epoch(self) -> None:
        self.done = self.seen = self.correct = 0
        self.loss_sum, self.classification = 0.0, False

    def batch(self, size: int, loss: float, correct: int | None) -> None:
        # Called after every optimizer step: only arithmetic here, the drawing happens elsewhere.
        self.done += 1
        self.seen += size
        self.loss_sum += loss * size
        if correct is not None:
            self.correct += correct
            self.classification = True
        if self.done == self.batches_per_epoch:  # the epoch's last batch: validation comes next
            self.batches_ended = self.clock()
        elif self.done == self.half and not self.finished:
            self.half_done = self.clock()

    def epoch(self, row: dict) -> bool:
        """Record a finished epoch; True when its line should be printed (every log_every-th,
        the first of the session and the last planned one)."""
        now = self.clock()
        ended = self.batches_ended or now
        if not self.finished and self.half_done is not None:
            # The first epoch of a process starts slowly (memory first touched, caches cold): count
            # its second half only, at the rate of the whole.
            share = self.batches_per_epoch / (self.batches_per_epoch - self.half)
            self.batch_seconds += (ended - self.half_done) * share
        else:
            self.batch_seconds += ended - self.epoch_started
        self.after_batches += now - ended
        self.finished += 1
        self.last_row, self.current, self.epoch_started, self.batches_ended = row, row["epoch"] + 1, now, None
        self._new_epoch()
        e = row["epoch"]
        return e % self.log_every == 0 or e == self.first_epoch or e == self.epochs

    @property
    def running_loss(self) -> float | None:
        return self.loss_sum / self.seen if self.seen else None

    @property
    def running_accuracy(self) -> float | None:
        return self.correct / self.seen if self.seen and self.classification else None

    def elapsed(self) -> float:
        return self.clock() - self.started

    def eta(self) -> float | None:
        """Seconds until the last planned epoch ends (None before anything can be estimated)."""
        now = self.clock()
        fraction = min(self.done / self.batches_per_epoch, 1.0)  # of the current epoch
        left = max(self.epochs - self.current, 0)  # whole epochs after the current one
        if self.current > self.epochs:
            return 0.0
        if self.finished:
            in_batches, after = self.batch_seconds / self.finished, self.after_batches / self.finished
            return (in_batches + after) * left + in_batches * (1 - fraction) + after
        if self.done:  # first epoch: batches only (validation time not seen yet)
            per_batch = (now - self.started) / self.done
            return per_batch * (self.batches_per_epoch * (left + 1) - self.done)
        return None

    def line(self, row: dict) -> str:
        """A finished epoch's line, with the run's elapsed time and ETA."""
        return f"{epoch_line(row, self.epochs)}  elapsed {clock_time(self.elapsed())}  ETA {clock_time(self.eta())}"


class RichReporter:
    """Live display on a terminal, plain epoch lines elsewhere (see the module docstring)."""

    def __init__(self, stream=None, clock=time.monotonic, terminal: bool | None = None):
        self.stream = stream or sys.stderr
        self.state = ProgressState(clock)
        self.live = None
        self.printed_last = True
        if terminal is None:
            from rich.console import Console

            terminal = Console(file=self.stream).is_terminal
        self.terminal = terminal

    def start(self, epochs: int, batches_per_epoch: int, first_epoch: int = 1, log_every: int = 1) -> None:
        self.state.start(epochs, batches_per_epoch, first_epoch, log_every)
        if self.terminal:
            from rich.console import Console
            from rich.live import Live

            # Rich redraws from its own thread, 8 times a second; batch() only counts.
            self.live = Live(get_renderable=self._render, console=Console(file=self.stream),
                             refresh_per_second=8, transient=True, redirect_stdout=False, redirect_stderr=False)
            self.live.start()

    def batch(self, size: int, loss: float, correct: int | None) -> None:
        self.state.batch(size, loss, correct)

    def epoch(self, row: dict) -> None:
        logged = self.state.epoch(row)
        self.printed_last = logged
        if logged:  # on a terminal the live display shows elapsed time and ETA, so the line leaves them out
            self._print(epoch_line(row, self.state.epochs) if self.live is not None else self.state.line(row))

    def _print(self, text: str) -> None:
        if self.live is not None:
            self.live.console.print(text, highlight=False, markup=False, soft_wrap=True)
        else:
            self.stream.write(text + "\n")
            self.stream.flush()

    def _render(self):
        from rich.console import Group
        from rich.progress_bar import ProgressBar
        from rich.table import Table
        from rich.text import Text

        s = self.state
        bar = Table.grid(padding=(0, 1))
        running = f"loss {_fmt(s.running_loss)}"
        if s.running_accuracy is not None:
            running += f"  acc {_fmt(s.running_accuracy, True)}"
        bar.add_row(Text(f"epoch {min(s.current, s.epochs)}/{s.epochs}", style="bold"),
                    ProgressBar(total=s.batches_per_epoch, completed=s.done, width=40),
                    Text(f"{s.done}/{s.batches_per_epoch} batches  {running}"))
        last, what = s.last_row, "last epoch: -"
        if last is not None and last.get("val_loss") is not None:
            what = f"last epoch: val_loss {_fmt(last['val_loss'])}"
            if last.get("val_accuracy") is not None:
                what += f"  val_acc {_fmt(last['val_accuracy'], True)}"
        elif last is not None:
            what = f"last epoch: loss {_fmt(last.get('train_loss'))}"
        return Group(bar, Text(f"  {what}   elapsed {clock_time(s.elapsed())}   ETA {clock_time(s.eta())}"))

    def close(self) -> None:
        if self.live is not None:
            self.live.stop()
            self.live = None
        if not self.printed_last and self.state.last_row is not None:  # early stop between logged epochs
            self._print(self.state.line(self.state.last_row))
            self.printed_last = True
