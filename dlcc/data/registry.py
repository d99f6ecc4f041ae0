"""The datasets by name, their options, and `load`: dataset -> train / validation / test splits."""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from dlcc.data import files, mnist, synthetic
from dlcc.data.options import NoOptions, Options
from dlcc.data.splits import Loaded, Splits, split_and_normalize


@dataclass(frozen=True)
class DatasetInfo:
    """name, kind ("image" | "synthetic" | "tabular"), task ("classification" | "regression",
    or "auto" when the data and options.task decide), a one-line description, the options model,
    and loader(options, rng) -> Loaded."""

    name: str
    kind: str
    task: str
    description: str
    options_model: type[Options]
    loader: Callable[[Options, np.random.Generator], Loaded]


DATASETS = {
    info.name: info
    for info in (
        DatasetInfo("mnist", "image", "classification",
                    "handwritten digits 0-9, 28x28 grey, 60k train + 10k test",
                    NoOptions, mnist.mnist),
        DatasetInfo("fashion-mnist", "image", "classification",
                    "Zalando clothing images, 10 classes, 28x28 grey, 60k train + 10k test",
                    NoOptions, mnist.fashion_mnist),
        DatasetInfo("spirals", "synthetic", "classification",
                    "CS231n's interleaved 2-D spirals, one arm per class",
                    synthetic.SpiralsOptions, synthetic.spirals),
        DatasetInfo("xor", "synthetic", "classification",
                    "noisy points at the corners of the unit square, label a XOR b",
                    synthetic.XorOptions, synthetic.xor),
        DatasetInfo("circles", "synthetic", "classification",
                    "a circle inside another (2-D, 2 classes)",
                    synthetic.CirclesOptions, synthetic.circles),
        DatasetInfo("moons", "synthetic", "classification",
                    "two interleaving half circles (2-D, 2 classes)",
                    synthetic.MoonsOptions, synthetic.moons),
        DatasetInfo("blobs", "synthetic", "classification",
                    "Gaussian blobs around random centers, one per class",
                    synthetic.BlobsOptions, synthetic.blobs),
        DatasetInfo("linear", "synthetic", "regression",
                    "y = w x + b + noise, one input",
                    synthetic.LinearOptions, synthetic.linear),
        DatasetInfo("sine", "synthetic", "regression",
                    "y = sin(x) + noise over one period, one input",
                    synthetic.SineOptions, synthetic.sine),
        DatasetInfo("csv", "tabular", "auto",
                    "your CSV table: one example per row, a target column",
                    files.CsvOptions, files.csv_table),
        DatasetInfo("npz", "tabular", "auto",
                    "your .npz arrays x, y (and optionally x_test, y_test)",
                    files.NpzOptions, files.npz_archive),
    )
}


def dataset_info(dataset: str) -> DatasetInfo:
    """The registry entry; an unknown name is a ValueError that lists the valid ones."""
    if dataset not in DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}; valid: {', '.join(DATASETS)}")
    return DATASETS[dataset]


def validate_options(dataset: str, options: dict | Options | None) -> Options:
    """The dataset's frozen options model, defaults filled in; bad options: ValidationError."""
    model = dataset_info(dataset).options_model
    if isinstance(options, model):
        return options
    return model.model_validate({} if options is None else options)


def load(cfg, rng: np.random.Generator) -> Splits:
    """Load cfg.dataset with cfg.options and split it as cfg.validation / test / subset /
    stratify / normalize / standardize_targets ask (rules in splits.py). All randomness comes
    from rng."""
    info = dataset_info(cfg.dataset)
    data = info.loader(validate_options(cfg.dataset, cfg.options), rng)
    return split_and_normalize(
        data, cfg.validation, cfg.test, cfg.subset, cfg.normalize, rng, stratify=cfg.stratify,
        standardize_targets=cfg.standardize_targets,
    )
