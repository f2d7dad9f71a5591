"""How eval reads masks (issue 13.13): half-range threshold, one mask per image, alpha masks, no stretching.

Before: any non-zero pixel was person (a JPEG-saved mask scored lower than its PNG), ``1.png`` beside
``1.jpg`` was picked by listing order, an RGBA mask of one colour read as empty, and a mask of another
aspect ratio was stretched onto its image.
"""

from __future__ import annotations

import os

import cv2
import numpy as np
import pytest

import factories
from cli_tools import assert_one_line_error, run_segview
from segview.errors import DataError
from segview.evaluation import evaluate, find_pairs, read_truth
from segview.inference.registry import ModelRegistry
from segview.inference.session import SegmentationSession
from segview.metrics.iou import binary_iou

SIZE = (160, 120)  # width, height of factories' frames
BOX = (40, 30, 90, 90)  # x0, y0, x1, y1 of the bright square in frame 10


def square_mask(box=BOX, size=SIZE) -> np.ndarray:
    mask = np.zeros((size[1], size[0]), np.uint8)
    mask[box[1] : box[3], box[0] : box[2]] = 255
    return mask


@pytest.fixture
def session(brightness_model):
    entry = ModelRegistry([brightness_model.parent]).resolve("bright")
    return SegmentationSession(entry.path, entry.card)


@pytest.fixture
def labelled(tmp_path):
    """One image (a bright square) and empty image/mask folders to fill."""
    images, masks = tmp_path / "images", tmp_path / "masks"
    images.mkdir()
    masks.mkdir()
    frame = factories.bright_square_frame(*SIZE, box=BOX)
    cv2.imwrite(str(images / "1.png"), frame)
    return images, masks, frame


def test_a_jpeg_saved_mask_scores_as_its_png(session, labelled, tmp_path):
    images, masks, frame = labelled
    cv2.imwrite(str(masks / "1.png"), square_mask())
    png = evaluate(session, images, masks).mean_iou
    (masks / "1.png").unlink()
    cv2.imwrite(str(masks / "1.jpg"), square_mask(), [cv2.IMWRITE_JPEG_QUALITY, 40])
    jpeg_pixels = cv2.imread(str(masks / "1.jpg"), cv2.IMREAD_GRAYSCALE)
    ringing = np.count_nonzero((jpeg_pixels > 0) & (square_mask() == 0))
    assert ringing > 50  # the case is real: JPEG leaves faint non-zero pixels around the square
    predicted = session.segment(frame).mask
    as_before = binary_iou(predicted, jpeg_pixels > 0)  # the old reading: person wherever non-zero
    jpeg = evaluate(session, images, masks).mean_iou
    assert jpeg == pytest.approx(png, abs=0.005)
    assert as_before < png - 0.02


def test_the_threshold_is_half_the_range(tmp_path):
    eight = np.array([[0, 1, 127, 128, 200, 255]], np.uint8)
    cv2.imwrite(str(tmp_path / "m8.png"), eight)
    assert read_truth(tmp_path / "m8.png", (6, 1)).tolist() == [[0, 0, 0, 1, 1, 1]]
    sixteen = np.array([[0, 300, 32767, 32768, 65535, 0]], np.uint16)
    cv2.imwrite(str(tmp_path / "m16.png"), sixteen)
    assert read_truth(tmp_path / "m16.png", (6, 1)).tolist() == [[0, 0, 0, 1, 1, 0]]


def test_an_anti_aliased_mask_is_read_at_its_midpoint(tmp_path):
    mask = np.zeros((120, 160), np.uint8)
    cv2.circle(mask, (80, 60), 30, 255, -1, lineType=cv2.LINE_AA)
    assert len(np.unique(mask)) > 2  # grey edge pixels
    cv2.imwrite(str(tmp_path / "aa.png"), mask)
    truth = read_truth(tmp_path / "aa.png", SIZE)
    assert np.array_equal(truth, (mask >= 128).astype(np.uint8))


