"""The local executor: a pool of worker processes on this machine, one run per worker at a time.

Each worker is a fresh Python process (multiprocessing's "spawn", so no thread or lock of the
driver is copied into it) that imports dlcc once and then trains run after run, keeping datasets
it has loaded in memory. The driver hands each idle worker its next run through that worker's own
queue, so it always knows which run a worker has:

- a worker that dies (killed, out of memory) is noticed by polling, its run is reported failed
  with the exit code, and a new worker takes its place;
- a worker that fails (exits with an error, not a signal) before it is ready (it says so once
  dlcc is imported) could not start at all, most often because the script that called dlcc.sweep
  has no `if __name__ == "__main__":` guard (spawn imports the main script again in every
  worker): that stops the sweep with one message instead of failing every run in turn;
- `interrupt()` sends SIGTERM to the busy workers: each stops its run at the next batch boundary,
  marks it interrupted (resumable) and reports back. Workers ignore SIGINT themselves, so a Ctrl-C
  in the terminal, which reaches the whole process group, is decided by the driver alone;
- a worker whose driver was killed outright stops its run the same way and exits.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import queue
import signal
import threading
import time
from collections import deque

from dlcc.errors import DlccError
from dlcc.sweeps.task import train_run

ORPHAN_POLL = 0.5  # seconds between a worker's checks that its driver is still alive


def _worker(inbox, outbox, ready) -> None:
    from dlcc.training import session  # noqa: F401  import once, before the first run

    driver = os.getppid()
    threading.Thread(target=_stop_when_orphaned, args=(driver,), daemon=True).start()
    ready.set()
    while True:
        try:
            task = inbox.get(timeout=ORPHAN_POLL)
        except queue.Empty:
            if os.getppid() != driver:
                return
            continue
        if task is None:
            return
        outbox.put(("finished", train_run(task)))


def _stop_when_orphaned(driver: int) -> None:
    """A driver killed outright (SIGKILL) cannot stop its workers, and a worker holds both ends of
    its queues, so it would train on and then wait forever. Once its parent is gone, the worker
    does what the driver's interrupt() asks for: its run stops at the next batch boundary, marked
    interrupted (resumable), and the worker exits."""
    while os.getppid() == driver:
        time.sleep(ORPHAN_POLL)
    os.kill(os.getpid(), signal.SIGTERM)


UNGUARDED = ("Each worker is a new Python process that imports your main script again: in a script "
             "that calls dlcc.sweep, put the call under `if __name__ == \"__main__\":`, and run the script "
             "from a file, not from stdin (docs/sweeps.md, \"From Python\").")


class LocalExecutor:
    def __init__(self, workers: int):
        # A worker importing an unguarded main script again would start a sweep of its own (and
        # make its folder) before multiprocessing refuses it: stop here, with multiprocessing's own
        # test, quietly (the driver says why, once, when it sees its workers fail to start).
        if getattr(mp.current_process(), "_inheriting", False):
            raise SystemExit(1)
        self.workers = workers
        self._ctx = mp.get_context("spawn")
        self._outbox = self._ctx.Queue()
        self._pool: list[dict] = []   # {"process", "inbox", "task"}
        self._stopping = False

    def _start_worker(self) -> dict:
        inbox, ready = self._ctx.Queue(), self._ctx.Event()
        process = self._ctx.Process(target=_worker, args=(inbox, self._outbox, ready), daemon=True)
        # Started with SIGINT ignored, a worker ignores it from its first instruction on (Python
        # installs no KeyboardInterrupt handler then): a Ctrl-C in the terminal reaches the whole
        # process group and is the driver's alone to decide, even while a worker is still starting.
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            process.start()
        finally:
            signal.signal(signal.SIGINT, previous)
        slot = {"process": process, "inbox": inbox, "task": None, "ready": ready}
        self._pool.append(slot)
        return slot

    def run(self, tasks: list[dict], sweep_dir=None, interrupted=lambda: False):
        """Yield ("started", name) and ("finished", outcome) events until every task is done, or
        until interrupted() turns true and the busy workers have stopped their runs."""
        todo = deque(tasks)
        for _ in range(min(self.workers, len(todo))):
            self._start_worker()
        try:
            while todo or any(s["task"] for s in self._pool):
                if interrupted() and not self._stopping:
                    self.interrupt()
                for slot in self._pool:
                    if slot["task"] is None and todo and not self._stopping:
                        slot["task"] = todo.popleft()
                        slot["inbox"].put(slot["task"])
                        yield "started", slot["task"]["name"]
                if self._stopping:
                    todo.clear()
                try:
                    _, outcome = self._outbox.get(timeout=0.1)
                except queue.Empty:
                    outcome = None
                if outcome is None:
                    if interrupted() and not self._stopping:  # a signal that also reached the workers
                        self.interrupt()
                    yield from self._reap(bool(todo))
                    continue
                slot = next((s for s in self._pool if s["task"] and s["task"]["name"] == outcome["name"]), None)
                if slot is not None:
                    slot["task"] = None
                yield "finished", outcome
        finally:
            self.close()

    def _reap(self, more: bool):
        """Report the run of every worker that died, and replace the worker if work is left."""
        for slot in list(self._pool):
            if slot["process"].is_alive():
                continue
            self._pool.remove(slot)
            # An exception before the worker was ready (not a kill: that is below) means it cannot start.
            if not slot["ready"].is_set() and not self._stopping and (slot["process"].exitcode or 0) > 0:
                raise DlccError(f"the sweep's worker processes could not start (exit code "
                                f"{slot['process'].exitcode}; any error of theirs is printed above). "
                                f"{UNGUARDED} The runs not trained yet are still pending: continue them with "
                                "dlcc.resume_sweep(folder) or `dlcc sweep --resume FOLDER`.")
            if slot["task"] is not None:
                code = slot["process"].exitcode
                if self._stopping and code is not None and code < 0:  # stopped (SIGTERM) before its run began
                    yield "finished", {"name": slot["task"]["name"], "status": "interrupted", "error": None}
                    continue
                why = f"killed by signal {-code}" if code and code < 0 else f"exit code {code}"
                yield "finished", {"name": slot["task"]["name"], "status": "failed",
                                   "error": f"the worker process died ({why}; out of memory?)"}
            if more and not self._stopping:
                self._start_worker()

    def interrupt(self) -> None:
        """Ask every busy worker to stop its run at the next batch boundary."""
        self._stopping = True
        for slot in self._pool:
            if slot["task"] is not None and slot["process"].is_alive():
                os.kill(slot["process"].pid, signal.SIGTERM)

    def close(self) -> None:
        for slot in self._pool:
            if slot["process"].is_alive():
                slot["inbox"].put(None)
        for slot in self._pool:
            slot["process"].join(timeout=5)
            if slot["process"].is_alive():
                slot["process"].kill()
        self._pool.clear()
