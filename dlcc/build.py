"""Config -> arrays and ready networks: the one place that wires data, nn and optim together.

Randomness: the config's seed is split (numpy SeedSequence) into two independent Generators,
one for the data (synthetic generation, splits) and one for the networks (init, shuffling,
dropout, bagging). So changing a dataset option does not silently change the initial weights.

    splits, arrays = prepare(cfg)               # arrays[split] = (x, y) in cfg.precision, or None
    members = build_members(cfg, arrays["train"], splits.train.pixels)  # one Member per ensemble member
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dlcc import data
from dlcc.data.pixels import Pixels
from dlcc.errors import ConfigError, DataError
from dlcc.nn.ensemble import bootstrap, member_rngs
from dlcc.nn.network import Network

# A limit on what a config may ask for: a typo like `units: 100000` in four layers should be a
# clear error, not an out-of-memory crash. 50M parameters is 200 MB per copy in float32.
MAX_PARAMETERS = 50_000_000


@dataclass
class Member:
    """One network with its own training data (a bootstrap sample when bagging) and Generator.

    pixels: the rows of train's x as bytes (image data in float32, dlcc.data.pixels), else None;
    the trainer shuffles those and decodes batch by batch.
    """

    net: Network
    train: tuple[np.ndarray, np.ndarray]
    rng: np.random.Generator
    pixels: Pixels | None = None


def seed_streams(seed: int) -> tuple[np.random.SeedSequence, np.random.SeedSequence]:
    """(data stream, network stream): the two independent children of the run's seed."""
    data_stream, network_stream = np.random.SeedSequence(seed).spawn(2)
    return data_stream, network_stream


def load_splits(cfg, normalize: bool = True) -> data.Splits:
    """The run's splits, exactly as training sees them (normalize=False: the features and targets
    as given; the split itself does not depend on normalization)."""
    data_cfg = cfg.data if normalize else cfg.data.model_copy(update={"normalize": "none", "standardize_targets": False})
    return data.load(data_cfg, np.random.default_rng(seed_streams(cfg.seed)[0]))


def prepare(cfg) -> tuple[data.Splits, dict]:
    """Load the data for `cfg` and shape the targets to the output layer; returns (splits, arrays).

    arrays maps split name -> (x, y) in the run's precision, or None when the split is empty.
    One sigmoid unit for two classes keeps only the targets' second column (y = 1 for class 1).
    """
    splits = load_splits(cfg)
    dtype = np.dtype(cfg.precision)
    units = cfg.model.layers[-1].units
    k = splits.train.y.shape[1]
    binary_single = splits.task == "classification" and k == 2 and units == 1
    if units != k and not binary_single:
        last = f"model.layers.{len(cfg.model.layers) - 1}.units"
        if splits.auto_labels is not None:
            raise ConfigError(
                f"{splits.auto_labels}: whole numbers with {k} distinct values could be {k} classes or a "
                f"quantity, and the output layer has {units} unit(s) (data.options.task is auto). To predict "
                f"the number, set data.options.task: regression; to classify, set {last}: {k} "
                "(a softmax layer)"
            )
        what = f"{k} classes" if splits.task == "classification" else f"{k} target value(s) per example"
        also = " (or 1 sigmoid unit for two classes)" if splits.task == "classification" and k == 2 else ""
        raise ConfigError(
            f"{last}: the output layer has {units} units but dataset '{cfg.data.dataset}' has {what}; "
            f"set it to {k}{also}"
        )

    def cast(split):
        if split is None:
            return None
        y = split.y[:, 1:] if binary_single else split.y
        return _fit(split.x, dtype, cfg, "features"), _fit(y, dtype, cfg, "targets")

    return splits, {"train": cast(splits.train), "val": cast(splits.val), "test": cast(splits.test)}


