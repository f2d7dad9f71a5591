"""The phone's screen as a stream of decoded frames: ``adb exec-out screenrecord --output-format=h264 -``.

Threads: :meth:`ScreenStream.start`, :meth:`close`, :meth:`wait_frame`,
:attr:`problem` and :meth:`stats` may be used from any thread. The work
happens on two threads of the stream's own: ``segview-phone-SERIAL`` starts
screenrecord, decodes and keeps the newest frame; ``segview-phone-pipe`` only
reads the pipe (a blocking read), so the first can watch the clock.

What the stream survives, and how:

* screenrecord's time limit (3 minutes on most phones): the process ends
  after delivering video; it is started again at once and the restart is
  counted, with the time without frames across it (``last_gap_s``).
* unplugging, a dead adb server, a phone that refuses screenrecord, bytes
  that are not H.264: a run that delivers no frame is a failure; the stream
  says why in :attr:`problem` (asking adb what became of the phone) and
  tries again after a back-off that doubles up to a limit.
* a stall (no new frame for ``stall_s`` seconds): screenrecord is stopped
  and started again. A still screen sends nothing, so this also happens
  when nothing moves; the restart then delivers the unchanged screen at once.
* rotation: the frame size changes mid-stream (new parameter sets); the
  decoder follows and both sizes come out.
"""

from __future__ import annotations

import builtins
import contextlib
import queue
import statistics
import subprocess
import tempfile
import threading
import time
from collections import deque
from dataclasses import dataclass, field

import av

from segview.phone.adb import Adb, AdbError
from segview.phone.decoder import H264Decoder
from segview.phone.devices import list_phones

# A run that received this much without producing a frame is not sending H.264.
GARBAGE_BYTES = 512 * 1024
GARBAGE_ERRORS = 30
DEFAULT_STALL_S = 5.0
_CHUNK = 1 << 16


@dataclass(frozen=True, slots=True)
class ScreenOptions:
    size: tuple[int, int] | None = None  # --size WxH (the phone scales; None: its own resolution)
    bit_rate: int | None = None  # --bit-rate, bits per second
    stall_s: float = DEFAULT_STALL_S  # no new frame for this long: restart screenrecord
    idle_flush_s: float = 0.04  # input quiet this long: decode the frame the parser holds back
    backoff_first_s: float = 0.5
    backoff_max_s: float = 5.0

    def screenrecord_args(self) -> list[str]:
        args = ["exec-out", "screenrecord", "--output-format=h264"]
        if self.size:
            args += ["--size", f"{int(self.size[0])}x{int(self.size[1])}"]
        if self.bit_rate:
            args += ["--bit-rate", str(int(self.bit_rate))]
        return args + ["-"]

    def backoff(self, failures_in_a_row: int) -> float:
        return min(self.backoff_max_s, self.backoff_first_s * 2 ** max(0, failures_in_a_row - 1))


@dataclass(frozen=True, slots=True)
class StreamStats:
    """Counters since the stream started. Gaps are seconds without frames across a restart."""

    frames: int
    runs: int
    restarts: int
    failures: int
    stalls: int
    bytes: int
    decode_errors: int
    frame_size: tuple[int, int] | None
    sizes_seen: tuple[tuple[int, int], ...]
    last_gap_s: float | None
    max_gap_s: float | None
    gaps_s: tuple[float, ...]
    # Host side: from the arrival of the bytes that complete a frame to the decoded frame (median of recent frames).
    decode_latency_ms: float | None


@dataclass(slots=True)
class _Run:
    """What one screenrecord process did (stream thread only)."""

    started: float
    frames: int = 0
    bytes: int = 0
    head: builtins.bytes = b""  # builtins.: the field above shadows the type in the class body
    returncode: int | None = None
    stderr: str = ""
    error: str = ""  # adb could not even start
    ended_by: str = ""  # "", "stall", "garbage", "close"
    first_frame_at: float | None = None
    last_frame_at: float | None = None


@dataclass(slots=True)
class _Counters:
    frames: int = 0
    runs: int = 0
    restarts: int = 0
    failures: int = 0
    stalls: int = 0
    bytes: int = 0
    decode_errors: int = 0
    frame_size: tuple[int, int] | None = None
    sizes_seen: list[tuple[int, int]] = field(default_factory=list)
    gaps_s: list[float] = field(default_factory=list)
    latencies_ms: deque = field(default_factory=lambda: deque(maxlen=300))


