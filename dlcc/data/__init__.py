"""Datasets: the registry, loading, splitting and normalization (SPEC.md, "Datasets").

    splits = load(cfg.data, rng)   # cfg.data: dataset, options, validation, test, subset, normalize
    splits.train.x  (n, d)         splits.train.y  (n, k): one-hot rows, or regression targets
"""

from dlcc.data.cache import cache_dir
from dlcc.data.registry import DATASETS, DatasetInfo, load, validate_options
from dlcc.data.splits import Split, Splits

__all__ = ["DATASETS", "DatasetInfo", "Split", "Splits", "cache_dir", "load", "validate_options"]
