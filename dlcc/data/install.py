"""`dlcc data import NAME PATH`: verify local copies of a dataset's files, copy them in.

Every file is read once and verified (SHA-256, published.verify_bytes) before anything is written,
so a truncated or wrong file stops the import with the cache untouched; each verified file is then
written atomically (dlcc.atomic.write_bytes). A verified file has exactly the published bytes, so
it can only replace a file that was missing, corrupt, or identical. The writing, and the removal
of the other format's files, happen under the dataset folder's lock (dlcc.data.lock): two imports
at once, or an import and a download, take turns instead of removing each other's files.
"""

import os
from pathlib import Path

from dlcc.atomic import write_bytes
from dlcc.data.cache import cache_dir, remove_leftovers
from dlcc.data.lock import writing
from dlcc.data.published import FILES, Published, find_all, read_file, verify_bytes
from dlcc.errors import DataError


def install(dataset: str, source: Path | list[Path]) -> list[Path]:
    """Verify the four IDX files, copy them to cache_dir()/<dataset>/; return the installed paths.

    source: a folder holding them (or a datasets folder holding <dataset>/, or a torchvision
    folder holding raw/ or <ClassName>/raw/), or the four files.
    Files keep their names (.gz or not). A file already in the cache under the other name is
    removed, so the verified copy is the one that gets loaded.
    """
    if dataset not in FILES:
        raise DataError(f"cannot import {dataset!r}; importable: {', '.join(FILES)}")
    published = FILES[dataset]
    paths = locate(dataset, source, published)
    contents = {}  # the very bytes that were verified are the ones written
    hint = "the file is corrupt or not the published one; nothing was imported."
    for name, path in paths.items():
        contents[name] = read_file(path)
        verify_bytes(contents[name], path.name, str(path), published, hint)

    folder = cache_dir() / dataset
    targets = {name: folder / path.name for name, path in paths.items()}
    with writing(folder, "importing"):  # no other import or download (nor a lock.reading reader) meanwhile
        remove_leftovers(folder, published.sha256)
        new = [target for target in targets.values() if not target.exists()]
        try:
            for name, target in targets.items():
                if not _same_file(target, paths[name]):
                    write_bytes(target, contents[name])
        except BaseException as error:  # a failed write, or Ctrl-C: leave no incomplete set behind
            for target in new:
                target.unlink(missing_ok=True)
            if not isinstance(error, OSError):
                raise
            raise DataError(
                f"cannot write {dataset} into {folder} ({error}); "
                f"set DLCC_DATA_DIR to a writable folder"
            ) from None
        for name, target in targets.items():
            other = name if target.suffix == ".gz" else f"{name}.gz"
            (folder / other).unlink(missing_ok=True)
    return list(targets.values())


def _same_file(target: Path, source: Path) -> bool:
    """Whether the cache's file is the very file being imported (an import from the cache itself).
    Not Path.resolve(): before Python 3.13 it raises RuntimeError, not OSError, for a symlink
    loop at the target, which the atomic write then simply replaces."""
    try:
        return os.path.samefile(target, source)
    except OSError:  # missing, a dangling link or a loop: not the source
        return False


# torchvision keeps the files in <root>/<ClassName>/raw/ (MNIST/raw, FashionMNIST/raw).
TORCHVISION_NAMES = {"mnist": "MNIST", "fashion-mnist": "FashionMNIST"}


def _layouts(folder: Path, dataset: str) -> list[Path]:
    """Other folders below `folder` where copies are commonly kept: a datasets folder laid out like
    the cache (<dataset>/), a torchvision dataset folder (raw/) or its root (<ClassName>/raw/), and
    a Debian package unpacked with `dpkg -x` (usr/share/datasets/<dataset>/)."""
    torch = TORCHVISION_NAMES.get(dataset, dataset)
    return [folder / dataset, folder / "raw", folder / torch / "raw", folder / "usr/share/datasets" / dataset]


def locate(dataset: str, source: Path | list[Path], published: Published) -> dict[str, Path]:
    """file name -> path of each of the four files, from a folder or a list of files."""
    sources = [source] if isinstance(source, Path) else list(source)
    if len(sources) == 1 and not sources[0].exists():
        raise DataError(f"{sources[0]}: no such folder or file")
    if len(sources) == 1 and sources[0].is_dir():
        folder = sources[0]
        paths = find_all(folder, published)
        for inner in _layouts(folder, dataset):
            if None not in paths.values():
                break
            if inner.is_dir():
                folder, paths = inner, find_all(inner, published)
        missing = [name for name, path in paths.items() if path is None]
        if missing:
            raise DataError(f"{folder}: missing {', '.join(f'{name}[.gz]' for name in missing)}")
        return paths

    expected = ", ".join(f"{name}[.gz]" for name in published.sha256)
    paths = {}
    for path in sources:
        name = path.name.removesuffix(".gz")
        if name not in published.sha256:
            raise DataError(f"{path}: not one of the {dataset} files ({expected})")
        if not path.is_file():
            raise DataError(f"{path}: no such file")
        if name in paths:
            raise DataError(f"{path}: {name} is given twice ({paths[name]})")
        paths[name] = path
    missing = [name for name in published.sha256 if name not in paths]
    if missing:
        raise DataError(
            f"give a folder, or all four {dataset} files; missing "
            f"{', '.join(f'{name}[.gz]' for name in missing)}"
        )
    return paths
