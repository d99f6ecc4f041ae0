"""Image data shuffled as bytes (dlcc.data.pixels): the bytes decode to the split's x bit for bit,
follow every row selection, and train exactly as the float32 features do."""

from __future__ import annotations

import hashlib
import io
import json

import numpy as np
import pytest

from dlcc import config
from dlcc.data import mnist, published
from dlcc.data.cache import SIDECAR
from dlcc.data.idx import idx_bytes
from dlcc.data.published import Published
from dlcc.build import build_members, prepare, shuffled_pixels
from dlcc.data.pixels import Pixels, to_float32
from dlcc.data.splits import Loaded, split_and_normalize
from dlcc.training.trainer import Fit
from tests.conftest import needs_mnist


def image_data(shuffle: bool = True, dtype=np.float32) -> Loaded:
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, size=(300, 12), dtype=np.uint8)
    images[:, 0] = 7  # a constant feature: scale 1 in every normalization
    return Loaded(x=to_float32(images).astype(dtype), x_bytes=images, t=rng.integers(0, 3, 300),
                  task="classification", classes=3, shuffle=shuffle)


def decoded(pixels: Pixels) -> np.ndarray:
    return pixels.decode(pixels.bytes, out=np.empty(pixels.bytes.shape, np.float32))


def test_bytes_over_255_are_the_float32_pixels_the_loaders_made_before():
    images = np.arange(256, dtype=np.uint8).reshape(2, 128)
    before = images.astype(np.float32)
    before /= 255  # dlcc.data.mnist's arithmetic until the bytes were kept
    np.testing.assert_array_equal(to_float32(images), before)
    assert to_float32(images).dtype == np.float32


@pytest.mark.parametrize("normalize", ["none", "minmax", "standard"])
@pytest.mark.parametrize("shuffle", [True, False])
def test_the_train_splits_bytes_decode_to_its_x_through_every_selection(normalize, shuffle):
    rng = np.random.default_rng(0)
    splits = split_and_normalize(image_data(shuffle), validation=0.2, test=50, subset=120, normalize=normalize,
                                 rng=rng, stratify=True)
    pixels = splits.train.pixels
    assert pixels is not None and pixels.bytes.dtype == np.uint8 and len(pixels.bytes) == 120
    np.testing.assert_array_equal(decoded(pixels), splits.train.x)  # bit for bit
    assert splits.val.pixels is None and splits.test.pixels is None  # only training shuffles


def test_a_random_selection_of_rows_decodes_to_the_same_rows_of_x():
    splits = split_and_normalize(image_data(), 0, 0, None, "standard", np.random.default_rng(0))
    rows = np.random.default_rng(2).integers(0, len(splits.train.x), 64)
    picked = splits.train.pixels.rows(rows)
    np.testing.assert_array_equal(decoded(picked), splits.train.x[rows])


def test_no_bytes_without_images_or_outside_float32():
    plain = image_data()
    plain = Loaded(x=plain.x, t=plain.t, task=plain.task, classes=plain.classes)
    assert split_and_normalize(plain, 0, 0, None, "none", np.random.default_rng(0)).train.pixels is None
    wide = split_and_normalize(image_data(dtype=np.float64), 0, 0, None, "none", np.random.default_rng(0))
    assert wide.train.pixels is None


MNIST_RUN = {
    "name": "pixels",
    "seed": 3,
    "data": {"dataset": "mnist", "validation": 500, "subset": 1000, "normalize": "standard"},
    "model": {"layers": [{"units": 32, "activation": "relu", "dropout": 0.1}, {"units": 10, "activation": "softmax"}]},
    "loss": "cross_entropy",
    "optimizer": {"name": "sgd", "lr": 0.1, "momentum": 0.9},
    "training": {"epochs": 2, "batch_size": 96},  # 1000 = 10 x 96 + 40: a short last batch
}


def trained(raw: dict, with_pixels: bool) -> tuple[Fit, list[dict]]:
    cfg = config.parse(raw)
    splits, arrays = prepare(cfg)
    fit = Fit(cfg, build_members(cfg, arrays["train"], splits.train.pixels if with_pixels else None),
              arrays["val"], True)
    result = fit.run()
    return fit, [{k: v for k, v in row.items() if k != "seconds"} for row in result.rows]


@needs_mnist
@pytest.mark.parametrize("ensemble", [{"members": 1}, {"members": 2, "bagging": True}])
def test_training_from_the_bytes_is_bit_for_bit_training_from_x(ensemble):
    raw = {**MNIST_RUN, "ensemble": ensemble}
    fit, rows = trained(raw, with_pixels=True)
    assert fit.runners[0].shuffled.decoded is not None  # the bytes path really ran
    assert fit.runners[0].shuffled.x.dtype == np.uint8
    twin, twin_rows = trained(raw, with_pixels=False)
    assert twin.runners[0].shuffled.decoded is None
    assert rows == twin_rows
    for member, other in zip(fit.members, twin.members):
        for name, theta in member.net.params.items():
            np.testing.assert_array_equal(theta, other.net.params[name])


@needs_mnist
def test_mnist_trains_from_its_bytes_in_float32_only():
    cfg = config.parse(MNIST_RUN)
    splits, arrays = prepare(cfg)
    assert build_members(cfg, arrays["train"], splits.train.pixels)[0].pixels is not None
    cfg64 = config.parse({**MNIST_RUN, "precision": "float64"})
    splits, arrays = prepare(cfg64)
    assert build_members(cfg64, arrays["train"], splits.train.pixels)[0].pixels is None


