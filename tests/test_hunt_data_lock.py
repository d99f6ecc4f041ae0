"""The dataset cache under concurrency: imports, downloads and readers of one dataset folder take
turns through its lock (dlcc.data.lock). Two writers at once are two threads here (flock locks
one open file, so threads exclude each other as processes do), each made to wait at the moment
the other could interfere; a SIGKILLed import is a real process."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from typer.testing import CliRunner

from dlcc.cli import app
from dlcc.data import install as install_module
from dlcc.data import mnist, published
from dlcc.data.download import DownloadReporter, download
from dlcc.data.install import install
from dlcc.data.published import Published, find_all, read_verified
from tests.test_data_download import server  # noqa: F401  (fixture)
from tests.test_data_mnist import tiny_arrays, write_set

runner = CliRunner()
NAMES = list(published.MNIST_SHA256)


@pytest.fixture
def sets(tmp_path, monkeypatch):
    """A tiny MNIST twice, as .gz files (tmp_path/gz) and unpacked (tmp_path/raw), its digests
    pinned as mnist's; the cache is tmp_path/cache (absent)."""
    monkeypatch.setenv("DLCC_DATA_DIR", str(tmp_path / "cache"))
    digests = write_set(tmp_path / "gz", tiny_arrays(), gz=NAMES)
    write_set(tmp_path / "raw", tiny_arrays(), gz=())
    monkeypatch.setitem(published.FILES, "mnist", Published(digests))
    return SimpleNamespace(gz=tmp_path / "gz", raw=tmp_path / "raw", folder=tmp_path / "cache" / "mnist",
                           digests=digests)


class Worker(threading.Thread):
    """Runs function(*args) at once in a thread; outcome() is its result, or raises its error."""

    def __init__(self, function, *args, **kwargs):
        super().__init__(daemon=True)
        self.call = lambda: function(*args, **kwargs)
        self.result = self.error = None
        self.start()

    def run(self):
        try:
            self.result = self.call()
        except BaseException as error:  # noqa: BLE001  (handed to the test by outcome())
            self.error = error

    def outcome(self, timeout: float = 30):
        self.join(timeout)
        assert not self.is_alive(), "still running: a lock that is never released?"
        if self.error is not None:
            raise self.error
        return self.result


def complete_set(folder: Path) -> dict[str, str]:
    """name -> the file that holds it; every one of the four is there and verifies."""
    found = find_all(folder, published.FILES["mnist"])
    assert None not in found.values(), f"incomplete set in {folder}: {sorted(os.listdir(folder))}"
    for path in found.values():
        read_verified(path, published.FILES["mnist"])
    return {name: path.name for name, path in found.items()}


def hidden(folder: Path) -> list[str]:
    """What a writer may leave behind: its lock file, temporary files."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_two_imports_at_once_of_gz_and_unpacked_copies_leave_a_complete_set(sets, monkeypatch):
    """Each import removes the other format's files after writing its own: interleaved, the
    unpacked import removed the .gz file the other had just written, and the .gz import then
    removed the unpacked files: three files of four were left, both imports said "installed"."""
    first_wrote, second_wrote = threading.Event(), threading.Event()
    write = install_module.write_bytes

    def write_and_wait(path, data):
        write(path, data)
        if path.suffix == ".gz":  # the first import, after its first file: let the second run
            first_wrote.set()
            second_wrote.wait(timeout=1)
        else:
            second_wrote.set()

    monkeypatch.setattr(install_module, "write_bytes", write_and_wait)
    first = Worker(install, "mnist", sets.gz)
    assert first_wrote.wait(timeout=10)
    second = Worker(install, "mnist", sets.raw)
    assert len(first.outcome()) == len(second.outcome()) == 4
    assert complete_set(sets.folder) == {name: name for name in NAMES}  # the last import's files
    assert hidden(sets.folder) == []


def test_a_download_and_an_import_at_once_leave_a_complete_set(server, monkeypatch, tmp_path):  # noqa: F811
    """The same race between a download (which removes the unpacked copies of what it fetched)
    and an import of unpacked copies (which removes the .gz files once it has written its own):
    an import that wrote while the download was fetching removed everything the download had
    moved in, after the download had removed the import's files."""
    write_set(tmp_path / "raw", server.arrays, gz=())
    fetched, imported, downloaded = threading.Event(), threading.Event(), threading.Event()
    write = install_module.write_bytes
    written = []

    class WaitForTheImport(DownloadReporter):
        def finish(self, file):
            if file.startswith("t10k-labels"):  # all four fetched, not yet moved in
                fetched.set()
                imported.wait(timeout=1)

    def write_then_wait(path, data):
        write(path, data)
        written.append(path)
        if len(written) == 4:  # written, not yet cleaned up
            imported.set()
            downloaded.wait(timeout=1)

    monkeypatch.setattr(install_module, "write_bytes", write_then_wait)
    fetching = Worker(download, "mnist", server.url("good"), WaitForTheImport())
    assert fetched.wait(timeout=10)
    importing = Worker(install, "mnist", tmp_path / "raw")
    assert len(fetching.outcome()) == 4
    downloaded.set()
    assert len(importing.outcome()) == 4
    assert complete_set(server.folder) == {name: name for name in NAMES}  # the import came last
    assert hidden(server.folder) == []


