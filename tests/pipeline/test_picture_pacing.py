"""PicturePacer: every picture while the workers wait for frames, spaced pictures while the models are the bottleneck."""

from __future__ import annotations

from segview.pipeline.picture_pacing import MIN_FRAMES, PicturePacer


def drive(pacer: PicturePacer, *, fps: float, waited_share: float, seconds: float) -> int:
    """Feed a pipeline's counts frame by frame; returns how many pictures were composed."""
    composed = 0
    for i in range(int(fps * seconds)):
        now, frames = i / fps, i + 1
        waits = int(frames * waited_share)
        if pacer.due(now, frames, waits):
            pacer.composed(now)
            composed += 1
    return composed


def test_models_waiting_for_frames_get_every_picture():
    pacer = PicturePacer(busy_interval_s=0.1, window_s=0.5)
    # A camera at 30 fps: each worker waits for every frame.
    assert drive(pacer, fps=30, waited_share=1.0, seconds=4) == 120
    assert not pacer.busy


def test_models_as_the_bottleneck_get_spaced_pictures():
    pacer = PicturePacer(busy_interval_s=0.1, window_s=0.5)
    # A file read as fast as 300 fps of models take it: nobody ever waits for a frame.
    composed = drive(pacer, fps=300, waited_share=0.0, seconds=4)
    assert pacer.busy
    # Every frame until the first window closed (0.5 s), then one every 0.1 s.
    assert 150 + 30 <= composed <= 150 + 36


def test_too_few_frames_say_nothing():
    pacer = PicturePacer(busy_interval_s=0.1, window_s=0.5)
    # A slow model (a few frames a second) that never waits: pictures are rare anyway, none is held back.
    assert drive(pacer, fps=MIN_FRAMES, waited_share=0.0, seconds=4) == 4 * MIN_FRAMES
    assert not pacer.busy
