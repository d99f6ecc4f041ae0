"""The Ray executor: each run is a Ray task, on a cluster or a local Ray instance.

No shared filesystem is assumed. A task trains in a temporary folder on whichever node runs it
and returns the run folder's files as bytes; the driver writes them under the sweep folder (into a
hidden folder first, renamed into place when complete). Resuming sends the interrupted folder's
files the other way. Ray is optional: `pip install "dlcc[ray]"`.

At most `workers` tasks are in flight: the next run is submitted, in the sweep's order, when one
finishes, so a run reported started is one Ray has been given, and --workers limits a cluster too.
Without --workers on a cluster (or on a Ray instance already running in this process) that is the
cluster's CPU count, asked again as runs finish, so nodes that join are used.

Faults: Ctrl-C cancels the tasks in flight (ray.cancel reaches a running one as a Ctrl-C: its run
stops at a batch boundary and its files come back as an interrupted run's) and the runs not
submitted yet stay pending; a task whose worker process died fails its run (its temporary folder,
left on the node, is removed by a later task there); a worker that cannot load dlcc at all stops
the sweep with one message, its runs still pending.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import signal
import socket
import tempfile
import threading
import time
from collections import deque
from pathlib import Path

from dlcc import atomic
from dlcc.errors import ConfigError
from dlcc.runs.lock import alive
from dlcc.sweeps.task import train_run

TMP_PREFIX = "dlcc-ray-"  # + host, worker pid, node: whose folder it is, for removing a dead one's
STALE_SECONDS = 3600      # a dead worker's folder untouched this long is removed by the next task
CPUS_RECHECK = 10.0      # seconds between asks for a cluster's CPU count (the default of workers)
PROBE_SECONDS = 5.0       # to open a TCP connection to a cluster's address before Ray tries for minutes
ANSI = re.compile(r"\x1b\[[0-9;]*m")
WORKER_DIED = "the Ray worker process died while training this run (killed, or out of memory?)"


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
    import ray

    _remove_dead_workers_folders()
    node = ray.get_runtime_context().get_node_id()[:12]
    with tempfile.TemporaryDirectory(prefix=f"{tmp_prefix()}{os.getpid()}-{node}-") as tmp:
        if task.get("files"):
            (Path(tmp) / task["name"]).mkdir()
            for name, data in task["files"].items():
                (Path(tmp) / task["name"] / name).write_bytes(data)
        outcome = train_run({**task, "sweep_dir": tmp, "files": None})
        run_dir = Path(tmp) / task["name"]
        return outcome, (folder_files(run_dir) if run_dir.is_dir() else {})


def tmp_prefix() -> str:
    """dlcc-ray-<host>-: a task's temporary folder is <prefix><worker pid>-<node>-<random>."""
    return f"{TMP_PREFIX}{hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]}-"


def _remove_dead_workers_folders() -> None:
    """The temporary folders that killed workers on this host left (a SIGKILL skips every
    cleanup): their process is gone and nothing has been written in them for an hour (a /tmp
    shared with a container whose processes this one cannot see must not lose a running task's)."""
    prefix = tmp_prefix()
    for path in Path(tempfile.gettempdir()).glob(f"{prefix}*"):
        pid = path.name[len(prefix):].split("-")[0]
        if pid.isdigit() and int(pid) != os.getpid() and not alive(int(pid)) and _quiet(path):
            shutil.rmtree(path, ignore_errors=True)


def _quiet(folder: Path) -> bool:
    try:
        newest = max(p.stat().st_mtime for p in (folder, *folder.rglob("*")))
    except OSError:
        return False
    return time.time() - newest > STALE_SECONDS


def _first_line(text: str) -> str:
    """A Ray message's first line (with the list that follows when it ends in a colon), no colours."""
    lines = [line.strip() for line in ANSI.sub("", text).splitlines() if line.strip()]
    return " ".join(lines[:4]) if lines and lines[0].endswith(":") else (lines[0] if lines else "")


def _host_port(address: str) -> tuple[str, int] | None:
    """host:port (or ray://host:port) of an address; None for "auto" and forms Ray itself explains."""
    host, sep, port = address.removeprefix("ray://").rpartition(":")
    host = host.strip("[]")
    if not (sep and host and port.isdigit() and 0 < int(port) < 65536) or "/" in host:
        return None
    return host, int(port)


