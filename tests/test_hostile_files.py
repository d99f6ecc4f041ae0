"""Inputs checked at the edge (issue 18, cases 1, 6, 7 and 10 and the smaller ones): config files,
--set values, npz/csv datasets and the memory a run needs. Every one is exit code 2 with one
message naming what is wrong, no traceback, and no run folder."""

from __future__ import annotations

import os

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from dlcc.cli import app
from dlcc.training.memory import estimate, parse_size
from tests.conftest import ROOT, TINY

runner = CliRunner()
MNIST = ROOT / "configs" / "mnist-mlp.yaml"


def dlcc(*args):
    return runner.invoke(app, [str(a) for a in args])


def refused(result, *words):
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and result.exception is None or isinstance(result.exception, SystemExit)
    for word in words:
        assert word in result.stderr, result.stderr
    return result.stderr


# --------------------------------------------------------------------------- case 1: dataset names

@pytest.mark.parametrize("command", ["train", "validate", "gradcheck"])
def test_a_misspelt_or_incomplete_dataset_on_a_config_without_options(command, tmp_path):
    extra = ["--runs-dir", tmp_path / "runs"] if command == "train" else []
    refused(dlcc(command, MNIST, "--set", "data.dataset=fashion_mnist", *extra),
            "--set data.dataset=fashion_mnist: data.dataset: unknown dataset 'fashion_mnist'", "fashion-mnist")
    refused(dlcc(command, MNIST, "--set", "data.dataset=csv", *extra),
            "--set data.dataset=csv: data.options.path: Field required")
    assert not (tmp_path / "runs").exists()


