"""Rebuild a run's trained network and its data exactly as training saw them.

    cfg            = config.yaml, validated again
    splits, arrays = dlcc.train.run.prepare(cfg)     # same seed -> same splits and normalization
    net            = Network.from_config(...); net.load_state(model.npz)
                     (ensembles: one network per member from keys m1.W1, m1.b1, ..., averaged)

model.npz also stores the input normalization (norm_shift, norm_scale) when the config normalizes;
the recomputed statistics must match them, or the data changed since training (say, a CSV file
edited in place) and the run's numbers could not be reproduced.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass

import numpy as np

from dlcc import config as config_mod
from dlcc.errors import ConfigError, RunError
from dlcc.nn import Network
from dlcc.runs.read import Run
from dlcc.train.ensemble import Ensemble
from dlcc.train.run import prepare

NORM_KEYS = ("norm_shift", "norm_scale")


@dataclass(frozen=True)
class Model:
    """A run's network (an Ensemble for ensemble runs) with its data: arrays[split] = (x, y), or None."""

    run: Run
    cfg: object
    net: object
    splits: object
    arrays: dict
    classification: bool


def load_model(run: Run) -> Model:
    """Rebuild the network of `run`; RunError (exit 2) when that is impossible, saying why."""
    if not run.has_model:
        raise RunError(f"{run.path}: no model.npz, so there is no trained network to use ({_why_no_model(run)})")
    source = run.path / "config.yaml"
    try:
        cfg = config_mod.parse(run.config, source=str(source))
        splits, arrays = prepare(cfg)
    except ConfigError as exc:
        raise RunError(f"{exc}\n(this run's config.yaml no longer loads with this version of dlcc)") from None
    params = _read_params(run)
    _check_normalization(run, splits, params)
    n_inputs = arrays["train"][0].shape[1]
    members = cfg.ensemble.members
    prefixes = [""] if members == 1 else [f"m{i}." for i in range(1, members + 1)]
    nets = [_network(run, cfg, n_inputs, params, prefix) for prefix in prefixes]
    net = nets[0] if members == 1 else Ensemble(nets)
    return Model(run, cfg, net, splits, arrays, splits.task == "classification")


def predict(net, x: np.ndarray, chunk: int = 8192) -> np.ndarray:
    """The outputs of a network or an ensemble for many examples, in chunks (bounded memory)."""
    return np.concatenate([net.forward(x[i:i + chunk], training=False) for i in range(0, len(x), chunk)])


def _network(run: Run, cfg, n_inputs: int, params: dict, prefix: str) -> Network:
    """One network with the weights model.npz stores under prefix ("" or "m1.", "m2.", ...)."""
    net = Network.from_config(cfg, n_inputs, np.random.default_rng(0))  # the weights are replaced below
    path = run.path / "model.npz"
    missing = [prefix + k for k in net.params if prefix + k not in params]
    if missing:
        what = f"{len(net.layers)} layer(s)" + (f" for each of {cfg.ensemble.members} members" if prefix else "")
        raise RunError(f"{path}: missing {', '.join(missing)}; config.yaml describes {what}")
    try:
        net.load_state({k: params[prefix + k] for k in net.params})
    except ValueError as exc:
        raise RunError(f"{path}: {exc}; it does not match config.yaml") from None
    return net


def _read_params(run: Run) -> dict[str, np.ndarray]:
    path = run.path / "model.npz"
    try:
        with np.load(path, allow_pickle=False) as npz:
            return {k: npz[k] for k in npz.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise RunError(f"{path}: cannot read it as a NumPy .npz archive ({exc}); the run folder is damaged") from None


def _check_normalization(run: Run, splits, params: dict) -> None:
    stored = [params.get(k) for k in NORM_KEYS]
    now = [splits.norm_shift, splits.norm_scale]
    if stored[0] is None and now[0] is None:
        return
    same = all(a is not None and b is not None and a.shape == b.shape and np.allclose(a, b, rtol=1e-5, atol=1e-8)
               for a, b in zip(stored, now))
    if not same:
        raise RunError(
            f"{run.path / 'model.npz'}: the input normalization stored at training time differs from the one "
            f"recomputed now from dataset '{run.dataset}' and the seed; the data changed since training, "
            "so the run's numbers cannot be reproduced"
        )


def _why_no_model(run: Run) -> str:
    if run.status == "interrupted":
        return (f"the run was interrupted after epoch {run.last_epoch}; "
                f"continue it with `dlcc train --resume {run.path}`")
    if run.status == "diverged":
        return "training diverged, so no model was saved"
    if run.status == "running":
        return "training has not finished, or was killed"
    return "the file was deleted or never written"
