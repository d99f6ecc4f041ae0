"""One training run, start to finish: data -> network -> fit -> run folder.

Randomness: the config's seed is split (numpy SeedSequence) into two independent Generators,
one for the data (synthetic generation, splits) and one for the network (init, shuffling,
dropout). So changing a dataset option does not silently change the initial weights.
"""

from __future__ import annotations

import math
import platform
import signal
import threading
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import yaml

import dlcc
from dlcc import config as config_mod
from dlcc import data
from dlcc.errors import ConfigError, DivergedError, InterruptedRun, RunError
from dlcc.nn import Network
from dlcc.runs import store
from dlcc.train.metrics import evaluate
from dlcc.train.ensemble import Ensemble, bootstrap, member_rngs
from dlcc.train import checkpoint, diagnostics
from dlcc.train.trainer import Fit, Member, Reporter


def seed_streams(seed: int) -> tuple[np.random.SeedSequence, np.random.SeedSequence]:
    """(data stream, network stream): the two independent children of the run's seed."""
    data, network = np.random.SeedSequence(seed).spawn(2)
    return data, network


def prepare(cfg):
    """Load the data for `cfg` and shape the targets to the output layer; returns (splits, arrays).

    arrays maps split name -> (x, y) in the run's precision, or None when the split is empty.
    """
    data_rng = np.random.default_rng(seed_streams(cfg.seed)[0])
    splits = data.load(cfg.data, data_rng)
    dtype = np.dtype(cfg.precision)
    units = cfg.model.layers[-1].units
    k = splits.train.y.shape[1]
    binary_single = splits.task == "classification" and k == 2 and units == 1
    if units != k and not binary_single:
        what = f"{k} classes" if splits.task == "classification" else f"{k} target value(s) per example"
        also = " (or 1 sigmoid unit for two classes)" if splits.task == "classification" and k == 2 else ""
        raise ConfigError(
            f"model.layers.{len(cfg.model.layers) - 1}.units: the output layer has {units} units but "
            f"dataset '{cfg.data.dataset}' has {what}; set it to {k}{also}"
        )

    def cast(split):
        if split is None:
            return None
        y = split.y[:, 1:] if binary_single else split.y
        return split.x.astype(dtype, copy=False), y.astype(dtype, copy=False)

    return splits, {"train": cast(splits.train), "val": cast(splits.val), "test": cast(splits.test)}


def build_members(cfg, train_xy) -> list[Member]:
    """The network(s) of a run: one per ensemble member, each with its own Generator.

    The seed's second spawned stream drives the networks (the first drives the data); an ensemble
    spawns one child stream per member from it. With bagging, each member trains on its own
    bootstrap sample of the training split.
    """
    _check_size(cfg, train_xy[0].shape[1])
    stream = seed_streams(cfg.seed)[1]
    members = []
    for rng in member_rngs(stream, cfg.ensemble.members):
        net = Network.from_config(cfg, train_xy[0].shape[1], rng)
        train_m = bootstrap(*train_xy, rng) if cfg.ensemble.bagging else train_xy
        members.append(Member(net, train_m, rng))
    return members


# A limit on what a config may ask for: a typo like `units: 100000` in four layers should be a
# clear error, not an out-of-memory crash. 50M parameters is 200 MB per copy in float32.
MAX_PARAMETERS = 50_000_000


def _check_size(cfg, n_inputs: int) -> None:
    sizes = [n_inputs] + [layer.units for layer in cfg.model.layers]
    count = sum(n_in * n_out + n_out for n_in, n_out in zip(sizes, sizes[1:]))
    if count * cfg.ensemble.members > MAX_PARAMETERS:
        raise ConfigError(
            f"model.layers: the network would have {count:,} parameters"
            + (f" per member ({cfg.ensemble.members} members)" if cfg.ensemble.members > 1 else "")
            + f"; dlcc allows at most {MAX_PARAMETERS:,} in all. Use fewer or smaller layers."
        )