def test_switching_the_dataset_lets_set_give_its_options(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    np.savez("xy.npz", x=np.random.default_rng(0).normal(size=(40, 3)), y=np.arange(40) % 2)
    result = dlcc("validate", MNIST, "--set", "data.dataset=npz", "--set", "data.options.path=xy.npz",
                  "--set", "model.layers.1.units=2", "--set", "data.validation=0.1")
    assert result.exit_code == 0, result.output
    assert "path: xy.npz" in result.stdout


# --------------------------------------------------------------------------- case 7: npz datasets

NPZ = {
    "x of shape (0, 3)": ({"x": np.zeros((0, 3)), "y": np.zeros(0)}, "x has no examples (shape (0, 3))"),
    "a scalar y": ({"x": np.zeros((10, 3)), "y": np.array(1)}, "y has dtype int64, shape ()"),
    "x of shape (60, 0)": ({"x": np.zeros((60, 0)), "y": np.arange(60) % 2}, "x has no features (shape (60, 0))"),
    "an empty x_test": ({"x": np.random.default_rng(0).normal(size=(60, 3)), "y": np.arange(60) % 2,
                         "x_test": np.zeros((0, 3)), "y_test": np.zeros(0)}, "x_test has no examples"),
    "complex y": ({"x": np.zeros((10, 3)), "y": np.zeros(10, dtype=complex)}, "y has dtype complex128"),
    "one distinct label": ({"x": np.random.default_rng(0).normal(size=(60, 3)), "y": np.zeros(60)},
                           "y has a single distinct value (0)"),
    "0/1 rows that are not one-hot": ({"x": np.random.default_rng(0).normal(size=(60, 3)),
                                       "y": np.tile([[1, 1], [0, 1]], (30, 1))},
                                      "row 0 holds 2 ones, so these are not one-hot rows"),
}


def npz_config(tmp_path, path, units=2) -> object:
    cfg = {"name": "npz", "data": {"dataset": "npz", "options": {"path": str(path)}},
           "model": {"layers": [{"units": 4, "activation": "relu"}, {"units": units, "activation": "softmax"}]},
           "training": {"epochs": 2}}
    (tmp_path / "npz.yaml").write_text(yaml.safe_dump(cfg))
    return tmp_path / "npz.yaml"


@pytest.mark.parametrize("case", sorted(NPZ))
def test_npz_shapes_dtypes_emptiness_and_labels(tmp_path, case):
    arrays, message = NPZ[case]
    np.savez(tmp_path / "data.npz", **arrays)
    refused(dlcc("train", npz_config(tmp_path, tmp_path / "data.npz"), "--runs-dir", tmp_path / "runs"),
            "data.npz: ", message)
    assert not (tmp_path / "runs").exists()


def test_a_npy_file_given_as_the_npz_dataset(tmp_path):
    np.save(tmp_path / "x.npy", np.zeros((10, 3)))
    refused(dlcc("train", npz_config(tmp_path, tmp_path / "x.npy"), "--runs-dir", tmp_path / "runs"),
            "x.npy is a .npy file holding one array", "numpy.savez")


def test_csv_with_one_label_is_not_silently_a_regression(tmp_path):
    (tmp_path / "t.csv").write_text("a,b,label\n" + "".join(f"{i},{i * 2},3\n" for i in range(30)))
    cfg = {"name": "c", "data": {"dataset": "csv", "options": {"path": str(tmp_path / "t.csv"), "target": "label"}},
           "model": {"layers": [{"units": 4}, {"units": 2, "activation": "softmax"}]}, "training": {"epochs": 1}}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    refused(dlcc("train", tmp_path / "c.yaml", "--runs-dir", tmp_path / "runs"), "single distinct value (3)",
            "data.options.task: regression")


def test_a_softmax_over_one_unit_and_min_lr_above_lr_are_refused(tmp_path):
    path = tmp_path / "t.yaml"
    path.write_text(yaml.safe_dump(TINY))
    refused(dlcc("validate", path, "--set", "model.layers.1.units=1"), "a softmax over one unit is always 1")
    refused(dlcc("validate", path, "--set", "schedule.name=cosine", "--set", "schedule.min_lr=0.9"),
            "schedule.min_lr: 0.9 is above optimizer.lr (0.5)")


# --------------------------------------------------------------------------- case 10: configs and --set

def test_deep_nesting_in_set_and_in_a_config(tmp_path):
    path = tmp_path / "t.yaml"
    path.write_text(yaml.safe_dump(TINY))
    refused(dlcc("validate", path, "--set", "name=" + "[" * 5000), "--set name: cannot parse value",
            "nested more than 64 levels deep", "(5,002 characters)")
    deep = tmp_path / "deep.yaml"
    deep.write_text("name: " + "[" * 5000 + "\n")
    refused(dlcc("validate", deep), "deep.yaml: not valid YAML", "nested more than 64 levels deep")


def test_a_unicode_digit_as_a_set_index(tmp_path):
    path = tmp_path / "t.yaml"
    path.write_text(yaml.safe_dump(TINY))
    refused(dlcc("validate", path, "--set", "model.layers.².units=3"), "'model.layers.²' is not an index")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are POSIX")
def test_configs_only_from_regular_files_of_bounded_size(tmp_path):
    refused(dlcc("validate", "/dev/zero"), "/dev/zero: cannot read config: not a regular file")
    os.mkfifo(tmp_path / "fifo.yaml")  # reading it would block forever
    refused(dlcc("validate", tmp_path / "fifo.yaml"), "not a regular file")
    (tmp_path / "big.yaml").write_text("name: x\n" + "# padding\n" * 200_000)
    refused(dlcc("validate", tmp_path / "big.yaml"), "more than the 1,048,576 allowed")
    refused(dlcc("validate", tmp_path), "cannot read config: a folder")


def test_duplicate_yaml_keys_are_refused(tmp_path):
    path = tmp_path / "dup.yaml"
    path.write_text(yaml.safe_dump(TINY) + "seed: 3\n")
    refused(dlcc("validate", path), "dup.yaml: not valid YAML", "duplicate key 'seed' (first on line")


def test_a_long_bad_value_is_cut_in_the_message(tmp_path):
    path = tmp_path / "t.yaml"
    path.write_text(yaml.safe_dump(TINY))
    message = refused(dlcc("validate", path, "--set", "name=" + "x" * 100_000), "(100,002 characters)")
    assert len(message) < 1000


def test_an_empty_name_and_a_nan_tolerance(tmp_path):
    path = tmp_path / "t.yaml"
    path.write_text(yaml.safe_dump(TINY))
    message = refused(dlcc("train", path, "--name", "", "--runs-dir", tmp_path / "runs"), "--name '': name: must be 1 to 100")
    assert "--set" not in message and "^[" not in message  # the flag the user typed, the rule in words
    assert not (tmp_path / "runs").exists()
    refused(dlcc("gradcheck", path, "--tolerance", "nan"), "--tolerance nan: expected a positive number")
    refused(dlcc("sweep", path, "--name", "a b", "--runs-dir", tmp_path / "runs"), "--name 'a b': name: must be 1 to 81")
    assert not (tmp_path / "runs").exists()


# --------------------------------------------------------------------------- case 6: memory

ISSUE_6 = {"name": "wide", "data": {"dataset": "spirals", "options": {"points_per_class": 5000}},
           "model": {"layers": [{"units": 65536, "activation": "relu"}, {"units": 3, "activation": "softmax"}]},
           "training": {"epochs": 1, "batch_size": "full"}}


def test_activation_memory_is_checked_before_training(tmp_path, monkeypatch):
    monkeypatch.setenv("DLCC_MEMORY_LIMIT", "2G")
    path = tmp_path / "wide.yaml"
    path.write_text(yaml.safe_dump(ISSUE_6))
    for command in (["train", path, "--runs-dir", tmp_path / "runs"], ["validate", path]):
        message = refused(dlcc(*command), "the run needs about", "more than the 2.00 GiB set by DLCC_MEMORY_LIMIT",
                          "the largest part is the activations of a batch of 10,800 (batch_size: full)",
                          "lower training.batch_size (now full)")
        assert "docs/config.md" in message
    assert not (tmp_path / "runs").exists()
    monkeypatch.setenv("DLCC_MEMORY_LIMIT", "off")
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(TINY))
    assert dlcc("validate", tmp_path / "tiny.yaml").exit_code == 0
    monkeypatch.setenv("DLCC_MEMORY_LIMIT", "lots")
    refused(dlcc("validate", tmp_path / "tiny.yaml"), "DLCC_MEMORY_LIMIT='lots': expected a size")


