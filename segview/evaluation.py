"""Accuracy against labelled masks (``segview eval``)."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from segview.errors import DataError
from segview.fileio import user_path
from segview.inference.session import SegmentationSession
from segview.metrics.iou import binary_iou, per_class_iou
from segview.sources.image_folder import IMAGE_SUFFIXES, list_images

Progress = Callable[[int, int], None]


@dataclass(frozen=True, slots=True)
class ImageScore:
    image: str
    iou: float
    class_ious: list[float | None] | None = None


@dataclass(frozen=True, slots=True)
class EvalReport:
    model: str
    images: int
    mean_iou: float
    scores: list[ImageScore]
    per_class_iou: dict[str, float | None] | None
    skipped: list[str]

    def as_dict(self) -> dict[str, object]:
        return {
            "model": self.model,
            "images": self.images,
            "mean_iou": round(self.mean_iou, 6),
            "per_class_iou": self.per_class_iou,
            "skipped": self.skipped,
            "per_image": [{"image": s.image, "iou": round(s.iou, 6)} for s in self.scores],
        }


def find_pairs(images_dir: Path, masks_dir: Path) -> tuple[list[tuple[Path, Path]], list[str]]:
    """(image, mask) pairs matched by file stem, and the images that have no mask.

    Two mask files for one image (``1.png`` beside ``1.jpg``) are refused, both named: which
    one a folder listing gives first is down to the file system."""
    images_dir = user_path(str(images_dir), "image folder", DataError)
    masks_dir = user_path(str(masks_dir), "mask folder", DataError)
    for folder, what in ((images_dir, "image"), (masks_dir, "mask")):
        if not folder.is_dir():
            raise DataError(f"{what} folder not found: {folder}")
    images = list_images(images_dir)
    if not images:
        raise DataError(f"no images in {images_dir}")
    masks: dict[str, list[Path]] = {}
    for p in sorted(masks_dir.iterdir()):
        if p.suffix.lower() in IMAGE_SUFFIXES:
            masks.setdefault(p.stem, []).append(p)
    for img in images:
        found = masks.get(img.stem, [])
        if len(found) > 1:
            raise DataError(f"image {img.name} has {len(found)} masks in {masks_dir}: {', '.join(m.name for m in found)}; keep one")
    pairs = [(img, masks[img.stem][0]) for img in images if img.stem in masks]
    unmatched = [img.name for img in images if img.stem not in masks]
    if not pairs:
        raise DataError(f"no mask in {masks_dir} has the same name as an image in {images_dir}")
    return pairs, unmatched


def read_truth(mask_path: Path, size: tuple[int, int], num_classes: int = 2) -> np.ndarray | None:
    """Ground truth at the image's ``size`` (width, height) as class indices: 0/1 for person masks.

    A mask holding class indices (every value below ``num_classes``; 255 may mark boundaries) is kept
    as it is. Any other mask is a person mask, person where it is at least half its range: 128 and
    above in 8 bits, 32768 in 16, 0.5 in floating point, so that JPEG ringing and anti-aliased edges
    count as what they are nearest to. Colour masks are read by their luminance, an RGBA mask of one
    colour by its alpha (see :func:`mask_plane`). None if the file cannot be read; DataError for a mask
    of another aspect ratio than its image (it would be scored stretched)."""
    raw = cv2.imread(str(mask_path), cv2.IMREAD_UNCHANGED)
    if raw is None or raw.size == 0:
        return None
    plane = mask_plane(raw)
    if _holds_class_indices(plane, num_classes):
        labels = plane
    else:
        labels = (plane >= _half_range(plane.dtype)).astype(np.uint8)
    return _fitted(labels, size, mask_path)


def mask_plane(raw: np.ndarray) -> np.ndarray:
    """One channel from a mask as cv2 reads it unchanged: grey as it is; RGBA whose colour is the same
    everywhere and that is not opaque everywhere by its alpha (a cut-out); otherwise the luminance."""
    if raw.ndim == 2:
        return raw
    colour = raw[:, :, :3] if raw.shape[2] >= 3 else raw[:, :, :1]
    if raw.shape[2] in (2, 4):
        alpha = raw[:, :, -1]
        same_colour = bool((colour == colour[0, 0]).all())
        if same_colour and alpha.min() < _full_range(alpha.dtype):
            return alpha
    if colour.shape[2] == 1:
        return colour[:, :, 0]
    return cv2.cvtColor(np.ascontiguousarray(colour), cv2.COLOR_BGR2GRAY)


def _holds_class_indices(plane: np.ndarray, num_classes: int) -> bool:
    if not np.issubdtype(plane.dtype, np.integer):
        return False
    values = np.unique(plane)
    if values.max(initial=0) < max(num_classes, 2):
        return True  # 0/1 person masks, and class indices
    # Class-index masks may mark boundaries 255 ("void", as Pascal VOC does); a person mask has no other values below num_classes but 0.
    others = values[values != 255]
    return num_classes > 2 and others.size > 0 and others.max() < num_classes and bool((others >= 2).any())


def _full_range(dtype: np.dtype) -> float:
    return float(np.iinfo(dtype).max) if np.issubdtype(dtype, np.integer) else 1.0


def _half_range(dtype: np.dtype) -> float:
    """128 for 8-bit masks, 32768 for 16-bit, 0.5 for floating point."""
    return (_full_range(dtype) + 1) / 2 if np.issubdtype(dtype, np.integer) else 0.5


def _fitted(labels: np.ndarray, size: tuple[int, int], mask_path: Path) -> np.ndarray:
    """The labels at ``size``: resized (nearest) when the aspect ratios agree within 1%, refused otherwise."""
    height, width = labels.shape
    if (width, height) == size:
        return labels
    if abs(width * size[1] - size[0] * height) > 0.01 * size[0] * height:
        raise DataError(
            f"mask {mask_path.name} is {width}x{height} but its image is {size[0]}x{size[1]}: "
            "another aspect ratio, so it would be scored stretched; crop or pad it to the image's shape"
        )
    return cv2.resize(labels, size, interpolation=cv2.INTER_NEAREST)


def evaluate(session: SegmentationSession, images_dir: Path, masks_dir: Path, *, progress: Progress | None = None, workers: int = 2) -> EvalReport:
    pairs, skipped = find_pairs(images_dir, masks_dir)
    card = session.card
    num_classes = len(card.classes)

    def score(pair: tuple[Path, Path]) -> ImageScore | str:
        image_path, mask_path = pair
        image = cv2.imread(str(image_path), cv2.IMREAD_COLOR)
        if image is None:
            return f"{image_path.name} (unreadable image)"
        truth = read_truth(mask_path, (image.shape[1], image.shape[0]), num_classes)
        if truth is None:
            return f"{image_path.name} (unreadable mask)"
        predicted = session.segment(image).mask
        multi_class_truth = truth.max(initial=0) > 1
        if card.is_binary or not multi_class_truth:
            person = predicted if card.is_binary else (predicted == card.foreground_class)
            return ImageScore(image_path.name, binary_iou(person, truth > 0))
        classes = per_class_iou(predicted, truth, num_classes)
        return ImageScore(image_path.name, binary_iou(predicted == card.foreground_class, truth == card.foreground_class), classes)

    scores: list[ImageScore] = []
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for done, outcome in enumerate(pool.map(score, pairs), start=1):
            if isinstance(outcome, str):
                skipped.append(outcome)
            else:
                scores.append(outcome)
            if progress is not None:
                progress(done, len(pairs))
    if not scores:
        raise DataError(f"none of the {len(pairs)} image/mask pairs could be read")
    class_means = None
    if any(s.class_ious is not None for s in scores):
        class_means = {}
        for c, name in enumerate(card.classes):
            values = [iou for s in scores if s.class_ious is not None and (iou := s.class_ious[c]) is not None]
            class_means[name] = round(float(np.mean(values)), 6) if values else None
    return EvalReport(
        model=card.name,
        images=len(scores),
        mean_iou=float(np.mean([s.iou for s in scores])),
        scores=scores,
        per_class_iou=class_means,
        skipped=skipped,
    )


def evaluate_models(sessions: list[SegmentationSession], images_dir: Path, masks_dir: Path, *, progress: Progress | None = None) -> list[EvalReport]:
    """Each session on the same labelled set, one after the other; ``progress`` counts images over all of them.
    A bad folder fails before any model runs: ``evaluate`` finds the pairs first."""
    reports: list[EvalReport] = []
    for i, session in enumerate(sessions):
        shifted = None if progress is None else (lambda done, total, i=i: progress(i * total + done, len(sessions) * total))
        reports.append(evaluate(session, images_dir, masks_dir, progress=shifted))
    return reports
