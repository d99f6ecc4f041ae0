"""Image data shuffled as bytes (dlcc.data.pixels): the bytes decode to the split's x bit for bit,
follow every row selection, and train exactly as the float32 features do."""

from __future__ import annotations

import numpy as np
import pytest

from dlcc import config
from dlcc.build import build_members, prepare
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
    wide = config.parse({**MNIST_RUN, "precision": "float64"})
    assert estimate(wide, 784, 1000, 10, 500, image_bytes=True) == estimate(wide, 784, 1000, 10, 500)