def test_the_memory_estimate_by_hand():
    from dlcc import config

    cfg = config.parse({**TINY, "optimizer": {"name": "adam"}, "training": {"batch_size": 10}})
    terms = estimate(cfg, n_inputs=2, n_train=100, n_targets=3, n_eval=20)
    params = (2 * 16 + 16) + (16 * 3 + 3)  # 99 parameters, float32
    assert terms["parameters and gradients"][0] == 2 * params * 4
    assert terms["optimizer state"][0] == 2 * params * 4  # Adam's m and v
    assert terms["activations of a batch of 10"][0] == 3 * 10 * (16 + 3) * 4
    assert terms["evaluation chunk"][0] == 3 * 20 * 16 * 4
    assert terms["shuffled copy of the training data"][0] == 100 * (2 + 3) * 4
    assert parse_size("512M") == 512 * 2**20 and parse_size("1.5GiB") == int(1.5 * 2**30) and parse_size("off") == 0


def test_predict_on_an_empty_or_bare_array_file(tmp_path):
    from tests.runs_helpers import train_run

    run_dir = train_run(tmp_path / "runs")
    np.savez(tmp_path / "empty.npz", x=np.zeros((0, 2)))
    refused(dlcc("predict", run_dir, tmp_path / "empty.npz"), "empty.npz: x has dtype float64, shape (0, 2)")
    np.save(tmp_path / "bare.npy", np.zeros((3, 2)))
    (tmp_path / "bare.npy").rename(tmp_path / "bare.npz")
    refused(dlcc("predict", run_dir, tmp_path / "bare.npz"), "bare.npz is a .npy file holding one array")


