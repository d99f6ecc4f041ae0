"""Hostile inputs found by a hunt after the PathError fix: outputs that name a device or a FIFO,
sweep ranges NumPy cannot draw from, .npz archives with members that are not arrays, a run
folder's .lock that is a symlink or a FIFO, a FIFO in the dataset cache and a symlink loop where
an import writes. Each is exit code 2 and one message (or works), never a traceback, a hang, or a
file written somewhere it should not be."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import zipfile
from contextlib import contextmanager

import numpy as np
import pytest
import yaml

from dlcc import errors as dlcc_errors
from dlcc.data import published
from dlcc.data.idx import idx_bytes
from dlcc.data.published import Published
from tests.conftest import TINY
from tests.runs_helpers import dlcc, refused, train_run

posix_only = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs and flock are POSIX")


class Hung(Exception):
    pass


@contextmanager
def within(seconds: int):
    """Fail instead of hanging: a blocking open() of a FIFO is interrupted by the alarm."""
    def alarm(signum, frame):
        raise Hung(f"still blocked after {seconds} s")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    return train_run(tmp_path_factory.mktemp("runs"), "training.epochs=2")


def interrupted_copy(run_dir, where):
    copy = shutil.copytree(run_dir, where / run_dir.name)
    summary = json.loads((copy / "summary.json").read_text())
    (copy / "summary.json").write_text(json.dumps({**summary, "status": "interrupted"}))
    return copy


# --------------------------------------------------------------------------- outputs

@posix_only
def test_an_output_that_is_a_fifo_or_a_folder_is_refused_and_left_alone(run_dir, tmp_path):
    """An atomic write renames over its target: over /dev/null (as root) that swapped the device
    for a plain file. Only a regular file (or a symlink, which is replaced) is ever replaced."""
    (tmp_path / "in.csv").write_text("x0,x1\n0.1,0.2\n")
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "folder").mkdir()
    (tmp_path / "link").symlink_to("folder")
    for out in ("fifo", "folder", "link"):
        for command in (["predict", run_dir, tmp_path / "in.csv"], ["report", run_dir], ["plot", run_dir]):
            message = refused(dlcc(*command, "--out", tmp_path / out), "cannot write")
            assert message.count(str(tmp_path / out)) == 1, message  # the path named once
    assert (tmp_path / "fifo").is_fifo() and (tmp_path / "link").is_symlink() and (tmp_path / "folder").is_dir()
    assert list((tmp_path / "folder").iterdir()) == []


# --------------------------------------------------------------------------- sweeps

@pytest.mark.parametrize("args, words", [
    (["--random", "optimizer.lr=int(1," + "9" * 400 + ")", "--trials", "2"], ["int(1, 999", "whole numbers from -2**63"]),
    (["--random", "optimizer.lr=uniform(1," + "9" * 400 + ")", "--trials", "2"], ["beyond what NumPy draws from"]),
    (["--random", "optimizer.lr=uniform(-1.7e308,1.7e308)", "--trials", "2"], ["beyond what NumPy draws from"]),
    (["--random", "seed=int(0,18446744073709551615)", "--trials", "2"], ["whole numbers from -2**63"]),
    (["--seeds", "0-99999999999999"], ["a range A-B holds at most 10000 seeds"]),
], ids=["int of 400 digits", "uniform of 400 digits", "uniform wider than float64", "int beyond int64", "huge seed range"])
def test_sweep_ranges_numpy_cannot_draw_from(tmp_path, args, words):
    """float() of a 400-digit int raised OverflowError, rng.integers beyond int64 ValueError, and
    a range of 10^14 seeds was made into a list (MemoryError): all tracebacks."""
    (tmp_path / "t.yaml").write_text(yaml.safe_dump(TINY))
    message = refused(dlcc("sweep", tmp_path / "t.yaml", *args, "--runs-dir", tmp_path / "runs"), *words)
    assert len(message) < 600
    assert not (tmp_path / "runs").exists()


# --------------------------------------------------------------------------- .npz members

def add_member(path, name, data=b"hello"):
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr(name, data)


def test_npz_members_that_are_not_arrays(run_dir, tmp_path):
    """NumPy returns a member that is not a .npy file as bytes; `x.dtype` or `W1.dtype` then
    raised AttributeError in predict, eval, plot and train."""
    damaged = shutil.copytree(run_dir, tmp_path / "run")
    add_member(damaged / "model.npz", "notes/")
    refused(dlcc("eval", damaged), "model.npz", "'notes/' is not a .npy array")
    np.savez(tmp_path / "in.npz", y=np.zeros(3))
    add_member(tmp_path / "in.npz", "x")
    refused(dlcc("predict", run_dir, tmp_path / "in.npz"), "in.npz", "'x' is not a .npy array")
    refused(dlcc("eval", run_dir, "--data", tmp_path / "in.npz"), "'x' is not a .npy array")
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "data.npz", x=rng.normal(size=(60, 2)), y=np.arange(60) % 3)
    add_member(tmp_path / "data.npz", "readme.txt")
    cfg = {**TINY, "data": {"dataset": "npz", "options": {"path": str(tmp_path / "data.npz")}}}
    (tmp_path / "npz.yaml").write_text(yaml.safe_dump(cfg))
    refused(dlcc("train", tmp_path / "npz.yaml", "--runs-dir", tmp_path / "runs"), "'readme.txt' is not a .npy array")
    assert not (tmp_path / "runs").exists()


def test_a_checkpoint_with_a_member_that_is_not_an_array_is_not_resumed(run_dir, tmp_path):
    damaged = interrupted_copy(run_dir, tmp_path)
    add_member(damaged / "checkpoint.npz", "extra.txt")
    before = {p.name: p.read_bytes() for p in damaged.iterdir()}
    refused(dlcc("train", "--resume", damaged), "checkpoint.npz", "'extra.txt' is not a .npy array")
    assert {p.name: p.read_bytes() for p in damaged.iterdir()} == before


# --------------------------------------------------------------------------- run.predict(array)

@pytest.mark.parametrize("x, words", [
    (np.zeros((0, 2)), "got shape (0, 2)"),
    ([[1.0, 2.0], [1.0]], "rows of different lengths"),
    ([[np.nan, 1.0]], "holds NaN or infinity"),
    (np.array([[1 + 1j, 2]]), "(complex128)"),
], ids=["no rows", "ragged rows", "NaN", "complex"])
def test_predict_refuses_arrays_a_file_could_not_hold(run_dir, x, words):
    """The API's array path skipped the file path's checks: no rows and ragged lists were bare
    ValueErrors, and NaN or complex features came back as predictions."""
    import dlcc as api

    with pytest.raises(dlcc_errors.DataError, match=re.escape(words)):
        api.load(run_dir).predict(x)


# --------------------------------------------------------------------------- the run's lock

@posix_only
def test_a_lock_that_is_a_symlink_is_never_written_through(run_dir, tmp_path):
    """The lock was opened with O_CREAT through a `.lock` symlink, then truncated and given the
    pid: resuming such a folder overwrote the file the link pointed to, or created one there."""
    damaged = interrupted_copy(run_dir, tmp_path)
    (tmp_path / "precious.txt").write_text("precious\n")
    (damaged / ".lock").symlink_to(tmp_path / "precious.txt")
    refused(dlcc("train", "--resume", damaged), ".lock: a symbolic link")
    assert (tmp_path / "precious.txt").read_text() == "precious\n"
    (damaged / ".lock").unlink()
    (damaged / ".lock").symlink_to(tmp_path / "new.txt")
    refused(dlcc("train", "--resume", damaged), ".lock: a symbolic link")
    assert not (tmp_path / "new.txt").exists()


@posix_only
def test_a_lock_that_is_a_fifo_does_not_hang_runs_eval_or_resume(run_dir, tmp_path):
    """owner() opened .lock for reading, which blocks on a FIFO until a writer comes: forever."""
    damaged = shutil.copytree(run_dir, tmp_path / "runs" / run_dir.name)
    summary = json.loads((damaged / "summary.json").read_text())
    (damaged / "summary.json").write_text(json.dumps({**summary, "status": "running"}))
    os.mkfifo(damaged / ".lock")
    with within(20):
        assert dlcc("runs", tmp_path / "runs").exit_code == 0
        assert dlcc("eval", damaged).exit_code == 0
        refused(dlcc("train", "--resume", damaged), ".lock: not a regular file")


# --------------------------------------------------------------------------- the dataset cache

@pytest.fixture
def tiny_mnist(tmp_path, monkeypatch):
    """Four tiny IDX files in tmp_path/src, their digests pinned as mnist's; the cache in tmp_path."""
    rng = np.random.default_rng(0)
    arrays = {"train-images-idx3-ubyte": rng.integers(0, 256, (40, 4, 3), dtype=np.uint8),
              "train-labels-idx1-ubyte": np.arange(40, dtype=np.uint8) % 10,
              "t10k-images-idx3-ubyte": rng.integers(0, 256, (10, 4, 3), dtype=np.uint8),
              "t10k-labels-idx1-ubyte": np.arange(10, dtype=np.uint8)}
    (tmp_path / "src").mkdir()
    for name, array in arrays.items():
        (tmp_path / "src" / name).write_bytes(idx_bytes(array))
    monkeypatch.setitem(published.FILES, "mnist", Published(
        {name: hashlib.sha256(idx_bytes(array)).hexdigest() for name, array in arrays.items()}))
    monkeypatch.setenv("DLCC_DATA_DIR", str(tmp_path / "cache"))
    return tmp_path / "src"


