import numpy as np
import pytest

from segview.render.overlay import MaskSmoother, OverlayMode, OverlaySettings, binary_palette, compose, disagreement, palette


@pytest.fixture
def scene():
    frame = np.zeros((60, 80, 3), np.uint8)
    frame[:, :, 1] = np.arange(80, dtype=np.uint8)[None, :] * 3  # a gradient, so blurring shows
    mask = np.zeros((60, 80), np.uint8)
    mask[20:40, 30:50] = 1
    return frame, mask


def test_blend_tints_only_the_person(scene):
    frame, mask = scene
    out = compose(frame, mask, OverlaySettings(mode=OverlayMode.BLEND, opacity=0.5, color=(200, 0, 0)), colours=binary_palette((200, 0, 0)))
    assert np.array_equal(out[mask == 0], frame[mask == 0])
    assert np.all(np.abs(out[mask == 1][:, 0].astype(int) - 100) <= 1)  # half of 200 in blue


def test_blend_of_classes_mixes_each_with_its_colour_and_empty_masks_change_nothing():
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, (60, 80, 3), dtype=np.uint8)
    mask = np.zeros((60, 80), np.uint8)
    mask[5:20, 10:30] = 1
    mask[40:55, 50:75] = 2  # two far-apart regions: the tinted box spans both
    colours = palette(3)
    settings = OverlaySettings(mode=OverlayMode.BLEND, opacity=0.4)
    out = compose(frame, mask, settings, colours=colours)
    expected = frame.astype(float)
    for c in (1, 2):
        expected[mask == c] = 0.6 * frame[mask == c] + 0.4 * colours[c]
    assert np.abs(out.astype(float) - expected).max() <= 1.0
    assert np.array_equal(compose(frame, np.zeros_like(mask), settings, colours=colours), frame)


def test_outline_draws_the_edge_only(scene):
    frame, mask = scene
    out = compose(frame, mask, OverlaySettings(mode=OverlayMode.OUTLINE, outline_px=1), colours=binary_palette((0, 0, 255)))
    changed = np.any(out != frame, axis=2)
    assert changed[20, 35] and changed[39, 35]  # top and bottom edges
    assert not changed[30, 40] and not changed[5, 5]  # inside and far outside


def test_blur_keeps_the_person_sharp(scene):
    frame, mask = scene
    out = compose(frame, mask, OverlaySettings(mode=OverlayMode.BLUR, blur_sigma=20), colours=binary_palette((0, 0, 255)))
    assert np.array_equal(out[25:35, 35:45], frame[25:35, 35:45])
    assert np.abs(out[:10].astype(int) - frame[:10]).mean() > 1


def test_replace_with_colour_and_image(scene):
    frame, mask = scene
    out = compose(frame, mask, OverlaySettings(mode=OverlayMode.REPLACE, background_color=(1, 2, 3)), colours=binary_palette((0, 0, 255)))
    assert tuple(out[0, 0]) == (1, 2, 3)
    assert np.array_equal(out[30, 40], frame[30, 40])
    picture = np.full((10, 10, 3), 77, np.uint8)
    out = compose(frame, mask, OverlaySettings(mode=OverlayMode.REPLACE, background_image=picture), colours=binary_palette((0, 0, 255)))
    assert tuple(out[0, 0]) == (77, 77, 77)


def test_soft_alpha_blends_edges(scene):
    frame, mask = scene
    alpha = np.full((6, 8), 0.5, np.float32)
    out = compose(frame, mask, OverlaySettings(mode=OverlayMode.REPLACE, background_color=(0, 0, 0)), colours=binary_palette((0, 0, 255)), alpha=alpha)
    assert np.allclose(out[:, :, 1], frame[:, :, 1] * 0.5, atol=1)


def test_mask_only_and_multiclass_colours():
    mask = np.array([[0, 1, 2, 3]], np.uint8)
    colours = palette(4)
    out = compose(np.zeros((1, 4, 3), np.uint8), mask, OverlaySettings(mode=OverlayMode.MASK), colours=colours)
    assert np.array_equal(out[0], colours[mask[0]])
    assert len({tuple(c) for c in colours}) == 4
    binary = compose(np.zeros((1, 4, 3), np.uint8), (mask > 0).astype(np.uint8), OverlaySettings(mode=OverlayMode.MASK), colours=binary_palette((1, 2, 3)))
    assert binary[0, :, 0].tolist() == [0, 255, 255, 255]


def test_original_is_untouched(scene):
    frame, mask = scene
    assert compose(frame, mask, OverlaySettings(mode=OverlayMode.ORIGINAL), colours=binary_palette((0, 0, 255))) is frame


def test_smoother_lags_then_follows():
    smoother = MaskSmoother(0.8)
    off = np.zeros((4, 4), np.float32)
    on = np.ones((4, 4), np.float32)
    smoother(off, (4, 4))
    mask, _ = smoother(on, (4, 4))
    assert mask.max() == 0  # one bright frame does not flip the mask
    for _ in range(5):
        mask, _ = smoother(on, (4, 4))
    assert mask.min() == 1


def test_disagreement_colours():
    a = np.array([[1, 1, 0, 0]], np.uint8)
    b = np.array([[1, 0, 1, 0]], np.uint8)
    out = disagreement(a, b)
    assert tuple(out[0, 1]) == (0, 140, 255) and tuple(out[0, 2]) == (255, 120, 0)
    assert tuple(out[0, 3]) == (0, 0, 0)
