"""Rebuild a run's trained network, and (when asked for) its data exactly as training saw them.

    cfg            = config.yaml, validated again
    net            = a network of cfg's shape with model.npz's weights
                     (ensembles: one network per member, their outputs averaged)
    model.inputs(x), model.outputs(a)   raw features -> network inputs; outputs -> target units
    splits, arrays = dlcc.build.prepare(cfg)     # loaded on first use: same seed -> same splits

Predicting needs only the run folder: model.npz stores the input normalization (norm_shift,
norm_scale) and the regression targets' standardization (target_shift, target_scale), and
summary.json the class names and the CSV columns. When the data is loaded (eval), the recomputed
statistics and class names must match the stored ones, or the data changed since training (say, a
CSV file edited in place) and the run's numbers could not be reproduced.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from dlcc import build
from dlcc import config as config_mod
from dlcc.data import DATASETS
from dlcc.data.inputs import InputSpec
from dlcc.errors import ConfigError, RunDamaged, RunError
from dlcc.nn.ensemble import Ensemble
from dlcc.nn.network import Network
from dlcc.runs import folder
from dlcc.runs.read import RunFolder, model_absence


@dataclass(frozen=True)
class Model:
    """A run's network (an Ensemble for ensemble runs), what it was trained on, and its data.

    norm, targets: (shift, scale) of the inputs and of regression targets, or None.
    class_names: one per class (classification); feature_names, target_name: CSV columns or None.
    """

    run: RunFolder
    cfg: object
    net: object
    classification: bool
    n_inputs: int
    norm: tuple | None
    targets: tuple | None
    class_names: tuple[str, ...] | None
    feature_names: tuple[str, ...] | None
    target_name: str | None

    @cached_property
    def data(self) -> tuple:
        """(splits, arrays) as training saw them; arrays[split] = (x, y) or None. Loaded once."""
        try:
            splits, arrays = build.prepare(self.cfg)
        except ConfigError as exc:
            raise RunError(f"{exc}\n(this run's config.yaml no longer loads with this version of dlcc)") from None
        _check_stored(self, splits)
        return splits, arrays

    splits = property(lambda self: self.data[0])
    arrays = property(lambda self: self.data[1])

    @property
    def spec(self) -> InputSpec:
        """What an input file must hold for this network (data.inputs)."""
        return InputSpec(self.n_inputs, self.feature_names, self.target_name, _images(self.cfg))

    def inputs(self, x: np.ndarray) -> np.ndarray:
        """Features as given -> the network's inputs: training's normalization, then its precision.

        The same arithmetic as training's (x - shift) / scale, in the statistics' dtype, so a split's
        raw features give bit for bit the inputs training used.
        """
        if self.norm is not None:
            shift, scale = self.norm
            x = (np.asarray(x, dtype=shift.dtype) - shift) / scale
        return np.asarray(x, dtype=self.cfg.precision)

    def raw(self, x: np.ndarray) -> np.ndarray:
        """The network's inputs -> features in the dataset's own units (for plots)."""
        return x if self.norm is None else x * self.norm[1] + self.norm[0]

    def outputs(self, a: np.ndarray) -> np.ndarray:
        """Regression outputs (or targets) as the network sees them -> the target's own units,
        t = a * target_scale + target_shift (float64)."""
        a = np.asarray(a, dtype=np.float64)
        return a if self.targets is None else a * self.targets[1] + self.targets[0]

    def network_targets(self, t: np.ndarray) -> np.ndarray:
        """Targets as the dataset gives them -> what the loss compares outputs with: one-hot rows of
        class indices (one column, y = 1 for class 1, for a single sigmoid unit), or regression
        values standardized with the training statistics."""
        if self.classification:
            k = len(self.class_names)
            y = np.zeros((len(t), k), dtype=self.cfg.precision)
            y[np.arange(len(t)), t] = 1
            return y[:, 1:] if self.cfg.model.layers[-1].units == 1 else y
        if self.targets is not None:
            t = (np.asarray(t, dtype=self.targets[0].dtype) - self.targets[0]) / self.targets[1]
        return np.asarray(t, dtype=self.cfg.precision)


def load_model(run: RunFolder) -> Model:
    """Rebuild the network of `run`; RunError (exit 2) when that is impossible, saying why."""
    if not run.has_model:
        raise RunError(f"{run.path}: no model.npz, so there is no trained network to use ({_why_no_model(run)})")
    source = run.path / folder.CONFIG
    try:
        cfg = config_mod.parse(run.config, source=str(source))
    except ConfigError as exc:
        raise RunError(f"{exc}\n(this run's config.yaml no longer loads with this version of dlcc)") from None
    params, norm, targets = folder.read_model(run.path, cfg.ensemble.members)
    first = params[0].get("W1") if params else None
    if first is None or first.ndim != 2:
        raise RunDamaged(f"{run.path / folder.MODEL}: no weight matrix W1 for the first layer; the run folder is damaged")
    nets = [_network(run, cfg, first.shape[0], member, i) for i, member in enumerate(params, start=1)]
    net = nets[0] if len(nets) == 1 else Ensemble(nets)
    classification = run.task == "classification"
    for what, pair, size in (("norm_shift/norm_scale", norm, first.shape[0]),
                             ("target_shift/target_scale", targets, cfg.model.layers[-1].units)):
        if pair is not None and any(a.shape != (size,) for a in pair):
            raise RunDamaged(f"{run.path / folder.MODEL}: {what} have shapes {pair[0].shape}, {pair[1].shape}; "
                             f"expected ({size},), one per {'input' if 'norm' in what else 'output'}")
    if not classification and cfg.data.standardize_targets and targets is None:
        raise RunError(f"{run.path / folder.MODEL}: config.yaml says the targets were standardized "
                       "(data.standardize_targets), but there is no target_shift / target_scale")
    s = run.summary
    units = cfg.model.layers[-1].units
    names = tuple(s.class_names or (str(k) for k in range(max(units, 2)))) if classification else None
    return Model(run, cfg, net, classification, first.shape[0], norm, targets, names,
                 tuple(s.feature_names) if s.feature_names else None, s.target_name)


def _network(run: RunFolder, cfg, n_inputs: int, params: dict, member: int) -> Network:
    """One network with the weights model.npz stores for this member."""
    net = build.blank_network(cfg, n_inputs)
    path = run.path / folder.MODEL
    prefix = "" if cfg.ensemble.members == 1 else f"m{member}."
    missing = [prefix + k for k in net.params if k not in params]
    if missing:
        what = f"{len(net.layers)} layer(s)" + (f" for each of {cfg.ensemble.members} members" if prefix else "")
        raise RunDamaged(f"{path}: missing {', '.join(missing)}; config.yaml describes {what}")
    try:
        net.load_state({k: params[k] for k in net.params})
    except ValueError as exc:
        raise RunDamaged(f"{path}: {exc}; it does not match config.yaml") from None
    return net


def _check_stored(model: Model, splits) -> None:
    """The statistics and class names stored at training time must be the ones the data gives now."""
    run = model.run
    changed = "the data changed since training, so the run's numbers cannot be reproduced"
    for what, stored, now in (
        ("input normalization", model.norm, (splits.norm_shift, splits.norm_scale)),
        ("target standardization", model.targets, (splits.target_shift, splits.target_scale)),
    ):
        now = None if now[0] is None else now
        if stored is None and now is None:
            continue
        same = stored is not None and now is not None and all(
            a.shape == b.shape and np.allclose(a, b, rtol=1e-5, atol=1e-8) for a, b in zip(stored, now))
        if not same:
            raise RunError(f"{run.path / folder.MODEL}: the {what} stored at training time differs from the one "
                           f"recomputed now from dataset '{run.dataset}' and the seed; {changed}")
    if run.summary.class_names and splits.class_names and tuple(run.summary.class_names) != splits.class_names:
        raise RunError(f"{run.path / folder.SUMMARY}: the class names stored at training time "
                       f"({', '.join(run.summary.class_names)}) differ from the data's now "
                       f"({', '.join(splits.class_names)}); {changed}")


def _images(cfg) -> bool:
    """Whether the run's inputs are image pixels scaled to [0, 1] (mnist, fashion-mnist)."""
    return DATASETS[cfg.data.dataset].kind == "image"


def _why_no_model(run: RunFolder) -> str:
    if run.status == "interrupted":
        return (f"the run was interrupted after epoch {run.last_epoch}; "
                f"continue it with `dlcc train --resume {run.path}`")
    if run.status == "diverged":
        return "training diverged, so no model was saved"
    if run.status == "running":
        return "training has not finished, or was killed"
    if os.path.lexists(run.path / folder.MODEL):
        return f"model.npz {model_absence(run.path)}; the run folder is damaged"
    return "the file was deleted or never written"
