"""What a trained network does over its input space, for plotting `dlcc plot --kind boundary`.

2-D classification: the predicted class on a grid covering the data (the decision regions).
1-D regression: the predicted value along a line covering the data (the fitted function).
Coordinates and values are the dataset's own (before normalization, in the target's units); the
grid is normalized the way training normalized its inputs before it goes through the network.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dlcc.errors import RunError
from dlcc.nn.metrics import predict, predicted_classes
from dlcc.runs import snapshots
from dlcc.runs.model import Model

GRID = 300
MARGIN = 0.1  # of the data's range, on each side


@dataclass(frozen=True)
class Surface:
    """axes: (xs,) or (xs, ys) grid coordinates; values: predicted class per grid cell (2-D) or
    predicted value per point (1-D); points: {split: (x_raw, labels or targets)}."""

    kind: str  # "regions" | "function"
    axes: tuple
    values: np.ndarray
    points: dict
    classes: int | None


def surface(model: Model, resolution: int = GRID) -> Surface:
    """The network's output over the data's bounding box; RunError when the inputs are not 1-D/2-D."""
    d = model.n_inputs
    points = {split: (model.raw(xy[0]), _targets(model, xy[1])) for split, xy in model.arrays.items() if xy}
    everything = np.concatenate([x for x, _ in points.values()])
    low, high = everything.min(axis=0), everything.max(axis=0)
    pad = (high - low) * MARGIN + 1e-9
    lines = [np.linspace(lo, hi, resolution) for lo, hi in zip(low - pad, high + pad)]
    if model.classification and d == 2:
        xx, yy = np.meshgrid(*lines)
        grid = np.column_stack([xx.ravel(), yy.ravel()])
        classes = predicted_classes(predict(model.net, model.inputs(grid)))
        return Surface("regions", (lines[0], lines[1]), classes.reshape(xx.shape), points, len(model.class_names))
    if not model.classification and d == 1:
        values = model.outputs(predict(model.net, model.inputs(lines[0][:, None])))
        return Surface("function", (lines[0],), values, points, None)
    what = "2 input features for a classification task" if model.classification else "1 input feature for regression"
    raise RunError(f"{model.run.path}: a boundary plot needs {what}; dataset '{model.run.dataset}' has {d}. "
                   "Try --kind curves or --kind gradients")


def over_time(model: Model) -> list[tuple[int, Surface]]:
    """(epoch, surface) for each weight snapshot of the run (diagnostics.snapshots), then for the
    kept model (model.npz) itself, so the last frame is exactly `dlcc plot --kind boundary`. When
    early stopping restored an earlier epoch, that epoch comes last, after the later snapshots.

    `model` should be a Model of its own (load_model): its network's weights are overwritten.
    """
    epochs = snapshots.epochs(model.run.path)
    if not epochs:
        raise RunError(f"{model.run.path}: no weight snapshots to animate; train with "
                       "--set diagnostics.snapshots=N to keep the weights every N epochs")
    final = (model.run.model_epoch, surface(model))
    nets = getattr(model.net, "members", [model.net])
    frames = []
    for epoch in epochs:
        if epoch == final[0]:
            continue  # the kept model is the last frame (a snapshot of that epoch holds the same weights)
        for net, params in zip(nets, snapshots.read(model.run.path, epoch, len(nets))):
            net.load_state(params)
        frames.append((epoch, surface(model)))
    return [*frames, final]


def _targets(model: Model, y: np.ndarray) -> np.ndarray:
    return predicted_classes(y) if model.classification else model.outputs(y)[:, 0]
