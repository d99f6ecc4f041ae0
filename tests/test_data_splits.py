"""Carving train / validation / test, subsets, and normalization from training statistics only."""

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dlcc.data.splits import Loaded, normalization, split_and_normalize
from dlcc.errors import DataError


def numbered(n: int, shuffle: bool = True, classes: int = 3) -> Loaded:
    """n examples whose first feature is their index, so splits can be traced back."""
    x = np.c_[np.arange(n, dtype=np.float64), np.linspace(5, 9, n) ** 2]
    t = np.arange(n) % classes
    return Loaded(x=x, t=t, task="classification", classes=classes, shuffle=shuffle)


def ids(split) -> list[int]:
    return split.x[:, 0].astype(int).tolist()


def test_sizes_add_up_and_splits_do_not_overlap():
    s = split_and_normalize(numbered(1000), 0.1, 0.2, None, "none", np.random.default_rng(0))
    assert (len(s.train.x), len(s.val.x), len(s.test.x)) == (720, 80, 200)
    parts = ids(s.train) + ids(s.val) + ids(s.test)
    assert sorted(parts) == list(range(1000))


def test_counts_and_zero_sizes():
    s = split_and_normalize(numbered(100), 30, 0, None, "none", np.random.default_rng(0))
    assert len(s.val.x) == 30 and s.test is None and len(s.train.x) == 70
    s = split_and_normalize(numbered(100), 0, 0.0, None, "none", np.random.default_rng(0))
    assert s.val is None and s.test is None and len(s.train.x) == 100


def test_shuffled_once_then_carved_in_order():
    """Test first, validation from the end of what is left, the rest is train."""
    rng = np.random.default_rng(3)
    order = np.random.default_rng(3).permutation(50)
    s = split_and_normalize(numbered(50), 10, 5, None, "none", rng)
    assert ids(s.test) == order[:5].tolist()
    assert ids(s.val) == order[-10:].tolist()
    assert ids(s.train) == order[5:-10].tolist()


def test_official_order_validation_from_the_end_subset_from_the_start():
    """MNIST's rule: validation 10 of 60 -> the last 10; subset keeps the first N of the rest."""
    data = numbered(60, shuffle=False)
    data = dataclasses.replace(data, x_test=data.x[:7], t_test=data.t[:7])
    s = split_and_normalize(data, 10, 0.5, 20, "none", np.random.default_rng(0))
    assert ids(s.val) == list(range(50, 60))
    assert ids(s.train) == list(range(20))
    assert len(s.test.x) == 7  # the official test split; data.test is not used


def test_subset_keeps_the_first_n_of_train():
    full = split_and_normalize(numbered(300), 0.1, 0.2, None, "none", np.random.default_rng(5))
    small = split_and_normalize(numbered(300), 0.1, 0.2, 50, "none", np.random.default_rng(5))
    assert ids(small.train) == ids(full.train)[:50]
    assert ids(small.val) == ids(full.val) and ids(small.test) == ids(full.test)


@pytest.mark.parametrize(
    "validation, test, subset, key",
    [
        (100, 0, None, "data.validation"),
        (0, 0.999, None, "data.test"),
        (0.5, 99, None, "data.validation"),
        (10, 10, 81, "data.subset"),
    ],
)
def test_impossible_sizes_name_the_key(validation, test, subset, key):
    with pytest.raises(DataError, match=key):
        rng = np.random.default_rng(0)
        split_and_normalize(numbered(100), validation, test, subset, "none", rng)


def test_a_small_positive_fraction_holds_out_at_least_one():
    s = split_and_normalize(numbered(20), 0.01, 0.01, None, "none", np.random.default_rng(0))
    assert len(s.val.x) == 1 and len(s.test.x) == 1


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(3, 400),
    validation=st.one_of(st.floats(0, 0.45), st.integers(0, 100)),
    test=st.one_of(st.floats(0, 0.45), st.integers(0, 100)),
    seed=st.integers(0, 2**32 - 1),
)
def test_splits_partition_the_examples(n, validation, test, seed):
    try:
        rng = np.random.default_rng(seed)
        s = split_and_normalize(numbered(n), validation, test, None, "none", rng)
    except DataError:
        return  # asked for more than there is
    parts = [ids(split) for split in (s.train, s.val, s.test) if split is not None]
    assert sorted(sum(parts, [])) == list(range(n))
    assert len(s.train.x) >= 1


