"""`dlcc` in child processes that start in milliseconds, for tests that kill them.

A fresh `python -m dlcc` spends about half a second importing NumPy and dlcc; a kill-and-resume
loop of dozens of trials would spend most of its time there. multiprocessing's forkserver imports
dlcc once, in a server process that has never run a matrix product (so forking it is safe with
BLAS threads), and forks each child from it. A child is the real command line: `dlcc.cli.main()`
with its own signal handlers, exit code and stderr (written to a file).
"""

from __future__ import annotations

import json
import multiprocessing
import os
import sys
from pathlib import Path

_CONTEXT = None


def _run(args: list[str], stderr: str, checkpoint_seconds: float | None) -> None:
    from dlcc.cli import main
    from dlcc.runs import writer

    if checkpoint_seconds is not None:  # checkpoints every few epochs, so kills land between them
        writer.CHECKPOINT_SECONDS = checkpoint_seconds
    out = os.open(stderr, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(out, 2)
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)
    sys.argv = ["dlcc", *args]
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    sys.stderr.flush()
    os._exit(code)


def context():
    global _CONTEXT
    if _CONTEXT is None:
        _CONTEXT = multiprocessing.get_context("forkserver")
        _CONTEXT.set_forkserver_preload(["tests.kill_helpers", "dlcc.cli", "dlcc.api", "dlcc.training.session",
                                         "dlcc.report.progress", "dlcc.report.tables"])
    return _CONTEXT


def start(args, stderr, checkpoint_seconds: float | None = None):
    """A started child running `dlcc ARGS...`; its stderr goes to the file `stderr`."""
    process = context().Process(target=_run, args=([str(a) for a in args], str(stderr), checkpoint_seconds))
    process.start()
    return process


def visible(runs: Path) -> list[Path]:
    """The run folders in `runs` (not the hidden temporary folder of one being created)."""
    return sorted(p for p in Path(runs).iterdir() if not p.name.startswith(".")) if Path(runs).exists() else []


def run_result(run_dir: Path) -> dict:
    """What a finished run is: its metrics (minus wall times), summary facts and weights."""
    import numpy as np

    lines = (run_dir / "metrics.csv").read_text().splitlines()
    header = lines[0].split(",")
    keep = [i for i, c in enumerate(header) if c != "seconds"]
    summary = json.loads((run_dir / "summary.json").read_text())
    with np.load(run_dir / "model.npz", allow_pickle=False) as npz:
        weights = {k: npz[k].tobytes() for k in npz.files}
    return {
        "metrics": [[line.split(",")[i] for i in keep] for line in lines],
        "summary": {k: summary.get(k) for k in ("status", "epochs_completed", "best_epoch", "test", "stop_reason")},
        "best": {k: v for k, v in (summary.get("best") or {}).items() if k != "seconds"},
        "weights": weights,
    }
