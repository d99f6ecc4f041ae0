"""Run folders for the tests of eval, compare, runs and plot: tiny configs trained in milliseconds."""

from __future__ import annotations

import copy
import json
from pathlib import Path

from typer.testing import CliRunner

from dlcc import config
from dlcc.cli import app
from tests.conftest import train
from tests.conftest import TINY

runner = CliRunner()

# One input, a tanh hidden layer and a linear output: the course's regression setting.
SINE = {
    "name": "sine",
    "seed": 0,
    "data": {"dataset": "sine", "options": {"points": 120}, "normalize": "standard"},
    "model": {"layers": [{"units": 12, "activation": "tanh"}, {"units": 1, "activation": "linear"}]},
    "loss": "quadratic",
    "optimizer": {"name": "sgd", "lr": 0.1},
    "training": {"epochs": 4, "batch_size": 16},
}

# Two classes with one sigmoid output unit (binary cross-entropy): labels are a > 0.5.
MOONS = {
    "name": "moons",
    "seed": 0,
    "data": {"dataset": "moons", "options": {"points": 80}},
    "model": {"layers": [{"units": 8, "activation": "relu"}, {"units": 1, "activation": "sigmoid"}]},
    "loss": "binary_cross_entropy",
    "optimizer": {"name": "sgd", "lr": 0.5},
    "training": {"epochs": 3, "batch_size": 16},
}


def train_run(runs_dir: Path, *overrides: str, base: dict = TINY) -> Path:
    """Train a copy of `base` with --set style overrides into runs_dir; return the run folder."""
    cfg = config.parse(copy.deepcopy(base), source="test", overrides=list(overrides))
    run_dir, _ = train(cfg, runs_dir)
    return run_dir


def dlcc(*args) -> object:
    """Invoke the CLI in-process; stdout and stderr are kept apart (result.stdout, result.stderr)."""
    return runner.invoke(app, [str(a) for a in args])


def refused(result, *words) -> str:
    """A command refused as bad input: exit code 2, no traceback, every word on stderr (returned)."""
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exc_info
    assert "Traceback" not in result.output
    for word in words:
        assert word in result.stderr, result.stderr
    return result.stderr


def dlcc_json(*args):
    result = dlcc(*args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def summary(run_dir: Path) -> dict:
    return json.loads((run_dir / "summary.json").read_text())


def in_terminal(*args, columns: int) -> str:
    """dlcc run with stdout on a pseudo-terminal `columns` wide, as a user sees it (colours removed)."""
    import os
    import pty
    import re
    import subprocess
    import sys

    leader, follower = pty.openpty()
    env = {**os.environ, "COLUMNS": str(columns), "LINES": "50"}
    proc = subprocess.Popen([sys.executable, "-m", "dlcc", *map(str, args)], stdout=follower,
                            stderr=subprocess.PIPE, env=env)
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal closed: the command ended
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    assert proc.wait(timeout=60) == 0, proc.stderr.read()
    text = b"".join(chunks).decode().replace("\r\n", "\n")
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text)
