"""`dlcc data download NAME`: fetch a dataset's files from public mirrors, verify, install.

For each file that is needed, the mirrors are tried in order (published.MIRRORS; `--mirror URL`
or $DLCC_MIRROR replaces the list): <mirror><file>.gz is streamed into a temporary file inside the
cache folder, then verified like any file dlcc loads (SHA-256, published.verify_bytes). Only when
every needed file is verified are they renamed into place (os.replace, atomic on one file system),
so a failed, corrupt or interrupted download leaves the cache as it was. The download holds the
dataset folder's lock (dlcc.data.lock) from the check of what is needed to the last rename: a
second download or an import waits, then finds the files there and verified.

Offline-friendly: a connection or a read that stalls for `timeout` seconds fails that mirror, and a
file that no mirror can deliver stops the whole download at once, so without a network it fails
within one pass over the mirrors. The standard library's urllib does the HTTP (no dependency).
"""

import contextlib
import os
import sys
import tempfile
import urllib.error
import urllib.request
from http.client import HTTPException
from pathlib import Path

from dlcc.version import __version__
from dlcc.data.cache import cache_dir, remove_leftovers
from dlcc.data.lock import writing
from dlcc.data.published import (FILES, MAX_FILE_BYTES, MIRRORS, Published, find_all, read_verified,
                                 verify_bytes)
from dlcc.errors import DataError

TIMEOUT = 5.0  # seconds a connection or a single read may stall before the next mirror is tried
CHUNK = 1 << 16  # bytes per read


class DownloadFailed(DataError):
    """No mirror could deliver a file (often: no internet)."""


class DownloadReporter:
    """What a download tells the outside world; the CLI passes a Rich progress bar.

    Per attempt: start, then advance (bytes received since the last call) until finish or failed.
    """

    def start(self, file: str, url: str, total: int | None) -> None: ...
    def advance(self, received: int) -> None: ...
    def failed(self, file: str, url: str, reason: str) -> None: ...
    def finish(self, file: str) -> None: ...


class TextReporter(DownloadReporter):
    """Plain lines on stderr, for the automatic download before training. A mirror that cannot
    be reached is not reported here (the final error lists it if every mirror fails)."""

    def __init__(self) -> None:
        self.started: str | None = None  # the URL of the transfer under way

    def start(self, file: str, url: str, total: int | None) -> None:
        size = f" ({total / 1e6:.1f} MB)" if total else ""
        print(f"downloading {url}{size}", file=sys.stderr, flush=True)
        self.started = url

    def failed(self, file: str, url: str, reason: str) -> None:
        if self.started == url:
            print(f"  failed: {reason}", file=sys.stderr, flush=True)


def mirrors_for(dataset: str, mirror: str | None = None) -> list[str]:
    """`mirror`, else $DLCC_MIRROR, else the dataset's public mirrors; an explicit mirror is the
    only one tried. "{dataset}" in a URL becomes the dataset's name; each URL ends with "/"."""
    chosen = mirror or os.environ.get("DLCC_MIRROR")
    urls = [chosen] if chosen else list(MIRRORS.get(dataset, ()))
    return [url.replace("{dataset}", dataset).rstrip("/") + "/" for url in urls]


def download(
    dataset: str,
    mirror: str | None = None,
    reporter: DownloadReporter | None = None,
    timeout: float = TIMEOUT,
    files: list[str] | None = None,
) -> dict[str, str]:
    """Download `files` of `dataset` (default: those missing or failing verification) into
    cache_dir()/<dataset>/ as <file>.gz, less those that another process installed while this one
    waited for the folder's lock. Returns file -> the URL it came from ({} when every file was
    already there and verified). Any failure is a DataError; the cache is then unchanged."""
    published = published_files(dataset)
    reporter = reporter or DownloadReporter()
    folder = cache_dir() / dataset
    names = needed(folder, published) if files is None else list(files)
    if not names:
        return {}
    mirrors = mirrors_for(dataset, mirror)
    if not mirrors:
        raise DataError(f"{dataset}: no mirror known; give one with --mirror URL or $DLCC_MIRROR")

    with writing(folder, "downloading"):  # another download or import waits for this one
        remove_leftovers(folder, published.sha256)
        names = needed(folder, published, names)  # one of them may have installed these meanwhile
        staged: dict[str, Path] = {}
        sources: dict[str, str] = {}
        try:
            for name in names:
                staged[name], sources[name] = fetch_file(
                    name, mirrors, folder, published, reporter, timeout
                )
            for name, part in staged.items():  # every file verified: now move them in
                os.chmod(part, 0o644)  # temporary files start private; the cache's files are not
                os.replace(part, folder / f"{name}.gz")
                (folder / name).unlink(missing_ok=True)  # so the verified .gz is the one loaded
        except OSError as error:
            raise DataError(f"{dataset}: cannot write into {folder} ({error})") from None
        finally:
            for part in staged.values():
                part.unlink(missing_ok=True)
    return sources


def published_files(dataset: str) -> Published:
    if dataset not in FILES:
        raise DataError(
            f"cannot download {dataset!r}: only {', '.join(FILES)} have files to download "
            f"(synthetic datasets are generated, csv/npz are your own files)"
        )
    return FILES[dataset]


