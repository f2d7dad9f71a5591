"""The phone's screen through the fake adb: restarts at the time limit, unplugging, garbage, stalls, rotation."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from fake_adb.fakephone import SERIAL
from segview.errors import SourceError
from segview.inference.inspect import describe_model
from segview.inference.session import SegmentationSession, SessionOptions
from segview.phone.adb import find_adb
from segview.phone.screen import ScreenOptions, ScreenStream
from segview.pipeline.pipeline import Pipeline
from segview.sources.adb_phone import AdbPhoneSource, parse_bit_rate
from segview.sources.spec import open_source, parse_source

FAST_RETRY = ScreenOptions(backoff_first_s=0.2, backoff_max_s=1.0)
# Generous: each wait ends as soon as its condition holds, so only a broken stream waits this long.
TIMEOUT_S = 60.0


def read_until(source, done, timeout: float = TIMEOUT_S) -> list:
    """Read frames until ``done(frames)`` holds (every read gives a frame); the frames read.

    Tests wait for counts of events (restarts, stalls, sizes), never for a wall-clock window:
    on two busy cores a fixed few seconds can hold any number of frames."""
    frames = []
    deadline = time.monotonic() + timeout
    while not done(frames):
        assert time.monotonic() < deadline, f"not true within {timeout} s: {done}; {source.stats()}"
        frame = source.read()
        assert frame is not None
        frames.append(frame)
    return frames


def read_frames(source, count: int) -> list:
    return read_until(source, lambda frames: len(frames) >= count)


def wait_until(condition, timeout: float = TIMEOUT_S, step: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"not true within {timeout} s: {condition}")


@pytest.fixture
def opened():
    sources = []

    def _open(text_or_source):
        source = open_source(text_or_source) if isinstance(text_or_source, str) else text_or_source
        if not isinstance(text_or_source, str):
            source.open()
        sources.append(source)
        return source

    yield _open
    for source in sources:
        source.close()


def test_grammar_and_screenrecord_arguments(fake_phone, opened):
    spec = parse_source(f"adb:{SERIAL}?size=720x1280&bitrate=8M")
    assert (spec.scheme, spec.target, spec.options) == ("adb", SERIAL, {"size": "720x1280", "bitrate": "8M"})
    assert parse_source("adb").scheme == "adb" and parse_source("adb").target == ""
    source = opened(f"adb:{SERIAL}?size=720x1280&bitrate=8M")
    assert source.is_live and source.name == f"adb:{SERIAL}" and source.device.model == "Pixel 7"
    frame = source.read()
    assert frame.image.shape == (120, 160, 3) and frame.image.dtype == np.uint8
    record = [i["argv"] for i in fake_phone.invocations() if "screenrecord" in i["argv"]][0]
    assert record == ["-s", SERIAL, "exec-out", "screenrecord", "--output-format=h264", "--size", "720x1280", "--bit-rate", "8000000", "-"]
    assert parse_bit_rate("800k") == 800_000 and parse_bit_rate("4000000") == 4_000_000
    with pytest.raises(SourceError, match="bitrate must look like"):
        parse_bit_rate("fast")


def test_the_only_phone_is_found_without_a_serial(fake_phone, opened):
    source = opened("adb")
    assert source.name == f"adb:{SERIAL}"
    assert source.read() is not None


def test_frames_are_the_phone_screen(fake_phone, opened):
    """The decoded frame is the encoded one: the bright square where the fixture drew it."""
    image = opened("adb").read().image
    bright = image.mean(axis=2) > 128
    ys, xs = np.nonzero(bright)
    assert 25 <= ys.min() <= 35 and 85 <= ys.max() <= 95  # rows 30..89 of the first frames
    assert 0.15 < bright.mean() < 0.25


def test_time_limit_restarts_transparently(fake_phone, opened):
    fake_phone.set_stream(stop_after_frames=10)  # each screenrecord run ends after 10 frames (a third of a second)
    source = opened("adb")
    frames = read_until(source, lambda frames: len(frames) >= 40 and len(source.stats().gaps_s) >= 4)  # video after 4 restarts
    stats = source.stats()
    assert stats.restarts >= 4
    assert stats.runs == stats.restarts + 1 and stats.failures == 0
    assert stats.frames >= 40  # frames kept coming across the restarts
    # Each restart's gap was measured, and none waited out a retry's back-off (no failure, no problem).
    assert len(stats.gaps_s) >= 4 and all(gap > 0 for gap in stats.gaps_s)
    assert source.problem is None
    assert len(frames) >= 40 and frames[-1].index == len(frames) - 1


def test_unplugged_phone_is_reported_and_recovered(fake_phone, opened):
    fake_phone.set_stream(vanish_after_frames=15, vanish_for_s=1.5)
    source = opened(AdbPhoneSource(SERIAL, options=FAST_RETRY))
    read_frames(source, 5)  # the phone goes away after its 15th frame
    problem = wait_until(lambda: source.problem)
    assert f"phone {SERIAL} is not attached (unplugged?); retrying in" in problem
    fake_phone.set_stream(vanish_after_frames=None)  # back for good
    seen = source.stats().frames
    frame = source.read()  # blocks while the phone is away, returns once it is back
    assert frame is not None
    wait_until(lambda: source.stats().frames > seen + 10)
    assert source.problem is None
    assert source.stats().failures >= 1


def test_garbage_instead_of_video_is_reported_and_retried_with_backoff(fake_phone, opened):
    fake_phone.set_stream(garbage=True, garbage_bytes=20000)
    stream = ScreenStream(find_adb(), SERIAL, FAST_RETRY)
    stream.start()
    try:
        problem = wait_until(lambda: stream.problem)
        assert f"phone {SERIAL} sent 20000 bytes that are not H.264 video; retrying in" in problem
        wait_until(lambda: stream.stats().failures >= 4)
        starts = fake_phone.screenrecord_starts()
        pauses = np.diff(starts)
        # Backing off: at least 0.2 s, 0.4 s, 0.8 s between tries. Lower bounds only, as a busy
        # machine makes every pause longer; without the back-off the third would be as short as the first.
        assert pauses[0] >= 0.2 - 0.02 and pauses[2] >= 0.8 - 0.02, pauses
        assert stream.stats().frames == 0 and stream.stats().decode_errors > 0
        fake_phone.set_stream(garbage=False)
        assert stream.wait_frame(0, 5.0) is not None  # recovers once real video comes
        wait_until(lambda: stream.problem is None)
    finally:
        stream.close()
    # Through the grammar, opening fails with the reason on one line.
    with pytest.raises(SourceError, match="sent no video within 1.5 s: phone FAKE0001 sent 20000 bytes that are not H.264 video"):
        fake_phone.set_stream(garbage=True)
        open_source("adb?wait=1.5")


def test_garbage_after_video_restarts_and_reports(fake_phone, opened):
    source = opened(AdbPhoneSource(SERIAL, options=ScreenOptions(stall_s=0.6, backoff_first_s=0.2, backoff_max_s=1.0)))
    read_frames(source, 3)
    fake_phone.set_stream(garbage=True, garbage_bytes=None)  # the next run sends random bytes for ever
    fake_phone.set_stream(stop_after_frames=None)
    # Make the running screenrecord end: the next run is the garbage one.
    source._stream._kill()
    problem = wait_until(lambda: source.problem and "not H.264" in source.problem and source.problem)
    assert "retrying in" in problem
    fake_phone.set_stream(garbage=False)
    wait_until(lambda: source.problem is None)
    assert source.read() is not None


def test_a_phone_that_refuses_screenrecord(fake_phone):
    fake_phone.set_stream(refuse="ERROR: unable to create video encoder (secure display)")
    with pytest.raises(SourceError, match="gave no video: ERROR: unable to create video encoder"):
        open_source("adb?wait=1")


def test_a_stalled_stream_is_restarted(fake_phone, opened):
    fake_phone.set_stream(stall_after_frames=6)
    source = opened(AdbPhoneSource(SERIAL, options=ScreenOptions(stall_s=0.5), repeat_after_s=0.05))
    frames = read_until(source, lambda _: (s := source.stats()).stalls >= 2 and s.restarts >= 2 and s.frames >= 15)
    stats = source.stats()
    assert stats.stalls >= 2 and stats.restarts >= 2
    assert stats.frames >= 15  # 6 per run
    assert source.frames_repeated > 0  # the still picture was handed out again meanwhile
    assert len(frames) > stats.frames


def test_rotation_is_decoded_at_both_sizes(fake_phone, rotating_stream, opened):
    fake_phone.set_stream(file=str(rotating_stream), index=str(rotating_stream) + ".json")
    source = opened("adb")
    frames = read_until(source, lambda frames: len({f.image.shape for f in frames}) >= 2)
    shapes = {f.image.shape for f in frames}
    assert shapes == {(120, 160, 3), (160, 120, 3)}
    assert set(source.stats().sizes_seen) == {(160, 120), (120, 160)}
    assert source.stats().decode_errors == 0


def test_still_screen_repeats_the_last_frame(fake_phone, opened):
    fake_phone.set_stream(stall_after_frames=3)
    source = opened(AdbPhoneSource(SERIAL, options=ScreenOptions(stall_s=30), repeat_after_s=0.05))
    frames = read_until(source, lambda _: source.stats().frames >= 3 and source.frames_repeated >= 5)
    assert source.stats().frames == 3  # the parser's held-back last frame came out on the idle flush
    assert source.frames_repeated >= 5
    assert np.array_equal(frames[-1].image, frames[2].image)
    assert source.problem is None


def test_while_the_phone_is_away_the_last_frame_comes_slowly_and_close_ends_a_read(fake_phone):
    fake_phone.set_stream(vanish_after_frames=2, vanish_for_s=30)
    source = open_source("adb")
    source.read()
    wait_until(lambda: source.problem)
    result = []

    def read_all():
        while True:
            frame = source.read()
            result.append(frame)
            if frame is None:
                return

    reader = threading.Thread(target=read_all)
    started = time.monotonic()
    reader.start()
    wait_until(lambda: len(result) >= 3)
    seen, elapsed = len(result), time.monotonic() - started
    # Not ended, and not spinning: the last frame again every half second, so a stopped pipeline is noticed.
    # "Not spinning" as an upper bound on the count: a busy machine only makes the count smaller.
    assert reader.is_alive() and seen <= 3 + elapsed / source.away_repeat_s
    assert source.frames_repeated >= 2
    source.close()
    reader.join(3)
    assert not reader.is_alive() and result[-1] is None


def test_giveup_ends_the_source_with_its_problem(fake_phone):
    fake_phone.set_stream(vanish_after_frames=2, vanish_for_s=30)
    source = open_source("adb?giveup=1")
    try:
        while source.read() is not None:
            pass
        assert "no video from adb:FAKE0001 for 1 s: phone FAKE0001 is not attached" in source.problem
    finally:
        source.close()


def test_pipeline_runs_models_on_the_phone(fake_phone, brightness_model):
    source = open_source("adb")
    try:
        session = SegmentationSession(brightness_model, describe_model(brightness_model), SessionOptions(threads=1))
        stats = Pipeline(source, [session], workers=2, max_frames=20).run()
    finally:
        source.close()
    assert stats.frames_processed >= 20 and not stats.problems


def test_a_pipeline_on_an_away_phone_still_stops_promptly(fake_phone, brightness_model):
    fake_phone.set_stream(vanish_after_frames=5, vanish_for_s=30)
    source = open_source("adb")
    session = SegmentationSession(brightness_model, describe_model(brightness_model), SessionOptions(threads=1))
    pipeline = Pipeline(source, [session], workers=1)
    pipeline.start()
    try:
        wait_until(lambda: source.problem)
        assert not pipeline.finished  # an away phone does not end the run
        # Promptly: all its threads end long before the phone is back (30 s), however busy the machine.
        pipeline.join(15)
        assert all(not t.is_alive() for t in pipeline._threads)
    finally:
        source.close()
