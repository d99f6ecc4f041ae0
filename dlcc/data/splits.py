"""From one loaded dataset to train / validation / test splits, one-hot targets and normalization.

The rules, in order (SPEC.md, "Config" data keys):
1. shuffle once with the run's rng (synthetic and user data; MNIST keeps its official order);
2. test: the dataset's official test split if it has one, else the first `data.test` examples;
3. validation: the LAST `data.validation` examples of what is left
   (on MNIST, `validation: 10000` is Nielsen's 50k/10k split);
4. train: the rest; `data.subset` keeps its FIRST N examples, or with `data.stratify` the first
   examples of each class, as many as keep the class's share of the train split (stratified_first);
5. normalize with statistics of the final train split only;
6. regression targets: standardized with the train split's mean and std (standardize_targets).

A size is a fraction f in [0, 1) of the examples it is carved from (round(f * n), at least 1 when
f > 0) or a count n >= 0. Size 0 means no such split (None).
"""

from dataclasses import dataclass

import numpy as np

from dlcc.data.pixels import Pixels
from dlcc.errors import DataError


@dataclass(frozen=True)
class Split:
    """x: (n, d) features; y: (n, k) targets (one-hot rows for classification).

    pixels: for image data, the train split's pixels as bytes with the recipe that decodes them
    to x (dlcc.data.pixels), else None.
    """

    x: np.ndarray
    y: np.ndarray
    pixels: Pixels | None = None


@dataclass(frozen=True)
class Splits:
    """The three splits and what the trainer needs to know about them.

    x_normalized = (x - norm_shift) / norm_scale, with norm_shift and norm_scale (d,) computed
    from the train split; both None when `normalize` is none. Regression targets likewise:
    y = (t - target_shift) / target_scale (k,), both None when targets keep their units.
    class_names: one name per class (classification); feature_names, target_name: the columns of
    a CSV table with a header, else None. auto_labels: where the labels came from, when task auto
    read whole numbers as classes (build.prepare then checks the output layer agrees).
    """

    train: Split
    val: Split | None
    test: Split | None
    task: str
    classes: int | None
    norm_shift: np.ndarray | None
    norm_scale: np.ndarray | None
    target_shift: np.ndarray | None = None
    target_scale: np.ndarray | None = None
    class_names: tuple[str, ...] | None = None
    feature_names: tuple[str, ...] | None = None
    target_name: str | None = None
    auto_labels: str | None = None

    def target_units(self, y: np.ndarray) -> np.ndarray:
        """Targets or predictions as the network sees them -> the target's own units (float64):
        t = y * target_scale + target_shift."""
        y = np.asarray(y, dtype=np.float64)
        return y if self.target_shift is None else y * self.target_scale + self.target_shift


@dataclass(frozen=True)
class Loaded:
    """What a dataset's loader returns, before splitting.

    x: (n, d) features. t: (n,) integer labels 0..classes-1 (classification) or (n, k) float
    targets (regression). x_test / t_test: an official test split, used instead of carving
    `data.test` out of x. shuffle: False keeps the examples in their published order (MNIST).
    x_bytes: (n, d) the integer pixels x was made of, x = x_bytes / 255 (images), else None.
    class_names (default "0", "1", ...), feature_names, target_name, auto_labels: as in Splits.
    """

    x: np.ndarray
    t: np.ndarray
    task: str
    classes: int | None
    x_test: np.ndarray | None = None
    t_test: np.ndarray | None = None
    x_bytes: np.ndarray | None = None
    shuffle: bool = True
    class_names: tuple[str, ...] | None = None
    feature_names: tuple[str, ...] | None = None
    target_name: str | None = None
    auto_labels: str | None = None


