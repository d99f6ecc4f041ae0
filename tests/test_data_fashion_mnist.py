"""Fashion-MNIST from Debian's `dataset-fashion-mnist` package: imported, verified, trained, predicted.

The package ships the publisher's data recompressed (other .gz bytes), so only the SHA-256 of the
decompressed files can verify it. `.ci/run` fetches the package (apt-get download, dpkg -x) and
points DLCC_FASHION_MNIST_DEB at the unpacked folder; locally, do the same:

    apt-get download dataset-fashion-mnist && dpkg -x dataset-fashion-mnist_*.deb /tmp/fashion-deb
    DLCC_FASHION_MNIST_DEB=/tmp/fashion-deb pytest tests/test_data_fashion_mnist.py

An installed package (apt-get install dataset-fashion-mnist) is found in /usr/share/datasets.
"""

from __future__ import annotations

import gzip
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

import dlcc
from dlcc import config
from dlcc.data import mnist
from dlcc.data.published import FILES, find_all
from tests.conftest import ROOT
from tests.runs_helpers import dlcc as run_cli
from tests.runs_helpers import dlcc_json

NAMES = tuple(FILES["fashion-mnist"].sha256)


def debian_files() -> Path | None:
    """The folder holding the package's four .gz files, or None."""
    roots = [os.environ.get("DLCC_FASHION_MNIST_DEB"), "/"]
    for root in filter(None, roots):
        for folder in (Path(root) / "usr/share/datasets/fashion-mnist", Path(root)):
            if all(find_all(folder, FILES["fashion-mnist"]).values()):
                return folder
    return None


needs_debian = pytest.mark.skipif(
    debian_files() is None,
    reason="Debian's dataset-fashion-mnist files not found: set DLCC_FASHION_MNIST_DEB to the folder "
           "`dpkg -x` unpacked the package into (.ci/run does)")


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("DLCC_DATA_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


@needs_debian
def test_data_import_accepts_the_debian_packages_files(cache):
    source = debian_files()
    result = run_cli("data", "import", "fashion-mnist", source)
    assert result.exit_code == 0, result.output
    assert "4 files verified (SHA-256)" in result.stdout
    loaded = mnist.load_images("fashion-mnist")
    assert loaded.x.shape == (60000, 784) and loaded.x_test.shape == (10000, 784)
    assert loaded.t[:10].tolist() == [9, 0, 0, 3, 0, 2, 7, 2, 5, 5]  # the publisher's first labels
    assert np.bincount(loaded.t).tolist() == [6000] * 10
    assert loaded.class_names[loaded.t[0]] == "Ankle boot"


@needs_debian
def test_the_unpacked_package_root_and_a_torchvision_raw_folder_import_too(cache, tmp_path):
    root = Path(os.environ["DLCC_FASHION_MNIST_DEB"]) if os.environ.get("DLCC_FASHION_MNIST_DEB") else None
    if root is not None and (root / "usr/share/datasets/fashion-mnist").is_dir():
        assert run_cli("data", "import", "fashion-mnist", root).exit_code == 0
    raw = tmp_path / "torch" / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    for name in NAMES:  # torchvision keeps both the .gz and the uncompressed file; take the latter
        (raw / name).write_bytes(gzip.decompress((debian_files() / f"{name}.gz").read_bytes()))
    result = run_cli("data", "import", "fashion-mnist", tmp_path / "torch")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (cache / "fashion-mnist").iterdir() if "idx" in p.name) == sorted(NAMES)


@needs_debian
def test_a_changed_byte_is_refused(cache, tmp_path):
    bad = tmp_path / "bad"
    shutil.copytree(debian_files(), bad)
    labels = bytearray(gzip.decompress((bad / "t10k-labels-idx1-ubyte.gz").read_bytes()))
    labels[-1] = (labels[-1] + 1) % 10
    (bad / "t10k-labels-idx1-ubyte.gz").unlink()
    (bad / "t10k-labels-idx1-ubyte").write_bytes(bytes(labels))
    result = run_cli("data", "import", "fashion-mnist", bad)
    assert result.exit_code == 2 and "t10k-labels-idx1-ubyte: SHA-256 of the decompressed bytes" in result.stderr
    assert not (cache / "fashion-mnist").exists()


@pytest.mark.slow
@needs_debian
def test_fashion_mnist_mlp_config_reaches_87_percent_and_predicts_item_names(cache, tmp_path):
    """The README's number: configs/fashion-mnist-mlp.yaml, 784-100-10 ReLU, >= 87% test accuracy
    (scikit-learn's MLPClassifier with 100 ReLU units: 87.1% in the Fashion-MNIST benchmark)."""
    assert run_cli("data", "import", "fashion-mnist", debian_files()).exit_code == 0
    cfg = config.load(ROOT / "configs" / "fashion-mnist-mlp.yaml")
    assert [layer.units for layer in cfg.model.layers] == [100, 10] and cfg.model.layers[0].activation == "relu"
    run = dlcc.train_config(cfg, tmp_path / "runs", progress=False)
    assert run.summary.test["accuracy"] >= 0.87, run.summary.test
    assert run.summary.class_names[0] == "T-shirt/top"

    images = debian_files() / "t10k-images-idx3-ubyte.gz"
    data = dlcc_json("predict", run.path, images)
    _, labels = run.data("test")
    names = np.array(run.summary.class_names)
    assert np.mean(np.array(data["predictions"]) == names[labels]) == run.summary.test["accuracy"]
    scored = dlcc_json("eval", run.path, "--data", images)  # the labels file beside it
    assert scored["accuracy"] == run.summary.test["accuracy"] and scored["classes"][9] == "Ankle boot"
