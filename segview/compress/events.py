"""What a running recipe tells its caller: progress, log lines, and the work folder it made (so a parent can remove it)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal


@dataclass(frozen=True, slots=True)
class JobEvent:
    kind: Literal["progress", "log", "workdir"]
    fraction: float
    message: str


class JobEvents:
    """Where a run sends its events: progress only ever moves forward, and no sink means nobody listens."""

    def __init__(self, sink: Callable[[JobEvent], None] | None) -> None:
        self.sink = sink
        self.fraction = 0.0

    def progress(self, fraction: float, message: str) -> None:
        self.fraction = max(self.fraction, min(1.0, fraction))
        if self.sink is not None:
            self.sink(JobEvent("progress", self.fraction, message))

    def log(self, message: str) -> None:
        if self.sink is not None:
            self.sink(JobEvent("log", self.fraction, message))

    def workdir(self, path: Path) -> None:
        if self.sink is not None:
            self.sink(JobEvent("workdir", self.fraction, str(path)))
