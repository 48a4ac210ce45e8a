"""Progress bars on stderr (rich), silent under --quiet; data never goes through here."""
from __future__ import annotations


class PairsProgress:
    """A bar counting scored pairs, with pairs/s."""

    def __init__(self, description: str, quiet: bool):
        self.description, self.quiet = description, quiet
        self._progress = self._task = None

    def start(self, total: int) -> None:
        if self.quiet:
            return
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TextColumn
        from rich.progress import TimeRemainingColumn
        from rich.text import Text

        class Rate(ProgressColumn):
            def render(self, task) -> Text:
                rate = task.completed / task.elapsed if task.elapsed else 0.0
                return Text(f"{rate:.1f} pairs/s")

        self._progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), Rate(),
                                  TimeRemainingColumn(), console=Console(stderr=True))
        self._progress.start()
        self._task = self._progress.add_task(self.description, total=total)

    def advance(self, n: int) -> None:
        if self._progress is not None:
            self._progress.advance(self._task, n)

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()
