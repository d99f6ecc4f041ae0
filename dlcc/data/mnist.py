"""MNIST and Fashion-MNIST: find the four IDX files, verify them, parse them, cache them.

Each dataset lives in cache_dir()/<name>/ as train-images-idx3-ubyte, train-labels-idx1-ubyte,
t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte, each gzip-compressed (.gz) or not.
Every file is checked against a pinned SHA-256 before its contents are used (published.py). After
the first verified load the arrays are kept as .npy files next to the sources (see cache.py).
Files missing when training needs them are downloaded from the mirrors (download.py), unless
$DLCC_OFFLINE is set; `dlcc data import` installs local copies (install.py).

Images become rows of 784 pixels scaled to [0, 1] (float32): x = pixel / 255 (dlcc.data.pixels);
the training images' bytes are kept beside x for the trainer's shuffle.
"""

from pathlib import Path

import numpy as np

from dlcc.data.cache import cache_dir, read_cache, write_cache
from dlcc.data.download import fetch_missing
from dlcc.data.lock import reading
from dlcc.data.options import NoOptions
from dlcc.data.pixels import to_float32
from dlcc.data.published import FILES, find_all, read_verified
from dlcc.data.splits import Loaded
from dlcc.errors import DataError


IMAGE_SHAPE = (28, 28)  # both datasets: 28x28 grey images, 10 classes
CLASSES = 10
# The labels' meaning, in label order: the digits, and Zalando's ten item names (their README).
CLASS_NAMES = {
    "mnist": tuple("0123456789"),
    "fashion-mnist": ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                      "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
}


def mnist(options: NoOptions, rng: np.random.Generator) -> Loaded:
    """MNIST handwritten digits: 60,000 training and 10,000 test images, 10 classes."""
    return load_images("mnist")


def fashion_mnist(options: NoOptions, rng: np.random.Generator) -> Loaded:
    """Zalando's Fashion-MNIST: 28x28 clothing images, same layout as MNIST, 10 classes."""
    return load_images("fashion-mnist")


# Loaded datasets, kept for the life of the process: a sweep worker trains run after run on the
# same images, and verifying and parsing 60,000 of them again for each run would cost more than
# a short run itself. Keyed by the source files' names, sizes and times, so a replaced file is
# read (and verified) afresh; the arrays are read-only, so no run can change them for the next.
_LOADED: dict[tuple, Loaded] = {}


def load_images(dataset: str) -> Loaded:
    """Official train and test splits in their published order (no shuffle), x = pixel / 255."""
    # The folder's shared lock while the files are found and read: an import waits (data.lock).
    with reading(cache_dir() / dataset):
        key = _sources_key(dataset)
        if key is not None and key in _LOADED:
            return _LOADED[key]
        loaded = _load_images(dataset)
    for array in (loaded.x, loaded.x_bytes, loaded.t, loaded.x_test, loaded.t_test):
        array.flags.writeable = False
    if key is not None:
        _LOADED.clear()  # one dataset at a time: MNIST's arrays are 200 MB
        _LOADED[key] = loaded
    return loaded


def _sources_key(dataset: str) -> tuple | None:
    """(dataset, (path, size, mtime) of each source file), or None when a file is missing."""
    paths = find_all(cache_dir() / dataset, FILES[dataset])
    if any(path is None for path in paths.values()):
        return None
    stats = [(str(path), path.stat().st_size, path.stat().st_mtime_ns) for path in paths.values()]
    return (dataset, *stats)


def rows(images: np.ndarray) -> np.ndarray:
    """(n, rows, cols) images -> (n, rows * cols): one row of pixels per image (a view)."""
    return images.reshape(len(images), -1)


def _load_images(dataset: str) -> Loaded:
    arrays = read_arrays(dataset)
    train_bytes = rows(arrays["train-images-idx3-ubyte"])
    return Loaded(
        x=to_float32(train_bytes),
        x_bytes=train_bytes,  # the trainer shuffles these (dlcc.data.pixels)
        t=arrays["train-labels-idx1-ubyte"].astype(np.intp),
        x_test=to_float32(rows(arrays["t10k-images-idx3-ubyte"])),
        t_test=arrays["t10k-labels-idx1-ubyte"].astype(np.intp),
        task="classification",
        classes=CLASSES,
        class_names=CLASS_NAMES[dataset],
        shuffle=False,
    )


def read_arrays(dataset: str) -> dict[str, np.ndarray]:
    """The four arrays by file name: from the .npy cache when fresh, else from verified files."""
    folder = cache_dir() / dataset
    published = FILES[dataset]
    with reading(folder):  # no import replaces a file between finding and reading it
        paths = find_all(folder, published)
        missing = [name for name, path in paths.items() if path is None]
        if missing:
            paths = fetch_missing(dataset, missing)
        sources = {name: (paths[name], digest) for name, digest in published.sha256.items()}
        arrays = read_cache(folder, sources)
        if arrays is not None and not _as_published(arrays):
            arrays = None  # a cache another tool or version wrote: rebuilt from the verified files
        if arrays is None:
            arrays = {name: read_verified(paths[name], published) for name in published.sha256}
            check_shapes(arrays, folder)
            write_cache(folder, arrays, sources)
    return arrays


def _as_published(arrays: dict[str, np.ndarray]) -> bool:
    """The cached arrays are what the IDX files hold: uint8 images (n, rows, cols), labels (n,)
    in 0..9 (a cache written by another tool or version may hold anything)."""
    try:
        check_shapes(arrays, Path())
    except (DataError, KeyError):
        return False
    labels = [arrays[f"{split}-labels-idx1-ubyte"] for split in ("train", "t10k")]
    return (all(array.dtype == np.uint8 for array in arrays.values())
            and all(len(t) == 0 or t.max() < CLASSES for t in labels))


def check_shapes(arrays: dict[str, np.ndarray], folder: Path) -> None:
    """Images are (n, rows, cols) and labels (n,), with the same n in each split."""
    for split in ("train", "t10k"):
        images, labels = arrays[f"{split}-images-idx3-ubyte"], arrays[f"{split}-labels-idx1-ubyte"]
        if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
            raise DataError(
                f"{folder}: {split} images have shape {images.shape} and labels {labels.shape}; "
                f"expected (n, rows, cols) images and (n,) labels"
            )

