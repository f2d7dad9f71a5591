"""Accuracy against labelled masks (``segview eval``)."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from segview.errors import DataError
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
    """(image, mask) pairs matched by file stem, and the images that have no mask."""
    for folder, what in ((images_dir, "image"), (masks_dir, "mask")):
        if not folder.is_dir():
            raise DataError(f"{what} folder not found: {folder}")
    images = list_images(images_dir)
    if not images:
        raise DataError(f"no images in {images_dir}")
    masks = {p.stem: p for p in masks_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES}
    pairs = [(img, masks[img.stem]) for img in images if img.stem in masks]
    unmatched = [img.name for img in images if img.stem not in masks]
    if not pairs:
        raise DataError(f"no mask in {masks_dir} has the same name as an image in {images_dir}")
    return pairs, unmatched


def read_truth(mask_path: Path, size: tuple[int, int]) -> np.ndarray | None:
    """Ground truth at the image's size: 0/255 masks become 0/1; other values are class indices."""
    mask = cv2.imread(str(mask_path), cv2.IMREAD_GRAYSCALE)
    if mask is None:
        return None
    if (mask.shape[1], mask.shape[0]) != size:
        mask = cv2.resize(mask, size, interpolation=cv2.INTER_NEAREST)
    values = np.unique(mask)
    if values.max(initial=0) > 1 and set(values.tolist()) <= {0, 255}:
        return (mask > 127).astype(np.uint8)
    return mask


def evaluate(session: SegmentationSession, images_dir: Path, masks_dir: Path, *, progress: Progress | None = None, workers: int = 2) -> EvalReport:
    pairs, skipped = find_pairs(images_dir, masks_dir)
    card = session.card
    num_classes = len(card.classes)

    def score(pair: tuple[Path, Path]) -> ImageScore | str:
        image_path, mask_path = pair
        image = cv2.imread(str(image_path), cv2.IMREAD_COLOR)
        if image is None:
            return f"{image_path.name} (unreadable image)"
        truth = read_truth(mask_path, (image.shape[1], image.shape[0]))
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
            values = [s.class_ious[c] for s in scores if s.class_ious is not None and s.class_ious[c] is not None]
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
    """Each session on the same labelled set, one after the other; ``progress`` counts images over all of them."""
    find_pairs(images_dir, masks_dir)  # a bad folder fails before the first model runs
    reports: list[EvalReport] = []
    for i, session in enumerate(sessions):
        shifted = None if progress is None else (lambda done, total, i=i: progress(i * total + done, len(sessions) * total))
        reports.append(evaluate(session, images_dir, masks_dir, progress=shifted))
    return reports
