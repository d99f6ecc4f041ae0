"""`dlcc predict` and `dlcc eval --data` against hostile inputs and careless outputs.

Each test is a defect found by using predict as a new user or an attacker would: exit code 2 and
one message, nothing already written lost, and predictions that mean what the run was trained on.
"""

from __future__ import annotations

import gzip
import hashlib
import os

import numpy as np
import pytest

import dlcc
from dlcc.data import published
from dlcc.data.idx import idx_bytes
from dlcc.data.published import Published
from tests.runs_helpers import dlcc as cli
from tests.runs_helpers import refused, train_run

@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    return train_run(tmp_path_factory.mktemp("hunt") / "runs")


# --------------------------------------------------------------------------- --out

def test_out_never_replaces_the_input_file(run_dir, tmp_path):
    """`--out new.csv` with INPUT new.csv replaced the examples with their predictions."""
    source = tmp_path / "new.csv"
    source.write_text("0.1,0.2\n0.3,-0.4\n")
    refused(cli("predict", run_dir, source, "--out", source), "is the input file")
    assert source.read_text() == "0.1,0.2\n0.3,-0.4\n"
    os.symlink(source, tmp_path / "alias.csv")  # the same file under another name
    refused(cli("predict", run_dir, tmp_path / "alias.csv", "--out", source), "is the input file")
    assert source.read_text() == "0.1,0.2\n0.3,-0.4\n"


@pytest.mark.parametrize("name", ["model.npz", "summary.json", "config.yaml", "metrics.csv", "eval.json"])
def test_out_never_replaces_a_file_of_a_run_folder(run_dir, tmp_path, name):
    """`--out RUN_DIR/model.npz` replaced the trained network with a CSV text: the run was lost."""
    source = tmp_path / "new.csv"
    source.write_text("0.1,0.2\n")
    target = run_dir / name
    before = target.read_bytes() if target.exists() else None
    refused(cli("predict", run_dir, source, "--out", target), f"the {name} of the run folder")
    assert (target.read_bytes() if target.exists() else None) == before
    assert cli("eval", run_dir).exit_code == 0
    fresh = run_dir / "predictions.csv"  # a new file in the run folder is fine, and so is replacing it
    for _ in range(2):
        assert cli("predict", run_dir, source, "--out", fresh).exit_code == 0
    assert fresh.read_text() == cli("predict", run_dir, source).stdout
    fresh.unlink()


