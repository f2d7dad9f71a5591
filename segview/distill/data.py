"""Frames to learn from: image folders, videos, live sources and recordings (pool.py), with
optional masks, and synthetic composites (composites.py).

Plain numpy and OpenCV (no torch), so loading and its error messages work anywhere.
Everything is read once into memory at a reduced size: distillation data sets here
are hundreds of frames, and reading them every epoch would cost more than training.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from segview.distill.availability import DistillError
from segview.distill.config import DataConfig
from segview.evaluation import read_truth
from segview.sources.image_folder import IMAGE_SUFFIXES, list_images

if TYPE_CHECKING:
    from segview.distill.teacher import Teacher


@dataclass(frozen=True, slots=True)
class Sample:
    name: str
    image: np.ndarray  # BGR uint8
    mask: np.ndarray | None  # uint8 0/1 at the image's size, when labelled


@dataclass(frozen=True, slots=True)
class FrameSet:
    train: tuple[Sample, ...]
    val: tuple[Sample, ...]
    # Validation frames with masks are scored against them; others against the teacher.
    description: dict[str, object]

    @property
    def labelled_train(self) -> int:
        return sum(s.mask is not None for s in self.train)


Cancelled = Callable[[], bool]


def load_frames(config: DataConfig, *, teacher: Teacher | None = None, cancelled: Cancelled = lambda: False) -> FrameSet:
    """Read every frame the config names, and make its composites; raises DistillError when there
    are none. With a teacher, the pool is first checked to show people (pool.require_people): the
    composites' cut-outs and background checks need it too."""
    # Here, not at the top: pool and composites build on this module's Sample and readers.
    from segview.distill import composites, pool

    if config.masks is not None and not config.images:
        raise DistillError("--masks needs --images: masks are matched to images by file name")
    backgrounds = composites.read_backgrounds(config.backgrounds, config.max_side) if config.composites else []
    train, records = pool.read_sources(config, cancelled)
    if not train:
        raise DistillError("no frames to learn from: give an image folder with images in it, or a video with frames")
    if teacher is not None:
        pool.require_people(teacher, train, cancelled)
    if config.val_images is not None:
        # Full size: validation must score like segview eval, which never shrinks images.
        val = read_folder(config.val_images, config.val_masks, None)
        if not val:
            raise DistillError(f"no images in the validation folder {config.val_images}")
        held_out = "folder"
    else:
        train, val = _hold_out(train, config.val_fraction)
        held_out = f"every {round(1 / config.val_fraction)}th frame" if val else "none"
    if config.composites:
        if teacher is None:
            raise DistillError("composites need the teacher: it cuts the people out and checks the backgrounds")
        # From training frames only, after the hold-out: no validation person is pasted into training.
        made, record = composites.build(config, teacher, train, backgrounds, cancelled, pool_sources=[r.name for r in records])
        train += made
        records.append(record)
    description = {
        "sources": [r.as_dict() for r in records],
        "images": [str(p) for p in config.images],
        "masks": str(config.masks) if config.masks else None,
        "videos": list(config.videos),
        "recordings": [str(p) for p in config.recordings],
        "video_every": config.video_every,
        "thin": config.thin,
        "train_frames": len(train),
        "train_labelled": sum(s.mask is not None for s in train),
        "val_frames": len(val),
        "val_labelled": sum(s.mask is not None for s in val),
        "val_images": str(config.val_images) if config.val_images else None,
        "validation": held_out,
    }
    return FrameSet(tuple(train), tuple(val), description)


def shrink(image: np.ndarray, max_side: int, interpolation: int = cv2.INTER_AREA) -> np.ndarray:
    h, w = image.shape[:2]
    scale = max_side / max(h, w)
    if scale >= 1.0:
        return image
    return cv2.resize(image, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=interpolation)


def read_folder(images: Path, masks: Path | None, max_side: int | None) -> list[Sample]:
    if not images.is_dir():
        raise DistillError(f"image folder not found: {images}")
    if masks is not None and not masks.is_dir():
        raise DistillError(f"mask folder not found: {masks}")
    mask_paths = {p.stem: p for p in masks.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES} if masks else {}
    samples = []
    for path in list_images(images):
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            continue  # unreadable files are skipped, as segview eval does
        mask: np.ndarray | None = None
        if path.stem in mask_paths:
            truth = read_truth(mask_paths[path.stem], (image.shape[1], image.shape[0]))
            if truth is not None:
                mask = (truth > 0).astype(np.uint8)
        if max_side is None:
            samples.append(Sample(path.name, image, mask))
            continue
        image = shrink(image, max_side)
        if mask is not None:
            mask = cv2.resize(mask, (image.shape[1], image.shape[0]), interpolation=cv2.INTER_NEAREST)
        samples.append(Sample(path.name, image, mask))
    return samples


def _hold_out(samples: list[Sample], fraction: float) -> tuple[list[Sample], list[Sample]]:
    """Every k-th frame for validation: deterministic, and spread over every folder and video."""
    if fraction <= 0 or len(samples) < 2:
        return samples, []
    k = max(2, round(1 / fraction))
    val = samples[k - 1 :: k]
    train = [s for i, s in enumerate(samples) if i % k != k - 1]
    return train, val


