"""SessionControl, the studio's model layer, driven without Qt: a tiny model on a synthetic video."""

from __future__ import annotations

import subprocess
import sys
import time

import numpy as np
import pytest

from segview.errors import SegviewError
from segview.inference.registry import ModelRegistry
from segview.pipeline.frame_pictures import MAX_VIEWS, RenderedFrame
from segview.pipeline.session_control import SessionControl

WAIT_S = 120  # generous: two busy cores; the loops end as soon as the event happens


class RecordingControl(SessionControl):
    """Remembers what the hooks were told, as the Qt engine would signal it."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.state_changes = 0
        self.problems: list[str] = []

    def _notify_state_changed(self) -> None:
        self.state_changes += 1

    def _notify_problem(self, problem: str) -> None:
        self.problems.append(problem)


def wait_for(control: SessionControl, event) -> None:
    """Polls the control (it hands finished pipelines over there) until ``event()`` holds."""
    deadline = time.monotonic() + WAIT_S
    while not event():
        control.poll()
        if time.monotonic() > deadline:
            raise AssertionError("the event did not happen")
        time.sleep(0.01)


@pytest.fixture
def control(model_dir, brightness_model):
    c = RecordingControl(ModelRegistry([model_dir]), workers=2)
    yield c
    c.shutdown()


def test_imports_and_runs_without_qt(model_dir, brightness_model, square_video):
    script = (
        "import sys\n"
        "sys.modules['PySide6'] = None\n"  # any import of Qt now fails
        "sys.modules['pyqtgraph'] = None\n"
        "from pathlib import Path\n"
        "from segview.inference.registry import ModelRegistry\n"
        "from segview.pipeline.session_control import SessionControl\n"
        f"c = SessionControl(ModelRegistry([Path({str(model_dir)!r})]), workers=1)\n"
        "c.set_models(['bright'])\n"
        f"c.set_source({f'file:{square_video}?realtime=0'!r})\n"
        "c._pipeline.join()\n"
        "c.poll()\n"
        "print(c.source_ended, c.take_new_picture().views[0].model)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=WAIT_S)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "bright"]


def test_plays_a_file_to_its_end(control, square_video):
    frames = []
    control.add_consumer(frames.append)
    control.set_models(["bright"])
    control.set_source(f"file:{square_video}?realtime=0")  # plays at once: a model is chosen
    assert control.source_name == f"file:{square_video}?realtime=0"
    wait_for(control, lambda: control.source_ended)
    assert not control.running
    assert len(frames) == 24  # every frame of the file reached the consumers
    assert control.problem is not None and control.problem.endswith("ended")
    assert control.problems == [control.problem]  # told once, and nothing went wrong before
    assert control.state_changes >= 3  # models chosen, playing, ended
    picture = control.take_new_picture()
    assert isinstance(picture, RenderedFrame)
    assert [v.model for v in picture.views] == ["bright"]
    assert picture.views[0].image.shape == frames[-1].frame.image.shape
    assert picture.views[0].screen is None  # nothing to prepare it for without a screen
    assert control.take_new_picture() is None  # taken once
    # Play again: the spent source is reopened and the file starts over.
    control.play()
    wait_for(control, lambda: len(frames) >= 25)


def test_compares_two_views(control, model_dir, square_video):
    import factories

    factories.write_card(factories.brightness_model(model_dir / "other.onnx"), name="other")
    control.registry.add_folder(model_dir, strict=False)
    control.set_models(["bright", "other"])
    control.set_compare_pair((0, 1))
    control.screen_sizes = ((40, 30),) * (MAX_VIEWS + 1)
    control.set_source(f"file:{square_video}?realtime=0")
    wait_for(control, lambda: control.source_ended)
    picture = control.latest_picture()
    assert picture is not None and picture.pair == ("bright", "other")
    assert picture.iou == pytest.approx(1.0)  # the same graph twice agrees with itself
    assert picture.comparison is not None and picture.comparison.shape == picture.views[0].image.shape


def test_bad_choices_change_nothing(control, square_video):
    control.set_models(["bright"])
    control.set_source(f"file:{square_video}?realtime=0")
    with pytest.raises(SegviewError):
        control.set_source("file:/no/such/video.mp4")
    with pytest.raises(SegviewError):
        control.set_models(["bright"] * (MAX_VIEWS + 1))
    assert control.source_name == f"file:{square_video}?realtime=0"
    assert [e.name for e in control.models] == ["bright"]


def test_set_smoothing_while_frames_flow(control, square_video):
    frames = []
    control.add_consumer(frames.append)
    control.set_smoothing(0.8)
    control.set_models(["bright"])
    control.set_source(f"file:{square_video}?realtime=0&loop=1")
    wait_for(control, lambda: len(frames) >= 5)
    used = control._smoothers["bright"]
    strengths = (0.0, 0.5, 0.9, 0.3)
    for i in range(200):  # each call swaps smoothers the consumer thread may be inside right now
        control.set_smoothing(strengths[i % len(strengths)])
        if i % 20 == 0:
            seen = len(frames)
            wait_for(control, lambda seen=seen: len(frames) > seen)  # frames keep flowing between changes
    assert used._state is not None and used.strength == 0.8  # the one in use was swapped out, not reset
    control.set_smoothing(0.6)
    seen = len(frames)
    wait_for(control, lambda: len(frames) >= seen + 5 and control.take_new_picture() is not None)
    assert control.running and control.problem is None and control.problems == []
    assert control._smoothers["bright"].strength == 0.6
    assert isinstance(control._smoothers["bright"]._state, np.ndarray)  # the new one is in use
    control.pause()
    assert not control.running and control.problem is None


def test_the_last_frame_is_shown_when_a_file_ends(control, square_video):
    frames = []
    control.add_consumer(frames.append)
    control.set_models(["bright"])
    control.set_source(f"file:{square_video}?realtime=0")
    wait_for(control, lambda: control.source_ended)
    # Nobody took the pictures meanwhile, and pacing may have passed frames over: the end shows the last one.
    assert control.latest_picture().frame_index == frames[-1].frame.index


def test_pictures_are_paced_while_the_models_are_the_bottleneck(control, model_dir, square_video):
    import factories

    # Large enough input that the model, not the decoder of the tiny video, sets the pace.
    big = {
        "name": "input",
        "width": 640,
        "height": 640,
        "layout": "NCHW",
        "color_order": "RGB",
        "normalization": {"scale": 1 / 255, "mean": [0, 0, 0], "std": [1, 1, 1]},
    }
    factories.write_card(factories.brightness_model(model_dir / "big.onnx", size=640), name="big", input=big)
    control.registry.add_folder(model_dir, strict=False)
    control.set_models(["big"])
    control.set_source(f"file:{square_video}?realtime=0&loop=1")  # read as fast as the model takes it
    pipeline, pacer = control._pacing
    assert pipeline is control._pipeline
    wait_for(control, lambda: pacer.busy)
    control.set_source(f"file:{square_video}?realtime=1&loop=1")  # at its own rate: the model waits for frames
    pipeline, pacer = control._pacing
    wait_for(control, lambda: pipeline.stats.frames_processed >= 30)
    assert not pacer.busy and pipeline.frames_waited_for > pipeline.stats.frames_processed * 0.5


def test_the_mask_threshold_cuts_only_the_frames_that_are_shown(control, square_video, monkeypatch):
    import segview.pipeline.session_control as session_control
    from segview.inference.postprocess import binary_mask
    from segview.render.overlay import OverlayMode, OverlaySettings

    cuts = []

    def counting_binary_mask(probability, size, threshold):
        cuts.append(threshold)
        return binary_mask(probability, size, threshold)

    monkeypatch.setattr(session_control, "binary_mask", counting_binary_mask)
    frames = []
    control.add_consumer(frames.append)
    control.set_overlay(OverlaySettings(mode=OverlayMode.MASK))
    control.set_mask_threshold(0.7)
    control.set_models(["bright"])
    control.set_source(f"file:{square_video}?realtime=0")
    wait_for(control, lambda: control.source_ended)
    # Nobody took a picture: the first frame and the last were composed, the other 22 only counted.
    assert len(frames) == 24 and control.live.current("bright", frames[-1].completed_at + 1.0)[0] > 0
    assert cuts == [0.7, 0.7]
    last = frames[-1].results[0]
    expected = binary_mask(last.probability, frames[-1].frame.size, 0.7)
    shown = control.latest_picture().views[0].image
    assert np.array_equal(shown[..., 0] > 0, expected > 0)  # the picture is the last frame cut at 0.7
