"""`dlcc predict` on MNIST's own test IDX file agrees with `dlcc eval` on the test split."""

from __future__ import annotations

import numpy as np

import dlcc
from tests.conftest import mnist_dir, needs_mnist
from tests.runs_helpers import dlcc_json

SMALL_MNIST = {
    "name": "mnist-small",
    "data": {"dataset": "mnist", "validation": 1000, "subset": 2000, "normalize": "standard"},
    "model": {"layers": [{"units": 32, "activation": "relu"}, {"units": 10, "activation": "softmax"}]},
    "optimizer": {"name": "sgd", "lr": 0.05},
    "training": {"epochs": 1, "batch_size": 64},
    "diagnostics": {"gradient_norms": False},
}


@needs_mnist
def test_predict_on_the_t10k_idx_file_agrees_with_evals_accuracy(tmp_path, monkeypatch):
    monkeypatch.setenv("DLCC_DATA_DIR", str(mnist_dir()))
    run = dlcc.train(SMALL_MNIST, runs_dir=tmp_path, progress=False)
    folder = mnist_dir() / "mnist"
    images = next(folder / name for name in ("t10k-images-idx3-ubyte", "t10k-images-idx3-ubyte.gz")
                  if (folder / name).exists())
    data = dlcc_json("predict", run.path, images)
    assert data["examples"] == 10000 and data["classes"] == [str(k) for k in range(10)]
    result = dlcc_json("eval", run.path)
    _, labels = run.data("test")
    predicted = np.array(data["predictions"]).astype(int)
    assert np.mean(predicted == labels) == result["accuracy"] == run.summary.test["accuracy"]
    assert dlcc_json("eval", run.path, "--data", images)["accuracy"] == result["accuracy"]
