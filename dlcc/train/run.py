"""One training run, start to finish: data -> network -> fit -> run folder.

Randomness: the config's seed is split (numpy SeedSequence) into two independent Generators,
one for the data (synthetic generation, splits) and one for the network (init, shuffling,
dropout). So changing a dataset option does not silently change the initial weights.
"""

from __future__ import annotations

import platform
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

import dlcc
from dlcc import config as config_mod
from dlcc import data
from dlcc.errors import ConfigError, DivergedError
from dlcc.nn import Network
from dlcc.runs import store
from dlcc.train.metrics import evaluate
from dlcc.train.trainer import Reporter, columns, fit


def prepare(cfg):
    """Load the data for `cfg` and shape the targets to the output layer; returns (splits, arrays).

    arrays maps split name -> (x, y) in the run's precision, or None when the split is empty.
    """
    data_rng = np.random.default_rng(np.random.SeedSequence(cfg.seed).spawn(2)[0])
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


def model_rng(cfg) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(cfg.seed).spawn(2)[1])


def train(cfg, runs_dir: Path, reporter: Reporter | None = None) -> tuple[Path, dict]:
    """Train `cfg` into a new run folder under runs_dir; return (run_dir, summary)."""
    splits, arrays = prepare(cfg)  # bad data fails here, before any folder is created
    classification = splits.task == "classification"
    rng = model_rng(cfg)
    net = Network.from_config(cfg, arrays["train"][0].shape[1], rng)

    run_dir = store.create_run_dir(runs_dir, cfg.name)
    store.write_text(run_dir / "config.yaml", config_mod.to_yaml(cfg))
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
        "parameters": int(sum(p.size for p in net.params.values())),
        "examples": {k: (0 if v is None else len(v[0])) for k, v in arrays.items()},
        "dlcc_version": dlcc.__version__,
        "numpy_version": np.__version__,
        "python_version": platform.python_version(),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    store.write_json(run_dir / "summary.json", summary)
    metrics = store.MetricsWriter(run_dir / "metrics.csv", columns(len(net.layers), cfg.diagnostics.gradient_norms))
    started = time.perf_counter()

    def on_epoch(row: dict) -> None:
        metrics.write(row)
        summary["epochs_completed"] = row["epoch"]

    try:
        result = fit(cfg, net, arrays["train"], arrays["val"], classification, rng, on_epoch, reporter)
    except DivergedError as exc:
        summary.update(status="diverged", error=str(exc).splitlines()[0], seconds=time.perf_counter() - started)
        store.write_json(run_dir / "summary.json", summary)
        exc.run_dir = run_dir
        raise
    except KeyboardInterrupt:
        summary.update(status="interrupted", seconds=time.perf_counter() - started)
        store.write_json(run_dir / "summary.json", summary)
        raise
    finally:
        metrics.close()

    store.write_npz(run_dir / "model.npz", {**net.params, **_norm_arrays(splits)})
    if arrays["test"] is not None:
        summary["test"] = evaluate(net, *arrays["test"], classification)
    summary.update(
        status=result.status,
        epochs_completed=result.epochs_completed,
        best_epoch=result.best_epoch,
        best=result.best,
        stop_reason=result.stop_reason,
        seconds=time.perf_counter() - started,
    )
    store.write_json(run_dir / "summary.json", summary)
    return run_dir, summary


def _norm_arrays(splits) -> dict[str, np.ndarray]:
    """The input normalization, saved with the weights so evaluation applies the same transform."""
    if splits.norm_shift is None:
        return {}
    return {"norm_shift": splits.norm_shift, "norm_scale": splits.norm_scale}
