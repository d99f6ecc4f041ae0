"""TensorBoard event files in the run folder, written while the run trains (`logging.tensorboard`).

    RUN_DIR/events.out.tfevents.<time>.<host>    tensorboard --logdir runs/

A training hook (dlcc.training.hooks) built by the API or a sweep worker and passed down to the
loop. Per epoch (epoch 0 is the untrained network):

    scalars      loss/train, loss/val, accuracy/train, accuracy/val, lr, time/epoch_seconds, and
                 every diagnostics column as <kind>/layer<l> (grad_norm/layer1, dead/layer2, ...)
Every `logging.every` epochs (and at epoch 0 and the last epoch):
    histograms   weights/layer<l>, biases/layer<l>, and gradients/layer<l> (dC/dW_l on the probe
                 set, the examples the gradient norms use): the unstable-gradient picture
    image        boundary: the predicted class over the data's bounding box, data points on top
                 (2-D classification data only)
Once, for the runs of a sweep:
    hparams      the swept keys and the seed, against loss/val and accuracy/val

The writer is tensorboardX (`pip install "dlcc[tensorboard]"`); nothing is imported unless the
config asks for TensorBoard.
"""

from __future__ import annotations

import math

import numpy as np

from dlcc.errors import ConfigError
from dlcc.nn.metrics import predict, predicted_classes
from dlcc.runs import sweepdir

SCALARS = {"train_loss": "loss/train", "val_loss": "loss/val", "train_accuracy": "accuracy/train",
           "val_accuracy": "accuracy/val", "lr": "lr", "seconds": "time/epoch_seconds"}
GRID, ZOOM = 150, 2  # the boundary image: the network evaluated on GRID x GRID points, shown ZOOM x larger
# The tab10 colours of `dlcc plot --kind boundary`, as RGB.
PALETTE = np.array([(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
                    (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207)], np.float64)


def scalar_tag(column: str) -> str:
    """metrics.csv column -> TensorBoard tag: val_loss -> loss/val, grad_norm_2 -> grad_norm/layer2."""
    if column in SCALARS:
        return SCALARS[column]
    head, _, layer = column.rpartition("_")
    if head and layer.isdigit() and not head.startswith("m"):
        return f"{head}/layer{layer}"
    return f"members/{column}"  # m1_train_loss, ...


class TensorBoardHook:
    """Implements dlcc.training.hooks.Hook; does nothing for a run whose config leaves TensorBoard off."""

    def __init__(self):
        self.writer = None

    def ready(self, cfg) -> None:
        """Refuse, before a run folder is created, a config that asks for logs tensorboardX cannot write."""
        if cfg.logging.tensorboard:
            _summary_writer()

    def begin(self, run) -> None:
        if not run.cfg.logging.tensorboard:
            return
        SummaryWriter = _summary_writer()
        self.run = run
        self.every = run.cfg.logging.interval(run.cfg.training.epochs)
        # A resumed run adds an event file of its own (named apart, even within the same second);
        # purge_step hides what the first one logged after the checkpoint, so each step shows once.
        resumed = run.first_epoch > 1
        self.writer = SummaryWriter(str(run.run_dir), purge_step=run.first_epoch if resumed else None, flush_secs=10,
                                    filename_suffix=f".from-epoch-{run.first_epoch}" if resumed else "")
        self._hparams()

    def epoch(self, row: dict) -> None:
        if self.writer is None:
            return
        step = row["epoch"]
        for column, value in row.items():
            if column != "epoch" and isinstance(value, (int, float)) and math.isfinite(value):
                self.writer.add_scalar(scalar_tag(column), value, step)
        if step % self.every == 0 or step == self.run.cfg.training.epochs:
            self._histograms(step)
            image = boundary_image(self.run)
            if image is not None:
                self.writer.add_image("boundary", image, step, dataformats="HWC")

    def end(self, status: str) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None

    def _histograms(self, step: int) -> None:
        """Weights, biases and the probe-set gradient dC/dW of each layer (first member)."""
        net = self.run.members[0].net
        x, y = self.run.probe
        a = net.forward(x, training=False)  # no dropout, so no random numbers drawn
        net.backward(a, y)
        for i, layer in enumerate(net.layers, start=1):
            self.writer.add_histogram(f"weights/layer{i}", layer.W, step)
            self.writer.add_histogram(f"biases/layer{i}", layer.b, step)
            self.writer.add_histogram(f"gradients/layer{i}", layer.dW, step)

    def _hparams(self) -> None:
        """For a run inside a sweep folder: its swept values and seed (TensorBoard's HParams tab)."""
        sweep_dir = self.run.run_dir.parent
        if not sweepdir.is_sweep_dir(sweep_dir):
            return
        from tensorboardX.summary import hparams

        config = self.run.cfg.model_dump(mode="json")
        values = {key: _lookup(config, key) for key in sweepdir.read_definition(sweep_dir)["keys"]}
        values["seed"] = self.run.cfg.seed
        values = {k: (v if isinstance(v, (bool, int, float, str)) else str(v)) for k, v in values.items()}
        has_val = self.run.arrays["val"] is not None
        metrics = {"loss/val": None, "accuracy/val": None} if has_val else {"loss/train": None}
        for summary in hparams(values, metrics):
            self.writer.file_writer.add_summary(summary)


def _summary_writer():
    try:
        from tensorboardX import SummaryWriter
    except ImportError:
        raise ConfigError("logging.tensorboard: true needs tensorboardX: pip install \"dlcc[tensorboard]\" "
                          "(or pip install tensorboardX)") from None
    return SummaryWriter


def _lookup(config: dict, dotted: str):
    value = config
    for part in dotted.split("."):
        value = value[int(part)] if isinstance(value, list) else (value or {}).get(part)
    return value


def boundary_image(run, size: int = GRID, zoom: int = ZOOM) -> np.ndarray | None:
    """An RGB image (size*zoom pixels square, uint8) of the predicted class over the training data's
    bounding box (in the network's input units: a per-axis rescaling of the data's own, so the
    picture is the same), with the training points drawn on top; None unless 2-D classification."""
    x, y = run.arrays["train"]
    if x.shape[1] != 2 or run.splits.task != "classification":
        return None
    low, high = x.min(axis=0), x.max(axis=0)
    pad = (high - low) * 0.1 + 1e-9
    xs = np.linspace(low[0] - pad[0], high[0] + pad[0], size)
    ys = np.linspace(high[1] + pad[1], low[1] - pad[1], size)  # image rows run top to bottom
    grid = np.stack(np.meshgrid(xs, ys), axis=-1).reshape(-1, 2).astype(x.dtype)
    regions = predicted_classes(predict(run.model, grid)).reshape(size, size)
    colors = PALETTE[np.arange(max(int(regions.max()), int(predicted_classes(y).max())) + 1) % len(PALETTE)]
    regions = regions.repeat(zoom, axis=0).repeat(zoom, axis=1)
    image = 255 - 0.3 * (255 - colors[regions])  # light region colours
    side = size * zoom
    cols = np.clip(np.round((x[:, 0] - xs[0]) / (xs[-1] - xs[0]) * (side - 1)).astype(int), 1, side - 2)
    rows = np.clip(np.round((ys[0] - x[:, 1]) / (ys[0] - ys[-1]) * (side - 1)).astype(int), 1, side - 2)
    labels = predicted_classes(y)
    for dr in (-1, 0, 1):  # a 3x3 dot per training point
        for dc in (-1, 0, 1):
            image[rows + dr, cols + dc] = colors[labels]
    return image.astype(np.uint8)
