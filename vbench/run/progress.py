"""Progress bars for fit / predict / score (Rich), or nothing when quiet."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager


class Reporter:
    def __init__(self, enabled: bool = True):
        self.enabled = enabled

    @contextmanager
    def task(self, description: str, total: int | None) -> Iterator[Callable[[int], None]]:
        from ..console import SafeConsole

        console = SafeConsole(stderr=True)  # labels are user and plugin text
        if not self.enabled or not console.is_terminal:  # no bars in logs and pipes
            yield lambda completed: None
            return
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        with Progress(
            TextColumn("{task.description}", markup=False),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            transient=True,
            console=console,
        ) as bar:
            task = bar.add_task(description, total=total)
            yield lambda completed: bar.update(task, completed=completed)


class ForwardingReporter(Reporter):
    """Sends each task's description and total, and its progress (at most 4 times a second), to
    ``send`` instead of drawing bars: a run's worker process forwards them to the sweep's driver,
    which draws one display for the whole sweep (two processes drawing at once garble a terminal)."""

    def __init__(self, send: Callable[[tuple], None]):
        super().__init__(True)
        self.send = send

    @contextmanager
    def task(self, description: str, total: int | None) -> Iterator[Callable[[int], None]]:
        import time

        self.send(("task", description, total))
        last = [0.0]

        def advance(completed: int) -> None:
            now = time.monotonic()
            if now - last[0] >= 0.25 or (total is not None and completed >= total):
                last[0] = now
                self.send(("advance", completed))

        yield advance


# Share of a run's expected time each phase stands for, for the sweep's progress within a run.
PHASES = {"fit": 0.8, "predict": 0.1, "score": 0.1}
RUN_OVERHEAD_S = 15.0  # process start, imports, loading the dataset: paid by every isolated run


def expected_seconds(history, spec) -> float:
    """What a run of ``spec`` should take: the median wall time of completed runs of the same
    stainer preset on the same dataset, else on any dataset, else a guess from its step budget."""

    def median(xs):
        xs = sorted(xs)
        return xs[len(xs) // 2]

    def wall(r):
        return (r.ended_at - r.started_at).total_seconds() if r.ended_at and r.started_at else None

    for same in (
        lambda r: (r.stainer, r.preset, r.dataset) == (spec.stainer, spec.preset_label, spec.dataset),
        lambda r: (r.stainer, r.preset) == (spec.stainer, spec.preset_label),
    ):
        walls = [w for r in history if same(r) and (w := wall(r)) is not None]
        if walls:
            return max(1.0, median(walls))
    steps = spec.params.get("steps")
    return RUN_OVERHEAD_S + (0.4 * float(steps) if isinstance(steps, (int, float)) else 0.0)


class SweepDisplay:
    """One live display for a sweep on a terminal: the runs done and the sweep's ETA, and the
    current run with its phase (fit, predict, score) and that phase's progress. The ETA is the
    expected time of what is left (from earlier runs of the same presets, see
    :func:`expected_seconds`) scaled by how this sweep's runs compare with their expectation."""

    def __init__(self, labels: list[str], expected: list[float]):
        import time

        from rich.progress import BarColumn, Progress, TextColumn

        from ..console import SafeConsole

        self.labels, self.expected = labels, expected
        self.total = sum(expected) or 1.0
        self.done = 0.0  # expected seconds of the runs finished
        self.index = -1
        self.phase, self.phase_total, self.phase_done = "", None, 0
        self.started = time.monotonic()
        self.progress = Progress(
            TextColumn("{task.description}", markup=False),
            BarColumn(),
            TextColumn("{task.fields[extra]}", markup=False),
            transient=True,
            console=SafeConsole(stderr=True, markup=False),
        )
        self.sweep = self.progress.add_task("sweep", total=self.total, extra="")
        self.run = self.progress.add_task("", total=None, extra="")

    def __enter__(self):
        self.progress.start()
        self._refresh()
        return self

    def __exit__(self, *exc):
        self.progress.stop()

    def start_run(self, index: int) -> None:
        self.index, self.phase, self.phase_total, self.phase_done = index, "starting", None, 0
        self._refresh()

    def end_run(self) -> None:
        self.done += self.expected[self.index]
        self.phase = ""
        self._refresh()

    def on_message(self, msg: tuple) -> None:
        if msg[0] == "task":
            self.phase, self.phase_total, self.phase_done = msg[1].split(" ", 1)[0], msg[2], 0
        elif msg[0] == "advance":
            self.phase_done = msg[1]
        self._refresh()

    def fraction(self) -> float:
        """How much of the current run is done, by phase."""
        if self.index < 0 or not self.phase or self.phase == "starting":
            return 0.0
        before = 0.0
        for name, share in PHASES.items():
            if name == self.phase:
                part = self.phase_done / self.phase_total if self.phase_total else 0.0
                return min(1.0, before + share * min(1.0, part))
            before += share
        return 0.0

    def eta(self) -> float:
        import time

        elapsed = time.monotonic() - self.started
        progressed = self.done + (self.expected[self.index] * self.fraction() if self.index >= 0 else 0.0)
        ratio = min(5.0, max(0.3, elapsed / progressed)) if progressed > 1.0 else 1.0
        return max(0.0, (self.total - progressed) * ratio)

    def _refresh(self) -> None:
        n = len(self.labels)
        finished = self.index if self.phase else self.index + 1
        progressed = self.done + (self.expected[self.index] * self.fraction() if self.index >= 0 else 0.0)
        self.progress.update(
            self.sweep,
            completed=progressed,
            description=f"sweep: {max(0, finished)}/{n} runs done",
            extra=f"ETA {_clock(self.eta())}",
        )
        if 0 <= self.index < n:
            steps = f"{self.phase_done}/{self.phase_total}" if self.phase_total else ""
            self.progress.update(
                self.run,
                description=f"run {self.index + 1}/{n} {self.labels[self.index]}: {self.phase or 'done'}",
                total=self.phase_total,
                completed=self.phase_done,
                extra=steps,
            )


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    return (
        f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
        if seconds >= 3600
        else f"{seconds // 60}:{seconds % 60:02d}"
    )