def _fit(values: np.ndarray, dtype: np.dtype, cfg, what: str) -> np.ndarray:
    """values in the run's precision; DataError when a finite value does not fit it (float32 ends
    near 3.4e38), instead of training on inf and calling that divergence."""
    if values.dtype.itemsize <= dtype.itemsize:
        return values.astype(dtype, copy=False)
    with np.errstate(over="ignore"):
        cast = values.astype(dtype)
    if not np.isfinite(cast).all():
        largest = float(np.max(np.abs(values[np.isfinite(values)]), initial=0.0))
        where = getattr(cfg.data.options, "path", None) or f"dataset '{cfg.data.dataset}'"
        now, fix = ((f"data.normalize: {cfg.data.normalize}", "data.normalize: standard") if what == "features" else
                    (f"data.standardize_targets: {str(cfg.data.standardize_targets).lower()}",
                     "data.standardize_targets: true"))
        raise DataError(f"{where}: {what} as large as {largest:.3g} ({now}) do not fit precision {cfg.precision} "
                        f"(at most {float(np.finfo(dtype).max):.3g}); set {fix}, or precision: float64")
    return cast


def build_members(cfg, train_xy, pixels: Pixels | None = None) -> list[Member]:
    """The network(s) of a run: one per ensemble member, each with its own Generator.

    The seed's second spawned stream drives the networks (the first drives the data); an ensemble
    spawns one child stream per member from it. With bagging, each member trains on its own
    bootstrap sample of the training split. pixels: the training split's `Split.pixels`, kept
    when the trainer will shuffle them (`shuffled_pixels`).
    """
    x, y = train_xy
    check_size(cfg, x.shape[1])
    pixels = shuffled_pixels(cfg, train_xy, pixels)
    members = []
    for rng in member_rngs(seed_streams(cfg.seed)[1], cfg.ensemble.members):
        net = Network.from_config(cfg, x.shape[1], rng)
        if cfg.ensemble.bagging:
            rows = bootstrap(len(x), rng)
            members.append(Member(net, (x[rows], y[rows]), rng, None if pixels is None else pixels.rows(rows)))
        else:
            members.append(Member(net, train_xy, rng, pixels))
    return members


def shuffled_pixels(cfg, train_xy, pixels: Pixels | None) -> Pixels | None:
    """The training split's pixels when the trainer shuffles them as bytes, else None: only when x
    is their float32 (precision float64 trains on x), the split is shuffled, and a batch is smaller
    than the split (one batch of all of it would be decoded into a float32 copy as large as x)."""
    x, _ = train_xy
    bs = cfg.training.batch_size
    if pixels is None or x.dtype != np.float32 or not cfg.training.shuffle or bs == "full" or bs >= len(x):
        return None
    return pixels


def blank_network(cfg, n_inputs: int) -> Network:
    """A network of the config's shape whose weights are about to be replaced (by model.npz)."""
    return Network.from_config(cfg, n_inputs, np.random.default_rng(0))


def gradcheck_batch(cfg, batch: int) -> tuple[Network, np.ndarray, np.ndarray, np.random.Generator]:
    """(network, x, y, rng) for a gradient check: the config in float64, its first `batch` training
    examples, and a Generator (seeded by the config) that also picks the sampled elements."""
    cfg = cfg.model_copy(update={"precision": "float64"})
    _, arrays = prepare(cfg)
    x, y = arrays["train"]
    rng = np.random.default_rng(cfg.seed)
    net = Network.from_config(cfg, x.shape[1], rng)
    return net, x[:batch], y[:batch], rng


def check_size(cfg, n_inputs: int) -> None:
    """Refuse a network over MAX_PARAMETERS (all ensemble members together)."""
    sizes = [n_inputs] + [layer.units for layer in cfg.model.layers]
    count = sum(n_in * n_out + n_out for n_in, n_out in zip(sizes, sizes[1:]))
    if count * cfg.ensemble.members > MAX_PARAMETERS:
        raise ConfigError(
            f"model.layers: the network would have {count:,} parameters"
            + (f" per member ({cfg.ensemble.members} members)" if cfg.ensemble.members > 1 else "")
            + f"; dlcc allows at most {MAX_PARAMETERS:,} in all. Use fewer or smaller layers."
        )
