"""Datasets through the command line: `dlcc data import`, `dlcc datasets`, training from the
cache (DLCC_DATA_DIR or the per-user default), bad data options, and a CSV file of our own."""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from dlcc.cli import app
from dlcc.data import DATASETS, published
from dlcc.data.idx import idx_bytes
from dlcc.data.published import Published
from tests.conftest import SHARED_DATA

runner = CliRunner()
NAMES = list(published.MNIST_SHA256)
REAL_MNIST = SHARED_DATA / "mnist"
needs_real_mnist = pytest.mark.skipif(
    not all(published.find_all(REAL_MNIST, published.FILES["mnist"]).values()),
    reason="MNIST files not found in ../shared/datasets/mnist",
)

MNIST_CONFIG = {
    "name": "mnist-small",
    "data": {"dataset": "mnist", "validation": 100, "subset": 300, "normalize": "standard"},
    "model": {"layers": [{"units": 32, "activation": "relu"}, {"units": 10, "activation": "softmax"}]},
    "training": {"epochs": 1, "batch_size": 32},
}


def invoke(*args: str):
    return runner.invoke(app, list(args))


def train_json(config: dict, tmp_path: Path):
    """`dlcc train CONFIG --json` for a config dict; returns the result."""
    path = tmp_path / f"{config.get('name', 'cfg')}.yaml"
    path.write_text(yaml.safe_dump(config))
    return invoke("train", str(path), "--runs-dir", str(tmp_path / "runs"), "--json")


@pytest.fixture
def tiny_files(tmp_path, monkeypatch):
    """Four tiny IDX files in tmp_path/src (two gzipped), their digests pinned as mnist's."""
    rng = np.random.default_rng(0)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (40, 4, 3), dtype=np.uint8),
        "train-labels-idx1-ubyte": np.arange(40, dtype=np.uint8) % 10,
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (10, 4, 3), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": np.arange(10, dtype=np.uint8),
    }
    src = tmp_path / "src"
    src.mkdir()
    digests = {}
    for i, (name, array) in enumerate(arrays.items()):
        data = idx_bytes(array)
        digests[name] = hashlib.sha256(data).hexdigest()
        if i % 2:
            (src / name).write_bytes(data)
        else:
            (src / f"{name}.gz").write_bytes(gzip.compress(data))
    monkeypatch.setitem(published.FILES, "mnist", Published(digests))
    return src


def cache_files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())} if folder.exists() else {}


