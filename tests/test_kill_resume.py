"""Kill `dlcc train` at random moments, SIGKILL and SIGTERM alike, from before the run folder
exists to after the last epoch, then resume: every trial must leave a readable, resumable folder
(or none at all), and the finished run must equal the uninterrupted one bit for bit."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from dlcc.cli import app
from tests import kill_helpers
from tests.kill_helpers import run_result as result, visible

runner = CliRunner()
pytestmark = pytest.mark.skipif("forkserver" not in multiprocessing.get_all_start_methods(),
                                reason="the children are forked from a fork server (POSIX)")

# Two small runs that exercise every piece of resumable state: momentum, a plateau schedule,
# dropout and early stopping with restored weights; an ensemble with bagging, Adam and cosine.
CONFIGS = {
    "stopping": {
        "name": "stop", "seed": 4,
        "data": {"dataset": "spirals", "options": {"classes": 3, "points_per_class": 60, "noise": 0.2}},
        "model": {"layers": [{"units": 24, "activation": "relu", "dropout": 0.1},
                             {"units": 3, "activation": "softmax"}]},
        "optimizer": {"name": "sgd", "lr": 0.3, "momentum": 0.9},
        "schedule": {"name": "plateau", "factor": 0.5, "patience": 2},
        "training": {"epochs": 60, "batch_size": 16,
                     "early_stopping": {"monitor": "val_loss", "patience": 6, "restore_best": True}},
    },
    "ensemble": {
        "name": "bag", "seed": 7,
        "data": {"dataset": "moons", "options": {"points": 160}},
        "model": {"layers": [{"units": 12, "activation": "tanh"}, {"units": 2, "activation": "softmax"}]},
        "optimizer": {"name": "adam", "lr": 0.02},
        "schedule": {"name": "cosine", "min_lr": 0.001},
        "training": {"epochs": 30, "batch_size": 16},
        "ensemble": {"members": 2, "bagging": True},
    },
}
TRIALS = 20  # per config
CHECKPOINT_SECONDS = 0.01  # checkpoint every epoch or two, so kills land between checkpoints


def run_child(args, tmp_path: Path, name: str):
    process = kill_helpers.start(args, tmp_path / f"{name}.err", CHECKPOINT_SECONDS)
    process.join(60)
    err = tmp_path / f"{name}.err"
    return process.exitcode, err.read_text() if err.exists() else ""


@pytest.mark.parametrize("config", sorted(CONFIGS))
def test_random_kills_then_resume_equal_the_uninterrupted_run(tmp_path, config):
    cfg = tmp_path / f"{config}.yaml"
    cfg.write_text(yaml.safe_dump(CONFIGS[config]))
    assert run_child(["--version"], tmp_path, "warm")[0] == 0  # the fork server is up: children start at once
    started = time.monotonic()
    code, err = run_child(["train", cfg, "--runs-dir", tmp_path / "reference", "--quiet"], tmp_path, "ref")
    duration = time.monotonic() - started
    assert code == 0, err
    (reference,) = visible(tmp_path / "reference")
    expected = result(reference)
    if config == "stopping":
        assert expected["summary"]["status"] == "early_stopped"  # the kills also hit the stop itself

    rows = len(expected["metrics"]) - 1  # epochs 0..last
    rng = np.random.default_rng(18)
    phases = []
    for trial in range(TRIALS):
        runs = tmp_path / f"runs-{trial}"
        sig = signal.SIGKILL if (trial + trial // 4) % 2 == 0 else signal.SIGTERM  # both in every phase
        process = kill_helpers.start(["train", cfg, "--runs-dir", runs, "--quiet"], tmp_path / "kill.err",
                                     CHECKPOINT_SECONDS)
        # A quarter of the kills at a random time in the first half of a run (the first one at once:
        # before the run folder exists); half when metrics.csv has a random number of rows (mid-
        # training); a quarter as soon as it has the last epoch's row (after the last epoch, while
        # model.npz and the final summary are written), however fast this machine is right now.
        if trial % 4 == 0:
            moment = f"{(delay := 0.0 if trial == 0 else rng.random() * 0.5 * duration):.3f}s"
            time.sleep(delay)
            phase = "start"
        else:
            target = rows if trial % 4 == 3 else int(rng.integers(1, rows))
            phase, moment = ("after the last epoch" if target == rows else "training"), f"row {target}"
            while process.is_alive() and _rows(runs) < target:
                time.sleep(0.001)
            time.sleep(rng.random() * 0.003)
        try:
            os.kill(process.pid, sig)
        except ProcessLookupError:
            pass  # it finished first
        process.join(60)
        err = (tmp_path / "kill.err").read_text() if (tmp_path / "kill.err").exists() else ""
        (tmp_path / "kill.err").unlink(missing_ok=True)
        assert "Traceback" not in err, err
        folders = visible(runs)
        assert len(folders) <= 1, folders
        if not folders:  # killed before the folder was complete: nothing was created
            assert process.exitcode in (-signal.SIGKILL, -signal.SIGTERM, 130), (process.exitcode, err)
            phases.append("before the run folder")
            continue
        (run_dir,) = folders
        assert {"config.yaml", "summary.json", "metrics.csv"} <= {p.name for p in run_dir.iterdir()}
        status = json.loads((run_dir / "summary.json").read_text())["status"]
        if sig == signal.SIGTERM:  # caught from the first write to the last: never left 'running'
            assert status != "running", (process.exitcode, err)
            # SIGTERM's default action only before the folder exists or after its last file
            assert process.exitcode in (0, 130) or status in ("completed", "early_stopped"), (process.exitcode, err)
        listed = runner.invoke(app, ["runs", str(runs), "--json"])
        assert listed.exit_code == 0 and json.loads(listed.stdout)[0]["error"] is None, listed.output

        code, err = run_child(["train", "--resume", run_dir, "--quiet"], tmp_path, "resume")
        assert code == 0, err
        assert result(run_dir) == expected, f"trial {trial}: {sig.name} at {moment} ({status})"
        assert not list(run_dir.glob(".*")), list(run_dir.glob(".*"))  # no .lock, no stale .tmp files
        phases.append(phase)
    assert {"before the run folder", "training", "after the last epoch"} <= set(phases), phases


def _rows(runs: Path) -> int:
    """Data rows in the metrics.csv of the (one) run folder in `runs` so far."""
    for run_dir in visible(runs):
        try:
            return (run_dir / "metrics.csv").read_text().count("\n") - 1
        except OSError:
            return 0
    return 0


@pytest.mark.parametrize("args", [["validate", "CONFIG"], ["runs", "RUNS"]])
def test_sigterm_before_training_is_exit_130_like_ctrl_c(tmp_path, args):
    """SIGTERM while a command is still reading its inputs (before training installs its own handler)
    ends like Ctrl-C: "interrupted", exit code 130, not the 143 of a process killed by the signal."""
    import subprocess
    import sys

    config = tmp_path / "stop.yaml"
    config.write_text(yaml.safe_dump(CONFIGS["stopping"]))
    args = [str(config) if a == "CONFIG" else str(tmp_path) if a == "RUNS" else a for a in args]
    # The signal arrives from inside the command (when it parses the config or lists the folder),
    # so the test does not depend on timing.
    code = ("import os, signal, sys\n"
            "import dlcc.config as config, dlcc.runs.listing as listing\n"
            "def hit(original):\n"
            "    def call(*a, **k):\n"
            "        os.kill(os.getpid(), signal.SIGTERM)\n"
            "        return original(*a, **k)\n"
            "    return call\n"
            "config.load_any = hit(config.load_any)\n"
            "listing.list_runs = hit(listing.list_runs)\n"
            f"sys.argv = ['dlcc', *{args!r}]\n"
            "from dlcc.cli import main\n"
            "main()\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 130, proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == "interrupted" and "Traceback" not in proc.stderr