def train(cfg, runs_dir: Path, reporter: Reporter | None = None) -> tuple[Path, dict]:
    """Train `cfg` into a new run folder under runs_dir; return (run_dir, summary)."""
    splits, arrays = prepare(cfg)  # bad data fails here, before any folder is created
    members = build_members(cfg, arrays["train"])
    fit = Fit(cfg, members, arrays["val"], splits.task == "classification")  # checks early_stopping.monitor
    run_dir = store.create_run_dir(runs_dir, cfg.name)
    config_text = config_mod.to_yaml(cfg)
    store.write_text(run_dir / "config.yaml", config_text)
    summary = {
        "status": "running",
        "name": cfg.name,
        "dataset": cfg.data.dataset,
        "task": splits.task,
        "epochs_completed": 0,
        "best_epoch": None,
        "best": None,
        "test": None,
        "seconds": 0.0,
        "seed": cfg.seed,
        "parameters": int(sum(p.size for m in members for p in m.net.params.values())),
        "examples": {k: (0 if v is None else len(v[0])) for k, v in arrays.items()},
        "dlcc_version": dlcc.__version__,
        "numpy_version": np.__version__,
        "python_version": platform.python_version(),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    store.MetricsWriter(run_dir / "metrics.csv", fit.columns).close()  # the header, even if epoch 0 never ends
    return _run(run_dir, fit, splits, arrays, summary, checkpoint.config_digest(config_text), reporter)


def resume(run_dir: Path, reporter: Reporter | None = None) -> tuple[Path, dict, bool]:
    """Continue an interrupted run in place from its checkpoint; (run_dir, summary, was_finished).

    The resumed run ends with exactly the metrics and weights an uninterrupted run would have:
    the checkpoint holds the parameters, optimizer and schedule state, early-stopping state and
    Generator state of the last finished epoch, and metrics.csv is rewritten from its rows.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise RunError(f"{run_dir}: no such run folder")
    config_text = _read_text(run_dir / "config.yaml")
    cfg = config_mod.parse(_yaml(run_dir / "config.yaml", config_text), source=str(run_dir / "config.yaml"))
    summary = store.read_json(run_dir / "summary.json")
    if summary.get("status") in ("completed", "early_stopped"):
        return run_dir, summary, True

    splits, arrays = prepare(cfg)
    fit = Fit(cfg, build_members(cfg, arrays["train"]), arrays["val"], splits.task == "classification")
    digest = checkpoint.config_digest(config_text)
    if (run_dir / checkpoint.FILE).exists():
        state, saved_digest = checkpoint.load(run_dir)
        if saved_digest != digest:
            raise RunError(
                f"{run_dir / 'config.yaml'}: the config was changed after the run started, so the checkpoint "
                "does not belong to it; resuming is refused. Train the edited config as a new run instead."
            )
        fit.restore(state)
    # Rewrite metrics.csv from the checkpoint: rows of a half-finished epoch are dropped.
    store.write_text(run_dir / "metrics.csv", store.metrics_text(fit.columns, fit.rows))
    summary["resumed"] = summary.get("resumed", 0) + 1
    return (*_run(run_dir, fit, splits, arrays, summary, digest, reporter), False)


CHECKPOINT_SECONDS = 2.0


def _run(run_dir: Path, fit: Fit, splits, arrays, summary: dict, digest: str, reporter) -> tuple[Path, dict]:
    """Drive `fit` to the end, keeping metrics.csv, checkpoint.npz and summary.json current."""
    classification = splits.task == "classification"
    nets = [m.net for m in fit.members]
    summary.update(status="running", epochs_completed=max(fit.epoch, 0))
    store.write_json(run_dir / "summary.json", summary)
    metrics = store.MetricsWriter(run_dir / "metrics.csv", fit.columns)
    seconds_before, started = summary.get("seconds") or 0.0, time.perf_counter()

    last = {"state": None, "saved_at": -math.inf}

    def save_checkpoint() -> None:
        if last["state"] is not None:
            checkpoint.save(run_dir, last["state"], digest)
            metrics.sync()
            store.write_json(run_dir / "summary.json", summary)
            last["state"], last["saved_at"] = None, time.perf_counter()

    def on_epoch(row: dict) -> None:
        metrics.write(row)
        summary.update(epochs_completed=row["epoch"], seconds=seconds_before + time.perf_counter() - started)
        # A snapshot of every finished epoch is kept in memory, but written (with fsync) at most
        # every CHECKPOINT_SECONDS: a 10,000-epoch full-batch run would otherwise spend most of
        # its time on disk writes. Interrupts and divergence write the latest snapshot at once,
        # and resuming from any finished epoch reproduces the same run.
        last["state"] = fit.state()
        if time.perf_counter() - last["saved_at"] >= CHECKPOINT_SECONDS:
            save_checkpoint()

    try:
        # Overflow on the way to NaN is expected when training diverges; the loop detects NaN/inf
        # itself and stops with a clear message, so NumPy's warnings would only add noise.
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"), interrupt_flag() as interrupted:
            result = fit.run(on_epoch, reporter, interrupted)
    except DivergedError as exc:
        save_checkpoint()  # the last good epoch
        summary.update(status="diverged", error=str(exc).splitlines()[0])
        exc.run_dir = run_dir
        raise
    except KeyboardInterrupt:
        save_checkpoint()
        summary.update(status="interrupted")
        raise InterruptedRun(
            f"interrupted; {run_dir} is marked 'interrupted' (last finished epoch: {max(fit.epoch, 0)}).\n"
            f"Continue it with:  dlcc train --resume {run_dir}"
        ) from None
    finally:
        metrics.close()
        if summary["status"] != "running":
            summary["seconds"] = seconds_before + time.perf_counter() - started
            store.write_json(run_dir / "summary.json", summary)

    save_checkpoint()
    store.write_npz(run_dir / "model.npz", {**model_arrays(nets), **_norm_arrays(splits)})
    if arrays["test"] is not None:
        model = nets[0] if len(nets) == 1 else Ensemble(nets)
        summary["test"] = evaluate(model, *arrays["test"], classification)
        if len(nets) > 1:
            summary["members"] = [{"test": evaluate(net, *arrays["test"], classification)} for net in nets]
    summary.update(
        status=result.status,
        warnings=diagnostics.gradient_warnings(fit.rows, len(nets[0].layers)),
        epochs_completed=result.epochs_completed,
        best_epoch=result.best_epoch,
        best=result.best,
        stop_reason=result.stop_reason,
        seconds=seconds_before + time.perf_counter() - started,
    )
    store.write_json(run_dir / "summary.json", summary)
    return run_dir, summary


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


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RunError(f"{path}: missing; is {path.parent} a dlcc run folder?") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RunError(f"{path}: cannot read: {exc}") from None


def _yaml(path: Path, text: str):
    try:
        return config_mod.yaml_load(text)
    except yaml.YAMLError:
        raise RunError(f"{path}: not valid YAML (edited by hand?)") from None


def model_arrays(nets) -> dict[str, np.ndarray]:
    """model.npz keys: W1, b1, ... for one network; m1.W1, m1.b1, ... for each ensemble member."""
    if len(nets) == 1:
        return dict(nets[0].params)
    return {f"m{i}.{k}": v for i, net in enumerate(nets, start=1) for k, v in net.params.items()}


def _norm_arrays(splits) -> dict[str, np.ndarray]:
    """The input normalization, saved with the weights so evaluation applies the same transform."""
    if splits.norm_shift is None:
        return {}
    return {"norm_shift": splits.norm_shift, "norm_scale": splits.norm_scale}
