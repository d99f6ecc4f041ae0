"""Synthetic datasets: shapes, labels, determinism, the generating formulas, option validation."""


import numpy as np
import pydantic
import pytest

from dlcc.data import DATASETS, load, validate_options
from dlcc.data import synthetic
from tests.conftest import data_config

SYNTHETIC = [name for name, info in DATASETS.items() if info.kind == "synthetic"]


def data_cfg(dataset, options=None, validation=0.1, test=0.2, subset=None, normalize="none"):
    return data_config(dataset, options, validation=validation, test=test, subset=subset, normalize=normalize)


def test_registry_lists_every_synthetic_dataset():
    assert set(SYNTHETIC) == {"spirals", "xor", "circles", "moons", "blobs", "linear", "sine"}


@pytest.mark.parametrize("name", SYNTHETIC)
def test_shapes_dtypes_and_targets(name):
    splits = load(data_cfg(name), np.random.default_rng(0))
    info = DATASETS[name]
    assert splits.task == info.task
    for split in (splits.train, splits.val, splits.test):
        assert split.x.dtype == np.float64 and split.y.dtype == np.float64
        assert split.x.ndim == 2 and split.y.ndim == 2 and len(split.x) == len(split.y)
        assert split.x.shape[1] == splits.train.x.shape[1]
        if splits.task == "classification":
            assert split.y.shape[1] == splits.classes
            assert set(np.unique(split.y)) <= {0.0, 1.0}
            np.testing.assert_array_equal(split.y.sum(axis=1), 1.0)
        else:
            assert splits.classes is None and split.y.shape[1] == 1
    if splits.task == "classification":
        # every class shows up in training
        assert (splits.train.y.sum(axis=0) > 0).all()


@pytest.mark.parametrize("name", SYNTHETIC)
def test_same_seed_same_arrays_other_seed_other_arrays(name):
    a = load(data_cfg(name), np.random.default_rng(7))
    b = load(data_cfg(name), np.random.default_rng(7))
    c = load(data_cfg(name), np.random.default_rng(8))
    for split in ("train", "val", "test"):
        np.testing.assert_array_equal(getattr(a, split).x, getattr(b, split).x)
        np.testing.assert_array_equal(getattr(a, split).y, getattr(b, split).y)
    assert not np.array_equal(a.train.x, c.train.x)


def cs231n_spirals(N, K):
    """The CS231n course notes' code with the noise term removed (it draws from np.random)."""
    X = np.zeros((N * K, 2))
    y = np.zeros(N * K, dtype="uint8")
    for j in range(K):
        ix = range(N * j, N * (j + 1))
        r = np.linspace(0.0, 1, N)
        t = np.linspace(j * 4, (j + 1) * 4, N)
        X[ix] = np.c_[r * np.sin(t), r * np.cos(t)]
        y[ix] = j
    return X, y


def test_spirals_is_cs231n_without_noise():
    options = validate_options("spirals", {"noise": 0.0, "points_per_class": 100, "classes": 3})
    got = synthetic.spirals(options, np.random.default_rng(0))
    X, y = cs231n_spirals(100, 3)
    np.testing.assert_array_equal(got.x, X)
    np.testing.assert_array_equal(got.t, y)


def test_spirals_turns_scale_the_angle():
    options = validate_options("spirals", {"noise": 0.0, "turns": 2.0, "classes": 2})
    got = synthetic.spirals(options, np.random.default_rng(0))
    n = options.points_per_class
    r = np.linspace(0, 1, n)
    t = np.linspace(4, 8, n) * 2.0
    np.testing.assert_allclose(got.x[n:], np.c_[r * np.sin(t), r * np.cos(t)])


def test_noise_free_formulas():
    rng = np.random.default_rng(0)
    xor = synthetic.xor(validate_options("xor", {"noise": 0.0}), rng)
    np.testing.assert_array_equal(xor.t, xor.x[:, 0].astype(int) ^ xor.x[:, 1].astype(int))

    circles = synthetic.circles(validate_options("circles", {"noise": 0.0, "factor": 0.3}), rng)
    radius = np.hypot(circles.x[:, 0], circles.x[:, 1])
    np.testing.assert_allclose(radius, np.where(circles.t == 0, 1.0, 0.3))

    moons = synthetic.moons(validate_options("moons", {"noise": 0.0}), rng)
    upper, lower = moons.x[moons.t == 0], moons.x[moons.t == 1]
    np.testing.assert_allclose(np.hypot(*upper.T), 1.0)
    np.testing.assert_allclose(np.hypot(lower[:, 0] - 1, lower[:, 1] - 0.5), 1.0)

    linear = synthetic.linear(validate_options("linear", {"noise": 0.0, "w": -3.0, "b": 0.5}), rng)
    np.testing.assert_allclose(linear.t, -3.0 * linear.x + 0.5)

    sine = synthetic.sine(validate_options("sine", {"noise": 0.0}), rng)
    np.testing.assert_allclose(sine.t, np.sin(sine.x))


def test_blobs_sizes_and_spread():
    options = {"points": 3000, "classes": 4, "features": 5, "spread": 0.5}
    options = validate_options("blobs", options)
    got = synthetic.blobs(options, np.random.default_rng(0))
    assert got.x.shape == (3000, 5) and got.classes == 4
    assert np.bincount(got.t).tolist() == [750] * 4
    for k in range(4):
        assert np.allclose(got.x[got.t == k].std(axis=0), 0.5, atol=0.06)


@pytest.mark.parametrize("name", SYNTHETIC)
def test_defaults_fill_in_when_options_are_omitted(name):
    model = DATASETS[name].options_model
    assert validate_options(name, None) == model()
    assert validate_options(name, {}) == model()


@pytest.mark.parametrize(
    "name, options",
    [
        ("spirals", {"noise": -0.1}),
        ("spirals", {"classes": 1}),
        ("spirals", {"turns": 0}),
        ("spirals", {"points_per_class": 2.5}),
        ("spirals", {"colour": "red"}),
        ("xor", {"points": "200"}),
        ("xor", {"points": True}),
        ("circles", {"factor": 1.0}),
        ("moons", {"noise": float("nan")}),
        ("blobs", {"features": 0}),
        ("blobs", {"spread": 0}),
        ("linear", {"w": float("inf")}),
        ("sine", {"points": 3}),
        ("mnist", {"anything": 1}),
    ],
)
def test_bad_options_are_validation_errors(name, options):
    with pytest.raises(pydantic.ValidationError):
        validate_options(name, options)


def test_options_are_frozen_and_ints_pass_as_floats():
    options = validate_options("spirals", {"noise": 1})
    assert options.noise == 1.0
    with pytest.raises(pydantic.ValidationError):
        options.noise = 0.5


def test_unknown_dataset_lists_the_valid_names():
    with pytest.raises(ValueError, match="spirals") as error:
        validate_options("spiral", {})
    assert "'spiral'" in str(error.value) and "mnist" in str(error.value)
