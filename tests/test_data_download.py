"""`dlcc data download` and the automatic download before training, against an HTTP server on
127.0.0.1 that serves tiny IDX files made here (their digests pinned instead of MNIST's)."""

from __future__ import annotations

import gzip
import hashlib
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from dlcc.cli import app
from dlcc.data import download as dl
from dlcc.data import mnist, published
from dlcc.data.download import DownloadReporter, download, mirrors_for
from dlcc.data.idx import idx_bytes
from dlcc.data.published import Published
from dlcc.errors import DataError

runner = CliRunner()
NAMES = list(published.MNIST_SHA256)


def tiny_arrays(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "train-images-idx3-ubyte": rng.integers(0, 256, (12, 4, 3), dtype=np.uint8),
        "train-labels-idx1-ubyte": rng.integers(0, 10, 12, dtype=np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (5, 4, 3), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, 5, dtype=np.uint8),
    }


class Handler(BaseHTTPRequestHandler):
    """GET /<mirror>/<file>.gz from server.files[(mirror, file)]; mirror "cut" sends half the
    body and hangs up; "slow" answers after a pause; anything else is a 404."""

    def do_GET(self):
        self.server.requests.append(self.path)
        mirror, _, file = self.path.strip("/").partition("/")
        body = self.server.files.get(file)
        if mirror == "bad" and file == "t10k-labels-idx1-ubyte.gz":
            body = self.server.corrupt
        if mirror not in ("good", "bad", "cut", "slow") or body is None:
            self.send_error(404)
            return
        if mirror == "slow":
            time.sleep(1.0)
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if mirror == "cut":
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)  # the transfer breaks off mid-body
            return
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server(tmp_path, monkeypatch):
    """A server on 127.0.0.1 serving a tiny MNIST; the cache is tmp_path/cache (absent)."""
    arrays = tiny_arrays()
    raw = {name: idx_bytes(array) for name, array in arrays.items()}
    monkeypatch.setitem(
        published.FILES, "mnist", Published({n: hashlib.sha256(b).hexdigest() for n, b in raw.items()})
    )
    monkeypatch.setenv("DLCC_DATA_DIR", str(tmp_path / "cache"))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    httpd.files = {f"{name}.gz": gzip.compress(data, mtime=0) for name, data in raw.items()}
    labels = arrays["t10k-labels-idx1-ubyte"].copy()
    labels[0] = (labels[0] + 1) % 10  # a well-formed file with one wrong label
    httpd.corrupt = gzip.compress(idx_bytes(labels), mtime=0)
    httpd.requests = []
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    stopper = threading.Timer(60, httpd.shutdown)  # stops by itself should a test hang
    stopper.daemon = True
    stopper.start()
    base = f"http://127.0.0.1:{httpd.server_address[1]}"
    yield SimpleNamespace(base=base, url=lambda mirror: f"{base}/{mirror}/", httpd=httpd,
                          arrays=arrays, folder=tmp_path / "cache" / "mnist", cache=tmp_path / "cache")
    stopper.cancel()
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


