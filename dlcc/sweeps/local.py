"""The local executor: a pool of worker processes on this machine, one run per worker at a time.

Each worker is a fresh Python process (multiprocessing's "spawn", so no thread or lock of the
driver is copied into it) that imports dlcc once and then trains run after run, keeping datasets
it has loaded in memory. The driver hands each idle worker its next run through that worker's own
queue, so it always knows which run a worker has:

- a worker that dies (killed, out of memory) is noticed by polling, its run is reported failed
  with the exit code, and a new worker takes its place;
- `interrupt()` sends SIGTERM to the busy workers: each stops its run at the next batch boundary,
  marks it interrupted (resumable) and reports back. Workers ignore SIGINT themselves, so a Ctrl-C
  in the terminal, which reaches the whole process group, is decided by the driver alone.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import queue
import signal
from collections import deque

from dlcc.sweeps.task import train_run


def _worker(inbox, outbox) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from dlcc.training import session  # noqa: F401  import once, before the first run

    while (task := inbox.get()) is not None:
        outbox.put(("finished", train_run(task)))


class LocalExecutor:
    def __init__(self, workers: int):
        self.workers = workers
        self._ctx = mp.get_context("spawn")
        self._outbox = self._ctx.Queue()
        self._pool: list[dict] = []   # {"process", "inbox", "task"}
        self._stopping = False

    def _start_worker(self) -> dict:
        inbox = self._ctx.Queue()
        process = self._ctx.Process(target=_worker, args=(inbox, self._outbox), daemon=True)
        process.start()
        slot = {"process": process, "inbox": inbox, "task": None}
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
            if slot["task"] is not None:
                code = slot["process"].exitcode
                if self._stopping and code == -signal.SIGTERM:  # stopped before its run had begun
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
