"""`dlcc data import NAME PATH`: verify local copies of a dataset's files, copy them in."""

from pathlib import Path

from dlcc.data.cache import cache_dir, write_atomic
from dlcc.data.mnist import FILES, find_all, read_verified
from dlcc.errors import DataError


def install(dataset: str, source: Path) -> list[Path]:
    """Verify the four IDX files in folder `source` (or source/<dataset>/), copy them to the cache.

    Files keep their names (.gz or not). A file already in the cache under the other name is
    removed, so the verified copy is the one that gets loaded. Returns the installed paths.
    """
    if dataset not in FILES:
        raise DataError(f"cannot import {dataset!r}; importable: {', '.join(FILES)}")
    published = FILES[dataset]
    if not source.is_dir():
        raise DataError(f"{source}: not a folder; give the folder that holds the four IDX files")
    paths = find_all(source, published)
    if None in paths.values() and (source / dataset).is_dir():
        source = source / dataset  # a datasets folder laid out like the cache
        paths = find_all(source, published)
    missing = [name for name, path in paths.items() if path is None]
    if missing:
        raise DataError(f"{source}: missing {', '.join(f'{name}[.gz]' for name in missing)}")
    for path in paths.values():
        read_verified(path, published)

    folder = cache_dir() / dataset
    installed = []
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for name, path in paths.items():
            target = folder / path.name
            if target.resolve() != path.resolve():
                data = path.read_bytes()
                write_atomic(target, lambda f, data=data: f.write(data))
            other = name if target.suffix == ".gz" else f"{name}.gz"
            (folder / other).unlink(missing_ok=True)
            installed.append(target)
    except OSError as error:
        raise DataError(
            f"cannot write {dataset} into {folder} ({error}); "
            f"set DLCC_DATA_DIR to a writable folder"
        ) from None
    return installed
