"""The one writer of a run folder while it trains: the training loop tells it what happened,
and it keeps metrics.csv, checkpoint.npz, summary.json and model.npz true to it.

    writer = RunWriter.create(runs_dir, name, config_text, columns, summary)   # or .reopen(...)
    writer.epoch(row, state)        # after every finished epoch (and epoch 0)
    writer.stop("interrupted")      # or "diverged": the last snapshot is saved, the status set
    writer.finish(params, norm, status=..., ...)    # the model and the final summary

Every finished epoch's row is appended (and flushed) at once. Its snapshot (`state`, for
checkpoint.npz) is kept in memory and written with fsync at most every CHECKPOINT_SECONDS: a
10,000-epoch full-batch run would otherwise spend most of its time on disk writes. Stopping
writes the latest snapshot at once, and resuming from any finished epoch reproduces the same run.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

from dlcc.runs import folder, lifecycle, metrics_csv
from dlcc.runs.folder import Summary
from dlcc.runs.lock import RunLock

CHECKPOINT_SECONDS = 2.0


class RunWriter:
    def __init__(self, run_dir: Path, columns: list[str], summary: Summary, config_sha256: str,
                 lock: RunLock | None = None, written: bool = False):
        self.run_dir = Path(run_dir)
        self.config_sha256 = config_sha256
        self.lock = lock
        self.summary = summary.replace(status="running", error=None)
        if not written:
            folder.write_summary(self.run_dir, self.summary)
        self.metrics = metrics_csv.MetricsWriter(self.run_dir / folder.METRICS, columns)
        self._seconds_before, self._started = summary.seconds, time.perf_counter()
        self._snapshot, self._saved_at = None, -math.inf
        self.finished = False  # finish() wrote model.npz and the final summary.json
        self.saved_epoch = summary.epochs_completed  # the epoch checkpoint.npz holds

    @classmethod
    def create(cls, runs_dir: Path, name: str, config_text: str, columns: list[str], summary: Summary,
               stamp: bool = True) -> RunWriter:
        """A new run folder that appears with config.yaml, summary.json (running) and metrics.csv's
        header all in it (lifecycle.new_run_folder), locked by this process until `release()`.
        Its name is <name>-<stamp>, or exactly `name` with stamp=False."""
        running = summary.replace(status="running", error=None)
        run_dir, lock = lifecycle.new_run_folder(runs_dir, name, stamp, {
            folder.CONFIG: config_text.encode("utf-8"),
            folder.SUMMARY: (folder.dumps(running.to_json()) + "\n").encode("utf-8"),
            folder.METRICS: metrics_csv.metrics_text(columns, []).encode("utf-8"),
        })
        try:
            return cls(run_dir, columns, running, folder.config_digest(config_text), lock, written=True)
        except BaseException:
            lock.release()
            raise

    def release(self) -> None:
        """Let other processes train this run folder (resume it); the last thing a run does."""
        if self.lock is not None:
            self.lock.release()

    @classmethod
    def reopen(cls, run_dir: Path, columns: list[str], rows: list[dict], summary: Summary,
               config_sha256: str) -> RunWriter:
        """Continue a run in place: metrics.csv is rewritten from the checkpoint's rows (rows of a
        half-finished epoch are dropped) and the summary counts one more resume."""
        metrics_csv.write_metrics(Path(run_dir) / folder.METRICS, columns, rows)
        last = rows[-1]["epoch"] if rows else 0
        return cls(run_dir, columns, summary.replace(resumed=summary.resumed + 1, epochs_completed=last),
                   config_sha256)

    def seconds(self) -> float:
        """Training time of the run so far, over all its resumes."""
        return self._seconds_before + time.perf_counter() - self._started

    def epoch(self, row: dict, state: dict) -> None:
        """Record a finished epoch: its metrics row now, its snapshot when a checkpoint is due."""
        self.metrics.write(row)
        self.summary = self.summary.replace(epochs_completed=row["epoch"], seconds=self.seconds())
        self._snapshot, self._snapshot_epoch = state, row["epoch"]
        if time.perf_counter() - self._saved_at >= CHECKPOINT_SECONDS:
            self.save_checkpoint()

    def save_checkpoint(self) -> None:
        """Write the latest snapshot (if not written yet), sync metrics.csv, update summary.json."""
        if self._snapshot is None:
            return
        folder.write_checkpoint(self.run_dir, self._snapshot, self.config_sha256)
        self.saved_epoch = self._snapshot_epoch
        self.metrics.sync()
        folder.write_summary(self.run_dir, self.summary)
        self._snapshot, self._saved_at = None, time.perf_counter()

    def stop(self, status: str, error: str | None = None) -> bool:
        """Training ended early (interrupted | diverged, or a write failed): keep the last finished
        epoch, say why. Never raises for a failed write (the disk may be full): a checkpoint that
        cannot be written leaves the previous one, which resuming continues from; returns whether
        summary.json now tells the truth."""
        try:
            self.save_checkpoint()
        except OSError:
            pass
        self.close()
        self.summary = self.summary.replace(status=status, error=error, seconds=self.seconds())
        try:
            folder.write_summary(self.run_dir, self.summary)
        except OSError:
            return False
        return True

    def close(self) -> None:
        """Flush and close metrics.csv (a failure to flush is reported by whoever writes next)."""
        try:
            self.metrics.close()
        except OSError:
            pass

    def finish(self, params: list[dict], norm: tuple | None, targets: tuple | None = None, **results) -> Summary:
        """Training finished: the last checkpoint, model.npz (weights, input normalization, target
        standardization), then the summary with `results` (status, epochs_completed, best_epoch,
        best, test, members, warnings, stop_reason)."""
        self.save_checkpoint()
        self.metrics.close()
        folder.write_model(self.run_dir, params, norm, targets)
        self.summary = self.summary.replace(**results, seconds=self.seconds())
        folder.write_summary(self.run_dir, self.summary)
        self.finished = True
        return self.summary
