"""Augmentation of training frames: crops, and mosaics that show people smaller."""

from __future__ import annotations

import numpy as np
import pytest

from segview.distill.availability import DistillError
from segview.distill.config import TrainConfig
from segview.distill.data import Augment, Sample


def _flat(value: int, labelled: bool | None, size: tuple[int, int] = (60, 80)) -> Sample:
    """A frame of one grey level; its mask all person (True), all background (False) or absent."""
    image = np.full((*size, 3), value, np.uint8)
    mask = None if labelled is None else np.full(size, int(labelled), np.uint8)
    return Sample(f"flat{value}", image, mask)


def test_a_mosaic_tiles_four_frames_and_their_masks_at_the_first_frames_size():
    tiles = [_flat(10, True), _flat(80, False), _flat(150, True), _flat(220, False)]
    augment = Augment(mosaic=1.0, colour=False)
    image, mask = augment(np.random.default_rng(0), tiles[0].image, tiles[0].mask, lambda n: tiles[1 : 1 + n])
    assert image.shape == (60, 80, 3) and mask is not None and mask.shape == (60, 80)
    levels = set(np.unique(image[..., 0]).tolist())
    assert levels == {10, 80, 150, 220}
    # Each pixel's mask is the mask of the frame its colour came from.
    person_levels = {10, 150}
    expected = np.isin(image[..., 0], list(person_levels)).astype(np.uint8)
    assert np.array_equal(mask, expected)
    # The first frame sits top left, and every cell is at least 30% of each side.
    assert image[0, 0, 0] == 10 and image[-1, -1, 0] == 220
    assert (image[:, :, 0] == 10).sum() >= 0.3 * 60 * 0.3 * 80


def test_a_mosaic_with_an_unlabelled_tile_has_no_mask():
    tiles = [_flat(10, True), _flat(80, None), _flat(150, True), _flat(220, True)]
    image, mask = Augment(mosaic=1.0)(np.random.default_rng(1), tiles[0].image, tiles[0].mask, lambda n: tiles[1 : 1 + n])
    assert image.shape == (60, 80, 3) and mask is None


def test_without_mosaic_a_frame_is_a_crop_of_itself():
    frame = _flat(100, True, (90, 120))
    asked = []
    augment = Augment(mosaic=0.0, colour=False)
    for seed in range(20):
        image, mask = augment(np.random.default_rng(seed), frame.image, frame.mask, lambda n: asked.append(n) or [])
        assert not asked
        h, w = image.shape[:2]
        assert mask is not None and mask.shape == (h, w) and mask.all()
        assert h * w >= 0.45 * 90 * 120 * 0.99 and h <= 90 and w <= 120


def test_mosaic_must_be_a_probability():
    with pytest.raises(DistillError, match="probability"):
        TrainConfig(minutes=1, mosaic=1.5)