@dataclass(frozen=True, slots=True)
class Augment:
    """Random crop (scale and aspect), flip and colour jitter, applied to image and mask alike;
    with probability ``mosaic``, four such crops tiled 2x2 into one frame instead."""

    min_area: float = 0.45
    flip: bool = True
    colour: bool = True
    # Crops only zoom in; a mosaic shows people at a half to a quarter of their size, as in
    # group photos and wide shots, which a student otherwise never sees at its low resolution.
    mosaic: float = 0.0

    def __call__(
        self, rng: np.random.Generator, image: np.ndarray, mask: np.ndarray | None, others: Callable[[int], list[Sample]] | None = None
    ) -> tuple[np.ndarray, np.ndarray | None]:
        wrapped: Callable[[int], list[tuple[Sample, np.ndarray | None]]] | None = None if others is None else (lambda n: [(s, None) for s in others(n)])
        image, mask, _ = self.with_target(rng, image, mask, None, wrapped)
        return image, mask

    def with_target(
        self,
        rng: np.random.Generator,
        image: np.ndarray,
        mask: np.ndarray | None,
        target: np.ndarray | None,
        others: Callable[[int], list[tuple[Sample, np.ndarray | None]]] | None = None,
    ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
        """As a call, also carrying a soft target map (the teacher's probability at the image's
        size) through the same crop, flip and mosaic; colour jitter leaves it clean, on purpose:
        the student learns the teacher's answer on the clean frame (invariance)."""
        if others is not None and self.mosaic > 0 and rng.random() < self.mosaic:
            return self._mosaic(rng, [(image, mask, target)] + [(s.image, s.mask, t) for s, t in others(3)])
        image, mask, target = self._crop(rng, image, mask, target)
        image, mask, target = self._flip(rng, image, mask, target)
        return self._colour(rng, image), mask, target

    def _crop(
        self, rng: np.random.Generator, image: np.ndarray, mask: np.ndarray | None, target: np.ndarray | None = None, aspect: float = 1.0
    ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
        h, w = image.shape[:2]
        area = rng.uniform(self.min_area, 1.0) * h * w
        aspect = aspect * np.exp(rng.uniform(np.log(3 / 4), np.log(4 / 3)))
        cw = int(max(1, min(w, round(np.sqrt(area * aspect)))))
        ch = int(max(1, min(h, round(np.sqrt(area / aspect)))))
        x0 = int(rng.integers(0, w - cw + 1))
        y0 = int(rng.integers(0, h - ch + 1))
        return tuple(None if a is None else a[y0 : y0 + ch, x0 : x0 + cw] for a in (image, mask, target))  # type: ignore[return-value]

    def _flip(
        self, rng: np.random.Generator, image: np.ndarray, mask: np.ndarray | None, target: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
        flip = self.flip and rng.random() < 0.5
        return tuple(None if a is None else np.ascontiguousarray(a[:, ::-1] if flip else a) for a in (image, mask, target))  # type: ignore[return-value]

    def _colour(self, rng: np.random.Generator, image: np.ndarray) -> np.ndarray:
        if not self.colour:
            return image
        # Brightness, contrast and saturation: webcams differ mostly in these.
        f = image.astype(np.float32)
        gray = f.mean(axis=2, keepdims=True)
        f = gray + (f - gray) * rng.uniform(0.6, 1.4)
        f = (f - f.mean()) * rng.uniform(0.7, 1.3) + f.mean() + rng.uniform(-30, 30)
        return np.clip(f, 0, 255).astype(np.uint8)

    def _mosaic(
        self, rng: np.random.Generator, tiles: list[tuple[np.ndarray, np.ndarray | None, np.ndarray | None]]
    ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
        """The first frame's size, split at a random point; each cell a crop of one frame at the
        cell's shape, jittered on its own. A mask (a target) only when every tile has one."""
        h, w = tiles[0][0].shape[:2]
        cx = int(round(w * rng.uniform(0.3, 0.7)))
        cy = int(round(h * rng.uniform(0.3, 0.7)))
        canvas = np.empty((h, w, 3), np.uint8)
        mask_canvas = np.empty((h, w), np.uint8) if all(m is not None for _, m, _ in tiles) else None
        target_canvas = np.empty((h, w), np.float32) if all(t is not None for _, _, t in tiles) else None
        cells = [(0, 0, cx, cy), (cx, 0, w, cy), (0, cy, cx, h), (cx, cy, w, h)]
        for (image, mask, target), (x0, y0, x1, y1) in zip(tiles, cells, strict=True):
            cw, ch = x1 - x0, y1 - y0
            crop, crop_mask, crop_target = self._crop(rng, image, mask, target, aspect=cw / ch)
            crop, crop_mask, crop_target = self._flip(rng, crop, crop_mask, crop_target)
            canvas[y0:y1, x0:x1] = self._colour(rng, cv2.resize(crop, (cw, ch), interpolation=cv2.INTER_AREA))
            if mask_canvas is not None and crop_mask is not None:
                mask_canvas[y0:y1, x0:x1] = cv2.resize(crop_mask, (cw, ch), interpolation=cv2.INTER_NEAREST)
            if target_canvas is not None and crop_target is not None:
                # A probability resizes smoothly (cv2 has no float16 resize: float32 here).
                target_canvas[y0:y1, x0:x1] = cv2.resize(crop_target.astype(np.float32), (cw, ch), interpolation=cv2.INTER_LINEAR)
        return canvas, mask_canvas, target_canvas


def to_rgb_tensor(image: np.ndarray, size: int) -> np.ndarray:
    """BGR uint8 -> (3, size, size) float32 RGB in [0, 1], as segview's preprocessing feeds the student."""
    resized = cv2.resize(image, (size, size), interpolation=cv2.INTER_LINEAR)
    return cv2.cvtColor(resized, cv2.COLOR_BGR2RGB).transpose(2, 0, 1).astype(np.float32) / 255.0