@needs_real_mnist
def test_import_the_real_mnist_then_train_from_the_cache(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv("DLCC_DATA_DIR", str(cache))
    result = invoke("data", "import", "mnist", str(REAL_MNIST))
    assert result.exit_code == 0, result.output
    assert "4 files verified" in result.stdout
    assert sorted(p.name for p in (cache / "mnist").iterdir()) == sorted(f"{n}.gz" for n in NAMES)

    result = train_json(MNIST_CONFIG, tmp_path)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["status"] == "completed" and summary["test"]["accuracy"] > 0.5
    listing = json.loads(invoke("datasets", "--json").stdout)
    assert {d["name"]: d["status"] for d in listing["datasets"]}["mnist"] == "cached"


def test_default_cache_is_per_user(tiny_files, tmp_path, monkeypatch):
    monkeypatch.delenv("DLCC_DATA_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    result = invoke("data", "import", "mnist", str(tiny_files))
    assert result.exit_code == 0, result.output
    assert len(cache_files(tmp_path / "xdg" / "dlcc" / "mnist")) == 4

    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    files = [str(p) for p in sorted(tiny_files.iterdir())]  # the four files, not the folder
    result = invoke("data", "import", "mnist", *files)
    assert result.exit_code == 0, result.output
    folder = tmp_path / "home" / ".cache" / "dlcc" / "mnist"
    assert sorted(cache_files(folder)) == sorted(p.name for p in tiny_files.iterdir())

    config = {**MNIST_CONFIG, "data": {"dataset": "mnist", "validation": 5}}
    result = train_json(config, tmp_path)
    assert result.exit_code == 0, result.output
    assert (folder / "npy-cache.json").is_file()  # it trained from that folder


@pytest.mark.parametrize("damage", ["truncated", "wrong"])
def test_a_bad_import_fails_naming_the_file_and_leaves_the_cache_alone(
    damage, tiny_files, tmp_path, monkeypatch
):
    monkeypatch.setenv("DLCC_DATA_DIR", str(tmp_path / "cache"))
    bad = tiny_files / "train-labels-idx1-ubyte"
    good_bytes = bad.read_bytes()
    if damage == "truncated":
        bad.write_bytes(good_bytes[:-5])
    else:
        bad.write_bytes(idx_bytes(np.zeros(40, np.uint8)))  # well-formed, not the published file

    result = invoke("data", "import", "mnist", str(tiny_files))
    assert result.exit_code == 2
    assert str(bad) in result.stderr
    assert ("truncated" if damage == "truncated" else "SHA-256") in result.stderr
    assert "Traceback" not in result.output
    assert not (tmp_path / "cache").exists()

    bad.write_bytes(good_bytes)  # a good cache first, then the bad import again
    assert invoke("data", "import", "mnist", str(tiny_files)).exit_code == 0
    before = cache_files(tmp_path / "cache" / "mnist")
    bad.write_bytes(good_bytes[:-5])
    assert invoke("data", "import", "mnist", str(tiny_files)).exit_code == 2
    assert cache_files(tmp_path / "cache" / "mnist") == before


def test_import_usage_errors(tiny_files, tmp_path, monkeypatch):
    monkeypatch.setenv("DLCC_DATA_DIR", str(tmp_path / "cache"))
    cases = [
        (["spirals", str(tiny_files)], "importable: mnist, fashion-mnist"),
        (["mnist", str(tmp_path / "nowhere")], "no such folder or file"),
        (["mnist", str(tmp_path)], "missing train-images-idx3-ubyte[.gz]"),
        (["mnist", str(next(tiny_files.iterdir()))], "give a folder, or all four mnist files"),
    ]
    for args, message in cases:
        result = invoke("data", "import", *args)
        assert result.exit_code == 2, args
        assert message in result.stderr, result.stderr
    assert not (tmp_path / "cache").exists()


SPIRALS = {
    "data": {"dataset": "spirals", "options": {"points_per_class": 20}},
    "model": {"layers": [{"units": 3, "activation": "softmax"}]},
    "training": {"epochs": 1},
}


def write_table(path: Path, rows: list[str]) -> Path:
    path.write_text("\n".join(rows) + "\n")
    return path


@pytest.mark.parametrize(
    "data, message",
    [
        ({"dataset": "spirals", "options": {"noise": -0.5}}, "data.options.noise"),
        ({"dataset": "spirals", "options": {"classes": 0}}, "data.options.classes"),
        ({"dataset": "blobs", "options": {"classes": 0}}, "greater than or equal to 2"),
        ({"dataset": "csv", "options": {"path": "absent.csv", "target": "y"}}, "absent.csv: no such file"),
        ({"dataset": "csv", "options": {"path": "table.csv", "target": "colour"}}, "no such column"),
        ({"dataset": "csv", "options": {"path": "words.csv", "target": "y"}}, "'red' is not a number"),
        ({"dataset": "npz", "options": {"path": "absent.npz"}}, "absent.npz: no such file"),
    ],
)
def test_bad_data_options_fail_with_exit_code_2(data, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # relative data paths are read from the current folder
    write_table(tmp_path / "table.csv", ["a,b,y", "1,2,0", "3,4,1"])
    write_table(tmp_path / "words.csv", ["a,b,y", "1,2,0", "3,red,1"])
    result = train_json({**SPIRALS, "data": data}, tmp_path)
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert result.stderr.startswith("error: ") and "Traceback" not in result.output
    assert not (tmp_path / "runs").exists()


def test_a_csv_of_our_own_trains_end_to_end(tmp_path, monkeypatch):
    """Two Gaussian clouds in a CSV with a text label column; the path is relative to the cwd."""
    rng = np.random.default_rng(0)
    rows = ["x1,x2,x3,species"]
    for i in range(120):
        label = ("setosa", "virginica")[i % 2]
        centre = 2.0 if i % 2 else -2.0
        rows.append(",".join(f"{v:.4f}" for v in centre + rng.standard_normal(3)) + f",{label}")
    (tmp_path / "data").mkdir()
    write_table(tmp_path / "data" / "clouds.csv", rows)
    monkeypatch.chdir(tmp_path)
    config = {
        "name": "clouds",
        "data": {"dataset": "csv", "options": {"path": "data/clouds.csv", "target": "species"},
                 "validation": 0.2, "test": 0.2, "normalize": "standard"},
        "model": {"layers": [{"units": 8, "activation": "tanh"}, {"units": 2, "activation": "softmax"}]},
        "optimizer": {"name": "sgd", "lr": 0.1},
        "training": {"epochs": 5, "batch_size": 8},
    }
    result = train_json(config, tmp_path)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["status"] == "completed" and summary["test"]["accuracy"] >= 0.9
    saved = yaml.safe_load((Path(summary["run_dir"]) / "config.yaml").read_text())
    assert saved["data"]["options"]["path"] == "data/clouds.csv"


def test_datasets_json_lists_every_dataset(tmp_path, monkeypatch):
    monkeypatch.setenv("DLCC_DATA_DIR", str(tmp_path / "cache"))
    result = invoke("datasets", "--json")
    assert result.exit_code == 0, result.output
    listing = json.loads(result.stdout)
    assert listing["cache_dir"] == str(tmp_path / "cache")
    by_name = {d["name"]: d for d in listing["datasets"]}
    assert list(by_name) == list(DATASETS)
    assert by_name["mnist"] | {"options": None} == {
        "name": "mnist", "kind": "image", "task": "classification",
        "description": DATASETS["mnist"].description, "features": 784, "classes": 10,
        "targets": None, "status": "missing", "path": str(tmp_path / "cache" / "mnist"),
        "options": None,
    }
    assert by_name["spirals"]["status"] == "generated"
    assert (by_name["spirals"]["features"], by_name["spirals"]["classes"]) == (2, 3)
    assert by_name["spirals"]["options"]["noise"] == 0.2
    assert (by_name["sine"]["task"], by_name["sine"]["targets"], by_name["sine"]["classes"]) == (
        "regression", 1, None)
    assert by_name["csv"]["kind"] == "tabular" and by_name["csv"]["options"]["path"] is None
    assert by_name["csv"]["status"] == "your file"


def test_datasets_table(tmp_path, tiny_files, monkeypatch):
    monkeypatch.setenv("DLCC_DATA_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("COLUMNS", "160")
    (tmp_path / "cache" / "mnist").mkdir(parents=True)
    (tmp_path / "cache" / "mnist" / "train-images-idx3-ubyte.gz").write_bytes(b"")
    result = invoke("datasets")
    assert result.exit_code == 0, result.output
    lines = {line.split()[0]: line for line in result.stdout.splitlines() if line.strip()}
    for name in DATASETS:
        assert name in lines
    assert "784" in lines["mnist"] and "10 classes" in lines["mnist"] and "incomplete" in lines["mnist"]
    assert "missing" in lines["fashion-mnist"]
    assert "generated" in lines["spirals"] and "3 classes" in lines["spirals"]
    assert "1 target value" in lines["linear"] and "your file" in lines["csv"]
    assert str(tmp_path / "cache") in result.stdout and "dlcc data download NAME" in result.stdout


def test_stratify_through_the_config(tmp_path):
    config = {**SPIRALS, "data": {**SPIRALS["data"], "subset": 30, "stratify": True}}
    result = train_json(config, tmp_path)
    assert result.exit_code == 0, result.output
    regression = {
        "data": {"dataset": "linear", "subset": 30, "stratify": True},
        "model": {"layers": [{"units": 1, "activation": "linear"}]},
        "loss": "mse",
        "training": {"epochs": 1},
    }
    result = train_json(regression, tmp_path)
    assert result.exit_code == 2 and "data.stratify" in result.stderr
