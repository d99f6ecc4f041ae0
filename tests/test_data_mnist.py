"""MNIST files: IDX parsing, SHA-256 verification, error messages, the .npy cache, import,
and the published facts about the real files (skipped when they are absent)."""

import gzip
import hashlib
import os
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from dlcc.data import cache_dir, load
from dlcc.data import mnist, published
from dlcc.data.cache import SIDECAR
from dlcc.data.idx import idx_bytes, parse_idx
from dlcc.data.install import install
from dlcc.data.published import Published
from dlcc.data.splits import split_and_normalize
from dlcc.errors import DataError
from tests.conftest import data_config

NAMES = list(published.MNIST_SHA256)


def tiny_arrays(seed: int = 0, n_train: int = 12, n_test: int = 5) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 4, 3), dtype=np.uint8),
        "train-labels-idx1-ubyte": rng.integers(0, 10, n_train, dtype=np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 4, 3), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, n_test, dtype=np.uint8),
    }


def write_set(folder: Path, arrays, gz=("train-images-idx3-ubyte",)) -> dict[str, str]:
    """Write IDX files (the names in `gz` compressed); return SHA-256 of each decompressed file."""
    folder.mkdir(parents=True, exist_ok=True)
    digests = {}
    for name, array in arrays.items():
        data = idx_bytes(array)
        for stale in (folder / name, folder / f"{name}.gz"):
            stale.unlink(missing_ok=True)
        if name in gz:
            (folder / f"{name}.gz").write_bytes(gzip.compress(data))
        else:
            (folder / name).write_bytes(data)
        digests[name] = hashlib.sha256(data).hexdigest()
    return digests


@pytest.fixture
def tiny(tmp_path, monkeypatch):
    """A tiny MNIST-like set in DLCC_DATA_DIR/mnist, its digests pinned instead of the real ones."""
    monkeypatch.setenv("DLCC_DATA_DIR", str(tmp_path / "cache"))
    folder = tmp_path / "cache" / "mnist"
    arrays = tiny_arrays()
    monkeypatch.setitem(published.FILES, "mnist", Published(write_set(folder, arrays)))
    return SimpleNamespace(folder=folder, arrays=arrays)


def test_idx_round_trip_for_every_element_type():
    for dtype in (np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64):
        array = (np.arange(24).reshape(2, 3, 4) - 5).astype(dtype)
        parsed = parse_idx(idx_bytes(array), "f")
        assert parsed.dtype == dtype and parsed.shape == (2, 3, 4)
        np.testing.assert_array_equal(parsed, array)


@pytest.mark.parametrize(
    "data, message",
    [
        (b"\x00\x00\x08", "truncated"),
        (b"\x00\x00\x08\x03\x00\x00", "truncated"),
        (b"\x00\x01\x08\x01" + (2).to_bytes(4, "big") + b"ab", "not an IDX file"),
        (b"\x00\x00\x07\x01" + (2).to_bytes(4, "big") + b"ab", "not an IDX file"),
        (b"\x00\x00\x08\x01" + (3).to_bytes(4, "big") + b"ab", "truncated"),
        (b"\x00\x00\x08\x01" + (1).to_bytes(4, "big") + b"ab", "trailing bytes"),
    ],
)
def test_bad_idx_bytes_are_data_errors_naming_the_file(data, message):
    with pytest.raises(DataError, match=message) as error:
        parse_idx(data, "some-file-idx1-ubyte")
    assert "some-file-idx1-ubyte" in str(error.value)


def test_tiny_set_loads_with_official_splits(tiny):
    loaded = mnist.load_images("mnist")
    train_images = tiny.arrays["train-images-idx3-ubyte"]
    assert loaded.x.dtype == np.float32 and loaded.x.shape == (12, 12)
    np.testing.assert_array_equal(loaded.x, train_images.reshape(12, -1) / np.float32(255))
    np.testing.assert_array_equal(loaded.t, tiny.arrays["train-labels-idx1-ubyte"])
    np.testing.assert_array_equal(loaded.t_test, tiny.arrays["t10k-labels-idx1-ubyte"])
    assert loaded.x_test.shape == (5, 12) and loaded.classes == 10 and not loaded.shuffle


