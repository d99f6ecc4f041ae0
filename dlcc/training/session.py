"""One training run, start to finish: config -> data and networks -> fit -> run folder.

    train(cfg, runs_dir)   a new run folder, trained to the end (or to an early stop)
    resume(run_dir)        an interrupted run continued in place from its checkpoint

The resumed run ends with exactly the metrics and weights an uninterrupted run would have: the
checkpoint holds the parameters, optimizer and schedule state, early-stopping state and Generator
state of the last finished epoch. What goes into the folder, and when, is the RunWriter's job.
"""

from __future__ import annotations

import platform
import signal
import threading
import warnings
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from dlcc import atomic, build
from dlcc import config as config_mod
from dlcc.errors import DivergedError, DlccError, InterruptedRun, Note, RunError, WriteFailed
from dlcc.nn.ensemble import Ensemble
from dlcc.nn.metrics import evaluate
from dlcc.runs import folder, lifecycle, validate
from dlcc.runs.evaluate import data_facts, regression_scores
from dlcc.runs.folder import Summary
from dlcc.runs.read import check_is_run_dir, read_config
from dlcc.runs.writer import RunWriter
from dlcc.training import diagnostics, divergence
from dlcc.training.hooks import Hooks, context
from dlcc.training.memory import check_memory
from dlcc.training.columns import check_monitor, columns
from dlcc.training.trainer import Fit, Reporter
from dlcc.version import __version__


def check(cfg) -> None:
    """Every check `train` makes before its first epoch, without training or writing anything: the
    data loads and fits the output layer, the network is not too large, and early stopping's
    monitor is a metric the run records. (The config itself was validated when it was loaded.)"""
    splits, arrays = build.prepare(cfg)
    build.check_size(cfg, arrays["train"][0].shape[1])
    _check_memory(cfg, splits, arrays)
    if cfg.training.early_stopping is not None:
        cols = columns(len(cfg.model.layers), cfg.diagnostics.gradient_norms, cfg.ensemble.members)
        check_monitor(cfg.training.early_stopping.monitor, cols, arrays["val"] is not None,
                      splits.task == "classification")


def train(cfg, runs_dir: Path, reporter: Reporter | None = None, folder_name: str | None = None,
          hooks=(), then=None):
    """Train `cfg` into a new run folder under runs_dir; return (run_dir, summary), or then(run_dir)
    when `then` is given (the API reads the finished folder back with it).

    The folder is <cfg.name>-<stamp>, or exactly runs_dir/folder_name when given (a sweep's runs).
    hooks: training.hooks.Hook objects that watch the run (TensorBoard logs).

    Ctrl-C and SIGTERM are caught from here to the end of `then` (interrupt_flag): before the
    folder exists, they stop at once and nothing is created; during training, the run stops at a
    batch boundary and is marked interrupted; after the last epoch, the run's files are completed
    and it says so (_end).
    """
    before = "interrupted before training started; no run folder was created"
    with interrupt_flag() as interrupted:
        with interrupted.immediately(before):
            splits, arrays = build.prepare(cfg)  # bad data fails here, before any folder is created
            _check_memory(cfg, splits, arrays)
            members = build.build_members(cfg, arrays["train"], splits.train.pixels)
            fit = Fit(cfg, members, arrays["val"], splits.task == "classification")  # checks early_stopping.monitor
            Hooks(hooks).ready(cfg)  # e.g. tensorboardX missing: an error now, not a half-made run folder
        if interrupted():
            raise InterruptedRun(before)
        writer = RunWriter.create(runs_dir, folder_name or cfg.name, config_mod.to_yaml(cfg), fit.columns,
                                  _new_summary(cfg, splits, arrays, members), stamp=folder_name is None)
        try:
            summary = _guarded(writer, fit, lambda: _drive(writer, fit, splits, arrays, reporter, hooks, interrupted))
        finally:
            writer.release()
        return _end(interrupted, writer.run_dir, summary, then)


def _new_summary(cfg, splits, arrays, members) -> Summary:
    """summary.json of a run about to start."""
    return Summary(
        status="running",
        name=cfg.name,
        dataset=cfg.data.dataset,
        task=splits.task,
        seed=cfg.seed,
        parameters=int(sum(p.size for m in members for p in m.net.params.values())),
        examples={k: (0 if v is None else len(v[0])) for k, v in arrays.items()},
        **data_facts(splits),
        dlcc_version=__version__,
        numpy_version=np.__version__,
        python_version=platform.python_version(),
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
    )