def test_two_downloads_at_once_fetch_each_file_once(server):  # noqa: F811
    """The second download waits for the first, then finds the files there and verified (it
    fetched all four again, and both renamed them into place)."""
    first_started, second_started = threading.Event(), threading.Event()

    class First(DownloadReporter):
        def start(self, file, url, total):
            first_started.set()
            second_started.wait(timeout=1)

    class Second(DownloadReporter):
        def start(self, file, url, total):
            second_started.set()

    first = Worker(download, "mnist", server.url("good"), First())
    assert first_started.wait(timeout=10)
    second = Worker(download, "mnist", server.url("good"), Second())
    assert sorted(map(len, (first.outcome(), second.outcome()))) == [0, 4]
    assert len(server.httpd.requests) == 4
    complete_set(server.folder)
    assert hidden(server.folder) == []


KILLED_IMPORT = """
import json, os, signal, sys
from pathlib import Path
from dlcc import atomic
from dlcc.data import install, published
published.FILES["mnist"] = published.Published(json.loads(sys.argv[2]))
written = []

def write_half_then_die(path, data):  # SIGKILL halfway through the second file
    def write(f):
        if written:
            f.write(data[: len(data) // 2])
            f.flush()
            os.kill(os.getpid(), signal.SIGKILL)
        f.write(data)
    written.append(path)
    atomic.write_with(path, write)

install.write_bytes = write_half_then_die
install.install("mnist", Path(sys.argv[1]))
"""


def test_an_import_killed_by_sigkill_blocks_no_one_and_its_leftovers_go(sets, tmp_path):
    """SIGKILL cannot be cleaned up after: the killed import leaves its lock file and a temporary
    file (up to 47 MB for MNIST's training images, which nothing removed). The next import takes
    the lock at once and removes that temporary file."""
    script = tmp_path / "killed_import.py"
    script.write_text(KILLED_IMPORT)
    killed = subprocess.run([sys.executable, str(script), str(sets.raw), json.dumps(sets.digests)],
                            capture_output=True, text=True, timeout=60)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert any(name.endswith(".tmp") for name in hidden(sets.folder))  # what it left

    started = time.monotonic()
    assert len(Worker(install, "mnist", sets.gz).outcome(timeout=10)) == 4
    assert time.monotonic() - started < 5
    assert complete_set(sets.folder) == {name: f"{name}.gz" for name in NAMES}
    assert hidden(sets.folder) == []


def test_a_reader_keeps_the_files_it_found_until_it_is_done(sets):
    """An import of the other format removes the files a reader found, unless the reader holds
    the folder's shared lock: then the import waits for it."""
    from dlcc.data.lock import reading

    install("mnist", sets.raw)
    with reading(sets.folder):
        found = find_all(sets.folder, published.FILES["mnist"])
        importing = Worker(install, "mnist", sets.gz)
        importing.join(timeout=0.5)
        assert importing.is_alive()  # waiting for us
        for path in found.values():
            read_verified(path, published.FILES["mnist"])
    importing.outcome()
    assert complete_set(sets.folder) == {name: f"{name}.gz" for name in NAMES}
    assert hidden(sets.folder) == []


def test_training_reads_the_cache_while_an_import_replaces_it(sets, monkeypatch):
    """Training found the unpacked files, then an import of .gz files removed them before they
    were read: "t10k-images-idx3-ubyte: cannot read it (No such file or directory); not one of the
    published files"."""
    install("mnist", sets.raw)
    read = mnist.read_verified
    importing = []

    def import_meanwhile(path, files):
        if not importing:
            importing.append(Worker(install, "mnist", sets.gz))
            importing[0].join(timeout=1)  # runs to its end, unless the reader's lock holds it
        return read(path, files)

    monkeypatch.setattr(mnist, "read_verified", import_meanwhile)
    arrays = mnist.read_arrays("mnist")
    assert set(arrays) == set(NAMES)
    importing[0].outcome()
    complete_set(sets.folder)