def test_corrupted_file_names_file_and_both_digests(tiny):
    path = tiny.folder / "t10k-labels-idx1-ubyte"
    data = bytearray(path.read_bytes())
    data[-1] ^= 1  # same length, one label changed
    path.write_bytes(bytes(data))
    with pytest.raises(DataError) as error:
        mnist.load_images("mnist")
    message = str(error.value)
    assert str(path) in message
    assert published.FILES["mnist"].sha256["t10k-labels-idx1-ubyte"] in message
    assert hashlib.sha256(bytes(data)).hexdigest() in message


def test_truncated_files_are_named(tiny):
    path = tiny.folder / "train-labels-idx1-ubyte"
    path.write_bytes(path.read_bytes()[:-3])
    with pytest.raises(DataError, match="truncated") as error:
        mnist.load_images("mnist")
    assert str(path) in str(error.value)

    gz = tiny.folder / "train-images-idx3-ubyte.gz"
    gz.write_bytes(gz.read_bytes()[:40])
    with pytest.raises(DataError) as error:
        published.read_verified(gz, published.FILES["mnist"])
    assert str(gz) in str(error.value)


def test_missing_files_say_which_and_how_to_fix(tiny):
    (tiny.folder / "t10k-images-idx3-ubyte").unlink()
    with pytest.raises(DataError) as error:
        load_mnist()
    message = str(error.value)
    assert "t10k-images-idx3-ubyte" in message and "train-images" not in message
    assert "dlcc data import mnist PATH" in message and "DLCC_DATA_DIR" in message


def load_mnist(**overrides):
    """dlcc.data.load for dataset mnist, wherever DLCC_DATA_DIR points."""
    return load(data_config("mnist", **{"validation": 2, "test": 0.2, **overrides}), np.random.default_rng(0))


def test_npy_cache_is_used_then_invalidated_by_a_changed_file(tiny, monkeypatch):
    first = load_mnist()
    assert (tiny.folder / SIDECAR).is_file()
    assert all((tiny.folder / f"{name}.npy").is_file() for name in NAMES)

    def must_not_parse(path, pinned):
        raise AssertionError(f"{path} was parsed although the cache is fresh")

    with monkeypatch.context() as patch:
        patch.setattr(mnist, "read_verified", must_not_parse)
        second = load_mnist()
    np.testing.assert_array_equal(first.train.x, second.train.x)

    changed = tiny_arrays(seed=1)
    digests = write_set(tiny.folder, changed)
    bump_mtime(tiny.folder)
    with pytest.raises(DataError, match="SHA-256"):  # the old digests no longer match
        load_mnist()

    monkeypatch.setitem(published.FILES, "mnist", Published(digests))
    third = load_mnist(validation=0)
    np.testing.assert_array_equal(third.train.y.argmax(axis=1), changed["train-labels-idx1-ubyte"])


def bump_mtime(folder: Path) -> None:
    """Make sure a rewritten file looks changed even on coarse-clock file systems."""
    for path in folder.iterdir():
        os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))


def test_no_cache_in_a_read_only_folder(tiny):
    tiny.folder.chmod(0o555)
    try:
        load_mnist()
        assert not (tiny.folder / SIDECAR).exists()
    finally:
        tiny.folder.chmod(0o755)


def test_import_verifies_then_copies(tiny, tmp_path, monkeypatch):
    monkeypatch.setenv("DLCC_DATA_DIR", str(tmp_path / "fresh"))
    installed = install("mnist", tiny.folder)
    assert sorted(path.name for path in installed) == sorted(p.name for p in tiny.folder.iterdir())
    assert mnist.load_images("mnist").x.shape == (12, 12)

    (tiny.folder / "train-labels-idx1-ubyte").write_bytes(idx_bytes(np.zeros(12, np.uint8)))
    monkeypatch.setenv("DLCC_DATA_DIR", str(tmp_path / "other"))
    with pytest.raises(DataError, match="train-labels-idx1-ubyte"):
        install("mnist", tiny.folder)
    assert not (tmp_path / "other").exists()


