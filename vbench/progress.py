"""Progress bars for fit / predict / score (Rich), or nothing when quiet."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Iterator


class Reporter:
    def __init__(self, enabled: bool = True):
        self.enabled = enabled

    @contextmanager
    def task(self, description: str, total: int | None) -> Iterator[Callable[[int], None]]:
        from rich.console import Console

        console = Console(stderr=True)
        if not self.enabled or not console.is_terminal:  # no bars in logs and pipes
            yield lambda completed: None
            return
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        with Progress(TextColumn("{task.description}", markup=False), BarColumn(), MofNCompleteColumn(),
                      TimeElapsedColumn(), transient=True, console=console) as bar:
            task = bar.add_task(description, total=total)
            yield lambda completed: bar.update(task, completed=completed)
