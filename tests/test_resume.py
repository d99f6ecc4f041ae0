"""Never lose a run: interrupts, resume, divergence, damaged run folders (SPEC exit codes 3, 130)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from dlcc.cli import app
from dlcc.runs.folder import create_run_dir
from tests.conftest import ROOT

runner = CliRunner()

# Big enough that an epoch takes a few hundred milliseconds, so SIGINT lands mid-epoch.
SLOW_SPIRALS = {
    "name": "long",
    "seed": 3,
    "data": {"dataset": "spirals", "options": {"classes": 3, "points_per_class": 4000, "noise": 0.2}},
    "model": {"layers": [{"units": 64, "activation": "relu", "dropout": 0.2},
                         {"units": 3, "activation": "softmax"}]},
    "optimizer": {"name": "adam", "lr": 0.002},
    "schedule": {"name": "plateau", "factor": 0.5, "patience": 1},
    "training": {"epochs": 8, "batch_size": 8,
                 "early_stopping": {"patience": 50, "restore_best": True}},
}


def dlcc(*args: str, **kwargs) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "dlcc", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, **kwargs)


def only_run(runs: Path) -> Path:
    (run_dir,) = [p for p in runs.iterdir() if p.is_dir()]
    return run_dir


def loss_columns(run_dir: Path) -> list[list[str]]:
    lines = (run_dir / "metrics.csv").read_text().splitlines()
    return [line.split(",")[:5] for line in lines]


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_interrupt_then_resume_matches_an_uninterrupted_run_bit_for_bit(tmp_path, sig):
    cfg = tmp_path / "long.yaml"
    cfg.write_text(yaml.safe_dump(SLOW_SPIRALS))

    whole = dlcc("train", str(cfg), "--runs-dir", str(tmp_path / "whole"), "--quiet")
    assert whole.wait(timeout=300) == 0, whole.stderr.read()

    part = dlcc("train", str(cfg), "--runs-dir", str(tmp_path / "part"), "--quiet")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # wait until two epochs are done, then interrupt mid-epoch
        metrics = list((tmp_path / "part").glob("*/metrics.csv"))
        if metrics and len(metrics[0].read_text().splitlines()) >= 4:
            break
        time.sleep(0.02)
    part.send_signal(sig)
    assert part.wait(timeout=60) == 130
    stderr = part.stderr.read()
    assert "dlcc train --resume" in stderr and "Traceback" not in stderr
    run_dir = only_run(tmp_path / "part")
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "interrupted"
    assert 2 <= summary["epochs_completed"] < 8

    resumed = dlcc("train", "--resume", str(run_dir), "--quiet")
    assert resumed.wait(timeout=300) == 0, resumed.stderr.read()

    reference = only_run(tmp_path / "whole")
    assert loss_columns(run_dir) == loss_columns(reference)
    with np.load(run_dir / "model.npz") as a, np.load(reference / "model.npz") as b:
        assert a.files == b.files
        for key in a.files:
            np.testing.assert_array_equal(a[key], b[key])
    done = json.loads((run_dir / "summary.json").read_text())
    assert done["status"] == "completed" and done["resumed"] == 1
    assert done["test"] == json.loads((reference / "summary.json").read_text())["test"]


def train_tiny(tiny_raw, write_config, runs: Path, *extra: str):
    return runner.invoke(app, ["train", str(write_config(tiny_raw)), "--runs-dir", str(runs), "--quiet", *extra])


def test_resuming_a_finished_run_says_so(tiny_raw, write_config, tmp_path):
    assert train_tiny(tiny_raw, write_config, tmp_path / "runs").exit_code == 0
    result = runner.invoke(app, ["train", "--resume", str(only_run(tmp_path / "runs"))])
    assert result.exit_code == 0
    assert "already finished (status: completed)" in result.stderr


def interrupted_copy(tiny_raw, write_config, tmp_path) -> Path:
    """A finished tiny run turned back into an interrupted one after its second epoch."""
    tiny_raw["training"]["epochs"] = 2
    assert train_tiny(tiny_raw, write_config, tmp_path / "runs").exit_code == 0
    run_dir = only_run(tmp_path / "runs")
    summary = json.loads((run_dir / "summary.json").read_text())
    summary["status"] = "interrupted"
    (run_dir / "summary.json").write_text(json.dumps(summary))
    return run_dir


def test_resume_refuses_an_edited_config(tiny_raw, write_config, tmp_path):
    run_dir = interrupted_copy(tiny_raw, write_config, tmp_path)
    text = (run_dir / "config.yaml").read_text().replace("lr: 0.5", "lr: 0.25")
    (run_dir / "config.yaml").write_text(text)
    result = runner.invoke(app, ["train", "--resume", str(run_dir)])
    assert result.exit_code == 2
    assert "config was changed after the run started" in result.stderr


def test_resume_refuses_overrides(tiny_raw, write_config, tmp_path):
    run_dir = interrupted_copy(tiny_raw, write_config, tmp_path)
    result = runner.invoke(app, ["train", "--resume", str(run_dir), "--set", "optimizer.lr=0.1"])
    assert result.exit_code == 2 and "cannot be combined" in result.stderr


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda d: (d / "summary.json").write_text(""), "summary.json: the file is empty"),
        (lambda d: (d / "summary.json").write_text("[1, 2]"), "summary.json: expected a JSON object"),
        (lambda d: (d / "checkpoint.npz").write_bytes((d / "checkpoint.npz").read_bytes()[:100]),
         "checkpoint.npz: the checkpoint is damaged"),
        (lambda d: (d / "config.yaml").unlink(), "config.yaml: missing"),
        (lambda d: (d / "config.yaml").write_text("model: [unclosed"), "config.yaml: not valid YAML"),
    ],
)
def test_damaged_run_folders_exit_2_and_name_the_file(tiny_raw, write_config, tmp_path, damage, message):
    run_dir = interrupted_copy(tiny_raw, write_config, tmp_path)
    damage(run_dir)
    result = runner.invoke(app, ["train", "--resume", str(run_dir)])
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert "Traceback" not in result.output


def test_resume_of_a_missing_folder(tmp_path):
    result = runner.invoke(app, ["train", "--resume", str(tmp_path / "nope")])
    assert result.exit_code == 2 and "no such run folder" in result.stderr


def test_divergence_keeps_the_last_good_checkpoint(tiny_raw, write_config, tmp_path):
    tiny_raw["model"]["layers"] = [{"units": 16, "activation": "linear"}, {"units": 3, "activation": "linear"}]
    tiny_raw["loss"] = "quadratic"
    result = train_tiny(tiny_raw, write_config, tmp_path / "runs", "--set", "optimizer.lr=1e6")
    assert result.exit_code == 3
    run_dir = only_run(tmp_path / "runs")
    assert json.loads((run_dir / "summary.json").read_text())["status"] == "diverged"
    with np.load(run_dir / "checkpoint.npz", allow_pickle=False) as ckpt:
        assert json.loads(str(ckpt["info"]))["rows"][-1]["epoch"] == 0  # the last good epoch
        assert all(np.isfinite(ckpt[k]).all() for k in ckpt.files if k.startswith("m1.param."))


def test_runs_started_in_the_same_second_get_different_folders(tmp_path):
    with ThreadPoolExecutor(8) as pool:
        folders = list(pool.map(lambda _: create_run_dir(tmp_path, "same"), range(16)))
    assert len(set(folders)) == 16
    assert all(f.is_dir() and not any(f.iterdir()) for f in folders)


def test_two_processes_with_the_same_name(tiny_raw, write_config, tmp_path):
    cfg = str(write_config(tiny_raw))
    procs = [dlcc("train", cfg, "--runs-dir", str(tmp_path / "runs"), "--quiet") for _ in range(2)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    folders = sorted(p.name for p in (tmp_path / "runs").iterdir())
    assert len(folders) == 2
