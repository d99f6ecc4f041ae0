"""What a worker does for one run of a sweep: train it (or resume it) into its folder.

The same function runs in the local process pool and in Ray tasks, with the same number of BLAS
threads, so a run's metrics do not depend on where it ran.
"""

from __future__ import annotations

import os
from pathlib import Path

from dlcc import config as config_mod
from dlcc.errors import DivergedError, DlccError, InterruptedRun


def blas_threads(workers: int) -> int:
    """BLAS threads per worker so that workers x threads never exceeds the cores."""
    return max(1, (os.cpu_count() or 1) // workers)


def train_run(task: dict) -> dict:
    """task: {name, config (resolved YAML text), sweep_dir, resume, threads}.

    Returns the outcome: {"name", "status": done | diverged | interrupted | failed, "error"}.
    Errors never escape: a sweep goes on when one of its runs fails.
    """
    from threadpoolctl import threadpool_limits

    from dlcc.report.tensorboard import TensorBoardHook  # logs only when the config asks
    from dlcc.training import session

    outcome = {"name": task["name"], "status": "done", "error": None}
    try:
        with threadpool_limits(limits=task["threads"]):
            if task["resume"]:
                session.resume(Path(task["sweep_dir"]) / task["name"], hooks=[TensorBoardHook()])
            else:
                cfg = config_mod.parse(config_mod.yaml_load(task["config"]), source=f"{task['name']}/config.yaml")
                session.train(cfg, Path(task["sweep_dir"]), None, folder_name=task["name"], hooks=[TensorBoardHook()])
    except DivergedError as exc:
        outcome.update(status="diverged", error=str(exc).splitlines()[0])
    except InterruptedRun:
        outcome.update(status="interrupted")
    except KeyboardInterrupt:
        outcome.update(status="interrupted")
    except DlccError as exc:
        outcome.update(status="failed", error=str(exc).splitlines()[0])
    except Exception as exc:  # a bug or an OS failure in one run must not stop the others
        outcome.update(status="failed", error=f"{type(exc).__name__}: {exc}")
    return outcome
