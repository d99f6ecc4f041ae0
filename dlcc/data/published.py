"""The published MNIST-like files: their names, pinned SHA-256 digests, mirrors, and verification.

Both mnist.py (loading) and download.py (fetching) rely on these facts, and install.py (importing
local copies) too; keeping them here lets the imports point one way: mnist -> download -> published.

A dataset is four files, each found as <name> or <name>.gz in a folder. A copy is trusted only once
the SHA-256 of the bytes its digest is of matches the pinned one:

    digest_of == "idx":  sha256(decompressed bytes) == sha256[name]   (any gzip of them passes)
    digest_of == "gz":   sha256(the .gz file)        == sha256[name]
"""

import gzip
import hashlib
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dlcc.data.idx import parse_idx
from dlcc.errors import DataError


@dataclass(frozen=True)
class Published:
    """The four files of an MNIST-like dataset and their pinned SHA-256 digests.

    digest_of: "idx" when the digests are of the decompressed IDX bytes (any gzip of the right
    bytes passes), "gz" when only the published .gz files' digests are known.
    """

    sha256: dict[str, str]
    digest_of: str = "idx"


# /work/shared/datasets/README.md: SHA-256 of the decompressed files. Those bytes are the public
# mirrors' files (whose .gz MD5s are f68b3c2d..., d53e105e..., 9fb629c4..., ec29112d...).
MNIST_SHA256 = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}

# Zalando publishes MD5s of the .gz files only (8d4fb7e6..., 25c81989..., bef4ecab...,
# bb300cfd...; github.com/zalandoresearch/fashion-mnist). These are SHA-256s of the same .gz
# files, as pinned by TensorFlow Datasets and others; none of the decompressed bytes is published.
FASHION_MNIST_GZ_SHA256 = {
    "train-images-idx3-ubyte": "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
    "train-labels-idx1-ubyte": "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
    "t10k-images-idx3-ubyte": "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
    "t10k-labels-idx1-ubyte": "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
}

FILES = {
    "mnist": Published(MNIST_SHA256),
    "fashion-mnist": Published(FASHION_MNIST_GZ_SHA256, digest_of="gz"),
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
    """Each file as folder/name or folder/name.gz (preferring the form its digest is of)."""
    paths = {}
    for name in published.sha256:
        candidates = [folder / name, folder / f"{name}.gz"]
        if published.digest_of == "gz":
            candidates.reverse()
        paths[name] = next((path for path in candidates if path.is_file()), None)
    return paths


def read_verified(path: Path, published: Published) -> np.ndarray:
    """The array in IDX file `path`, once its SHA-256 matches the published one."""
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise DataError(f"{path}: cannot read it ({error})") from None
    hint = "the file is corrupt or not the published one. Delete it and import it again."
    return verify_bytes(raw, path.name, str(path), published, hint)


def verify_bytes(raw: bytes, filename: str, where: str, published: Published, hint: str):
    """The array in the bytes of file `filename` (name.gz: gzip-compressed), once verified.

    Checks, in order: it decompresses, it is a complete IDX file, and the SHA-256 of the bytes the
    digest is of (published.digest_of) matches. Errors start with `where` (a path or a URL);
    `hint` ends a digest mismatch message.
    """
    gz = filename.endswith(".gz")
    name = filename.removesuffix(".gz")
    try:
        data = gzip.decompress(raw) if gz else raw
    except (EOFError, zlib.error, gzip.BadGzipFile) as error:
        raise DataError(f"{where}: cannot decompress it ({error})") from None
    array = parse_idx(data, where)
    if published.digest_of == "gz":
        if not gz:
            raise DataError(
                f"{where}: only a SHA-256 of the published {name}.gz is known, so this "
                f"uncompressed file cannot be verified; use the original {name}.gz instead"
            )
        what, actual = "the .gz file", hashlib.sha256(raw).hexdigest()
    else:
        what, actual = "the decompressed bytes", hashlib.sha256(data).hexdigest()
    expected = published.sha256[name]
    if actual != expected:
        raise DataError(f"{where}: SHA-256 of {what} is {actual}, expected {expected};\n{hint}")
    return array
