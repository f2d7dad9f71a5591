import os
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import factories
from segview.inference.inspect import describe_model
from segview.inference.session import SegmentationSession, SessionOptions
from segview.pipeline import Pipeline
from segview.pipeline.channel import Channel, Closed
from segview.sources import open_source
from segview.sources.base import FrameSource


def _session(path, name=None):
    card = describe_model(path)
    if name:
        card = card.with_name(name)
    return SegmentationSession(path, card, SessionOptions(threads=1))


class FastLiveSource(FrameSource):
    """Stands in for a camera that produces frames faster than anyone can use them."""

    is_live = True
    name = "fake-camera"

    def __init__(self, count):
        super().__init__()
        self.frames = factories.moving_square_frames(count)

    def open(self):
        pass

    def _read_image(self):
        if self._index >= len(self.frames):
            return None
        time.sleep(0.0005)
        return self.frames[self._index]


def test_channel_newest_wins_counts_drops():
    ch = Channel(1, newest_wins=True)
    for i in range(5):
        ch.put(i)
    assert ch.get() == 4 and ch.dropped == 4
    ch.close()
    with pytest.raises(Closed):
        ch.get()


def test_channel_blocking_waits_for_room():
    ch = Channel(1, newest_wins=False)
    ch.put(1)
    done = threading.Event()
    threading.Thread(target=lambda: (ch.put(2), done.set()), daemon=True).start()
    assert not done.wait(0.1)
    assert ch.get() == 1
    assert done.wait(30.0)  # generous: returns as soon as the put goes through
    assert ch.get() == 2 and ch.dropped == 0


def test_file_source_processes_every_frame_in_order_of_capture(brightness_model, square_video):
    source = open_source(str(square_video))
    seen = []
    pipeline = Pipeline(source, [_session(brightness_model)], workers=2, consumers=[seen.append])
    stats = pipeline.run()
    assert stats.frames_dropped == 0 and stats.problems == []
    assert sorted(b.frame.index for b in seen) == list(range(24))
    for bundle in seen:
        (result,) = bundle.results
        t = result.timings
        assert result.mask.shape == (120, 160)
        assert min(t.preprocess_ms, t.inference_ms, t.postprocess_ms) > 0
        assert t.end_to_end_ms >= t.inference_ms + t.preprocess_ms + t.postprocess_ms
        # The mask belongs to its own frame: the bright square is where the frame has it.
        bright = bundle.frame.image.mean(axis=2) > 128
        assert (result.mask.astype(bool) == bright).mean() > 0.97


def test_several_models_run_on_the_same_frame(brightness_model, model_dir, square_video):
    other = factories.brightness_model(model_dir / "nhwc.onnx", layout="NHWC")
    source = open_source(str(square_video))
    seen = []
    Pipeline(source, [_session(brightness_model), _session(other, "nhwc")], consumers=[seen.append]).run()
    assert len(seen) == 24
    for bundle in seen:
        assert [r.model for r in bundle.results] == ["bright", "nhwc"]
        assert all(r.frame is bundle.frame for r in bundle.results)
        assert np.array_equal(bundle.results[0].mask, bundle.results[1].mask)


def test_live_source_drops_old_frames_and_keeps_latency_bounded(brightness_model):
    seen = []
    shown_at = []  # perf_counter, the clock of Frame.captured_at

    def slow_consumer(bundle):
        shown_at.append(time.perf_counter())
        time.sleep(0.005)  # paces a consumer slower than the camera
        seen.append(bundle)

    source = FastLiveSource(400)
    stats = Pipeline(source, [_session(brightness_model)], workers=1, consumers=[slow_consumer]).run()
    assert stats.frames_captured == 400
    assert stats.frames_dropped > 0
    assert len(seen) + stats.frames_dropped + stats.results_late <= 400
    indices = [b.frame.index for b in seen]
    assert indices == sorted(indices)  # never shown out of order
    timings = [b.results[0].timings for b in seen]
    assert all(t.end_to_end_ms > 0 and t.end_to_end_ms >= t.queue_ms + t.inference_ms for t in timings)  # measured, stages in order
    # Bounded: a frame waits behind at most a couple of others, never behind a growing backlog.
    # Counted, not timed: how many frames were shown between this frame's capture and its own
    # showing. The pipeline holds at most one frame in the worker and four results, so a few;
    # a backlog would make the count grow with the run, on any machine.
    waited_behind = [sum(1 for t in shown_at[:k] if t > b.frame.captured_at) for k, b in enumerate(seen)]
    assert max(waited_behind) <= 6, waited_behind


def test_max_frames_stops_early(brightness_model, square_video):
    source = open_source(str(square_video), loop="1")
    stats = Pipeline(source, [_session(brightness_model)], workers=2, max_frames=50).run()
    assert 50 <= stats.frames_processed <= 52


def test_model_failure_is_reported_not_raised(brightness_model, square_video):
    session = _session(brightness_model)
    session._input = "wrong-name"  # make every run fail inside onnxruntime
    pipeline = Pipeline(open_source(str(square_video)), [session], workers=2)
    stats = pipeline.run()
    assert stats.problems and "failed while running" in stats.problems[0]
    assert pipeline.finished


@pytest.mark.parametrize("setting", ["default", "0"])
def test_opencv_runs_without_a_pool_of_its_own_once_the_pipeline_is_imported(setting):
    env = {k: v for k, v in os.environ.items() if k != "SEGVIEW_SERIAL_OPENCV"}
    if setting != "default":
        env["SEGVIEW_SERIAL_OPENCV"] = setting
    script = "import cv2; before = cv2.getNumThreads(); import segview.pipeline.pipeline; print(before, cv2.getNumThreads())"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    before, after = map(int, done.stdout.split())
    # The workers fill the cores; SEGVIEW_SERIAL_OPENCV=0 leaves OpenCV's own choice (one thread per core).
    assert after == (1 if setting == "default" else before)