@pytest.mark.parametrize("holder, message", [
    ("writing", "note: mnist: waiting for process {pid}, which is importing it into {folder}; if that "
                "process is stuck, stop it (kill {pid}) and this command goes on"),
    ("reading", "note: mnist: waiting for another dlcc process to finish reading {folder}"),
])
def test_an_import_that_waits_says_for_whom(holder, message, sets, monkeypatch):
    from dlcc.data import lock

    install("mnist", sets.raw)
    monkeypatch.setattr(lock, "NOTE_AFTER", 0.1)
    holding, noted = threading.Event(), threading.Event()
    waiting_for = lock._waiting_for

    def note_then_let_go(*args):
        message = waiting_for(*args)
        noted.set()
        return message

    monkeypatch.setattr(lock, "_waiting_for", note_then_let_go)

    def hold():
        with (lock.writing(sets.folder, "importing") if holder == "writing" else lock.reading(sets.folder)):
            holding.set()
            noted.wait(timeout=10)

    holder_thread = Worker(hold)
    assert holding.wait(timeout=10)
    result = runner.invoke(app, ["data", "import", "mnist", str(sets.gz)])
    holder_thread.outcome()
    assert result.exit_code == 0, result.output
    assert message.format(pid=os.getpid(), folder=sets.folder) in " ".join(result.stderr.split())
    assert complete_set(sets.folder) == {name: f"{name}.gz" for name in NAMES}


def test_ctrl_c_while_waiting_for_the_lock_changes_nothing(sets, monkeypatch):
    from dlcc.data import lock

    install("mnist", sets.raw)
    before = {p.name: p.read_bytes() for p in sets.folder.iterdir()}
    holding, done = threading.Event(), threading.Event()

    def hold():
        with lock.writing(sets.folder, "importing"):
            holding.set()
            done.wait(timeout=10)

    holder = Worker(hold)
    assert holding.wait(timeout=10)

    def interrupted(seconds):
        raise KeyboardInterrupt

    monkeypatch.setattr(lock, "time", SimpleNamespace(monotonic=time.monotonic, sleep=interrupted))
    result = runner.invoke(app, ["data", "import", "mnist", str(sets.gz)])
    assert result.exit_code == 130 and "interrupted" in result.stderr
    done.set()
    holder.outcome()
    assert {p.name: p.read_bytes() for p in sets.folder.iterdir()} == before  # the lock file gone too


def test_a_lock_file_that_is_a_symlink_is_refused_not_written_through(sets, tmp_path):
    sets.folder.mkdir(parents=True)
    precious = tmp_path / "precious.txt"
    precious.write_text("keep me")
    (sets.folder / ".lock").symlink_to(precious)
    result = runner.invoke(app, ["data", "import", "mnist", str(sets.gz)])
    assert result.exit_code == 2
    assert f"{sets.folder / '.lock'}: a symbolic link, not the lock file dlcc makes; remove it" in result.stderr
    assert precious.read_text() == "keep me"
    assert sorted(os.listdir(sets.folder)) == [".lock"]


def test_a_reader_writes_nothing_into_a_read_only_folder(sets):
    """A shared, read-only copy of the datasets (even as root, who could write there)."""
    from dlcc.data.lock import reading

    install("mnist", sets.gz)
    sets.folder.chmod(0o555)
    try:
        with reading(sets.folder):
            assert sorted(os.listdir(sets.folder)) == sorted(f"{name}.gz" for name in NAMES)
    finally:
        sets.folder.chmod(0o755)


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root, to act as a second user")
@pytest.mark.parametrize("how", ["reading", "writing"])
def test_a_second_user_locks_a_lock_file_another_user_made(how):
    """A shared, group-writable dataset folder whose .lock another user made (mode 644, held or
    left behind): a second user's training or import took it for an unwritable folder ("cannot
    write into ...; set DLCC_DATA_DIR to a writable folder"). flock needs no write access."""
    shared = Path(tempfile.mkdtemp(prefix="dlcc-shared-"))  # pytest's tmp_path is root's alone (0700)
    shared.chmod(0o777)
    folder = shared / "mnist"
    folder.mkdir()
    folder.chmod(0o777)
    (folder / ".lock").write_text("")
    (folder / ".lock").chmod(0o644)  # root's
    args = f"Path({str(folder)!r})" + (", 'importing'" if how == "writing" else "")
    script = (f"import os\nfrom pathlib import Path\nfrom dlcc.data.lock import {how}\n"
              "os.setgid(65534); os.setuid(65534)\n"
              f"with {how}({args}):\n"
              "    print('locked')\n")
    try:
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
                              env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])})
    finally:
        shutil.rmtree(shared)
    assert done.returncode == 0 and done.stdout == "locked\n", done.stderr
