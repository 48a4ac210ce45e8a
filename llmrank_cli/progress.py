"""Progress bars on stderr (rich), silent under --quiet; data never goes through here."""
from __future__ import annotations

import os


class Progress:
    """A bar counting items (pairs, queries), with items/s."""

    def __init__(self, description: str, quiet: bool, unit: str = "pairs"):
        self.description, self.quiet, self.unit = description, quiet, unit
        self._progress = self._task = None

    def start(self, total: int) -> None:
        if self.quiet or os.environ.get("RANK", "0") != "0":  # under a launcher only rank 0 shows one
            return
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, ProgressColumn, TextColumn
        from rich.progress import Progress as RichProgress
        from rich.progress import TimeRemainingColumn
        from rich.text import Text

        unit = self.unit

        class Rate(ProgressColumn):
            def render(self, task) -> Text:
                rate = task.completed / task.elapsed if task.elapsed else 0.0
                return Text(f"{rate:.1f} {unit}/s")

        self._progress = RichProgress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), Rate(),
                                  TimeRemainingColumn(), console=Console(stderr=True))
        self._progress.start()
        self._task = self._progress.add_task(self.description, total=total)

    def advance(self, n: int) -> None:
        if self._progress is not None:
            self._progress.advance(self._task, n)

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()


def note(message: str) -> None:
    """A remark for the user from library code: the CLI prints it on stderr (silenced by --quiet)."""
    import warnings

    from .errors import Note

    warnings.warn(message, Note, stacklevel=2)
