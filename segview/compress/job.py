"""A compression job in a separate process, for the studio.

Quantization and measurement take the CPU for seconds to minutes; in a child
process they cannot stall the GUI's event loop, and a job that ignores its
cancel token can still be stopped. The child runs the same :func:`run_recipe`
as the command line and sends its events through a queue; the parent polls it.

Cancelling sets a shared event the runner checks between units of work; if the
child has not ended after a grace period it is terminated, and the work folder
it announced is removed, so nothing partial is left either way.

Measuring speed beside the studio's running models gives wrong figures, so a
parent that passes ``on_measuring`` hears ("quiet", "begin") before each latency
measurement and ("quiet", "end") after it: it pauses what competes, and answers
(on a second queue) what still runs beside the measurement; the child waits for
that answer before timing, and the report carries it (``measured_beside``).
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import queue
import shutil
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from segview.compress import measure
from segview.compress.events import JobEvent
from segview.compress.recipe import Recipe
from segview.compress.runner import RunResult, run_recipe
from segview.compress.step import CancelToken
from segview.errors import Cancelled, SegviewError
from segview.inference.registry import ModelRegistry

State = Literal["idle", "running", "finished", "failed", "cancelled"]
CANCEL_GRACE_S = 10.0
# How long the child waits for the parent to quieten down before it measures anyway (and says so).
QUIET_ANSWER_S = 10.0
NO_ANSWER = "unknown (the studio did not answer in time)"
# A job whose parent gave no on_measuring: nobody was asked to pause anything.
UNCHECKED = "not checked (a background job; nothing was paused for it)"


@dataclass(frozen=True, slots=True)
class JobUpdate:
    """What :meth:`CompressionJob.poll` hands the caller: progress and log lines, then one final state."""

    kind: Literal["progress", "log", "measuring", "measured", "finished", "failed", "cancelled"]
    fraction: float = 0.0
    message: str = ""
    result: RunResult | None = None


@contextlib.contextmanager
def _asking_parent(events: Any, replies: Any) -> Iterator[str]:
    """The child's quiet hook: tell the parent a measurement starts, wait for its answer, tell it when it is over."""
    events.put(("quiet", "begin"))
    try:
        beside = str(replies.get(timeout=QUIET_ANSWER_S))
    except queue.Empty:
        beside = NO_ANSWER
    try:
        yield beside
    finally:
        events.put(("quiet", "end"))


def _child_main(recipe_json: dict[str, Any], events: Any, cancel_event: Any, replies: Any = None) -> None:
    """Entry point of the child process: run the recipe, report everything through the queue."""

    def send(event: JobEvent) -> None:
        events.put(("event", event.kind, event.fraction, event.message))

    if replies is not None:
        measure.set_quiet_hook(lambda: _asking_parent(events, replies))
    else:
        measure.set_quiet_hook(lambda: contextlib.nullcontext(UNCHECKED))
    try:
        registry = ModelRegistry()
        # Settled here, against the folders as they are now: the chain against the model, a free result name.
        recipe = Recipe.from_json_dict(recipe_json).settled(registry)
        result = run_recipe(recipe, registry=registry, on_event=send, cancel=CancelToken(cancel_event))
    except Cancelled as exc:
        events.put(("cancelled", str(exc)))
    except SegviewError as exc:
        events.put(("failed", str(exc)))
    except BaseException as exc:  # a bug: the parent shows the message, the log keeps the traceback
        events.put(("failed", f"unexpected error: {type(exc).__name__}: {exc}", traceback.format_exc()))
    else:
        events.put(("finished", result.to_json_dict()))


