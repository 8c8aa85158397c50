"""Progress of long commands: a live bar with the running step and the elapsed time on a
terminal, plain log lines (one per finished step) when the output is a file or a pipe."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

_FINISHED = {"STEP_SUCCESS": "done", "STEP_FAILURE": "FAILED", "STEP_SKIPPED": "skipped"}


class StepProgress:
    """Counts steps to `total`; use as a context manager. `interactive` defaults to whether
    `stream` is a terminal."""

    def __init__(self, label: str, total: int, stream: TextIO | None = None, interactive: bool | None = None):
        self.label, self.total, self.done = label, total, 0
        self.stream = stream or sys.stderr
        self.interactive = self.stream.isatty() if interactive is None else interactive
        self.started_at: dict[str, float] = {}
        self.t0 = time.perf_counter()
        self._bar = None

    def __enter__(self) -> StepProgress:
        if self.interactive:
            self._bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TimeElapsedColumn(), console=Console(file=self.stream), transient=True)
            self._bar.start()
            self._task = self._bar.add_task(self.label, total=self.total)
        return self

    def __exit__(self, *exc) -> None:
        if self._bar is not None:
            self._bar.stop()

    def start(self, step: str) -> None:
        self.started_at[step] = time.perf_counter()
        if self._bar is not None:
            running = ", ".join(sorted(set(self.started_at)))
            self._bar.update(self._task, description=f"{self.label}: {running}")

    def finish(self, step: str, outcome: str = "done", steps: int = 1) -> None:
        """`step` ended; it counts as `steps` steps (a whole run of several)."""
        self.done += steps
        took = time.perf_counter() - self.started_at.pop(step, time.perf_counter())
        if self._bar is not None:
            self._bar.update(self._task, completed=self.done,
                             description=f"{self.label}: {', '.join(sorted(self.started_at)) or step}")
            if outcome != "done":
                self._bar.console.print(f"{step} {outcome} after {took:.1f} s")
        else:
            print(f"[{time.perf_counter() - self.t0:7.1f} s] {self.label} {self.done}/{self.total}: {step} {outcome} "
                  f"in {took:.1f} s", file=self.stream, flush=True)

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        self.start(name)
        try:
            yield
        except BaseException:
            self.finish(name, "FAILED")
            raise
        self.finish(name)

    def on_dagster_event(self, entry) -> None:
        """An instance event listener (DagsterInstance.add_event_listener): steps of a run."""
        event = entry.dagster_event
        if event is None or event.step_key is None:
            return
        if event.event_type_value == "STEP_START":
            self.start(event.step_key)
        elif event.event_type_value in _FINISHED:
            self.finish(event.step_key, _FINISHED[event.event_type_value])