def split_and_normalize(
    data: Loaded,
    validation: float | int,
    test: float | int,
    subset: int | None,
    normalize: str,
    rng: np.random.Generator,
    stratify: bool = False,
    standardize_targets: bool = False,
) -> Splits:
    """Apply the rules in the module docstring to `data` (sizes as in the config's data keys)."""
    x, t = data.x, data.t
    # The train split's rows of the pixels follow every selection made on x (images only).
    pixels = None if data.x_bytes is None else Pixels(data.x_bytes)
    if data.shuffle:
        order = rng.permutation(len(x))
        x, t, pixels = x[order], t[order], _rows(pixels, order)

    if data.x_test is not None:
        test_part = (data.x_test, data.t_test)
    else:
        n_test = split_size(test, len(x), "data.test", "examples")
        test_part = (x[:n_test], t[:n_test]) if n_test else None
        x, t, pixels = x[n_test:], t[n_test:], _rows(pixels, slice(n_test, None))

    n_val = split_size(validation, len(x), "data.validation", "training examples")
    val_part = (x[len(x) - n_val :], t[len(t) - n_val :]) if n_val else None
    x, t, pixels = x[: len(x) - n_val], t[: len(t) - n_val], _rows(pixels, slice(len(x) - n_val))

    if subset is not None:
        if subset > len(x):
            raise DataError(
                f"data.subset = {subset}, but only {len(x)} training examples remain after "
                f"validation and test are held out; allowed: 1..{len(x)} or null"
            )
        keep = stratified_first(t, subset, data.classes) if stratify else slice(subset)
        x, t, pixels = x[keep], t[keep], _rows(pixels, keep)

    shift, scale = normalization(x, normalize)
    standardize = standardize_targets and data.classes is None
    t_shift, t_scale = normalization(t, "standard") if standardize else (None, None)

    def make(part, pixels=None) -> Split | None:
        if part is None:
            return None
        features, targets = part
        if shift is not None:
            features = (features - shift) / scale
        if t_shift is not None:
            targets = (targets - t_shift) / t_scale
        return Split(x=features, y=as_targets(targets, data.classes, features.dtype), pixels=pixels)

    names = data.class_names
    if data.classes is not None and names is None:
        names = tuple(str(k) for k in range(data.classes))
    if pixels is not None and x.dtype == np.float32:  # the decoding recipe is float32's
        pixels = pixels.normalized(shift, scale)
    else:
        pixels = None
    return Splits(
        train=make((x, t), pixels),
        val=make(val_part),
        test=make(test_part),
        task=data.task,
        classes=data.classes,
        norm_shift=shift,
        norm_scale=scale,
        target_shift=t_shift,
        target_scale=t_scale,
        class_names=names,
        feature_names=data.feature_names,
        target_name=data.target_name,
        auto_labels=data.auto_labels,
    )


def _rows(pixels: Pixels | None, selection) -> Pixels | None:
    return None if pixels is None else pixels.rows(selection)


def stratified_first(labels: np.ndarray, n: int, classes: int | None) -> np.ndarray:
    """Indices (in order) of n examples: the first n_k of each class k, where n_k is class k's
    share of n by the largest-remainder method:

        q_k = n * count_k / total;   n_k = floor(q_k), plus 1 for the n - sum(floor(q)) classes
        with the largest fractional parts (ties: the lower class index).
    Integer arithmetic, so the choice is exact and deterministic.
    """
    if classes is None:
        raise DataError(
            "data.stratify = true needs class labels, but this dataset has regression targets; "
            "set data.stratify: false"
        )
    counts = np.bincount(labels, minlength=classes)
    share, remainder = np.divmod(n * counts, counts.sum())
    largest_first = np.argsort(-remainder, kind="stable")
    share[largest_first[: n - share.sum()]] += 1
    rank = np.empty(len(labels), dtype=np.intp)  # position of each example within its class
    for k in range(classes):
        members = labels == k
        rank[members] = np.arange(counts[k])
    return np.flatnonzero(rank < share[labels])


def split_size(size: float | int, n: int, key: str, what: str) -> int:
    """Number of examples for a split: round(f * n) (at least 1) for a fraction, else the count.

    Leaves at least one example for training.
    """
    if isinstance(size, float):
        count = max(1, round(size * n)) if size > 0 else 0
    else:
        count = size
    if count >= n:
        raise DataError(
            f"{key} = {size} holds out {count} of the {n} {what}, leaving none to train on; "
            f"allowed: a fraction in [0, 1) or a count below {n}"
        )
    return count


def normalization(x: np.ndarray, normalize: str) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Per-feature shift and scale (d,) from the train features x, in x's dtype.

    minmax:   shift = min(x), scale = max(x) - min(x)   -> train features in [0, 1]
    standard: shift = mean(x), scale = std(x)           -> train features with mean 0, std 1
    A constant feature (max == min) gets scale 1, so it maps to 0 instead of dividing by zero.
    Statistics are accumulated in float64. Values beyond 1e150 would overflow x**2 (or a sum, or
    max - min) even there, so those features use m = max|x|: mean(x) = m mean(x / m), std(x) =
    m std(x / m), max - min = m (max / m - min / m).
    """
    if normalize == "none":
        return None, None
    low, high = x.min(axis=0).astype(np.float64), x.max(axis=0).astype(np.float64)
    m = np.maximum(np.abs(low), np.abs(high))
    m[~(m > 1e150) | ~np.isfinite(m)] = 1.0  # ordinary values keep the plain formulas
    if normalize == "minmax":
        shift, scale = low, (high / m - low / m) * m
    else:  # "standard": the config schema allows no other value
        scaled = x if np.all(m == 1) else x / m.astype(x.dtype)
        shift = scaled.mean(axis=0, dtype=np.float64) * m
        scale = scaled.std(axis=0, dtype=np.float64) * m
    scale[low == high] = 1.0
    return shift.astype(x.dtype), scale.astype(x.dtype)


def as_targets(t: np.ndarray, classes: int | None, dtype) -> np.ndarray:
    """(n, k) float targets: one-hot rows y[i, t[i]] = 1 for labels, the values for regression."""
    if classes is None:
        return t.astype(dtype, copy=False)
    y = np.zeros((len(t), classes), dtype=dtype)
    y[np.arange(len(t)), t] = 1
    return y
