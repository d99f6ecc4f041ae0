"""Shared fixtures: tiny configs that train in well under a second, and the MNIST location."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "datasets"


def mnist_dir() -> Path | None:
    """Where the MNIST IDX files are for tests: $DLCC_DATA_DIR, else ../shared/datasets."""
    for base in (os.environ.get("DLCC_DATA_DIR"), SHARED_DATA):
        if base and (Path(base) / "mnist" / "train-images-idx3-ubyte.gz").exists():
            return Path(base)
    return None


def data_config(dataset: str, options=None, **keys):
    """The real, validated `data:` section (dlcc.config.DataConfig) for tests of dlcc.data.load.

    Using the schema itself, not a stand-in object, keeps these tests in step with every new key.
    """
    from dlcc.config import DataConfig

    return DataConfig.model_validate({"dataset": dataset, "options": options or {}, **keys})


needs_mnist = pytest.mark.skipif(mnist_dir() is None, reason="MNIST files not found (set DLCC_DATA_DIR)")


@pytest.fixture(autouse=True)
def mnist_where_the_tests_found_it(monkeypatch):
    """dlcc itself reads $DLCC_DATA_DIR (else the per-user cache): point it where mnist_dir() found
    the files, so a plain `pytest` beside ../shared trains on the same MNIST as CI, which sets it."""
    if not os.environ.get("DLCC_DATA_DIR") and mnist_dir() is not None:
        monkeypatch.setenv("DLCC_DATA_DIR", str(mnist_dir()))


@pytest.fixture(autouse=True)
def no_internet(monkeypatch):
    """Tests never download: a missing dataset is an error at once (download tests undo this
    and point DLCC_MIRROR at a server on 127.0.0.1)."""
    monkeypatch.setenv("DLCC_OFFLINE", "1")
    monkeypatch.delenv("DLCC_MIRROR", raising=False)


TINY = {
    "name": "tiny",
    "seed": 0,
    "data": {"dataset": "spirals", "options": {"classes": 3, "points_per_class": 40, "noise": 0.1}},
    "model": {"layers": [{"units": 16, "activation": "relu"}, {"units": 3, "activation": "softmax"}]},
    "loss": "cross_entropy",
    "optimizer": {"name": "sgd", "lr": 0.5},
    "training": {"epochs": 3, "batch_size": 16},
}


@pytest.fixture
def tiny_raw() -> dict:
    import copy

    return copy.deepcopy(TINY)


@pytest.fixture
def write_config(tmp_path):
    """write_config(dict_or_text, name='cfg.yaml') -> path of a YAML file in tmp_path."""

    def write(content, name: str = "cfg.yaml") -> Path:
        path = tmp_path / name
        path.write_text(content if isinstance(content, str) else yaml.safe_dump(content))
        return path

    return write


def train(cfg, runs_dir: Path) -> tuple[Path, dict]:
    """Train a validated config through the public API, quietly: (run folder, summary.json as a dict)."""
    import dlcc

    run = dlcc.train_config(cfg, runs_dir, progress=False)
    return run.path, run.summary.to_json()
