"""Running a sweep: hand its runs to an executor, keep results.csv true as they finish.

    result = run_sweep(plan, runs_dir, executor="local", workers=2)    # a new sweep folder
    result = resume_sweep(sweep_dir)          # only what is missing; interrupted runs continue

A diverged or failed run is recorded as such and the sweep goes on. Ctrl-C (or SIGTERM) stops
every worker at its next batch boundary; their runs are marked interrupted and the sweep raises
InterruptedRun with the command that resumes it. results.csv is rewritten (atomically) after
every finished run.
"""

from __future__ import annotations

import os
import warnings
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from dlcc import config as config_mod
from dlcc.config.sweep import parse_spec
from dlcc.errors import InterruptedRun, Note
from dlcc.runs import folder, sweepdir
from dlcc.sweeps.plan import Plan, plan_from_definition
from dlcc.sweeps.task import BLAS_THREADS
from dlcc.training.session import interrupt_flag


@dataclass(frozen=True)
class SweepResult:
    sweep_dir: Path
    rows: list[dict]          # results.csv, one dict per run

    @property
    def counts(self) -> dict[str, int]:
        return dict(Counter(row["status"] for row in self.rows))


class SweepReporter:
    """What the driver tells the outside world (the CLI passes a Rich display)."""

    def start(self, plan: Plan, rows: list[dict]) -> None: ...
    def run_started(self, name: str) -> None: ...
    def run_finished(self, row: dict) -> None: ...


def cpu_count() -> int:
    """The CPUs this process may run on (a container's or taskset's share, not the whole machine's)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def default_workers() -> int:
    return min(cpu_count(), 8)


def run_sweep(plan: Plan, runs_dir: Path, *, executor: str | None = None, workers: int | None = None,
              ray_address: str | None = None, reporter: SweepReporter | None = None) -> SweepResult:
    """A new sweep folder under runs_dir with every run of `plan` trained in it."""
    given = _given(executor, workers, ray_address)
    executor = given.get("executor") or plan.spec.executor
    workers = given.get("workers") or plan.spec.workers  # None: the default where it runs (_executor)
    ray_address = given.get("ray_address") or plan.spec.ray_address
    pool = _executor(executor, workers, ray_address)  # Ray missing or unreachable: nothing written yet
    sweep_dir = sweepdir.create_sweep_dir(runs_dir, plan.name)
    # workers as asked: null (the default) stays the default of wherever --resume runs
    definition = plan.definition() | {"executor": executor, "workers": workers, "ray_address": ray_address}
    sweepdir.write_definition(sweep_dir, definition)
    rows = [sweepdir.result_row(sweep_dir / r.name, r.point, r.seed, plan.keys) for r in plan.runs]
    sweepdir.write_results(sweep_dir, plan.keys, rows)
    return _drive(plan, sweep_dir, rows, set(), pool, reporter)


def resume_sweep(sweep_dir: Path, *, executor: str | None = None, workers: int | None = None,
                 ray_address: str | None = None, reporter: SweepReporter | None = None) -> SweepResult:
    """Train what is missing in a sweep folder: never-started runs and unreadable run folders from
    scratch, interrupted ones (and those whose worker died) from their checkpoints. Finished and
    diverged runs are kept as they are."""
    sweep_dir = Path(sweep_dir)
    given = _given(executor, workers, ray_address)  # before anything is read or written
    definition = sweepdir.read_definition(sweep_dir)
    plan = plan_from_definition(definition, str(sweep_dir / sweepdir.SWEEP_FILE))
    rows = [sweepdir.result_row(sweep_dir / r.name, r.point, r.seed, plan.keys) for r in plan.runs]
    # results.csv is rebuilt from the run folders first: a lost or cut file comes back even when
    # every run is done and nothing is left to train
    sweepdir.write_results(sweep_dir, plan.keys, rows)
    resumable = {r.name for r in plan.runs if (sweep_dir / r.name / folder.SUMMARY).is_file()}
    pool = _executor(given.get("executor") or plan.spec.executor, given.get("workers") or plan.spec.workers,
                     given.get("ray_address") or plan.spec.ray_address)
    return _drive(plan, sweep_dir, rows, resumable, pool, reporter)


DONE = ("completed", "early_stopped", "diverged")


def _drive(plan: Plan, sweep_dir: Path, rows: list[dict], resumable: set, pool,
           reporter: SweepReporter | None) -> SweepResult:
    reporter = reporter or SweepReporter()
    index = {r.name: k for k, r in enumerate(plan.runs)}
    tasks = [{"name": r.name, "config": config_mod.to_yaml(r.config), "sweep_dir": str(sweep_dir),
              "resume": r.name in resumable, "threads": BLAS_THREADS}
             for r, row in zip(plan.runs, rows) if row["status"] not in DONE]
    for task in tasks:
        if task["resume"] and rows[index[task["name"]]]["status"] == "failed":
            _set_aside(sweep_dir / task["name"])  # a folder that could not be read: keep it, start afresh
            task["resume"] = False
    reporter.start(plan, rows)
    errors: dict[str, str] = {}
    with interrupt_flag() as interrupted:
        for event, payload in pool.run(tasks, sweep_dir, interrupted):
            if event == "started":
                reporter.run_started(payload)
                continue
            run = plan.runs[index[payload["name"]]]
            row = sweepdir.result_row(sweep_dir / run.name, run.point, run.seed, plan.keys)
            if payload["status"] == "failed":
                errors[run.name] = payload["error"]
                row = {**row, "status": "failed", "error": payload["error"]}
            rows[index[run.name]] = row
            sweepdir.write_results(sweep_dir, plan.keys, rows)
            reporter.run_finished(row)
        stopped = interrupted()
    if stopped:
        left = sum(row["status"] not in DONE for row in rows)
        raise InterruptedRun(
            f"interrupted; {left} of {len(rows)} runs of {sweep_dir} are unfinished "
            f"(results so far in {sweep_dir / sweepdir.RESULTS}).\nContinue it with:  dlcc sweep --resume {sweep_dir}")
    return SweepResult(sweep_dir, rows)


def _given(executor, workers, ray_address) -> dict:
    """The executor settings given as arguments (flags), checked as a sweep file's are."""
    given = {k: v for k, v in (("executor", executor), ("workers", workers), ("ray_address", ray_address))
             if v is not None}
    spec = parse_spec({"base": {}, **given}, "dlcc sweep", {k: f"--{k.replace('_', '-')}" for k in given})
    return {k: getattr(spec, k) for k in given}


