"""The Ray executor: each run is a Ray task, on a cluster or a local Ray instance.

No shared filesystem is assumed. A task trains in a temporary folder on whichever node runs it
and returns the run folder's files as bytes; the driver writes them under the sweep folder (into a
hidden folder first, renamed into place when complete). Resuming sends the interrupted folder's
files the other way. Ray is optional: `pip install "dlcc[ray]"`.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from dlcc import atomic
from dlcc.errors import ConfigError
from dlcc.sweeps.task import train_run


def _ray():
    try:
        import ray
    except ImportError:
        raise ConfigError('--executor ray needs Ray: pip install "dlcc[ray]" (or pip install ray)') from None
    return ray


def folder_files(run_dir: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in Path(run_dir).iterdir() if p.is_file() and not p.name.startswith(".")}


def remote_train(task: dict) -> tuple[dict, dict[str, bytes]]:
    """Runs on a Ray worker: the run in a temporary folder, returned as (outcome, files)."""
    with tempfile.TemporaryDirectory(prefix="dlcc-ray-") as tmp:
        if task.get("files"):
            (Path(tmp) / task["name"]).mkdir()
            for name, data in task["files"].items():
                (Path(tmp) / task["name"] / name).write_bytes(data)
        outcome = train_run({**task, "sweep_dir": tmp, "files": None})
        run_dir = Path(tmp) / task["name"]
        return outcome, (folder_files(run_dir) if run_dir.is_dir() else {})


class RayExecutor:
    def __init__(self, workers: int, address: str | None):
        self.ray = _ray()
        self.workers, self.address = workers, address
        self._refs: dict = {}

    def connect(self) -> None:
        ray = self.ray
        if ray.is_initialized():
            return  # a notebook or a test started Ray already: use that instance
        try:
            if self.address:
                ray.init(address=self.address, log_to_driver=False, configure_logging=False)
            else:
                ray.init(num_cpus=self.workers, log_to_driver=False, configure_logging=False,
                         include_dashboard=False)
        except Exception as exc:  # Ray raises many kinds: connection refused, bad address, ...
            where = self.address or "a local Ray instance"
            raise ConfigError(f"--executor ray: cannot start or reach {where}: {str(exc).splitlines()[0]}") from None

    def run(self, tasks: list[dict], sweep_dir: Path, interrupted=lambda: False):
        """Yield ("started", name) and ("finished", outcome), like LocalExecutor.run."""
        ray = self.ray
        remote = ray.remote(num_cpus=1, max_retries=0)(remote_train)
        for task in tasks:
            if task["resume"] and (Path(sweep_dir) / task["name"]).is_dir():
                task = {**task, "files": folder_files(Path(sweep_dir) / task["name"])}
            self._refs[remote.remote(task)] = task["name"]
            yield "started", task["name"]
        cancelled = False
        while self._refs:
            if interrupted() and not cancelled:
                for ref in self._refs:
                    ray.cancel(ref)
                cancelled = True
            done, _ = ray.wait(list(self._refs), num_returns=1, timeout=0.2)
            for ref in done:
                name = self._refs.pop(ref)
                yield "finished", self._collect(ref, name, Path(sweep_dir))

    def _collect(self, ref, name: str, sweep_dir: Path) -> dict:
        ray = self.ray
        try:
            outcome, files = ray.get(ref)
        except ray.exceptions.TaskCancelledError:
            return {"name": name, "status": "interrupted", "error": None}
        except ray.exceptions.RayError as exc:
            return {"name": name, "status": "failed", "error": f"the Ray task failed: {str(exc).splitlines()[0]}"}
        if files:
            _install(sweep_dir / name, files)
        return outcome


def _install(run_dir: Path, files: dict[str, bytes]) -> None:
    """Put a run folder's files in place: a new folder appears complete, an old one is updated
    file by file (atomically each)."""
    if run_dir.exists():
        for name, data in files.items():
            atomic.write_bytes(run_dir / name, data)
        return
    staging = Path(tempfile.mkdtemp(prefix=f".{run_dir.name}.", dir=run_dir.parent))
    try:
        for name, data in files.items():
            (staging / name).write_bytes(data)
        staging.rename(run_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