class RayExecutor:
    def __init__(self, workers: int | None, address: str | None):
        """workers: the most runs in flight at once; None: as many as the Ray instance's CPUs."""
        self.ray = _ray()
        self.workers, self.address = workers, address
        self._refs: dict = {}
        self._cpus, self._cpus_asked = 1, -CPUS_RECHECK

    def starts_local_instance(self) -> bool:
        """connect() will start a new local Ray instance (with `workers` CPUs): no address is given
        and no Ray instance runs in this process already."""
        return not (self.ray.is_initialized() or self.address or os.environ.get("RAY_ADDRESS"))

    def connect(self) -> None:
        """Start a local Ray instance (with `workers` CPUs) or connect to the cluster at the address
        (--ray-address, else $RAY_ADDRESS); a ConfigError that names it when that fails."""
        ray = self.ray
        if ray.is_initialized():
            return  # a notebook or a test started Ray already: use that instance
        address = self.address or os.environ.get("RAY_ADDRESS") or None
        where = "a local Ray instance" if address is None else \
            f"the Ray cluster at {address}" + ("" if self.address else " (RAY_ADDRESS)")
        host_port = _host_port(address) if address else None
        if host_port is not None:
            try:  # nothing listening: Ray itself would retry for many minutes
                socket.create_connection(host_port, timeout=PROBE_SECONDS).close()
            except OSError as exc:
                raise ConfigError(f"--executor ray: cannot reach {where}: {exc.strerror or exc or 'no answer'} "
                                  "(is the cluster running? `ray status` on its head node says)") from None
        # ray.init puts a SIGTERM handler of its own in place (sys.exit(15), and a stack dump):
        # dlcc's (SIGTERM is Ctrl-C: the sweep stops, resumable, exit 130) must stay.
        main = threading.current_thread() is threading.main_thread()
        previous = signal.getsignal(signal.SIGTERM) if main else None
        try:
            if address:
                ray.init(address=address, log_to_driver=False, configure_logging=False)
            else:  # "local": a new instance, even when RAY_ADDRESS or a `ray start` cluster is around
                ray.init(address="local", num_cpus=self.workers, log_to_driver=False, configure_logging=False,
                         include_dashboard=False)
        except SystemExit as exc:  # Ray's SIGTERM handler ran while Ray was starting: an interruption
            if exc.code != signal.SIGTERM:
                raise
            _shutdown(ray)
            raise KeyboardInterrupt from None
        except KeyboardInterrupt:
            _shutdown(ray)
            raise
        except Exception as exc:  # Ray raises many kinds: connection refused, bad address, ...
            _shutdown(ray)
            raise ConfigError(f"--executor ray: cannot {'reach' if address else 'start'} {where}: "
                              f"{_first_line(str(exc))}") from None
        finally:
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)

    def run(self, tasks: list[dict], sweep_dir: Path, interrupted=lambda: False):
        """Yield ("started", name) when a run's task is submitted and ("finished", outcome) when it
        is back, like LocalExecutor.run: at most `workers` in flight, the next submitted in the
        sweep's order as one finishes. Interrupted: the tasks in flight are cancelled (their runs
        come back interrupted) and the runs not submitted yet are left as they are (pending)."""
        ray, sweep_dir = self.ray, Path(sweep_dir)
        remote = ray.remote(num_cpus=1, max_retries=0)(remote_train)
        todo, cancelled = deque(tasks), False
        while todo or self._refs:
            while todo and not interrupted() and len(self._refs) < self._room():
                task = todo.popleft()
                if task["resume"] and (sweep_dir / task["name"]).is_dir():  # read now, not all at the start
                    task = {**task, "files": folder_files(sweep_dir / task["name"])}
                self._refs[remote.remote(task)] = task["name"]
                yield "started", task["name"]
            if interrupted() and not cancelled:
                self._cancel()
                todo.clear()  # the runs not submitted stay pending, for a --resume
                cancelled = True
            if not self._refs:
                continue
            done, _ = ray.wait(list(self._refs), num_returns=1, timeout=0.2)
            for ref in done:
                name = self._refs.pop(ref)
                yield "finished", self._collect(ref, name, sweep_dir)

    def _room(self) -> int:
        """How many tasks may be in flight: `workers`, else the Ray instance's CPUs (each task
        takes one), asked again every CPUS_RECHECK seconds as a cluster can grow or shrink."""
        if self.workers is not None:
            return self.workers
        if time.monotonic() - self._cpus_asked >= CPUS_RECHECK:
            self._cpus = max(1, int(self.ray.cluster_resources().get("CPU", 0)))
            self._cpus_asked = time.monotonic()
        return self._cpus

    def _cancel(self) -> None:
        for ref in self._refs:
            self.ray.cancel(ref)

    def _collect(self, ref, name: str, sweep_dir: Path) -> dict:
        ray = self.ray
        try:
            outcome, files = ray.get(ref)
        except ray.exceptions.TaskCancelledError:
            return {"name": name, "status": "interrupted", "error": None}
        except ray.exceptions.RayError as exc:
            return {"name": name, "status": "failed", "error": self._why(exc, sweep_dir)}
        if files:
            _install(sweep_dir / name, files)
        return outcome

    def _why(self, exc, sweep_dir: Path) -> str:
        """A failed task's reason, in one line; a worker that cannot load dlcc stops the sweep."""
        errors = self.ray.exceptions
        if isinstance(exc, errors.WorkerCrashedError):
            return WORKER_DIED
        if isinstance(exc, errors.RayTaskError):
            # train_run catches a run's own errors: an import error here is Ray failing to load
            # remote_train at all, as on a node without dlcc, and every run would fail alike.
            cause = getattr(exc, "cause", None) or exc
            text = ANSI.sub("", str(cause))
            if "failed to import on the worker" in text or isinstance(cause, ImportError):
                lines = [line.strip() for line in text.splitlines() if line.strip()]
                why = next((line for line in reversed(lines) if "Error:" in line), lines[-1] if lines else "")
                self._cancel()
                raise ConfigError(
                    f"--executor ray: the Ray workers cannot load dlcc's task ({why}): dlcc must be installed on "
                    "every node of the cluster, e.g. through Ray's runtime_env (docs/sweeps.md, Executors). The "
                    f"runs not trained yet are still pending: continue them with `dlcc sweep --resume {sweep_dir}`")
            return f"the Ray task failed: {type(cause).__name__}: {_first_line(str(cause))}"
        return f"the Ray task failed: {_first_line(str(exc))}"


def _shutdown(ray) -> None:
    """Stop what a failed or interrupted ray.init had started (best effort)."""
    try:
        ray.shutdown()
    except Exception:  # noqa: BLE001 - already failing; the first error is the one to report
        pass


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