# --------------------------------------------------------------------------- paths the system refuses

LONG = "/tmp/" + "x" * 3000  # longer than any file name may be (ENAMETOOLONG where pathlib probes it)


@pytest.mark.parametrize("args", [
    ["eval", LONG], ["runs", LONG], ["compare", LONG, LONG], ["report", LONG], ["plot", LONG],
    ["predict", LONG, LONG + ".csv"], ["train", "--resume", LONG], ["sweep", "--resume", LONG],
    ["data", "import", "fashion-mnist", LONG], ["train", LONG + "/a.yaml"],
], ids=lambda args: " ".join(a[:12] for a in args[:2]))
def test_a_path_the_system_refuses_is_one_short_line(args):
    """Path.is_dir() and friends raise OSError (not False) for a name too long: wherever a command
    probes a path, that is one line with the path cut short and exit code 2."""
    message = refused(dlcc(*args))
    assert "characters)" in message and len(message) < 400, message


def test_a_runs_dir_the_system_refuses(tmp_path):
    path = tmp_path / "t.yaml"
    path.write_text(yaml.safe_dump(TINY))
    message = refused(dlcc("train", path, "--runs-dir", LONG), "File name too long")
    assert len(message) < 400


def test_the_api_raises_path_error_for_a_path_the_system_refuses():
    import dlcc as api

    for call in (lambda: api.load(LONG), lambda: api.list_runs(LONG), lambda: api.compare([LONG, LONG]),
                 lambda: api.expand_runs([LONG])):
        with pytest.raises(api.PathError, match="File name too long"):
            call()


def test_a_reader_that_goes_away_ends_the_output_quietly(tmp_path):
    """`dlcc runs | head`: the pipe closes before dlcc writes. That is not a path error: no
    `error:` line, no traceback (Click's own handling, exit code 1)."""
    import subprocess
    import sys

    path = tmp_path / "t.yaml"
    path.write_text(yaml.safe_dump(TINY))
    assert dlcc("train", path, "--runs-dir", tmp_path / "runs").exit_code == 0
    process = subprocess.Popen([sys.executable, "-m", "dlcc", "runs", str(tmp_path / "runs")],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    process.stdout.close()  # before dlcc has started up, so its first write finds the pipe closed
    stderr = process.stderr.read().decode()
    assert process.wait(timeout=60) == 1, stderr
    assert "error" not in stderr and "Traceback" not in stderr, stderr


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are POSIX")
def test_messages_say_what_is_in_the_way(tmp_path):
    """A FIFO given as input is not 'no such file'; a file or a broken link where a folder must be
    made is named as such, not 'File exists' or 'Not a directory'."""
    from tests.runs_helpers import train_run

    run = train_run(tmp_path / "runs")
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "afile").write_text("x")
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    path = tmp_path / "t.yaml"
    path.write_text(yaml.safe_dump(TINY))
    refused(dlcc("predict", run, tmp_path / "fifo"), "is not a regular file (a pipe or a device)")
    refused(dlcc("report", run, "--out", tmp_path / "afile" / "r.html"), "afile is a file, not a folder")
    np.savetxt(tmp_path / "in.csv", np.zeros((2, 2)), delimiter=",", header="x1,x2", comments="")
    refused(dlcc("predict", run, tmp_path / "in.csv", "--out", tmp_path / "afile" / "p.csv"),
            "afile is a file, not a folder")
    refused(dlcc("train", path, "--runs-dir", tmp_path / "dangling"), "dangling is a broken link, not a folder")
    assert not (tmp_path / "nowhere").exists()
