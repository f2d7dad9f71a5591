"""The teacher's soft targets: computed once per training frame, carried through augmentation."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

import factories
from segview.distill.data import Augment, Sample
from segview.distill.targets import soft_targets
from segview.distill.teacher import Teacher, resolve_teacher
from segview.inference.registry import ModelRegistry
from segview.metrics.iou import binary_iou


@pytest.fixture
def bright_teacher(brightness_model, model_dir) -> Teacher:
    """Pointwise (a 1x1 convolution and a sigmoid): its answer on a flipped frame is its answer flipped."""
    return Teacher(resolve_teacher(str(brightness_model), ModelRegistry([model_dir])))


def _squares(count: int, width: int, height: int) -> list[Sample]:
    rng = np.random.default_rng(3)
    samples = []
    for i in range(count):
        x0, y0 = int(rng.integers(0, width // 2)), int(rng.integers(0, height // 2))
        box = (x0, y0, x0 + width // 3 + i, y0 + height // 3)
        samples.append(Sample(f"s{i}", factories.bright_square_frame(width, height, box=box), None))
    return samples


def test_cached_targets_are_the_teachers_answer_on_the_whole_frame_in_float16(bright_teacher):
    # At the teacher's own size nothing is resized: the cache must hold exactly what it answers.
    frames = _squares(5, 32, 32)
    targets = soft_targets(bright_teacher, frames)
    assert targets is not None and len(targets) == 5
    for sample, target in zip(frames, targets, strict=True):
        assert target.dtype == np.float16 and target.shape == (32, 32)
        np.testing.assert_allclose(target.astype(np.float32), bright_teacher(sample.image).probability, atol=1e-3)
        assert (target > 0.5).any() and (target < 0.5).any()  # a square and a background: something to check
    # Larger frames: one map at the frame's stored size each.
    assert [t.shape for t in soft_targets(bright_teacher, _squares(2, 80, 60))] == [(60, 80), (60, 80)]


def _where(crop: np.ndarray, frame: np.ndarray) -> tuple[int, int, bool]:
    """Where an exact (possibly mirrored) crop of ``frame`` came from: (y0, x0, mirrored)."""
    h, w = crop.shape[:2]
    for mirrored in (False, True):
        probe = crop[:, ::-1] if mirrored else crop
        for y0, x0 in zip(*np.nonzero((frame == probe[0, 0]).all(axis=2)), strict=True):
            if np.array_equal(frame[y0 : y0 + h, x0 : x0 + w], probe):
                return int(y0), int(x0), mirrored
    raise AssertionError("the augmented image is not a crop of the frame")


def test_a_target_gets_exactly_the_crop_and_flip_its_image_gets():
    # Noise frames locate a crop without doubt; the target is any map at the frame's size.
    rng = np.random.default_rng(5)
    augment = Augment(mosaic=0.0, colour=False)
    mirrored_seen = set()
    for seed in range(12):
        image = rng.integers(0, 256, (72, 96, 3), dtype=np.uint8)
        target = rng.random((72, 96)).astype(np.float16)
        mask = (rng.random((72, 96)) > 0.5).astype(np.uint8)
        out, out_mask, carried = augment.with_target(np.random.default_rng(seed), image, mask, target)
        y0, x0, mirrored = _where(out, image)
        mirrored_seen.add(mirrored)
        h, w = out.shape[:2]
        expected = target[y0 : y0 + h, x0 : x0 + w]
        expected_mask = mask[y0 : y0 + h, x0 : x0 + w]
        assert np.array_equal(carried, expected[:, ::-1] if mirrored else expected)
        assert np.array_equal(out_mask, expected_mask[:, ::-1] if mirrored else expected_mask)
    assert mirrored_seen == {False, True}


def test_a_cropped_target_is_close_to_the_teachers_answer_on_the_crop(bright_teacher):
    # The teacher sees a crop at its own 32 px, the cache a crop of its answer on the whole frame:
    # not the same pixels, but the same square.
    augment = Augment(mosaic=0.0, colour=False)
    frames = _squares(6, 64, 48)
    for seed, (sample, target) in enumerate(zip(frames, soft_targets(bright_teacher, frames), strict=True)):
        image, _, carried = augment.with_target(np.random.default_rng(seed), sample.image, None, target)
        fresh = cv2.resize(bright_teacher(image).probability, (image.shape[1], image.shape[0]), interpolation=cv2.INTER_LINEAR)
        assert (fresh > 0.5).any()
        assert binary_iou(carried > 0.5, fresh > 0.5) > 0.8


def test_at_the_teachers_size_a_flip_of_the_target_is_exactly_the_teachers_answer_on_the_flip(bright_teacher):
    frame = _squares(1, 32, 32)[0]
    (target,) = soft_targets(bright_teacher, [frame])
    augment = Augment(mosaic=0.0, colour=False)
    for seed in range(8):
        image, _, carried = augment._flip(np.random.default_rng(seed), frame.image, None, target)  # the whole frame: a flip or nothing
        if np.array_equal(image, frame.image):
            continue
        assert np.array_equal(image, frame.image[:, ::-1])
        np.testing.assert_allclose(carried.astype(np.float32), bright_teacher(image).probability, atol=1e-3)
        break
    else:
        pytest.fail("no seed flipped the frame")


def test_a_mosaic_carries_each_tiles_target_and_keeps_the_mask_path(bright_teacher):
    # Tiles of one grey level each, with a target equal to the level: every mosaic pixel's target
    # must be the target of the tile its colour came from.
    levels = [10, 80, 150, 220]
    tiles = [Sample(f"t{v}", np.full((60, 80, 3), v, np.uint8), np.full((60, 80), int(v > 100), np.uint8)) for v in levels]
    targets = [np.full((60, 80), v / 255, np.float16) for v in levels]
    augment = Augment(mosaic=1.0, colour=False)

    def others(n):
        return list(zip(tiles[1 : 1 + n], targets[1 : 1 + n], strict=True))

    image, mask, target = augment.with_target(np.random.default_rng(0), tiles[0].image, tiles[0].mask, targets[0], others)
    assert target is not None and target.shape == (60, 80) and mask is not None
    np.testing.assert_allclose(target, image[..., 0] / 255, atol=1e-3)
    assert np.array_equal(mask, (image[..., 0] > 100).astype(np.uint8))
    # The plain call draws the same random numbers: the same mosaic and mask as before.
    plain_image, plain_mask = augment(np.random.default_rng(0), tiles[0].image, tiles[0].mask, lambda n: tiles[1 : 1 + n])
    assert np.array_equal(plain_image, image) and np.array_equal(plain_mask, mask)


def test_caching_reports_its_progress_and_stops_when_cancelled(bright_teacher):
    frames = _squares(6, 32, 32)
    stages: list[str] = []
    calls = [0]

    def cancelled() -> bool:
        calls[0] += 1
        return calls[0] > 3

    assert soft_targets(bright_teacher, frames, on_stage=stages.append, cancelled=cancelled) is None
    assert stages and stages[0].startswith("teacher targets: 0/6")
    stages.clear()
    assert len(soft_targets(bright_teacher, frames, on_stage=stages.append)) == 6
    assert stages[-1] == "teacher targets: 6/6 frames, done"


class _CountingTeacher:
    """A teacher stand-in that counts its runs."""

    feature_name = None

    def __init__(self, teacher: Teacher) -> None:
        self.teacher, self.calls = teacher, 0

    def __call__(self, image):
        self.calls += 1
        return self.teacher(image)


def test_with_cached_targets_batches_never_run_the_teacher_and_carry_the_cache(bright_teacher):
    pytest.importorskip("torch")
    from segview.distill.batches import BatchMaker

    frames = tuple(_squares(6, 32, 32))
    targets = soft_targets(bright_teacher, frames)
    counting = _CountingTeacher(bright_teacher)
    maker = BatchMaker(frames, counting, targets=targets, resolution=32, batch_size=3, augment=False, mosaic=0.0, seed=0)  # type: ignore[arg-type]
    try:
        batches = [maker.next() for _ in range(4)]
    finally:
        maker.close()
    assert counting.calls == 0
    cached = {t.astype(np.float32).tobytes() for t in targets}
    for batch in batches:
        assert batch.features is None
        for prob in batch.teacher[:, 0]:
            assert prob.tobytes() in cached  # at the student's size (32) already: no resize changes it
    # Without a cache the teacher runs on every frame of every batch.
    maker = BatchMaker(frames, counting, targets=None, resolution=32, batch_size=3, augment=True, mosaic=0.0, seed=0)  # type: ignore[arg-type]
    try:
        maker.next()
    finally:
        maker.close()
    assert counting.calls >= 3


def test_a_run_caches_targets_with_hint_none_and_runs_the_teacher_per_batch_for_attention(teacher, square_frames, model_dir, tiny_config):
    pytest.importorskip("torch")
    from dataclasses import replace

    from segview.distill.runner import distill

    stages: dict[str, list[str]] = {}
    for hint in ("none", "attention"):
        config = tiny_config(teacher, square_frames, model_dir / f"{hint}.onnx", max_steps=3)
        config = replace(config, loss=replace(config.loss, hint=hint))
        seen: list[str] = []
        distill(config, on_stage=seen.append, registry=ModelRegistry([model_dir]))
        stages[hint] = seen
    train_frames = 18  # 24 frames, every 4th held out
    assert f"teacher targets: {train_frames}/{train_frames} frames, done" in stages["none"]
    assert not any(s.startswith("teacher targets") for s in stages["attention"])


def test_a_run_cancelled_while_caching_writes_no_model(teacher, square_frames, model_dir, tiny_config):
    pytest.importorskip("torch")
    from dataclasses import replace

    from segview.distill.runner import distill

    config = tiny_config(teacher, square_frames, model_dir / "stopped.onnx", max_steps=3)
    config = replace(config, loss=replace(config.loss, hint="none"))
    stages: list[str] = []
    outcome = distill(
        config, on_stage=stages.append, cancelled=lambda: any(s.startswith("teacher targets") for s in stages), registry=ModelRegistry([model_dir])
    )
    assert outcome.cancelled and outcome.steps == 0 and outcome.model_path is None
    assert "teacher targets: 0/18 frames" in stages and not any(s.endswith("done") for s in stages if s.startswith("teacher targets"))
    assert not (model_dir / "stopped.onnx").exists()