@posix_only
def test_a_fifo_in_the_npy_cache_does_not_hang_a_load(tiny_mnist, tmp_path):
    """read_cache read npy-cache.json and the .npy files with read_text/read_bytes, which block on
    a FIFO forever (and SIGTERM only sets a flag while train loads its data)."""
    from dlcc.data.cache import SIDECAR, read_cache

    folder = tmp_path / "cache" / "mnist"
    folder.mkdir(parents=True)
    os.mkfifo(folder / SIDECAR)
    with within(20):
        assert read_cache(folder, {}) is None


def test_an_import_over_a_symlink_loop_in_the_cache(tiny_mnist, tmp_path):
    """Path.resolve() raises RuntimeError (not OSError) for a symlink loop before Python 3.13:
    `dlcc data import` over a looping link in the cache was a traceback. Now the link is replaced."""
    assert dlcc("data", "import", "mnist", tiny_mnist).exit_code == 0
    target = tmp_path / "cache" / "mnist" / "t10k-labels-idx1-ubyte"
    target.unlink()
    target.symlink_to(target.name)
    result = dlcc("data", "import", "mnist", tiny_mnist)
    assert result.exit_code == 0, result.output
    assert target.read_bytes() == (tiny_mnist / target.name).read_bytes() and not target.is_symlink()


