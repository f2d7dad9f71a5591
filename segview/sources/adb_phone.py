"""A tethered Android phone's screen as a live source: ``adb`` (the only phone) or ``adb:SERIAL``.

Options: ``?size=WxH`` (the phone scales before encoding), ``?bitrate=8M``,
``?stall=S`` (restart screenrecord after S seconds without a frame; 5),
``?wait=S`` (how long opening waits for the first frame; 10) and
``?giveup=S`` (end the source after S seconds without video; by default a
phone that is away is waited for, retrying, for ever).

Threads: the stream decodes on its own threads (see
:mod:`segview.phone.screen`); :meth:`AdbPhoneSource._read_image` runs on the
pipeline's capture thread, turns the newest decoded frame into BGR there
(frames nobody takes are never converted) and blocks until a new frame
comes. A still screen sends no frames, so after ``repeat_after_s`` without
one the last frame is handed out again (counted in ``frames_repeated``):
the pipeline keeps running, as with a camera pointed at a still scene.
While the phone is away (:attr:`problem` says why, and the stream keeps
retrying) the last frame is handed out only every ``away_repeat_s``, so the
capture thread still comes back often enough to notice a pipeline being
stopped. ``_read_image`` returns None only once the source is closed (or gave
up, with ``giveup``).
"""

from __future__ import annotations

import re
import threading
import time

import numpy as np

from segview.errors import SourceError
from segview.phone.adb import Adb, AdbError, find_adb, server_running
from segview.phone.decoder import to_bgr
from segview.phone.devices import PhoneDevice, list_phones, pick_phone
from segview.phone.screen import DEFAULT_STALL_S, ScreenOptions, ScreenStream, StreamStats
from segview.sources.base import FrameSource
from segview.sources.discovery import register_provider
from segview.sources.spec import SourceSpec, register_scheme

REPEAT_AFTER_S = 0.1
AWAY_REPEAT_S = 0.5


class AdbPhoneSource(FrameSource):
    is_live = True

    def __init__(
        self,
        serial: str | None = None,
        *,
        options: ScreenOptions | None = None,
        open_timeout_s: float = 10.0,
        give_up_s: float | None = None,
        repeat_after_s: float = REPEAT_AFTER_S,
        away_repeat_s: float = AWAY_REPEAT_S,
        adb: Adb | None = None,
    ) -> None:
        super().__init__()
        self.serial = serial
        self.options = options or ScreenOptions()
        self.open_timeout_s = open_timeout_s
        self.give_up_s = give_up_s
        self.repeat_after_s = repeat_after_s
        self.away_repeat_s = away_repeat_s
        self.name = f"adb:{serial}" if serial else "adb"
        self.device: PhoneDevice | None = None
        self.frames_repeated = 0
        self._adb = adb
        self._stream: ScreenStream | None = None
        self._closed = threading.Event()
        self._seen = 0
        self._last: np.ndarray | None = None
        self._away_since: float | None = None
        self._handed_at = 0.0  # when _read_image last returned (monotonic)
        self._own_problem: str | None = None

    # -- any thread -------------------------------------------------------------

    @property
    def problem(self) -> str | None:
        """Why no video comes now (the phone unplugged, unauthorized, refusing...); None while it flows."""
        if self._own_problem:
            return self._own_problem
        return self._stream.problem if self._stream is not None else None

    def stats(self) -> StreamStats | None:
        """Restarts, gaps, decode counters (None before ``open``)."""
        return self._stream.stats() if self._stream is not None else None

    def open(self) -> None:
        """Find the phone, start screenrecord, wait for the first frame; SourceError says what is wrong."""
        adb = self._adb or find_adb()
        phone = pick_phone(list_phones(adb), self.serial)
        self.device, self.serial, self.name = phone, phone.serial, f"adb:{phone.serial}"
        stream = ScreenStream(adb, phone.serial, self.options)
        stream.start()
        first = stream.wait_frame(0, self.open_timeout_s)
        if first is None:
            problem = stream.problem
            stream.close()
            what = f"phone {phone.serial}" + (f" ({phone.model})" if phone.model else "")
            raise SourceError(f"{what} sent no video within {self.open_timeout_s:g} s: {problem or 'screenrecord sent nothing'}")
        self._stream = stream
        self._closed.clear()

    def close(self) -> None:
        self._closed.set()
        if self._stream is not None:
            self._stream.close()

    # -- capture thread ---------------------------------------------------------

    def _read_image(self) -> np.ndarray | None:
        stream = self._stream
        if stream is None:
            return None
        while not self._closed.is_set():
            got = stream.wait_frame(self._seen, self.repeat_after_s)
            if got is not None:
                self._seen, frame = got
                self._away_since = None
                self._last = to_bgr(frame)
                return self._handed(self._last)
            if stream.closed:
                break
            now = time.monotonic()
            if stream.problem is None:
                self._away_since = None
                if self._last is not None:
                    # A still screen (or screenrecord restarting): the screen is what it was.
                    return self._handed(self._last.copy(), repeated=True)
                continue
            if self._away_since is None:
                self._away_since = now
            if self.give_up_s is not None and now - self._away_since >= self.give_up_s:
                self._own_problem = f"no video from {self.name} for {self.give_up_s:g} s: {stream.problem}"
                return None
            if self._last is not None and now - self._handed_at >= self.away_repeat_s:
                return self._handed(self._last.copy(), repeated=True)
        return None

    def _handed(self, image: np.ndarray, *, repeated: bool = False) -> np.ndarray:
        self._handed_at = time.monotonic()
        if repeated:
            self.frames_repeated += 1
        return image


_RATE = re.compile(r"(\d+(?:\.\d+)?)([kKmM]?)(?:bps|b)?")


def parse_bit_rate(text: str) -> int:
    """ "8M", "800k", "4000000" in bits per second."""
    match = _RATE.fullmatch(text.strip())
    if match is None:
        raise SourceError(f"bitrate must look like 8M, 800k or 4000000, not {text!r}")
    value = float(match.group(1)) * {"": 1, "k": 1e3, "m": 1e6}[match.group(2).lower()]
    if value < 100_000:
        raise SourceError(f"bitrate {text!r} is too low for screenrecord (at least 100k)")
    return int(value)


def _positive(spec: SourceSpec, key: str) -> float | None:
    value = spec.number(key)
    if value is not None and value <= 0:
        raise SourceError(f"{key} must be positive, not {value:g}")
    return value


def _from_spec(spec: SourceSpec) -> AdbPhoneSource:
    bitrate = spec.options.get("bitrate") or spec.options.get("bit_rate")
    options = ScreenOptions(
        size=spec.size(),
        bit_rate=parse_bit_rate(bitrate) if bitrate else None,
        stall_s=_positive(spec, "stall") or DEFAULT_STALL_S,
    )
    return AdbPhoneSource(
        spec.target or None,
        options=options,
        open_timeout_s=_positive(spec, "wait") or 10.0,
        give_up_s=_positive(spec, "giveup"),
    )


def phone_sources() -> list[tuple[str, str]]:
    """The studio picker's phones: "Phone: MODEL (SERIAL)" -> adb:SERIAL.

    Asks adb only when its server already runs (asking would start one, which
    takes seconds); otherwise offers the first phone attached, ``adb``.
    """
    try:
        adb = find_adb()
    except AdbError:
        return []
    if not server_running():
        return [("Phone over adb (the one attached)", "adb")]
    return [(phone.label, phone.source_name) for phone in list_phones(adb, timeout=3.0)]


register_scheme("adb", _from_spec)
register_provider(phone_sources)
