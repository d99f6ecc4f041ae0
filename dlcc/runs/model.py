"""Rebuild a run's trained network and its data exactly as training saw them.

    cfg            = config.yaml, validated again
    splits, arrays = dlcc.build.prepare(cfg)     # same seed -> same splits and normalization
    net            = a network of cfg's shape with model.npz's weights
                     (ensembles: one network per member, their outputs averaged)

model.npz also stores the input normalization (norm_shift, norm_scale) when the config normalizes;
the recomputed statistics must match them, or the data changed since training (say, a CSV file
edited in place) and the run's numbers could not be reproduced.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dlcc import build
from dlcc import config as config_mod
from dlcc.errors import ConfigError, RunError
from dlcc.nn.ensemble import Ensemble
from dlcc.nn.network import Network
from dlcc.runs import folder
from dlcc.runs.read import RunFolder


@dataclass(frozen=True)
class Model:
    """A run's network (an Ensemble for ensemble runs) with its data: arrays[split] = (x, y), or None."""

    run: RunFolder
    cfg: object
    net: object
    splits: object
    arrays: dict
    classification: bool

    def inputs(self, x: np.ndarray) -> np.ndarray:
        """Features as given -> the network's inputs: training's normalization, then its precision.

        The same arithmetic as training's (x - shift) / scale, in the statistics' dtype, so a split's
        raw features give bit for bit the inputs training used.
        """
        s = self.splits
        if s.norm_shift is not None:
            x = (np.asarray(x, dtype=s.norm_shift.dtype) - s.norm_shift) / s.norm_scale
        return np.asarray(x, dtype=self.cfg.precision)

    def raw(self, x: np.ndarray) -> np.ndarray:
        """The network's inputs -> features in the dataset's own units (for plots)."""
        s = self.splits
        return x if s.norm_shift is None else x * s.norm_scale + s.norm_shift


def load_model(run: RunFolder) -> Model:
    """Rebuild the network of `run`; RunError (exit 2) when that is impossible, saying why."""
    if not run.has_model:
        raise RunError(f"{run.path}: no model.npz, so there is no trained network to use ({_why_no_model(run)})")
    source = run.path / folder.CONFIG
    try:
        cfg = config_mod.parse(run.config, source=str(source))
        splits, arrays = build.prepare(cfg)
    except ConfigError as exc:
        raise RunError(f"{exc}\n(this run's config.yaml no longer loads with this version of dlcc)") from None
    params, norm = folder.read_model(run.path, cfg.ensemble.members)
    _check_normalization(run, splits, norm)
    n_inputs = arrays["train"][0].shape[1]
    nets = [_network(run, cfg, n_inputs, member, i) for i, member in enumerate(params, start=1)]
    net = nets[0] if len(nets) == 1 else Ensemble(nets)
    return Model(run, cfg, net, splits, arrays, splits.task == "classification")


def _network(run: RunFolder, cfg, n_inputs: int, params: dict, member: int) -> Network:
    """One network with the weights model.npz stores for this member."""
    net = build.blank_network(cfg, n_inputs)
    path = run.path / folder.MODEL
    prefix = "" if cfg.ensemble.members == 1 else f"m{member}."
    missing = [prefix + k for k in net.params if k not in params]
    if missing:
        what = f"{len(net.layers)} layer(s)" + (f" for each of {cfg.ensemble.members} members" if prefix else "")
        raise RunError(f"{path}: missing {', '.join(missing)}; config.yaml describes {what}")
    try:
        net.load_state({k: params[k] for k in net.params})
    except ValueError as exc:
        raise RunError(f"{path}: {exc}; it does not match config.yaml") from None
    return net


def _check_normalization(run: RunFolder, splits, stored: tuple | None) -> None:
    now = None if splits.norm_shift is None else (splits.norm_shift, splits.norm_scale)
    if stored is None and now is None:
        return
    same = stored is not None and now is not None and all(
        a.shape == b.shape and np.allclose(a, b, rtol=1e-5, atol=1e-8) for a, b in zip(stored, now))
    if not same:
        raise RunError(
            f"{run.path / folder.MODEL}: the input normalization stored at training time differs from the one "
            f"recomputed now from dataset '{run.dataset}' and the seed; the data changed since training, "
            "so the run's numbers cannot be reproduced"
        )


def _why_no_model(run: RunFolder) -> str:
    if run.status == "interrupted":
        return (f"the run was interrupted after epoch {run.last_epoch}; "
                f"continue it with `dlcc train --resume {run.path}`")
    if run.status == "diverged":
        return "training diverged, so no model was saved"
    if run.status == "running":
        return "training has not finished, or was killed"
    return "the file was deleted or never written"
