"""`dlcc datasets`: one plain dict per registered dataset, for a table or JSON.

Synthetic datasets are described by generating them once with their default options (a few
hundred points), so the listing cannot drift from the generators; image datasets are described
from their published layout and looked up in the cache (file presence only: verification happens
when they are loaded).
"""

import numpy as np

from dlcc.data import mnist
from dlcc.data.cache import cache_dir
from dlcc.data.published import FILES, find_all
from dlcc.data.registry import DATASETS, DatasetInfo, validate_options


def catalog() -> list[dict]:
    """describe() of every dataset, in registry order."""
    return [describe(info) for info in DATASETS.values()]


def describe(info: DatasetInfo) -> dict:
    """name, kind, task, description, features (inputs per example), classes (classification) or
    targets (values per example, regression), status, path (image datasets: their cache folder) and
    options (defaults; None = required).

    status: image "cached" | "missing" | "incomplete"; synthetic "generated"; tabular "your file".
    """
    entry = {
        "name": info.name,
        "kind": info.kind,
        "task": info.task,
        "description": info.description,
        "features": None,
        "classes": None,
        "targets": None,
        "path": None,
    }
    if info.kind == "image":
        folder = cache_dir() / info.name
        found = find_all(folder, FILES[info.name]).values()
        present = sum(path is not None for path in found)
        status = "cached" if present == len(found) else "incomplete" if present else "missing"
        entry.update(
            features=int(np.prod(mnist.IMAGE_SHAPE)), classes=mnist.CLASSES, status=status,
            path=str(folder),
        )
    elif info.kind == "synthetic":
        loaded = info.loader(validate_options(info.name, None), np.random.default_rng(0))
        entry.update(features=loaded.x.shape[1], status="generated")
        if loaded.classes is None:
            entry["targets"] = loaded.t.shape[1]
        else:
            entry["classes"] = loaded.classes
    else:
        entry["status"] = "your file"
    entry["options"] = option_defaults(info)
    return entry


def option_defaults(info: DatasetInfo) -> dict:
    """Each option's default value, or None for a required option."""
    return {
        name: None if field.is_required() else field.default
        for name, field in info.options_model.model_fields.items()
    }
