"""A Rich progress bar on stderr for `dlcc data download` (implements data.download.DownloadReporter)."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.progress import (BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn,
                           TransferSpeedColumn)

from dlcc.data.download import DownloadReporter


class RichDownload(DownloadReporter):
    """One bar per file attempt; a failed attempt leaves a line saying why and which mirror."""

    def __init__(self, console: Console | None = None):
        self.console = console or Console(stderr=True)
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=self.console,
        )
        self.task = None

    def __enter__(self) -> RichDownload:
        self.progress.start()
        return self

    def __exit__(self, *exc) -> None:
        self.progress.stop()

    def start(self, file: str, url: str, total: int | None) -> None:
        self.task = self.progress.add_task(escape(file), total=total)

    def advance(self, received: int) -> None:
        self.progress.advance(self.task, received)

    def failed(self, file: str, url: str, reason: str) -> None:
        # only a transfer that began gets a line; an unreachable mirror is listed in the final
        # error if every mirror fails, and is of no interest when the next one works
        if self.task is not None:
            self.progress.remove_task(self.task)
            self.task = None
            self.progress.console.print(f"[yellow]{escape(url)}[/]: {escape(reason)}")

    def finish(self, file: str) -> None:
        self.progress.update(self.task, description=f"{escape(file)} [green]verified[/]")
        self.task = None
