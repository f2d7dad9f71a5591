import numpy as np
import pytest

import factories
from segview.errors import ModelError
from segview.inference.inspect import describe_model
from segview.inference.session import SegmentationSession, SessionOptions
from segview.metrics.iou import binary_iou


def _session(path, **kw):
    return SegmentationSession(path, describe_model(path), SessionOptions(**kw))


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
def test_binary_mask_at_frame_resolution(model_dir, layout):
    path = factories.brightness_model(model_dir / f"b_{layout}.onnx", layout=layout)
    frame = factories.bright_square_frame(200, 100, box=(40, 20, 160, 80))
    out = _session(path, threads=1).segment(frame)
    assert out.mask.shape == (100, 200) and out.mask.dtype == np.uint8
    truth = np.zeros((100, 200), bool)
    truth[20:80, 40:160] = True
    assert binary_iou(out.mask, truth) > 0.9
    assert out.probability.shape == (32, 32)
    assert out.inference_ms > 0 and out.preprocess_ms > 0 and out.postprocess_ms > 0


def test_multiclass_mask_follows_dominant_colour(model_dir):
    path = factories.colour_class_model(model_dir / "colours.onnx")
    frame = np.zeros((64, 96, 3), np.uint8)
    frame[:, :32] = (0, 0, 255)  # BGR red -> class 0 (R in RGB)
    frame[:, 32:64] = (0, 255, 0)  # green -> class 1
    frame[:, 64:] = (255, 0, 0)  # blue -> class 2
    mask = _session(path).segment(frame).mask
    assert mask.shape == (64, 96)
    assert (mask[:, 4:28] == 0).all() and (mask[:, 36:60] == 1).all() and (mask[:, 68:92] == 2).all()


def test_bgr_card_skips_the_colour_swap(model_dir):
    path = factories.colour_class_model(model_dir / "colours.onnx")
    factories.write_card(
        path,
        name="colours-bgr",
        input={"name": "input", "width": 32, "height": 32, "layout": "NCHW", "color_order": "BGR"},
        output={"name": "probs", "kind": "softmax", "classes": ["b", "g", "r"]},
    )
    frame = np.zeros((32, 32, 3), np.uint8)
    frame[:] = (255, 0, 0)  # blue is channel 0 in BGR
    assert (_session(path).segment(frame).mask == 0).all()


def test_unknown_provider_is_a_clear_error(brightness_model):
    with pytest.raises(ModelError, match="not available here"):
        _session(brightness_model, provider="warpdrive")


def test_session_is_thread_safe(brightness_model):
    from concurrent.futures import ThreadPoolExecutor

    session = _session(brightness_model, threads=1)
    frames = factories.moving_square_frames(16)
    with ThreadPoolExecutor(4) as pool:
        parallel = list(pool.map(lambda f: session.segment(f).mask, frames))
    serial = [session.segment(f).mask for f in frames]
    for a, b in zip(parallel, serial, strict=True):
        assert np.array_equal(a, b)
