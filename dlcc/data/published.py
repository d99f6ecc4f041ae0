"""The published MNIST-like files: their names, pinned SHA-256 digests, mirrors, and verification.

Both mnist.py (loading) and download.py (fetching) rely on these facts, and install.py (importing
local copies) too; keeping them here lets the imports point one way: mnist -> download -> published.

A dataset is four files, each found as <name> or <name>.gz in a folder. A copy is trusted only once
the SHA-256 of its decompressed IDX bytes matches the pinned one (SPEC.md, "Datasets"):

    sha256(gunzip(file) if file ends in .gz else file) == sha256[name]

So any faithful copy passes: the publisher's .gz, a recompressed .gz (Debian's packages, a
torchvision raw/ folder) or the uncompressed files; a single changed byte fails.
"""

import gzip
import hashlib
import io
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dlcc.atomic import read_bounded
from dlcc.data.idx import parse_idx
from dlcc.errors import DataError

# No published file is larger than this, compressed or not (MNIST's training images: 47,040,016
# bytes), so a file that is, or a .gz that unpacks to more (a gzip bomb: 3 MB -> 3 GB), cannot
# verify and is refused before it fills the memory.
MAX_FILE_BYTES = 64 << 20


@dataclass(frozen=True)
class Published:
    """The four files of an MNIST-like dataset and the SHA-256 of each one's decompressed bytes."""

    sha256: dict[str, str]


# /work/shared/datasets/README.md: SHA-256 of the decompressed files. Those bytes are the public
# mirrors' files (whose .gz MD5s are f68b3c2d..., d53e105e..., 9fb629c4..., ec29112d...).
MNIST_SHA256 = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}

# Zalando publishes MD5s of the .gz files only (8d4fb7e6..., 25c81989..., bef4ecab...,
# bb300cfd...; github.com/zalandoresearch/fashion-mnist). These are SHA-256s of the decompressed
# bytes, measured from Debian's dataset-fashion-mnist package (which recompressed the files) and
# equal to those of the publisher's .gz files decompressed, so every faithful copy verifies.
FASHION_MNIST_SHA256 = {
    "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
}

FILES = {
    "mnist": Published(MNIST_SHA256),
    "fashion-mnist": Published(FASHION_MNIST_SHA256),
}

# Where `dlcc data download` looks, in order: each URL is a folder holding <file>.gz.
# Every mirror serves the same published bytes; whatever comes back is verified all the same.
MIRRORS = {
    "mnist": (
        "https://ossci-datasets.s3.amazonaws.com/mnist/",  # PyTorch's copy
        "https://storage.googleapis.com/cvdf-datasets/mnist/",  # TensorFlow's copy
        "http://yann.lecun.com/exdb/mnist/",  # the original; often refuses downloads nowadays
    ),
    "fashion-mnist": ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
}


def find_all(folder: Path, published: Published) -> dict[str, Path | None]:
    """Each file as folder/name or folder/name.gz (the uncompressed one when both are there)."""
    return {
        name: next((path for path in (folder / name, folder / f"{name}.gz") if path.is_file()), None)
        for name in published.sha256
    }


def read_verified(path: Path, published: Published) -> np.ndarray:
    """The array in IDX file `path`, once its SHA-256 matches the published one."""
    hint = "the file is corrupt or not the published one. Delete it and import it again."
    return verify_bytes(read_file(path), path.name, str(path), published, hint)


def read_file(path: Path) -> bytes:
    """The bytes of a dataset file: a regular file of at most MAX_FILE_BYTES (a FIFO or a device
    in its place would block or never end)."""
    try:
        return read_bounded(path, MAX_FILE_BYTES)
    except (OSError, ValueError) as error:
        raise DataError(f"{path}: cannot read it ({reason(error)}); not one of the published files") from None


def reason(error: Exception) -> str:
    return error.strerror if isinstance(error, OSError) and error.strerror else str(error)


def verify_bytes(raw: bytes, filename: str, where: str, published: Published, hint: str):
    """The array in the bytes of file `filename` (name.gz: gzip-compressed), once verified.

    Checks, in order: it decompresses, it is a complete IDX file, and the SHA-256 of the
    decompressed bytes matches. Errors start with `where` (a path or a URL); `hint` ends a digest
    mismatch message.
    """
    gz = filename.endswith(".gz")
    name = filename.removesuffix(".gz")
    try:
        data = unpack(raw) if gz else raw
    except (EOFError, zlib.error, gzip.BadGzipFile) as error:
        raise DataError(f"{where}: cannot decompress it ({error})") from None
    if len(data) > MAX_FILE_BYTES:
        raise DataError(f"{where}: {'unpacks to' if gz else 'holds'} more than {MAX_FILE_BYTES:,} bytes, more than "
                        f"any published file;\n{hint}")
    array = parse_idx(data, where)
    actual, expected = hashlib.sha256(data).hexdigest(), published.sha256[name]
    if actual != expected:
        raise DataError(f"{where}: SHA-256 of the decompressed bytes is {actual}, expected {expected};\n{hint}")
    return array


def unpack(raw: bytes) -> bytes:
    """gunzip, stopping after MAX_FILE_BYTES + 1 bytes (enough to tell that it is too large)."""
    with gzip.GzipFile(fileobj=io.BytesIO(raw)) as unpacked:
        return unpacked.read(MAX_FILE_BYTES + 1)
