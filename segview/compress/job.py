"""A compression job in a separate process, for the studio.

Quantization and measurement take the CPU for seconds to minutes; in a child
process they cannot stall the GUI's event loop, and a job that ignores its
cancel token can still be stopped. The child runs the same :func:`run_recipe`
as the command line and sends its events through a queue. One thread of the
parent reads it: :meth:`CompressionJob.updates` blocks on the queue and yields each
update as it arrives (the studio's run page reads it on a worker thread),
:meth:`~CompressionJob.poll` takes what is there without waiting, both through the
same code.

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
import threading
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
STOPPED = "compression cancelled; nothing was written"
# How long a reader waits on the queue before it looks whether the child still lives (and the cancel grace).
READ_SLICE_S = 0.25
ENDS = ("finished", "failed", "cancelled")


@dataclass(frozen=True, slots=True)
class JobUpdate:
    """What the job hands its reader: progress and log lines, then one final state."""

    kind: Literal["progress", "log", "measuring", "measured", "finished", "failed", "cancelled"]
    fraction: float = 0.0
    message: str = ""
    result: RunResult | None = None

    @property
    def ends(self) -> bool:
        """The job's last update: finished, failed or cancelled."""
        return self.kind in ENDS


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
    """One recipe run in a child process.

    Threads: one thread at a time reads the job (:meth:`poll`, :meth:`updates`, :meth:`wait`); that thread
    changes its state and calls ``on_measuring``. :meth:`cancel` and :meth:`close` may be called from any
    thread (the studio reads on a worker thread and cancels from the GUI thread)."""

    def __init__(self, recipe: Recipe, *, on_measuring: Callable[[bool], str] | None = None) -> None:
        """``on_measuring(True)`` is called (on the reading thread) before each latency measurement and returns
        what still runs beside it; ``on_measuring(False)`` after it. Without it the child measures without asking."""
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
        self._stopped = False  # close() ended the child: its end is a cancel, not a crash
        self._reader: int | None = None  # the thread iterating updates(), while one does
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
        """Ask the child to stop (any thread); the reader gets 'cancelled' once it has (or once it was made to)."""
        if self.state == "running" and self._cancel_requested_at is None:
            self._cancel.set()
            self._cancel_requested_at = time.monotonic()

    def poll(self) -> list[JobUpdate]:
        """Everything that happened since the last read; never waits for the child."""
        return self._read(0.0)

    def updates(self, timeout: float | None = None) -> Iterator[JobUpdate]:
        """Each update as it arrives, until the job has ended (the last one says how) or ``timeout`` s passed.

        Blocks on the child's queue between updates: call it from a worker thread or a script, never
        from the GUI thread. ``on_measuring`` runs on the thread that iterates."""
        deadline = None if timeout is None else time.monotonic() + timeout
        self._reader = threading.get_ident()
        try:
            while self.state == "running":
                left = READ_SLICE_S if deadline is None else min(READ_SLICE_S, deadline - time.monotonic())
                if left <= 0:
                    return
                yield from self._read(left)
        finally:
            self._reader = None

    def wait(self, timeout: float = 600.0) -> list[JobUpdate]:
        """Read until the job ends (for scripts and tests); returns every update."""
        return list(self.updates(timeout))

    def close(self) -> None:
        """Stop the child at once if it still runs (the studio is closing); its work folders are removed.

        With no other thread reading, the job has ended ('cancelled') when this returns; while another
        thread iterates :meth:`updates`, that thread finds the child gone and reports the end."""
        if self.state != "running":
            return
        self._stopped = True
        self._cancel.set()
        if self._process is not None:
            self._process.join(2.0)
        self._terminate()
        if self._reader not in (None, threading.get_ident()):
            self._remove_workdirs()
            return
        self._end("cancelled", STOPPED)

    def _read(self, wait_s: float) -> list[JobUpdate]:
        """Wait up to ``wait_s`` for the child's next item, take what else it sent, then see whether it still runs."""
        updates: list[JobUpdate] = []
        try:
            item = self._queue.get(timeout=wait_s) if wait_s > 0 else self._queue.get_nowait()
        except (queue.Empty, EOFError, OSError):
            pass
        else:
            updates += self._handle(item)
            updates += self._drain()
        return updates + self._check_child()

    def _drain(self) -> list[JobUpdate]:
        updates: list[JobUpdate] = []
        while True:
            try:
                item = self._queue.get_nowait()
            except (queue.Empty, EOFError, OSError):
                return updates
            updates += self._handle(item)

    def _check_child(self) -> list[JobUpdate]:
        """A child that ended without saying how, or that outlived its cancel grace, ends the job here."""
        if self.state != "running" or self._process is None:
            return []
        if not self._process.is_alive():
            time.sleep(0.05)  # what the child sent just before it ended may still be in the pipe
            updates = self._drain()
            if self.state == "running":
                ended: Literal["cancelled", "failed"] = "cancelled" if self._cancel.is_set() else "failed"
                message = STOPPED if self._stopped else f"the compression process ended unexpectedly (exit code {self._process.exitcode})"
                self._end(ended, message)
                updates.append(JobUpdate(ended, self.fraction, self.error or ""))
            return updates
        if self._cancel_requested_at is not None and time.monotonic() - self._cancel_requested_at > CANCEL_GRACE_S:
            self._terminate()
            self._end("cancelled", STOPPED)
            return [JobUpdate("cancelled", self.fraction, self.error or "")]
        return []

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
            self._remove_workdirs()

    def _remove_workdirs(self) -> None:
        # The runner removes its work folder itself; this covers a child that was terminated mid-way.
        for folder in list(self._workdirs):
            shutil.rmtree(folder, ignore_errors=True)

    def _terminate(self) -> None:
        if self._process is not None and self._process.is_alive():
            self._process.terminate()
            self._process.join(5.0)
            if self._process.is_alive():
                self._process.kill()
                self._process.join(2.0)