def test_the_memory_estimate_counts_a_bytes_shuffle_buffer_for_images_in_float32():
    from dlcc.training.memory import estimate

    key = "shuffled copy of the training data"
    cfg = config.parse({**MNIST_RUN, "ensemble": {"members": 2, "bagging": True}})
    floats = estimate(cfg, 784, 1000, 10, 500)
    images = estimate(cfg, 784, 1000, 10, 500, image_bytes=True)
    assert floats[key][0] == 1000 * 794 * 4
    assert images[key][0] == 1000 * (784 + 10 * 4) + 96 * 784 * 4  # bytes, targets, one decoded batch
    assert images["bootstrap samples"][0] == floats["bootstrap samples"][0] + 2 * 1000 * 784


@pytest.mark.parametrize("change", [{"precision": "float64"}, {"training": {"epochs": 1, "batch_size": "full"}},
                                    {"training": {"epochs": 1, "batch_size": 60}},
                                    {"training": {"epochs": 1, "batch_size": 16, "shuffle": False}}])
def test_the_bytes_are_used_only_where_they_save_memory(change):
    """float64 trains on x; without a shuffle there is nothing to gather; a batch of the whole split
    would be decoded into a float32 buffer as large as x itself."""
    train, pixels = image_train(n=60)
    assert build_members(config.parse({**MNIST_RUN, "training": {"epochs": 1, "batch_size": 16}}), train,
                         pixels)[0].pixels is pixels
    cfg = config.parse({**MNIST_RUN, **change, "ensemble": {"members": 2, "bagging": True}})
    members = build_members(cfg, train, pixels)
    assert all(m.pixels is None for m in members)
    assert shuffled_pixels(cfg, train, pixels) is None
    shuffled = Fit(cfg, members, None, True).runners[0].shuffled
    assert shuffled is None or shuffled.decoded is None


def image_train(n: int = 60, d: int = 12):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (n, d), dtype=np.uint8)
    y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, n)]
    return (to_float32(images), y), Pixels(images)


@pytest.fixture
def tiny_cache(tmp_path, monkeypatch):
    """A tiny MNIST in DLCC_DATA_DIR with its digests pinned, its .npy cache written, and the
    process-wide cache of loaded sets emptied (as in a fresh process)."""
    rng = np.random.default_rng(0)
    arrays = {"train-images-idx3-ubyte": rng.integers(0, 256, (40, 4, 3), dtype=np.uint8),
              "train-labels-idx1-ubyte": np.arange(40, dtype=np.uint8) % 10,
              "t10k-images-idx3-ubyte": rng.integers(0, 256, (10, 4, 3), dtype=np.uint8),
              "t10k-labels-idx1-ubyte": np.arange(10, dtype=np.uint8)}
    folder = tmp_path / "cache" / "mnist"
    folder.mkdir(parents=True)
    for name, array in arrays.items():
        (folder / name).write_bytes(idx_bytes(array))
    monkeypatch.setitem(published.FILES, "mnist", Published(
        {name: hashlib.sha256(idx_bytes(array)).hexdigest() for name, array in arrays.items()}))
    monkeypatch.setenv("DLCC_DATA_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(mnist, "_LOADED", {})
    mnist.read_arrays("mnist")  # writes the .npy cache
    assert (folder / SIDECAR).is_file()
    return folder


def rewrite_cached_train_images(folder, dtype) -> None:
    """Replace the cached training images by the same values in another dtype, sidecar updated
    (a cache written by another tool or version: consistent, just not uint8)."""
    key = "train-images-idx3-ubyte"
    sidecar = json.loads((folder / SIDECAR).read_text())
    buf = io.BytesIO()
    np.save(buf, np.load(folder / f"{key}.npy").astype(dtype))
    data = buf.getvalue()
    (folder / f"{key}.npy").write_bytes(data)
    sidecar["arrays"][key] = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
    (folder / SIDECAR).write_text(json.dumps(sidecar))


@pytest.mark.parametrize("dtype", ["float64", "<U3"])
def test_a_cached_image_array_of_another_dtype_is_not_shuffled_as_bytes_nor_a_traceback(tiny_cache, dtype):
    """A cache that does not hold what the IDX files hold (another dtype: float64 would make the
    byte shuffle buffer twice the float32 one; strings were a traceback) is rebuilt from the
    verified files, as a stale one is."""
    rewrite_cached_train_images(tiny_cache, dtype)
    loaded = mnist.load_images("mnist")  # the cache is rebuilt from the verified files
    assert loaded.x_bytes.dtype == np.uint8 and loaded.x.dtype == np.float32
    assert np.load(tiny_cache / "train-images-idx3-ubyte.npy").dtype == np.uint8


def test_the_loaded_image_bytes_are_read_only_like_the_other_kept_arrays(tiny_cache):
    """mnist._LOADED keeps a loaded set for the process (a sweep worker's next runs): no run may
    change its arrays for the next, the bytes included."""
    loaded = mnist.load_images("mnist")
    assert not loaded.x.flags.writeable
    assert not loaded.x_bytes.flags.writeable
