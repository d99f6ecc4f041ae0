"""What a worker does for one run of a sweep: train it (or resume it) into its folder.

The same function runs in the local process pool and in Ray tasks, always with one BLAS thread, so
a run's metrics do not depend on where it ran nor on how many workers the sweep has.
"""

from __future__ import annotations

from pathlib import Path

from dlcc import config as config_mod
from dlcc.errors import DivergedError, DlccError, InterruptedRun


# One BLAS thread per run, whatever the number of workers or cores. OpenBLAS rounds differently
# with one thread than with several (single-threaded, it multiplies small float32 matrices with
# a kernel of its own), so `cores // workers` threads made `--workers 1` (2 threads on 2 cores)
# and `--workers 2` or Ray (1 thread) disagree in the last bits, and a resume with another
# --workers continue with other rounding. Workers, not threads, use the cores.
BLAS_THREADS = 1


def train_run(task: dict) -> dict:
    """task: {name, config (resolved YAML text), sweep_dir, resume, threads (BLAS threads)}.

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