def needed(folder: Path, published: Published, among: list[str] | None = None) -> list[str]:
    """Files absent from folder, or present but failing verification (they will be replaced);
    among: check only these."""
    names = []
    for name, path in find_all(folder, published).items():
        if among is not None and name not in among:
            continue
        if path is None:
            names.append(name)
            continue
        try:
            read_verified(path, published)
        except DataError:
            names.append(name)
    return names


def fetch_file(
    name: str,
    mirrors: list[str],
    folder: Path,
    published: Published,
    reporter: DownloadReporter,
    timeout: float,
) -> tuple[Path, str]:
    """(a verified temporary copy of name.gz in folder, its URL), trying mirrors in order.

    A mirror that fails goes to the end of `mirrors` (shared by the later files), so a dead
    mirror costs one failed attempt per download, not one per file.
    """
    errors = []
    for base in list(mirrors):
        url = f"{base}{name}.gz"
        try:
            part = stream(url, folder, name, reporter, timeout)
        except (urllib.error.URLError, HTTPException, OSError, ValueError) as error:
            reason = describe(error)
        else:
            try:
                hint = "the mirror served a corrupt or different file"
                verify_bytes(part.read_bytes(), f"{name}.gz", url, published, hint)
                reporter.finish(f"{name}.gz")
                return part, url
            except DataError as error:
                part.unlink(missing_ok=True)
                reason = str(error).removeprefix(f"{url}: ").replace("\n", " ")
            except BaseException:  # Ctrl-C while verifying: download() does not know this file yet
                part.unlink(missing_ok=True)
                raise
        reporter.failed(f"{name}.gz", url, reason)
        errors.append(f"  {url}: {reason}")
        mirrors.remove(base)
        mirrors.append(base)
    raise DownloadFailed(
        f"{folder.name}: could not download {name}.gz from any mirror; "
        f"nothing was written to {folder}\n"
        + "\n".join(errors)
    )


def stream(url: str, folder: Path, name: str, reporter: DownloadReporter, timeout: float) -> Path:
    """Save the body at `url` to a temporary file in folder; raise if the transfer is cut short."""
    request = urllib.request.Request(url, headers={"User-Agent": f"dlcc/{__version__}"})
    try:
        part = tempfile.NamedTemporaryFile(
            dir=folder, prefix=f".{name}.gz.", suffix=".part", delete=False
        )
    except OSError as error:  # a local problem, not the mirror's: stop here
        raise DataError(
            f"cannot write into {folder} ({error}); set DLCC_DATA_DIR to a writable folder"
        ) from None
    try:
        with part, urllib.request.urlopen(request, timeout=timeout) as response:
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            reporter.start(f"{name}.gz", url, total)
            received = 0
            while chunk := response.read(CHUNK):
                part.write(chunk)
                received += len(chunk)
                reporter.advance(len(chunk))
                if received > MAX_FILE_BYTES:  # no published file is this large: stop filling the disk
                    raise HTTPException(f"more than {MAX_FILE_BYTES:,} bytes, larger than any published file")
        # http.client returns b"" instead of raising when the server hangs up early
        if total is not None and received != total:
            raise HTTPException(f"connection closed after {received} of {total} bytes")
    except BaseException:
        Path(part.name).unlink(missing_ok=True)
        raise
    return Path(part.name)


def describe(error: BaseException) -> str:
    """A one-line reason for a failed transfer."""
    if isinstance(error, urllib.error.HTTPError):
        return f"HTTP {error.code} {error.reason}"
    if isinstance(error, urllib.error.URLError):
        return str(error.reason)
    if isinstance(error, TimeoutError):
        return "timed out"
    return str(error) or type(error).__name__


@contextlib.contextmanager
def offline():
    """Within this block, a dataset missing from the cache is an error, never a download
    (`dlcc validate` checks without side effects); $DLCC_OFFLINE is restored afterwards."""
    previous = os.environ.get("DLCC_OFFLINE")
    os.environ["DLCC_OFFLINE"] = "1"
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("DLCC_OFFLINE", None)
        else:
            os.environ["DLCC_OFFLINE"] = previous


def fetch_missing(dataset: str, missing: list[str]) -> dict[str, Path]:
    """Called when training needs files that are not in the cache: download them unless
    $DLCC_OFFLINE is set; on failure a DataError says what was tried and which command to run."""
    folder = cache_dir() / dataset
    if os.environ.get("DLCC_OFFLINE"):
        tried = "DLCC_OFFLINE is set, so dlcc did not try to download it."
        raise DataError(missing_message(dataset, folder, missing, tried))
    print(f"{dataset} is not in {folder}; downloading it", file=sys.stderr, flush=True)
    try:
        download(dataset, reporter=TextReporter(), files=missing)
    except DataError as error:
        tried = f"Tried to download it: {error}"
        raise DataError(missing_message(dataset, folder, missing, tried)) from None
    return find_all(folder, FILES[dataset])


def missing_message(dataset: str, folder: Path, missing: list[str], tried: str = "") -> str:
    """Which files are missing, what was tried (`tried`: lines, optional), and the fixes."""
    files = ", ".join(f"{name}[.gz]" for name in missing)
    return (
        f"{dataset}: missing {files} in {folder}\n"
        + (f"{tried}\n" if tried else "")
        + f"Fix: run `dlcc data download {dataset}` (needs the internet),\n"
        f"  or `dlcc data import {dataset} PATH` (PATH: a folder with the four IDX files),\n"
        f"  or set DLCC_DATA_DIR to a folder whose {dataset}/ subfolder holds them."
    )