def resume(run_dir: Path, reporter: Reporter | None = None, hooks=(), then=None):
    """Continue an interrupted run in place from its checkpoint; (run_dir, summary, was_finished),
    or then(run_dir) when `then` is given, called as in `train`."""
    run_dir = Path(run_dir)
    check_is_run_dir(run_dir)  # before the lock is taken and stale .tmp files go: only in a run folder
    with interrupt_flag() as interrupted:
        if (run_dir / folder.SUMMARY).is_file() and _finished(run_dir):  # read-only folders too: no lock needed
            try:  # tidy up after a process killed while it released the lock (the .lock, .tmp files)
                lifecycle.open_run_folder(run_dir).release()
            except (RunError, OSError):
                pass
            return _end(interrupted, run_dir, folder.read_summary(run_dir), then, True)
        lock = lifecycle.open_run_folder(run_dir)  # one process per run folder; stale .tmp files removed
        try:
            summary, was_finished = _resume_locked(run_dir, reporter, hooks, interrupted)
        finally:
            lock.release()
        return _end(interrupted, run_dir, summary, then, was_finished)


def _resume_locked(run_dir: Path, reporter, hooks, interrupted) -> tuple[Summary, bool]:
    """resume's work once it holds the folder's lock: (summary, whether it was already finished)."""
    before = f"interrupted before training resumed; {run_dir} is unchanged"
    with interrupted.immediately(before):
        config_text, raw = read_config(run_dir / folder.CONFIG)
        cfg = config_mod.parse(raw, source=str(run_dir / folder.CONFIG))
        summary = folder.read_summary(run_dir)
        if summary.status in folder.FINISHED:
            return summary, True
        splits, arrays = build.prepare(cfg)
        _check_memory(cfg, splits, arrays)
        fit = Fit(cfg, build.build_members(cfg, arrays["train"], splits.train.pixels), arrays["val"],
                  splits.task == "classification")
        digest = folder.config_digest(config_text)
        _restore(run_dir, cfg, fit, digest, summary)
        Hooks(hooks).ready(cfg)
    if interrupted():
        raise InterruptedRun(before)
    writer = RunWriter.reopen(run_dir, fit.columns, fit.rows, summary, digest)
    return _guarded(writer, fit, lambda: _drive(writer, fit, splits, arrays, reporter, hooks, interrupted)), False


def _finished(run_dir: Path) -> bool:
    try:
        return folder.read_summary(run_dir).status in folder.FINISHED
    except RunError:
        return False  # resume says what is wrong with it, under the lock


def _restore(run_dir: Path, cfg, fit: Fit, digest: str, summary: Summary) -> None:
    """Put the checkpoint's state into `fit`, after checking it is this config's and holds what a
    checkpoint of this run must (validate.check_checkpoint)."""
    path = run_dir / folder.CHECKPOINT
    if not path.exists():
        if summary.epochs_completed > 0:
            warnings.warn(f"{path} is missing although the run finished {summary.epochs_completed} epoch(s); "
                          "training starts again from epoch 0 (the same seed gives the same result)", Note,
                          stacklevel=4)
        return
    state, saved_digest = folder.read_checkpoint(run_dir, cfg.ensemble.members)
    if saved_digest != digest:
        raise RunError(
            f"{run_dir / folder.CONFIG}: the config was changed after the run started, so the checkpoint "
            "does not belong to it; resuming is refused. Train the edited config as a new run instead."
        )
    validate.check_checkpoint(state, fit.state(), [r.optimizer for r in fit.runners], fit.columns,
                              cfg.training.epochs, path)
    fit.restore(state)


def _guarded(writer: RunWriter, fit: Fit, drive) -> Summary:
    """drive(), with summary.json kept true whatever stops it once the run folder exists: a failed
    write (disk full, read-only) is WriteFailed (exit 2) with the run marked interrupted when that
    can still be written; running out of memory, too; a second Ctrl-C while the last files are
    written marks the run interrupted unless it was already complete."""
    try:
        return drive()
    except (DivergedError, InterruptedRun):
        raise  # marked by _drive
    except KeyboardInterrupt:
        if writer.finished:
            raise InterruptedRun(_complete(writer.run_dir, writer.summary.status)) from None
        writer.stop("interrupted")
        raise InterruptedRun(_interrupted(writer, fit)) from None
    except OSError as exc:  # WriteFailed from dlcc's writers; a bare OSError from any other write
        if not isinstance(exc, WriteFailed):
            exc = WriteFailed(f"{exc.filename or writer.run_dir}: {atomic.reason(exc)}")
        marked = not writer.finished and writer.stop("interrupted", error=str(exc).splitlines()[0])
        then = (f"{writer.run_dir} is marked 'interrupted' (last saved epoch: {writer.saved_epoch}); once there is room, "
                f"continue it with:  dlcc train --resume {writer.run_dir}" if marked else
                f"{writer.run_dir}'s summary.json could not be updated either")
        raise WriteFailed(f"{exc}\n{then}") from None
    except MemoryError:
        writer.stop("interrupted", error="out of memory")
        raise DlccError(f"out of memory during training (after epoch {fit.epoch}); {writer.run_dir} is marked "
                        "'interrupted'. Resume it where there is more memory, or train with a smaller "
                        "training.batch_size or smaller layers (DLCC_MEMORY_LIMIT: docs/config.md)") from None
    except BaseException as exc:  # a bug: say so in the folder too, then let it show its traceback
        if not writer.finished:
            writer.stop("interrupted", error=f"{type(exc).__name__}: {exc}"[:500])
        raise