class CompressionJob:
    """One recipe run in a child process. Use from one thread (the GUI thread): start, poll, cancel."""

    def __init__(self, recipe: Recipe, *, on_measuring: Callable[[bool], str] | None = None) -> None:
        """``on_measuring(True)`` is called (from :meth:`poll`) before each latency measurement and returns what
        still runs beside it; ``on_measuring(False)`` after it. Without it the child measures without asking."""
        recipe.validate()
        self.recipe = recipe
        self._on_measuring = on_measuring
        self._measuring = False
        # spawn: a forked child would inherit the GUI's threads and Qt state. The spawned child takes this
        # process's sys.path, not its working folder, so a clone named segview there cannot shadow segview
        # (tests/test_child_process.py); segview started as a command goes through segview.child instead.
        self._context = mp.get_context("spawn")
        self._queue = self._context.Queue()
        self._cancel = self._context.Event()
        self._replies = self._context.Queue() if on_measuring is not None else None
        self._process: mp.process.BaseProcess | None = None
        self._workdirs: list[Path] = []
        self._cancel_requested_at: float | None = None
        self.state: State = "idle"
        self.fraction = 0.0
        self.result: RunResult | None = None
        self.error: str | None = None
        self.traceback: str | None = None

    def start(self) -> None:
        if self.state != "idle":
            raise RuntimeError("a job starts once")
        self._process = self._context.Process(
            target=_child_main, args=(self.recipe.to_json_dict(), self._queue, self._cancel, self._replies), name="segview-compress", daemon=True
        )
        self._process.start()
        self.state = "running"

    @property
    def running(self) -> bool:
        return self.state == "running"

    def cancel(self) -> None:
        """Ask the child to stop; :meth:`poll` reports 'cancelled' once it has (or once it was made to)."""
        if self.state == "running" and self._cancel_requested_at is None:
            self._cancel.set()
            self._cancel_requested_at = time.monotonic()

    def poll(self) -> list[JobUpdate]:
        """Everything that happened since the last poll; never blocks."""
        updates: list[JobUpdate] = []
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            except (EOFError, OSError):
                break
            updates.extend(self._handle(item))
        if self.state == "running" and self._process is not None and not self._process.is_alive():
            # Drain what the child managed to send before it ended.
            time.sleep(0.05)
            while True:
                try:
                    updates.extend(self._handle(self._queue.get_nowait()))
                except (queue.Empty, EOFError, OSError):
                    break
            if self.state == "running":
                ended: Literal["cancelled", "failed"] = "cancelled" if self._cancel.is_set() else "failed"
                self._end(ended, f"the compression process ended unexpectedly (exit code {self._process.exitcode})")
                updates.append(JobUpdate(ended, self.fraction, self.error or ""))
        if self.state == "running" and self._cancel_requested_at is not None and time.monotonic() - self._cancel_requested_at > CANCEL_GRACE_S:
            self._terminate()
            self._end("cancelled", "compression cancelled; nothing was written")
            updates.append(JobUpdate("cancelled", self.fraction, self.error or ""))
        return updates

    def wait(self, timeout: float = 600.0) -> list[JobUpdate]:
        """Poll until the job ends (for scripts and tests); returns every update."""
        updates: list[JobUpdate] = []
        deadline = time.monotonic() + timeout
        while self.state == "running" and time.monotonic() < deadline:
            updates += self.poll()
            time.sleep(0.05)
        return updates

    def close(self) -> None:
        """Stop the child if it still runs (the studio is closing)."""
        if self.state == "running":
            self._cancel.set()
            if self._process is not None:
                self._process.join(2.0)
            self._terminate()
            self._end("cancelled", "compression cancelled; nothing was written")

    def _handle(self, item: tuple) -> list[JobUpdate]:
        kind = item[0]
        if kind == "quiet":
            return self._quiet(item[1] == "begin")
        if kind == "event":
            _, event_kind, fraction, message = item
            if event_kind == "workdir":
                self._workdirs.append(Path(message))
                return []
            self.fraction = fraction
            return [JobUpdate("progress" if event_kind == "progress" else "log", fraction, message)]
        if kind == "finished":
            self.result = RunResult.from_json_dict(item[1])
            self._end("finished", None)
            return [JobUpdate("finished", 1.0, f"wrote {self.result.model_path}", self.result)]
        if kind == "cancelled":
            self._end("cancelled", item[1])
            return [JobUpdate("cancelled", self.fraction, item[1])]
        self.traceback = item[2] if len(item) > 2 else None
        self._end("failed", item[1])
        return [JobUpdate("failed", self.fraction, item[1])]

    def _quiet(self, begin: bool) -> list[JobUpdate]:
        """The child starts (or ended) a latency measurement: let the parent pause (or resume) what competes."""
        if self._on_measuring is None or self._replies is None:
            return []
        if not begin:
            self._set_measuring(False)
            return [JobUpdate("measured", self.fraction, "latency measured")]
        beside = self._set_measuring(True)
        self._replies.put(beside)
        return [JobUpdate("measuring", self.fraction, f"measuring latency beside: {beside}")]

    def _set_measuring(self, measuring: bool) -> str:
        beside = ""
        if self._on_measuring is not None and measuring != self._measuring:
            beside = self._on_measuring(measuring) or ""
        self._measuring = measuring
        return beside

    def _end(self, state: State, error: str | None) -> None:
        self._set_measuring(False)  # a child that ended mid-measurement must not leave the studio paused
        self.state = state
        self.error = error
        if self._process is not None:
            self._process.join(5.0)
        if state != "finished":
            # The runner removes its work folder itself; this covers a child that was terminated mid-way.
            for folder in self._workdirs:
                shutil.rmtree(folder, ignore_errors=True)

    def _terminate(self) -> None:
        if self._process is not None and self._process.is_alive():
            self._process.terminate()
            self._process.join(5.0)
            if self._process.is_alive():
                self._process.kill()
                self._process.join(2.0)