def test_class_index_masks_are_kept(tmp_path):
    indices = np.array([[0, 1, 2, 2, 1, 0]], np.uint8)
    cv2.imwrite(str(tmp_path / "c.png"), indices)
    assert read_truth(tmp_path / "c.png", (6, 1), num_classes=3).tolist() == indices.tolist()
    void = np.array([[0, 1, 2, 255, 1, 0]], np.uint8)  # Pascal VOC marks boundaries 255
    cv2.imwrite(str(tmp_path / "v.png"), void)
    assert read_truth(tmp_path / "v.png", (6, 1), num_classes=3).tolist() == void.tolist()
    cv2.imwrite(str(tmp_path / "b.png"), np.array([[0, 255, 255, 0]], np.uint8))  # a 0/255 mask for a 3-class model is a person mask
    assert read_truth(tmp_path / "b.png", (4, 1), num_classes=3).tolist() == [[0, 1, 1, 0]]


def rgba(colour, alpha) -> np.ndarray:
    image = np.zeros((*alpha.shape, 4), np.uint8)
    image[:, :, :3] = colour
    image[:, :, 3] = alpha
    return image


@pytest.mark.parametrize(
    "name, build",
    [
        ("black-cut-out", lambda: rgba((0, 0, 0), square_mask())),  # read empty before
        ("white-cut-out", lambda: rgba((255, 255, 255), square_mask())),
        ("opaque-white-on-black", lambda: rgba(np.repeat(square_mask()[:, :, None], 3, axis=2), np.full(SIZE[::-1], 255, np.uint8))),
        ("white-on-transparent-black", lambda: rgba(np.repeat(square_mask()[:, :, None], 3, axis=2), square_mask())),
    ],
)
def test_rgba_masks_are_read(tmp_path, name, build):
    cv2.imwrite(str(tmp_path / f"{name}.png"), build())
    truth = read_truth(tmp_path / f"{name}.png", SIZE)
    assert np.array_equal(truth, (square_mask() > 0).astype(np.uint8))


@pytest.mark.parametrize("colour, alpha", [((0, 0, 0), 255), ((255, 255, 255), 0)], ids=["opaque-black", "transparent-white"])
def test_rgba_masks_of_no_person_read_empty(tmp_path, colour, alpha):
    cv2.imwrite(str(tmp_path / "m.png"), rgba(colour, np.full(SIZE[::-1], alpha, np.uint8)))
    assert read_truth(tmp_path / "m.png", SIZE).max() == 0


def test_two_masks_for_one_image_are_refused_naming_both(labelled):
    images, masks, _ = labelled
    cv2.imwrite(str(masks / "1.png"), square_mask())
    cv2.imwrite(str(masks / "1.jpg"), square_mask())
    cv2.imwrite(str(masks / "2.png"), square_mask())  # a stem with no image is no ambiguity
    cv2.imwrite(str(masks / "2.jpg"), square_mask())
    with pytest.raises(DataError, match=r"1\.png has 2 masks .*: 1\.jpg, 1\.png"):
        find_pairs(images, masks)


def test_a_mask_of_another_aspect_ratio_is_refused_naming_it(session, labelled):
    images, masks, _ = labelled
    cv2.imwrite(str(masks / "1.png"), np.zeros((100, 100), np.uint8))
    with pytest.raises(DataError, match=r"mask 1\.png is 100x100 but its image is 160x120"):
        evaluate(session, images, masks)


@pytest.mark.parametrize("mask_size", [(80, 60), (320, 240), (161, 120)], ids=["half", "double", "within-1%"])
def test_a_mask_of_the_same_aspect_is_resized(tmp_path, mask_size):
    small = cv2.resize(square_mask(), mask_size, interpolation=cv2.INTER_NEAREST)
    cv2.imwrite(str(tmp_path / "m.png"), small)
    truth = read_truth(tmp_path / "m.png", SIZE)
    assert truth.shape == (SIZE[1], SIZE[0])
    assert binary_iou(truth, square_mask() > 0) > 0.95


def test_eval_says_one_line_for_ambiguous_and_stretched_masks(brightness_model, labelled, tmp_path):
    images, masks, _ = labelled
    env = dict(os.environ, SEGVIEW_MODEL_PATH=str(brightness_model.parent))
    cv2.imwrite(str(masks / "1.png"), square_mask())
    cv2.imwrite(str(masks / "1.jpg"), square_mask())
    assert_one_line_error(run_segview("eval", "--model", "bright", "--images", images, "--masks", masks, env=env), "1.jpg, 1.png")
    (masks / "1.jpg").unlink()
    cv2.imwrite(str(masks / "1.png"), np.zeros((90, 200), np.uint8))
    assert_one_line_error(run_segview("eval", "--model", "bright", "--images", images, "--masks", masks, env=env), "mask 1.png is 200x90")