def _executor(name: str, workers: int | None, ray_address: str | None):
    """The executor, ready to run: Ray is imported and connected here, before anything is written.
    workers: the runs at once as asked, None for the default."""
    if name == "ray":
        from dlcc.sweeps.ray_executor import RayExecutor

        # A cluster has CPUs of its own: --workers is not reduced to this machine's, and without it
        # the executor keeps as many runs in flight as the cluster has CPUs. A local Ray instance
        # that dlcc starts has this machine's, as the local pool.
        pool = RayExecutor(workers, ray_address)
        if pool.starts_local_instance():
            pool.workers = _here(workers or default_workers())
        pool.connect()
        return pool
    from dlcc.sweeps.local import LocalExecutor

    return LocalExecutor(_here(workers or default_workers()))


def _here(workers: int) -> int:
    """Workers on this machine: no more than its CPUs. Each run has one BLAS thread and uses its
    CPU fully, so more workers only share the CPUs, slower each, and multiply the memory."""
    cpus = cpu_count()
    if workers <= cpus:
        return workers
    warnings.warn(f"{workers} workers asked for, but this machine has {cpus} CPU{'s' * (cpus > 1)}: running "
                  f"{cpus} run{'s' * (cpus > 1)} at once (more would only share the CPUs)", Note, stacklevel=2)
    return cpus


def _set_aside(run_dir: Path) -> None:
    """Rename an unusable run folder to <name>.failed-N, so retrying never overwrites it."""
    for k in range(1, 1000):
        target = run_dir.with_name(f"{run_dir.name}.failed-{k}")
        if not target.exists():
            run_dir.rename(target)
            return
