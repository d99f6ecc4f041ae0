"""The .npy cache is verified (issue 18, case 5): a damaged cached array is never used, a failed
cache write leaves nothing behind."""

from __future__ import annotations

import errno
import json
import os

import numpy as np
import yaml
from typer.testing import CliRunner

from dlcc import atomic
from dlcc.cli import app
from dlcc.data import mnist
from dlcc.data.cache import SIDECAR
from tests.kill_helpers import visible
from tests.test_data_mnist import NAMES, tiny  # noqa: F401 - the fixture: a tiny MNIST in DLCC_DATA_DIR

runner = CliRunner()
LABELS = "train-labels-idx1-ubyte"


def fresh_process(monkeypatch):
    """Forget the arrays this process loaded, as a new `dlcc` process would."""
    monkeypatch.setattr(mnist, "_LOADED", {})


def test_a_cached_array_damaged_in_place_is_rebuilt_not_used(tiny, monkeypatch):  # noqa: F811
    first = mnist.read_arrays("mnist")
    sidecar = json.loads((tiny.folder / SIDECAR).read_text())
    assert set(sidecar["arrays"]) == set(NAMES) and all(len(a["sha256"]) == 64 for a in sidecar["arrays"].values())
    npy = tiny.folder / f"{LABELS}.npy"
    data = bytearray(npy.read_bytes())
    data[-6:] = bytes((b + 1) % 10 for b in data[-6:])  # other labels, same size, same time
    stat = npy.stat()
    npy.write_bytes(bytes(data))
    os.utime(npy, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    fresh_process(monkeypatch)
    again = mnist.read_arrays("mnist")
    np.testing.assert_array_equal(again[LABELS], tiny.arrays[LABELS])
    np.testing.assert_array_equal(again[LABELS], first[LABELS])
    assert npy.read_bytes() != bytes(data)  # rewritten from the verified source


def test_training_on_a_damaged_cache_trains_on_the_true_labels(tiny, tmp_path, monkeypatch):  # noqa: F811
    cfg = tmp_path / "m.yaml"
    cfg.write_text(yaml.safe_dump({"name": "m", "data": {"dataset": "mnist", "validation": 2},
                                   "model": {"layers": [{"units": 8}, {"units": 10, "activation": "softmax"}]},
                                   "training": {"epochs": 2, "batch_size": 4}}))
    assert runner.invoke(app, ["train", str(cfg), "--runs-dir", str(tmp_path / "a"), "--quiet"]).exit_code == 0
    npy = tiny.folder / f"{LABELS}.npy"
    data = bytearray(npy.read_bytes())
    data[-6:] = bytes(6)
    npy.write_bytes(bytes(data))
    fresh_process(monkeypatch)
    assert runner.invoke(app, ["train", str(cfg), "--runs-dir", str(tmp_path / "b"), "--quiet"]).exit_code == 0
    (a,), (b,) = visible(tmp_path / "a"), visible(tmp_path / "b")
    assert (a / "metrics.csv").read_text().split("\n")[1:][0] == (b / "metrics.csv").read_text().split("\n")[1:][0]


def test_a_cache_write_that_fails_cleans_up_after_itself(tiny, monkeypatch):  # noqa: F811
    original, calls = atomic.write_with, {"n": 0}

    def write_with(path, write):
        calls["n"] += 1
        if calls["n"] == 3:  # the disk fills up at the third of the four arrays
            def write(f):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return original(path, write)

    with monkeypatch.context() as patch:
        patch.setattr(atomic, "write_with", write_with)
        arrays = mnist.read_arrays("mnist")  # the data is still there; only the cache is not
    assert len(arrays) == 4
    assert not list(tiny.folder.glob("*.npy")) and not (tiny.folder / SIDECAR).exists()
    assert not list(tiny.folder.glob(".*.tmp"))
    mnist.read_arrays("mnist")
    assert len(list(tiny.folder.glob("*.npy"))) == 4 and (tiny.folder / SIDECAR).exists()