@posix_only
def test_fifos_in_a_sweep_folder_do_not_hang_resume_or_compare(tmp_path):
    """sweep.yaml and results.csv are read like run files: regular files of bounded size only."""
    path = tmp_path / "t.yaml"
    path.write_text(yaml.safe_dump(TINY))
    assert dlcc("sweep", path, "--seeds", "2", "--quiet", "--runs-dir", tmp_path / "runs").exit_code == 0
    (sweep_dir,) = (tmp_path / "runs").iterdir()
    (sweep_dir / "results.csv").unlink()
    os.mkfifo(sweep_dir / "results.csv")
    with within(20):
        refused(dlcc("compare", sweep_dir), "results.csv: not a regular file", "sweep folder is damaged")
    (sweep_dir / "sweep.yaml").unlink()
    os.mkfifo(sweep_dir / "sweep.yaml")
    with within(20):
        refused(dlcc("sweep", "--resume", sweep_dir), "sweep.yaml: not a regular file")


def test_a_point_id_that_is_a_path_is_refused_as_damage(tmp_path):
    """Point ids become run-folder names inside the sweep folder; one edited into ../../x is a
    damaged sweep.yaml, said so, not a --name error the user never typed."""
    path = tmp_path / "t.yaml"
    path.write_text(yaml.safe_dump(TINY))
    assert dlcc("sweep", path, "--seeds", "1", "--quiet", "--runs-dir", tmp_path / "runs").exit_code == 0
    (sweep_dir,) = (tmp_path / "runs").iterdir()
    definition = yaml.safe_load((sweep_dir / "sweep.yaml").read_text())
    definition["points"][0]["id"] = "../../x"
    (sweep_dir / "sweep.yaml").write_text(yaml.safe_dump(definition, sort_keys=False))
    message = refused(dlcc("sweep", "--resume", sweep_dir), "sweep.yaml: points must be a list with an id")
    assert "--name" not in message


@pytest.mark.parametrize("tamper", [
    lambda d: d["runs"][0].update(point="p999"),     # a run of a point that is not there
    lambda d: d.update(base=["not", "a", "config"]),
    lambda d: d["runs"].append("not a run"),
])
def test_every_reader_of_a_sweep_folder_calls_the_same_tampered_sweep_yaml_damaged(tmp_path, tamper):
    """`dlcc runs` called such a sweep.yaml damaged while report, plot and compare still read the
    runs (or failed with a traceback): the shapes are now checked where the file is read."""
    path = tmp_path / "t.yaml"
    path.write_text(yaml.safe_dump(TINY))
    runs_dir = tmp_path / "runs"
    assert dlcc("sweep", path, "--seeds", "2", "--quiet", "--runs-dir", runs_dir).exit_code == 0
    (sweep_dir,) = runs_dir.iterdir()
    definition = yaml.safe_load((sweep_dir / "sweep.yaml").read_text())
    tamper(definition)
    (sweep_dir / "sweep.yaml").write_text(yaml.safe_dump(definition, sort_keys=False))
    damaged = "the sweep folder is damaged"
    for command in (["compare", sweep_dir], ["report", sweep_dir, "--out", tmp_path / "r.html"],
                    ["plot", sweep_dir, "--out", tmp_path / "p.png"], ["sweep", "--resume", sweep_dir]):
        refused(dlcc(*command), "sweep.yaml", damaged)
    assert not (tmp_path / "r.html").exists() and not (tmp_path / "p.png").exists()
    listed = dlcc("runs", runs_dir)
    assert listed.exit_code == 0 and "unreadable" in listed.output