class ScreenStream:
    """One phone's screen, decoded on the stream's own threads; only the newest frame is kept."""

    def __init__(self, adb: Adb, serial: str, options: ScreenOptions | None = None) -> None:
        self.adb = adb
        self.serial = serial
        self.options = options or ScreenOptions()
        self._cond = threading.Condition()
        self._latest: av.VideoFrame | None = None
        self._seq = 0
        self._closed = threading.Event()
        self._proc: subprocess.Popen | None = None
        self._proc_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._problem: str | None = None
        self._counters = _Counters()
        self._gap_from: float | None = None  # last frame before a restart

    # -- any thread -------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("a ScreenStream is started once")
        self._thread = threading.Thread(target=self._run, name=f"segview-phone-{self.serial}", daemon=True)
        self._thread.start()

    def close(self, timeout: float = 5.0) -> None:
        """Stop screenrecord and the threads; safe to call twice."""
        self._closed.set()
        self._kill()
        with self._cond:
            self._cond.notify_all()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    @property
    def problem(self) -> str | None:
        """Why no video is coming now (None while it flows)."""
        return self._problem

    def wait_frame(self, after: int, timeout: float) -> tuple[int, av.VideoFrame] | None:
        """The newest frame if it is newer than sequence number ``after``, waiting up to ``timeout``; None otherwise."""
        with self._cond:
            self._cond.wait_for(lambda: self._seq > after or self._closed.is_set(), timeout)
            if self._seq > after and self._latest is not None:
                return self._seq, self._latest
            return None

    def stats(self) -> StreamStats:
        c = self._counters
        with self._cond:
            gaps = tuple(c.gaps_s)
            latencies = list(c.latencies_ms)
            return StreamStats(
                frames=c.frames,
                runs=c.runs,
                restarts=c.restarts,
                failures=c.failures,
                stalls=c.stalls,
                bytes=c.bytes,
                decode_errors=c.decode_errors,
                frame_size=c.frame_size,
                sizes_seen=tuple(c.sizes_seen),
                last_gap_s=gaps[-1] if gaps else None,
                max_gap_s=max(gaps) if gaps else None,
                gaps_s=gaps,
                decode_latency_ms=statistics.median(latencies) if latencies else None,
            )

    # -- stream thread ----------------------------------------------------------

    def _run(self) -> None:
        decoder = H264Decoder()
        failures_in_a_row = 0
        while not self._closed.is_set():
            try:
                run = self._run_once(decoder)
            except Exception as exc:  # a bug here must not silently end the video: report it and retry
                run = _Run(started=time.perf_counter(), error=f"the phone stream failed: {type(exc).__name__}: {exc}")
            if self._closed.is_set():
                break
            if run.frames:
                # The time limit, a stall, or the cable pulled after some video: start again at once.
                failures_in_a_row = 0
                self._counters.restarts += 1
                self._gap_from = run.last_frame_at
                continue
            failures_in_a_row += 1
            self._counters.failures += 1
            delay = self.options.backoff(failures_in_a_row)
            self._set_problem(f"{self._diagnose(run)}; retrying in {delay:.1f} s")
            self._closed.wait(delay)

    def _run_once(self, decoder: H264Decoder) -> _Run:
        run = _Run(started=time.perf_counter())
        self._counters.runs += 1
        decoder.reset()
        errors_before = decoder.errors
        with tempfile.TemporaryFile() as stderr_file:
            try:
                proc = self.adb.popen(self.options.screenrecord_args(), self.serial, stderr=stderr_file)
            except AdbError as exc:
                run.error = str(exc)
                return run
            with self._proc_lock:
                self._proc = proc
            if self._closed.is_set():
                self._kill()
            chunks: queue.Queue[bytes | None] = queue.Queue()
            pump = threading.Thread(target=_pump, args=(proc.stdout, chunks), name="segview-phone-pipe", daemon=True)
            pump.start()
            try:
                self._decode_run(run, decoder, chunks)
            finally:
                self._kill()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=5)
                pump.join(2)
                with self._proc_lock:
                    self._proc = None
                if proc.stdout is not None:  # always a pipe here (adb.popen)
                    with contextlib.suppress(OSError):
                        proc.stdout.close()
                stderr_file.seek(0)
                run.stderr = stderr_file.read(4096).decode("utf-8", "replace").strip()
                run.returncode = proc.returncode
                self._counters.decode_errors += decoder.errors - errors_before
        return run

    def _decode_run(self, run: _Run, decoder: H264Decoder, chunks: queue.Queue) -> None:
        options = self.options
        progress_at = run.started  # the run's start, then its latest frame
        last_arrival = previous_arrival = run.started
        while not self._closed.is_set():
            try:
                chunk = chunks.get(timeout=options.idle_flush_s if decoder.pending else 0.25)
            except queue.Empty:
                for frame in decoder.flush():
                    progress_at = self._publish(run, frame, last_arrival)
                if time.perf_counter() - progress_at > options.stall_s:
                    run.ended_by = "stall"
                    if run.frames:
                        self._counters.stalls += 1
                        self._set_problem(f"no video from phone {self.serial} for {options.stall_s:g} s; restarting screenrecord")
                    return
                continue
            if chunk is None:
                # screenrecord ended (time limit, unplugged, refused): its last frame is still in the parser.
                for frame in decoder.flush():
                    self._publish(run, frame, last_arrival)
                return
            arrival = time.perf_counter()
            run.bytes += len(chunk)
            self._counters.bytes += len(chunk)
            if len(run.head) < 256:
                run.head += chunk[: 256 - len(run.head)]
            # A frame the parser releases now was complete when the previous bytes arrived.
            for frame in decoder.feed(chunk):
                progress_at = self._publish(run, frame, previous_arrival)
            previous_arrival = last_arrival = arrival
            if run.frames == 0 and (run.bytes >= GARBAGE_BYTES or decoder.errors >= GARBAGE_ERRORS):
                run.ended_by = "garbage"
                return
            if arrival - progress_at > options.stall_s:
                run.ended_by = "stall"  # bytes keep coming but nothing decodes (any more)
                if run.frames:
                    self._counters.stalls += 1
                    self._set_problem(f"phone {self.serial} sends bytes that do not decode; restarting screenrecord")
                return
        run.ended_by = "close"

    def _publish(self, run: _Run, frame: av.VideoFrame, complete_at: float) -> float:
        now = time.perf_counter()
        size = (frame.width, frame.height)
        c = self._counters
        with self._cond:
            self._latest = frame
            self._seq += 1
            c.frames += 1
            c.latencies_ms.append((now - complete_at) * 1e3)
            if size != c.frame_size:
                c.frame_size = size
                if size not in c.sizes_seen:
                    c.sizes_seen.append(size)
            if run.frames == 0 and self._gap_from is not None:
                c.gaps_s.append(now - self._gap_from)
                self._gap_from = None
            self._cond.notify_all()
        run.frames += 1
        if run.first_frame_at is None:
            run.first_frame_at = now
            self._problem = None
        run.last_frame_at = now
        return now

    def _set_problem(self, problem: str) -> None:
        self._problem = problem

    def _kill(self) -> None:
        with self._proc_lock:
            proc = self._proc
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(OSError):
                proc.kill()

    def _diagnose(self, run: _Run) -> str:
        """Why a run gave no video, in words (stream thread; asks adb about the phone)."""
        if run.error:
            return run.error
        try:
            phones = list_phones(self.adb, timeout=5.0, ask_models=False)
        except AdbError as exc:
            return str(exc)
        phone = next((p for p in phones if p.serial == self.serial), None)
        if phone is None:
            return f"phone {self.serial} is not attached (unplugged?)"
        if phone.problem():
            return phone.problem() or ""
        text = _printable(run.head)
        if run.ended_by == "garbage" or (run.bytes and not text):
            said = f" ({run.stderr.splitlines()[0][:120]})" if run.stderr else ""
            return f"phone {self.serial} sent {run.bytes} bytes that are not H.264 video{said}"
        if run.ended_by == "stall":
            return f"phone {self.serial} started screenrecord but sent no video for {self.options.stall_s:g} s"
        said = text or (run.stderr.splitlines()[0] if run.stderr else "")
        if said:
            return f"screenrecord on phone {self.serial} gave no video: {said[:200]}"
        return f"screenrecord on phone {self.serial} ended without video (exit status {run.returncode})"


def _pump(pipe, chunks: queue.Queue) -> None:
    """Pipe thread: blocking reads until end of file (the stream thread kills the process to end it)."""
    try:
        while True:
            data = pipe.read(_CHUNK)
            if not data:
                break
            chunks.put(data)
    except (OSError, ValueError):
        pass
    finally:
        chunks.put(None)


def _printable(data: bytes) -> str:
    """``data`` as one line of text if it is text (an error message), else ''."""
    if not data:
        return ""
    text = data.decode("utf-8", "replace")
    shown = sum(ch.isprintable() or ch in "\r\n\t" for ch in text)
    if shown < 0.95 * len(text):
        return ""
    return " ".join(text.split())