def dead_url() -> str:
    """A URL on 127.0.0.1 where nothing listens (connection refused at once)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/mnist/"


class Recorder(DownloadReporter):
    def __init__(self):
        self.events = []

    def start(self, file, url, total):
        self.events.append(("start", file, total))

    def advance(self, received):
        self.events.append(("advance", received))

    def failed(self, file, url, reason):
        self.events.append(("failed", url, reason))

    def finish(self, file):
        self.events.append(("finish", file))


def leftovers(folder) -> list[str]:
    """Temporary files a download may have left."""
    return [p.name for p in folder.iterdir() if p.name.startswith(".")] if folder.exists() else []


def test_download_verifies_and_installs_every_file(server):
    recorder = Recorder()
    sources = download("mnist", server.url("good"), recorder)
    assert sorted(sources) == sorted(NAMES)
    assert sorted(p.name for p in server.folder.iterdir()) == sorted(f"{n}.gz" for n in NAMES)
    loaded = mnist.load_images("mnist")
    np.testing.assert_array_equal(loaded.t_test, server.arrays["t10k-labels-idx1-ubyte"])
    starts = [e for e in recorder.events if e[0] == "start"]
    assert [e[2] for e in starts] == [len(server.httpd.files[f"{n}.gz"]) for n in NAMES]
    assert sum(e[1] for e in recorder.events if e[0] == "advance") == sum(e[2] for e in starts)
    assert [e[1] for e in recorder.events if e[0] == "finish"] == [f"{n}.gz" for n in NAMES]

    requests = len(server.httpd.requests)
    assert download("mnist", server.url("good")) == {}  # all there and verified: nothing fetched
    assert len(server.httpd.requests) == requests


def test_corrupt_file_is_an_error_naming_it_and_nothing_is_left(server):
    with pytest.raises(DataError) as error:
        download("mnist", server.url("bad"))
    message = str(error.value)
    assert "t10k-labels-idx1-ubyte.gz" in message and "SHA-256" in message
    assert published.FILES["mnist"].sha256["t10k-labels-idx1-ubyte"] in message
    assert not server.cache.exists()  # not even the three good files, nor an empty folder


def test_a_good_cache_is_never_clobbered(server):
    download("mnist", server.url("good"))
    (server.folder / "t10k-labels-idx1-ubyte.gz").unlink()
    before = {p.name: p.read_bytes() for p in server.folder.iterdir()}
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte"):
        download("mnist", server.url("bad"))
    assert {p.name: p.read_bytes() for p in server.folder.iterdir()} == before

    (server.folder / "train-labels-idx1-ubyte.gz").write_bytes(b"garbage")  # a corrupt file
    sources = download("mnist", server.url("good"))  # is replaced, with the missing one
    assert sorted(sources) == ["t10k-labels-idx1-ubyte", "train-labels-idx1-ubyte"]
    assert mnist.load_images("mnist").t.tolist() == server.arrays["train-labels-idx1-ubyte"].tolist()


def test_a_dead_mirror_is_followed_by_a_good_one(server, monkeypatch):
    monkeypatch.setitem(published.MIRRORS, "mnist", (dead_url(), server.url("good")))
    recorder = Recorder()
    sources = download("mnist", reporter=recorder)
    assert all(url.startswith(server.url("good")) for url in sources.values())
    failures = [e for e in recorder.events if e[0] == "failed"]
    assert len(failures) == 1  # the dead mirror is tried once, then goes to the back
    assert "refused" in failures[0][2].lower()
    assert mnist.load_images("mnist").x.shape == (12, 12)


def test_an_interrupted_transfer_leaves_no_partial_file(server):
    with pytest.raises(DataError) as error:
        download("mnist", server.url("cut"))
    assert "train-images-idx3-ubyte.gz" in str(error.value)
    assert "connection closed after" in str(error.value)
    assert not server.cache.exists()


def test_interrupted_then_good_mirror(server, monkeypatch):
    monkeypatch.setitem(published.MIRRORS, "mnist", (server.url("cut"), server.url("good")))
    download("mnist")
    assert sorted(p.name for p in server.folder.iterdir()) == sorted(f"{n}.gz" for n in NAMES)


def test_a_stalled_mirror_times_out(server):
    started = time.monotonic()
    with pytest.raises(DataError, match="timed out"):
        download("mnist", server.url("slow"), timeout=0.2)
    assert time.monotonic() - started < 1.0
    assert leftovers(server.cache) == []


def test_http_errors_and_unknown_datasets(server):
    with pytest.raises(DataError, match="HTTP 404"):
        download("mnist", server.url("nowhere"))
    with pytest.raises(DataError, match="spirals"):
        download("spirals")


def test_mirror_choice(monkeypatch):
    assert mirrors_for("mnist") == list(published.MIRRORS["mnist"])
    monkeypatch.setenv("DLCC_MIRROR", "http://host/data/{dataset}")
    assert mirrors_for("fashion-mnist") == ["http://host/data/fashion-mnist/"]
    assert mirrors_for("mnist", "file:///srv/mnist") == ["file:///srv/mnist/"]


def test_fashion_mnist_is_checked_against_decompressed_digests(server, monkeypatch):
    digests = {name: hashlib.sha256(gzip.decompress(server.httpd.files[f"{name}.gz"])).hexdigest() for name in NAMES}
    monkeypatch.setitem(published.FILES, "fashion-mnist", Published(digests))
    download("fashion-mnist", server.url("good"))
    assert mnist.load_images("fashion-mnist").x_test.shape == (5, 12)


# The command line and the automatic download when training needs the data.

TINY_MNIST = {
    "name": "tiny-mnist",
    "data": {"dataset": "mnist", "validation": 2},
    "model": {"layers": [{"units": 8, "activation": "relu"}, {"units": 10, "activation": "softmax"}]},
    "training": {"epochs": 1, "batch_size": 4},
}


def test_cli_download(server):
    result = runner.invoke(app, ["data", "download", "mnist", "--mirror", server.url("good")])
    assert result.exit_code == 0, result.output
    assert "4 file(s) downloaded" in result.stdout and str(server.folder) in result.stdout
    result = runner.invoke(app, ["data", "download", "mnist", "--mirror", server.url("bad")])
    assert result.exit_code == 0 and "already in" in result.stdout

    (server.folder / "t10k-labels-idx1-ubyte.gz").unlink()
    result = runner.invoke(app, ["data", "download", "mnist", "--mirror", server.url("bad")])
    assert result.exit_code == 2
    assert "t10k-labels-idx1-ubyte.gz" in result.stderr and "SHA-256" in result.stderr
    assert "Traceback" not in result.output


def test_training_downloads_a_missing_dataset(server, monkeypatch, tmp_path):
    monkeypatch.delenv("DLCC_OFFLINE")
    monkeypatch.setenv("DLCC_MIRROR", server.url("good"))
    config = tmp_path / "mnist.yaml"
    config.write_text(yaml.safe_dump(TINY_MNIST))
    result = runner.invoke(app, ["train", str(config), "--runs-dir", str(tmp_path / "runs"), "--quiet"])
    assert result.exit_code == 0, result.output
    assert "downloading" in result.stderr
    assert sorted(p.name for p in server.folder.glob("*.gz")) == sorted(f"{n}.gz" for n in NAMES)


def test_training_without_network_says_which_command_to_run(server, monkeypatch, tmp_path):
    monkeypatch.delenv("DLCC_OFFLINE")
    monkeypatch.setitem(published.MIRRORS, "mnist", (dead_url(), dead_url()))
    config = tmp_path / "mnist.yaml"
    config.write_text(yaml.safe_dump(TINY_MNIST))
    started = time.monotonic()
    result = runner.invoke(app, ["train", str(config), "--runs-dir", str(tmp_path / "runs")])
    assert time.monotonic() - started < dl.TIMEOUT
    assert result.exit_code == 2
    for fix in ("dlcc data download mnist", "dlcc data import mnist PATH", "DLCC_DATA_DIR"):
        assert fix in result.stderr
    assert "refused" in result.stderr.lower()
    assert not server.cache.exists() and not (tmp_path / "runs").exists()

    monkeypatch.setenv("DLCC_OFFLINE", "1")
    result = runner.invoke(app, ["train", str(config), "--runs-dir", str(tmp_path / "runs")])
    assert result.exit_code == 2 and "DLCC_OFFLINE" in result.stderr