def _end(interrupted, run_dir: Path, summary: Summary, then, *rest):
    """The run's files are complete. A signal that came while they were written still ends the
    command as interrupted (exit 130), so a script or a shell loop stops here; otherwise then(run_dir)
    (the API reads the folder back) runs with signals still caught, and one during it stops it at
    once and ends the same way. Returns then(run_dir), or (run_dir, summary, *rest) without `then`."""
    message = _complete(run_dir, summary.status)
    with interrupted.immediately(message):
        if interrupted():
            raise InterruptedRun(message)
        return (run_dir, summary, *rest) if then is None else then(run_dir)


def _complete(run_dir: Path, status: str) -> str:
    return f"interrupted after training finished; {run_dir} is complete (status: {status})"


def _interrupted(writer: RunWriter, fit: Fit) -> str:
    return (f"interrupted; {writer.run_dir} is marked 'interrupted' (last finished epoch: {fit.epoch}).\n"
            f"Continue it with:  dlcc train --resume {writer.run_dir}")


def _drive(writer: RunWriter, fit: Fit, splits, arrays, reporter, hooks=(), interrupted=lambda: False) -> Summary:
    """Run `fit` to its end, telling `writer` and the hooks about every epoch and how it ended."""
    hooks, ended = Hooks(hooks), "interrupted"  # snapshots (diagnostics.snapshots) and the given hooks
    hooks.begin(context(writer.run_dir, fit, splits, arrays))

    def on_epoch(row: dict) -> None:
        writer.epoch(row, fit.state())
        hooks.epoch(row)

    try:
        # Overflow on the way to NaN is expected when training diverges; the loop detects NaN/inf
        # itself and stops with a clear message, so NumPy's warnings would only add noise.
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            result = fit.run(on_epoch, reporter, interrupted)
        ended = result.status
    except DivergedError as exc:
        ended = "diverged"
        writer.stop("diverged", error=str(exc).splitlines()[0])
        exc.run_dir = writer.run_dir
        raise
    except KeyboardInterrupt:
        writer.stop("interrupted")
        raise InterruptedRun(_interrupted(writer, fit)) from None
    finally:
        writer.close()
        hooks.end(ended)

    classification = splits.task == "classification"
    nets = [m.net for m in fit.members]
    test = members_test = None

    def tested(net) -> dict:  # regression adds MSE, MAE and R^2 in the target's own units
        scores = evaluate(net, *arrays["test"], classification)
        return scores if classification else {**scores, **regression_scores(splits, net, *arrays["test"])}

    if arrays["test"] is not None:
        test = tested(nets[0] if len(nets) == 1 else Ensemble(nets))
        if len(nets) > 1:
            members_test = [{"test": tested(net)} for net in nets]
    norm = None if splits.norm_shift is None else (splits.norm_shift, splits.norm_scale)
    targets = None if splits.target_shift is None else (splits.target_shift, splits.target_scale)
    return writer.finish(
        [dict(net.params) for net in nets], norm, targets,
        status=result.status,
        epochs_completed=result.epochs_completed,
        best_epoch=result.best_epoch,
        best=result.best,
        test=test,
        members=members_test,
        warnings=tuple(w for w in (divergence.first(fit.rows, fit.reference_loss),
                                   *diagnostics.gradient_warnings(fit.rows, len(nets[0].layers))) if w),
        stop_reason=result.stop_reason,
    )


def _check_memory(cfg, splits, arrays) -> None:
    """check_memory, told whether the trainer will shuffle the training images as bytes."""
    check_memory(cfg, arrays, build.shuffled_pixels(cfg, arrays["train"], splits.train.pixels) is not None)


class Interrupts:
    """What interrupt_flag yields: call it to ask whether Ctrl-C or SIGTERM came."""

    def __init__(self) -> None:
        self.flag = False
        self.at_once = False

    def __call__(self) -> bool:
        return self.flag

    @contextmanager
    def immediately(self, message: str):
        """While nothing has been written yet (loading data, building the networks, reading a
        checkpoint), a signal stops at once, as InterruptedRun(message), instead of waiting for a
        batch boundary: a download or a large dataset may take minutes to load."""
        self.at_once = True
        try:
            yield
        except KeyboardInterrupt:
            raise InterruptedRun(message) from None
        finally:
            self.at_once = False


@contextmanager
def interrupt_flag():
    """Turn the first Ctrl-C or SIGTERM into a flag the loop polls after each batch, so training
    stops at a batch boundary with the last finished epoch's checkpoint intact. A second Ctrl-C
    interrupts at once, and so does any signal inside `Interrupts.immediately`."""
    interrupts = Interrupts()
    if threading.current_thread() is not threading.main_thread():
        yield interrupts  # signals reach the main thread only
        return

    def handler(signum, frame):
        if interrupts.at_once or (interrupts.flag and signum == signal.SIGINT):
            raise KeyboardInterrupt
        interrupts.flag = True

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield interrupts
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
