"""Damaged run folders (issue 18, cases 2, 8, 9 and 11): every command that reads a run folder
reads it through the typed readers, so a damaged file is exit code 2 and a message naming it, never
a traceback; `dlcc runs` lists it as unreadable and goes on. A hypothesis test damages the files at
random (truncated, garbled, wrong types, huge values, deep nesting) and runs eval, compare, plot,
runs and resume on the result (30 examples; DAMAGE_EXAMPLES=300 for a deeper search)."""

from __future__ import annotations

import io
import os
import json
import shutil

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from dlcc.cli import app
from tests.runs_helpers import train_run

runner = CliRunner()


def dlcc(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A finished tiny run, and an untouched second one to compare with."""
    runs = tmp_path_factory.mktemp("runs")
    return train_run(runs, "training.epochs=4"), train_run(runs, "training.epochs=4", "seed=1")


def interrupted_copy(run_dir, where):
    """A copy of the run marked interrupted (so resume reads its checkpoint), free to damage."""
    copy = shutil.copytree(run_dir, where / run_dir.name)
    summary = json.loads((copy / "summary.json").read_text())
    (copy / "summary.json").write_text(json.dumps({**summary, "status": "interrupted"}))
    return copy


def rewrite_npz(path, change):
    with np.load(path, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    change(arrays)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    path.write_bytes(buf.getvalue())


def set_json(path, **keys):
    data = json.loads(path.read_text())
    path.write_text(json.dumps({**data, **keys}))


def set_info(arrays, **keys):
    info = json.loads(str(arrays["info"]))
    arrays["info"] = np.array(json.dumps({**info, **keys}))


def assert_refused(result, *words):
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    for word in words:
        assert word in result.stderr, result.stderr


# --------------------------------------------------------------------------- case 8: checkpoint.npz

CHECKPOINT_DAMAGE = {
    "a missing parameter": (lambda a: a.pop("m1.param.W2"), "m1.param: missing W2"),
    "a wrong shape": (lambda a: a.update({"m1.param.W1": np.zeros((3, 3))}), "m1.param.W1 has shape (3, 3)"),
    "a string array": (lambda a: a.update({"m1.param.b1": np.array(["x"] * 16)}), "m1.param.b1 has shape (16,) and dtype <U1"),
    "info as a JSON list": (lambda a: a.update({"info": np.array("[1, 2]")}), "info is a JSON list"),
    "info not text": (lambda a: a.update({"info": np.arange(3)}), "info and config_sha256 must be text"),
    "missing RNG state": (lambda a: set_info(a, rng=[]), "info.rng must hold 1 random generator state"),
    "a garbled RNG state": (lambda a: set_info(a, rng=[{"bit_generator": "PCG64", "state": 5}]), "info.rng[1]"),
    "a non-numeric epoch": (lambda a: set_info(a, rows=[{"epoch": "x"}]), "info.rows must be metrics rows"),
    "an extra optimizer key": (lambda a: a.update({"m1.opt.v.W1": np.zeros((2, 16))}), "m1.opt: unexpected v.W1"),
    "NaN weights": (lambda a: a.update({"m1.param.b2": np.full(3, np.nan, dtype=np.float32)}), "holds NaN"),
    # what model.npz refuses, a checkpoint refuses too: weights are floating point
    "integer weights": (lambda a: a.update({"m1.param.b2": np.zeros(3, dtype=np.int64)}),
                        "m1.param.b2 has shape (3,) and dtype int64; expected shape (3,) of floating-point"),
    "boolean weights": (lambda a: a.update({"m1.param.W2": np.ones_like(a["m1.param.W2"], dtype=bool)}),
                        "dtype bool"),
}


@pytest.mark.parametrize("damage", sorted(CHECKPOINT_DAMAGE))
def test_a_checkpoint_that_loads_but_holds_the_wrong_things(trained, tmp_path, damage):
    change, message = CHECKPOINT_DAMAGE[damage]
    run_dir = interrupted_copy(trained[0], tmp_path)
    rewrite_npz(run_dir / "checkpoint.npz", change)
    before = {p.name: p.read_bytes() for p in run_dir.iterdir()}
    assert_refused(dlcc("train", "--resume", run_dir), "checkpoint.npz", message, "cannot be resumed")
    assert {p.name: p.read_bytes() for p in run_dir.iterdir()} == before  # nothing lost, nothing changed


# --------------------------------------------------------------------------- case 9: summary.json

SUMMARY_DAMAGE = {
    "seconds is text": ({"seconds": "abc"}, "'seconds' is 'abc'"),
    "test loss is text": ({"test": {"loss": "x", "accuracy": 0.5}}, "'test' is"),
    "resumed is text": ({"resumed": "x"}, "'resumed' is 'x'"),
    "created is a number": ({"created": 5}, "'created' is 5"),
    "best is a list": ({"best": [1, 2]}, "'best' is [1, 2]"),
    "class names are numbers": ({"class_names": [0, 1, 2]}, "'class_names' is [0, 1, 2]"),
    "an epoch count of 1e15": ({"epochs_completed": 10**15}, "'epochs_completed' is 1000000000000000"),
    "a status of the wrong type": ({"status": ["completed"]}, "status is ['completed']"),
}


@pytest.mark.parametrize("damage", sorted(SUMMARY_DAMAGE))
def test_summary_fields_of_the_wrong_type(trained, tmp_path, damage):
    keys, message = SUMMARY_DAMAGE[damage]
    run_dir = interrupted_copy(trained[0], tmp_path)
    set_json(run_dir / "summary.json", **keys)
    for command in (["eval", run_dir], ["compare", run_dir, trained[1]], ["plot", run_dir, "--out", tmp_path / "p.png"],
                    ["train", "--resume", run_dir]):
        assert_refused(dlcc(*command), "summary.json", message)
    listed = dlcc("runs", tmp_path)
    assert listed.exit_code == 0 and "unreadable" in listed.stdout and message in listed.stderr


def test_nan_seconds_and_deep_nesting_in_summary_json(trained, tmp_path):
    run_dir = interrupted_copy(trained[0], tmp_path)
    set_json(run_dir / "summary.json", seconds=float("nan"))  # json writes NaN, which dlcc never does
    assert_refused(dlcc("eval", run_dir), "'seconds' is nan")
    (run_dir / "summary.json").write_text('{"status": "completed", "extra": ' + "[" * 5000 + "]" * 5000 + "}")
    assert_refused(dlcc("eval", run_dir), "summary.json")
    assert dlcc("runs", tmp_path).exit_code == 0


# --------------------------------------------------------------------------- case 11: metrics.csv

def test_an_epoch_of_1e15_and_a_5_mb_field_in_metrics_csv(trained, tmp_path):
    run_dir = interrupted_copy(trained[0], tmp_path)
    lines = (run_dir / "metrics.csv").read_text().splitlines()
    good = "\n".join(lines) + "\n"
    for bad, message in (("1000000000000000" + lines[-1][1:], "epoch 1,000,000,000,000,000 is beyond"),
                         ("10000000" + lines[-1][1:], "epoch 10,000,000 is beyond"),
                         ('4,"' + "9" * 5_000_000 + '"' + lines[-1][lines[-1].index(",", 2):], "metrics.csv: line")):
        (run_dir / "metrics.csv").write_text("\n".join(lines[:-1] + [bad]) + "\n")
        for command in (["compare", run_dir, trained[1]], ["plot", run_dir, "--out", tmp_path / "p.png"],
                        ["eval", run_dir]):
            assert_refused(dlcc(*command), "metrics.csv", message)
        assert dlcc("runs", tmp_path).exit_code == 0
    (run_dir / "metrics.csv").write_text(good)
    assert dlcc("compare", run_dir, trained[1]).exit_code == 0


# --------------------------------------------------------------------------- case 2: nothing readable

def test_runs_lists_a_folder_of_only_unreadable_runs(trained, tmp_path):
    (tmp_path / "r" / "x").mkdir(parents=True)
    (tmp_path / "r" / "x" / "config.yaml").write_text("a: 1\n")
    result = dlcc("runs", tmp_path / "r")
    assert result.exit_code == 0 and "unreadable" in result.stdout and "Traceback" not in result.output
    assert json.loads(dlcc("runs", tmp_path / "r", "--json").stdout)[0]["status"] == "unreadable"
    # What an older dlcc left when killed between config.yaml and summary.json (dlcc now creates
    # the three files together): refused with the reason, not a traceback.
    shutil.copy(trained[0] / "config.yaml", tmp_path / "r" / "x")
    assert_refused(dlcc("train", "--resume", tmp_path / "r" / "x"), "summary.json: missing")


# --------------------------------------------------------------------------- hypothesis: any damage

FILES = ["summary.json", "metrics.csv", "config.yaml", "checkpoint.npz", "model.npz"]
JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
                    max_leaves=8)
HUGE = st.sampled_from(["1e308", "-1", "100000000000000000000", "nan", "inf", "x" * 200_000,
                        "[" * 5000, "{a: " * 3000, "\x00\xff", ""])


@st.composite
def damage(draw):
    name = draw(st.sampled_from(FILES))
    kind = draw(st.sampled_from(["truncate", "garble", "wrong type", "huge"]))
    return name, kind, draw(st.randoms(use_true_random=False))


def apply(path, kind, rnd, json_value, huge):
    data = path.read_bytes()
    if kind == "truncate":
        path.write_bytes(data[:rnd.randrange(len(data))])
    elif kind == "garble":
        at = rnd.randrange(len(data))
        path.write_bytes(data[:at] + bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 64))) + data[at + 8:])
    elif path.suffix == ".npz":
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
        key = rnd.choice(sorted(arrays))
        arrays[key] = np.array(json.dumps(json_value)) if kind == "wrong type" else np.array(huge[:1000])
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        path.write_bytes(buf.getvalue())
    elif path.suffix == ".json":
        obj = json.loads(data)
        obj[rnd.choice(sorted(obj))] = json_value if kind == "wrong type" else huge
        path.write_text(json.dumps(obj))
    elif path.suffix == ".yaml":
        obj = yaml.safe_load(data)
        obj[rnd.choice(sorted(obj))] = json_value if kind == "wrong type" else huge
        path.write_text(yaml.safe_dump(obj) if kind == "wrong type" else f"{data.decode()}\nzz: {huge}\n")
    else:  # metrics.csv: a cell of the last rows
        lines = data.decode().splitlines()
        row = rnd.randrange(1, len(lines))
        cells = lines[row].split(",")
        cells[rnd.randrange(len(cells))] = (json.dumps(json_value) if kind == "wrong type" else huge).replace("\n", " ")
        lines[row] = ",".join(cells)
        path.write_text("\n".join(lines) + "\n")


@settings(max_examples=int(os.environ.get("DAMAGE_EXAMPLES", "30")), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                HealthCheck.too_slow])
@given(what=damage(), json_value=JSON, huge=HUGE)
def test_damaged_run_files_never_crash_a_command(trained, tmp_path_factory, what, json_value, huge):
    name, kind, rnd = what
    where = tmp_path_factory.mktemp("damaged")
    run_dir = interrupted_copy(trained[0], where)
    apply(run_dir / name, kind, rnd, json_value, huge)
    commands = [["eval", run_dir], ["compare", run_dir, trained[1]], ["runs", where],
                ["train", "--resume", run_dir, "--quiet"]]
    if rnd.random() < 0.3:  # drawing takes 0.4 s: a third of the examples is plenty for its reader
        commands.insert(3, ["plot", run_dir, "--out", where / "p.png"])
    for command in commands:
        result = dlcc(*command)
        assert result.exception is None or isinstance(result.exception, SystemExit), (command, result.exc_info)
        assert "Traceback" not in result.output, (command, result.output)
        assert result.exit_code in (0, 2, 3), (command, result.exit_code, result.output)
        if result.exit_code == 2:
            error = result.stderr[result.stderr.index("error: "):]  # after any notes
            assert str(run_dir) in error, (command, result.stderr)
