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
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from dlcc import build
from dlcc import config as config_mod
from dlcc.errors import DivergedError, InterruptedRun, RunError
from dlcc.nn.ensemble import Ensemble
from dlcc.nn.metrics import evaluate
from dlcc.runs import folder
from dlcc.runs.evaluate import data_facts, regression_scores
from dlcc.runs.folder import Summary
from dlcc.runs.read import read_config
from dlcc.runs.writer import RunWriter
from dlcc.training import diagnostics, divergence
from dlcc.training.hooks import Hooks, context
from dlcc.training.trainer import Fit, Reporter, check_monitor, columns
from dlcc.version import __version__


def check(cfg) -> None:
    """Every check `train` makes before its first epoch, without training or writing anything: the
    data loads and fits the output layer, the network is not too large, and early stopping's
    monitor is a metric the run records. (The config itself was validated when it was loaded.)"""
    splits, arrays = build.prepare(cfg)
    build.check_size(cfg, arrays["train"][0].shape[1])
    if cfg.training.early_stopping is not None:
        cols = columns(len(cfg.model.layers), cfg.diagnostics.gradient_norms, cfg.ensemble.members)
        check_monitor(cfg.training.early_stopping.monitor, cols, arrays["val"] is not None,
                      splits.task == "classification")


def train(cfg, runs_dir: Path, reporter: Reporter | None = None, folder_name: str | None = None,
          hooks=()) -> tuple[Path, Summary]:
    """Train `cfg` into a new run folder under runs_dir; return (run_dir, summary).

    The folder is <cfg.name>-<stamp>, or exactly runs_dir/folder_name when given (a sweep's runs).
    hooks: training.hooks.Hook objects that watch the run (TensorBoard logs).
    """
    splits, arrays = build.prepare(cfg)  # bad data fails here, before any folder is created
    members = build.build_members(cfg, arrays["train"])
    fit = Fit(cfg, members, arrays["val"], splits.task == "classification")  # checks early_stopping.monitor
    summary = Summary(
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
    writer = RunWriter.create(runs_dir, folder_name or cfg.name, config_mod.to_yaml(cfg), fit.columns, summary,
                              stamp=folder_name is None)
    return writer.run_dir, _drive(writer, fit, splits, arrays, reporter, hooks)


def resume(run_dir: Path, reporter: Reporter | None = None, hooks=()) -> tuple[Path, Summary, bool]:
    """Continue an interrupted run in place from its checkpoint; (run_dir, summary, was_finished)."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise RunError(f"{run_dir}: no such run folder")
    config_text, raw = read_config(run_dir / folder.CONFIG)
    cfg = config_mod.parse(raw, source=str(run_dir / folder.CONFIG))
    summary = folder.read_summary(run_dir)
    if summary.status in folder.FINISHED:
        return run_dir, summary, True

    splits, arrays = build.prepare(cfg)
    fit = Fit(cfg, build.build_members(cfg, arrays["train"]), arrays["val"], splits.task == "classification")
    digest = folder.config_digest(config_text)
    if (run_dir / folder.CHECKPOINT).exists():
        state, saved_digest = folder.read_checkpoint(run_dir, cfg.ensemble.members)
        if saved_digest != digest:
            raise RunError(
                f"{run_dir / folder.CONFIG}: the config was changed after the run started, so the checkpoint "
                "does not belong to it; resuming is refused. Train the edited config as a new run instead."
            )
        fit.restore(state)
    writer = RunWriter.reopen(run_dir, fit.columns, fit.rows, summary, digest)
    return run_dir, _drive(writer, fit, splits, arrays, reporter, hooks), False


def _drive(writer: RunWriter, fit: Fit, splits, arrays, reporter, hooks=()) -> Summary:
    """Run `fit` to its end, telling `writer` and the hooks about every epoch and how it ended."""
    hooks, ended = Hooks(hooks), "interrupted"  # snapshots (diagnostics.snapshots) and the given hooks
    hooks.begin(context(writer.run_dir, fit, splits, arrays))

    def on_epoch(row: dict) -> None:
        writer.epoch(row, fit.state())
        hooks.epoch(row)

    try:
        # Overflow on the way to NaN is expected when training diverges; the loop detects NaN/inf
        # itself and stops with a clear message, so NumPy's warnings would only add noise.
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"), interrupt_flag() as interrupted:
            result = fit.run(on_epoch, reporter, interrupted)
        ended = result.status
    except DivergedError as exc:
        ended = "diverged"
        writer.stop("diverged", error=str(exc).splitlines()[0])
        exc.run_dir = writer.run_dir
        raise
    except KeyboardInterrupt:
        writer.stop("interrupted")
        raise InterruptedRun(
            f"interrupted; {writer.run_dir} is marked 'interrupted' (last finished epoch: {fit.epoch}).\n"
            f"Continue it with:  dlcc train --resume {writer.run_dir}"
        ) from None
    finally:
        writer.close()
        hooks.end(ended)

    classification = splits.task == "classification"
    nets = [m.net for m in fit.members]
    test = members_test = None
    if arrays["test"] is not None:
        test = evaluate(nets[0] if len(nets) == 1 else Ensemble(nets), *arrays["test"], classification)
        if not classification:  # MSE, MAE and R^2 in the target's own units
            test.update(regression_scores(splits, nets[0] if len(nets) == 1 else Ensemble(nets), *arrays["test"]))
        if len(nets) > 1:
            members_test = [{"test": evaluate(net, *arrays["test"], classification)} for net in nets]
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


@contextmanager
def interrupt_flag():
    """Turn the first Ctrl-C or SIGTERM into a flag the loop polls after each batch, so training
    stops at a batch boundary with the last finished epoch's checkpoint intact. A second Ctrl-C
    interrupts at once."""
    flag = {"set": False}
    if threading.current_thread() is not threading.main_thread():
        yield lambda: False
        return

    def handler(signum, frame):
        if flag["set"] and signum == signal.SIGINT:
            raise KeyboardInterrupt
        flag["set"] = True

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield lambda: flag["set"]
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