def test_fashion_mnist_is_verified_by_its_decompressed_bytes_so_any_faithful_copy_loads(tmp_path, monkeypatch):
    """The publisher's .gz, a recompressed .gz (Debian's package) and the uncompressed files all pass;
    one changed byte does not."""
    monkeypatch.setenv("DLCC_DATA_DIR", str(tmp_path))
    folder = tmp_path / "fashion-mnist"
    digests = write_set(folder, tiny_arrays(), gz=NAMES)
    monkeypatch.setitem(published.FILES, "fashion-mnist", Published(digests))
    assert mnist.load_images("fashion-mnist").x.shape == (12, 12)

    for name in NAMES:  # recompressed with other settings: other .gz bytes, the same IDX bytes
        path = folder / f"{name}.gz"
        path.write_bytes(gzip.compress(gzip.decompress(path.read_bytes()), compresslevel=1, mtime=0))
    assert mnist.load_images("fashion-mnist").t_test.shape == (5,)

    write_set(folder, tiny_arrays(), gz=())  # uncompressed
    assert mnist.load_images("fashion-mnist").x_test.shape == (5, 12)

    changed = tiny_arrays()["t10k-labels-idx1-ubyte"].copy()
    changed[0] += 1
    write_set(folder, {"t10k-labels-idx1-ubyte": changed}, gz=())
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte: SHA-256 of the decompressed bytes"):
        mnist.load_images("fashion-mnist")


def test_published_fashion_mnist_digests_are_of_the_decompressed_files():
    """Issue 15's digests, measured from Debian's dataset-fashion-mnist package."""
    assert published.FILES["fashion-mnist"].sha256["train-labels-idx1-ubyte"] == (
        "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9")
    assert mnist.CLASS_NAMES["fashion-mnist"][9] == "Ankle boot" and mnist.CLASS_NAMES["mnist"][3] == "3"


def test_cache_dir_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("DLCC_DATA_DIR", str(tmp_path / "data"))
    assert cache_dir() == tmp_path / "data"
    monkeypatch.delenv("DLCC_DATA_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "dlcc"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_dir() == tmp_path / "home" / ".cache" / "dlcc"
    assert not (tmp_path / "data").exists() and not (tmp_path / "xdg").exists()


# The real files: /work/shared/datasets/README.md lists these facts.

def real_data_dir() -> Path | None:
    shared = Path(__file__).resolve().parents[2] / "shared" / "datasets"
    for base in (os.environ.get("DLCC_DATA_DIR"), shared):
        if base and all(published.find_all(Path(base) / "mnist", published.FILES["mnist"]).values()):
            return Path(base)
    return None


needs_mnist = pytest.mark.skipif(real_data_dir() is None, reason="MNIST files not found")


@pytest.fixture(scope="module")
def real():
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DLCC_DATA_DIR", str(real_data_dir()))
        yield mnist.load_images("mnist")


@needs_mnist
def test_mnist_facts(real):
    assert real.x.shape == (60000, 784) and real.x_test.shape == (10000, 784)
    assert real.x.dtype == np.float32 and 0 <= real.x.min() and real.x.max() == 1
    assert real.t[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    counts = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    assert np.bincount(real.t).tolist() == counts
    assert real.x.mean(dtype=np.float64) == pytest.approx(0.1307, abs=5e-5)
    assert real.x.std(dtype=np.float64) == pytest.approx(0.3081, abs=5e-5)


@needs_mnist
def test_nielsen_splits(real):
    s = split_and_normalize(real, 10000, 0.2, 1000, "none", np.random.default_rng(0))
    assert s.train.x.shape == (1000, 784) and s.val.x.shape == (10000, 784)
    np.testing.assert_array_equal(s.train.x, real.x[:1000])
    np.testing.assert_array_equal(s.val.x, real.x[50000:])
    np.testing.assert_array_equal(s.test.y.argmax(axis=1), real.t_test)
    np.testing.assert_array_equal(s.train.y.sum(axis=1), 1)


@needs_mnist
def test_load_mnist_through_the_registry(monkeypatch):
    monkeypatch.setenv("DLCC_DATA_DIR", str(real_data_dir()))
    s = load_mnist(validation=10000, normalize="standard")
    assert (len(s.train.x), len(s.val.x), len(s.test.x)) == (50000, 10000, 10000)
    assert s.task == "classification" and s.classes == 10 and s.train.x.dtype == np.float32
    assert abs(s.train.x.mean()) < 1e-3 and abs(s.test.x.mean()) > 1e-3