def test_standard_uses_training_statistics_only():
    raw = split_and_normalize(numbered(500), 0.2, 0.2, None, "none", np.random.default_rng(1))
    s = split_and_normalize(numbered(500), 0.2, 0.2, None, "standard", np.random.default_rng(1))
    np.testing.assert_allclose(s.norm_shift, raw.train.x.mean(axis=0))
    np.testing.assert_allclose(s.norm_scale, raw.train.x.std(axis=0))
    np.testing.assert_allclose(s.train.x.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(s.train.x.std(axis=0), 1)
    for split, original in ((s.val, raw.val), (s.test, raw.test)):
        np.testing.assert_allclose(split.x, (original.x - s.norm_shift) / s.norm_scale)
        assert np.abs(split.x.mean(axis=0)).min() > 1e-6  # not re-centred on its own mean


def test_minmax_maps_train_to_unit_interval():
    s = split_and_normalize(numbered(500), 0.2, 0.2, None, "minmax", np.random.default_rng(1))
    np.testing.assert_allclose(s.train.x.min(axis=0), 0)
    np.testing.assert_allclose(s.train.x.max(axis=0), 1)
    assert s.norm_shift.shape == s.norm_scale.shape == (2,)


def test_constant_features_get_scale_one():
    x = np.c_[np.full(10, 0.1), np.arange(10.0)].astype(np.float32)
    for normalize in ("minmax", "standard"):
        shift, scale = normalization(x, normalize)
        assert scale[0] == 1 and shift.dtype == np.float32
        assert np.all(np.isfinite((x - shift) / scale))
    assert normalization(x, "none") == (None, None)


def test_targets_are_one_hot_in_the_feature_dtype():
    t = np.array([0, 1, 2, 2, 1, 0])
    x = np.zeros((6, 1), np.float32)
    data = Loaded(x=x, t=t, task="classification", classes=4, shuffle=False)
    s = split_and_normalize(data, 0, 0, None, "none", np.random.default_rng(0))
    assert s.train.y.dtype == np.float32 and s.train.y.shape == (6, 4)
    np.testing.assert_array_equal(s.train.y.argmax(axis=1), data.t)
    np.testing.assert_array_equal(s.train.y.sum(axis=1), 1)


# data.stratify: the subset keeps each class's share of the training split.

def labelled(labels: list[int], classes: int) -> Loaded:
    """Examples in the given label order (not shuffled); the first feature is the index."""
    n = len(labels)
    x = np.c_[np.arange(n, dtype=np.float64), np.zeros(n)]
    return Loaded(x=x, t=np.array(labels), task="classification", classes=classes, shuffle=False)


def test_stratified_subset_by_largest_remainder():
    # 10 examples: class 0 x5, class 1 x3, class 2 x2. Subset 4: quotas 2.0, 1.2, 0.8 ->
    # floors 2, 1, 0 (3 of 4), the largest remainder (class 2, 0.8) gets the last one.
    labels = [0, 1, 0, 2, 0, 1, 0, 2, 1, 0]
    s = split_and_normalize(labelled(labels, 3), 0, 0, 4, "none", np.random.default_rng(0),
                            stratify=True)
    assert ids(s.train) == [0, 1, 2, 3]  # the first two 0s, the first 1, the first 2, in order

    labels = [0] * 8 + [1] * 2  # first-N would keep only class 0
    s = split_and_normalize(labelled(labels, 2), 0, 0, 5, "none", np.random.default_rng(0),
                            stratify=True)
    assert ids(s.train) == [0, 1, 2, 3, 8]  # quotas 4.0 and 1.0
    assert s.train.y.sum(axis=0).tolist() == [4, 1]


def test_stratified_subset_ties_go_to_the_lower_class_and_absent_classes_get_none():
    labels = [2, 0, 2, 0, 2, 0]  # class 1 absent; quotas for 3 of 6: 1.5, 0, 1.5
    s = split_and_normalize(labelled(labels, 3), 0, 0, 3, "none", np.random.default_rng(0),
                            stratify=True)
    assert s.train.y.sum(axis=0).tolist() == [2, 0, 1]
    assert ids(s.train) == [0, 1, 3]


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(0, 4), min_size=2, max_size=60), st.data())
def test_stratified_subset_properties(labels, draw):
    n = draw.draw(st.integers(1, len(labels)))
    s = split_and_normalize(labelled(labels, 5), 0, 0, n, "none", np.random.default_rng(0),
                            stratify=True)
    kept = ids(s.train)
    assert len(kept) == n and kept == sorted(kept)
    counts = np.bincount(labels, minlength=5)
    got = s.train.y.sum(axis=0)
    assert np.all(np.abs(got - n * counts / len(labels)) < 1)  # each within 1 of its quota
    for k in range(5):  # the first examples of each class
        members = [i for i, label in enumerate(labels) if label == k]
        assert [i for i in kept if labels[i] == k] == members[: int(got[k])]


def test_stratify_after_the_shuffle_is_deterministic_and_needs_labels():
    a = split_and_normalize(numbered(300), 0.1, 0.2, 40, "none", np.random.default_rng(5), stratify=True)
    b = split_and_normalize(numbered(300), 0.1, 0.2, 40, "none", np.random.default_rng(5), stratify=True)
    assert ids(a.train) == ids(b.train) and len(ids(a.train)) == 40
    regression = Loaded(x=np.zeros((10, 1)), t=np.zeros((10, 1)), task="regression", classes=None)
    with pytest.raises(DataError, match="data.stratify"):
        split_and_normalize(regression, 0, 0, 5, "none", np.random.default_rng(0), stratify=True)