def test_out_never_replaces_a_file_of_the_dataset_cache(run_dir, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    (cache / "mnist").mkdir(parents=True)
    kept = cache / "mnist" / "t10k-labels-idx1-ubyte.gz"
    kept.write_bytes(b"labels")
    monkeypatch.setenv("DLCC_DATA_DIR", str(cache))
    source = tmp_path / "new.csv"
    source.write_text("0.1,0.2\n")
    refused(cli("predict", run_dir, source, "--out", kept), "dataset cache")
    assert kept.read_bytes() == b"labels"


# --------------------------------------------------------------------------- input files

def test_a_symlink_loop_as_input_says_so(run_dir, tmp_path):
    loop = tmp_path / "loop.csv"
    loop.symlink_to(loop.name)
    refused(cli("predict", run_dir, loop), "loop.csv: is a symbolic link to nothing")


def test_an_undecodable_csv_names_the_file_once(run_dir, tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes(b"\xff\xfe1,2\n")
    error = refused(cli("predict", run_dir, path), f"{path}: cannot read it")
    assert error.count(str(path)) == 1


def test_overflow_names_the_input_file(run_dir, tmp_path):
    np.savez(tmp_path / "huge.npz", x=np.full((2, 2), 1e300))
    refused(cli("predict", run_dir, tmp_path / "huge.npz"), "huge.npz: the network's outputs overflowed")


# --------------------------------------------------------------------------- model.npz in the way

@pytest.mark.parametrize("kind, words", [("folder", "model.npz is a folder"),
                                         ("loop", "model.npz is a symbolic link to nothing")])
def test_a_model_npz_that_is_not_a_file_is_called_damaged_not_deleted(run_dir, tmp_path, kind, words):
    """A folder or a link loop named model.npz was reported as "the file was deleted or never written"."""
    import shutil

    damaged = shutil.copytree(run_dir, tmp_path / run_dir.name)
    (damaged / "model.npz").unlink()
    if kind == "folder":
        (damaged / "model.npz").mkdir()
    else:
        (damaged / "model.npz").symlink_to("model.npz")
    source = tmp_path / "new.csv"
    source.write_text("0.1,0.2\n")
    error = refused(cli("predict", damaged, source), words, "the run folder is damaged")
    assert "deleted or never written" not in error


# --------------------------------------------------------------------------- image runs

@pytest.fixture(scope="module")
def image_run(tmp_path_factory):
    """A run on a tiny MNIST stand-in: 60 training images of 4 x 3 pixels."""
    base = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(0)
    arrays = {"train-images-idx3-ubyte": rng.integers(0, 256, (60, 4, 3), dtype=np.uint8),
              "train-labels-idx1-ubyte": (np.arange(60) % 10).astype(np.uint8),
              "t10k-images-idx3-ubyte": rng.integers(0, 256, (20, 4, 3), dtype=np.uint8),
              "t10k-labels-idx1-ubyte": (np.arange(20) % 10).astype(np.uint8)}
    (base / "cache" / "mnist").mkdir(parents=True)
    for name, array in arrays.items():
        (base / "cache" / "mnist" / name).write_bytes(idx_bytes(array))
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(published.FILES, "mnist", Published(
            {name: hashlib.sha256(idx_bytes(array)).hexdigest() for name, array in arrays.items()}))
        patch.setenv("DLCC_DATA_DIR", str(base / "cache"))
        run = dlcc.train({"name": "pixels", "data": {"dataset": "mnist", "validation": 10},
                          "model": {"layers": [{"units": 8, "activation": "relu"},
                                               {"units": 10, "activation": "softmax"}]},
                          "training": {"epochs": 2, "batch_size": 16}}, runs_dir=base / "runs", progress=False)
    return run, arrays["t10k-images-idx3-ubyte"], base


def test_an_idx_file_with_no_images_is_exit_2(image_run, tmp_path):
    """An IDX header saying 0 images was a ValueError traceback (reshape of an empty array)."""
    run, _, _ = image_run
    empty = tmp_path / "t10k-images-idx3-ubyte"
    empty.write_bytes(idx_bytes(np.zeros((0, 4, 3), dtype=np.uint8)))
    refused(cli("predict", run.path, empty), "shape (0, 4, 3)", "n >= 1")
    refused(cli("eval", run.path, "--data", empty), "shape (0, 4, 3)")


def test_raw_pixels_in_an_npz_or_array_are_scaled_as_in_the_idx_file(image_run, tmp_path):
    """An IDX file's pixels were divided by 255, but the same uint8 pixels in an .npz (or an array
    given to run.predict) went into the network unscaled: silently wrong predictions."""
    run, images, _ = image_run
    (tmp_path / "t10k-images-idx3-ubyte").write_bytes(idx_bytes(images))
    np.savez(tmp_path / "raw.npz", x=images)
    from_idx = run.predict_proba(tmp_path / "t10k-images-idx3-ubyte")
    np.testing.assert_array_equal(run.predict_proba(tmp_path / "raw.npz"), from_idx)
    np.testing.assert_array_equal(run.predict_proba(images.reshape(20, -1)), from_idx)
    scaled = images.reshape(20, -1) / np.float32(255)  # as the dataset gives them: float32 in [0, 1]
    np.testing.assert_array_equal(run.predict_proba(scaled), from_idx)


def test_unscaled_float_pixels_are_refused(image_run, tmp_path):
    """Pixels 0..255 as floats (a CSV, a float .npz, an array) are not what the network was
    trained on ([0, 1]); they were accepted and gave confident nonsense."""
    run, images, _ = image_run
    np.savez(tmp_path / "float.npz", x=images.astype(np.float64))
    refused(cli("predict", run.path, tmp_path / "float.npz"), "float.npz: x: pixel values", "divide by 255")
    np.savetxt(tmp_path / "pixels.csv", images.reshape(20, -1), delimiter=",", fmt="%d")
    refused(cli("predict", run.path, tmp_path / "pixels.csv"), "pixel values", "divide by 255")
    with pytest.raises(dlcc.DataError, match="pixel values"):
        run.predict(images.reshape(20, -1).astype(np.float32))
    np.savez(tmp_path / "signed.npz", x=images.astype(np.int16) - 300)
    refused(cli("predict", run.path, tmp_path / "signed.npz"), "whole-number pixels must be 0..255")


def test_a_gzip_bomb_is_refused_before_it_fills_the_memory(image_run, tmp_path, monkeypatch):
    from dlcc.data import inputs

    run, images, _ = image_run
    monkeypatch.setattr(inputs, "MAX_IDX_BYTES", 1000)  # the real limit is 1 GiB
    bomb = tmp_path / "t10k-images-idx3-ubyte.gz"
    bomb.write_bytes(gzip.compress(idx_bytes(np.zeros((200, 4, 3), dtype=np.uint8))))
    refused(cli("predict", run.path, bomb), "unpacks to more than")
    bomb.write_bytes(gzip.compress(idx_bytes(images)))  # 256 bytes: within the limit
    assert cli("predict", run.path, bomb).exit_code == 0
