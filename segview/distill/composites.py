"""Synthetic composites: people cut out of the pool's frames, pasted over other backgrounds.

A pool of a few hundred photos shows people at few scales, places and counts, and over
few backgrounds; a student learns those. Composites show the same people at 15-100% of
the frame's height, one to three at a time, anywhere, over backgrounds nobody stood in
front of, then lit, blurred, noised and JPEG-compressed as cameras do. The cut-outs
come from the teacher's own masks (or a frame's given mask); the composites carry no
mask: the teacher labels them like any frame, so this is still distillation.
numpy and OpenCV only (no torch). Deterministic from a seed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np

from segview.distill.availability import DistillError
from segview.distill.config import DataConfig
from segview.distill.data import Cancelled, Sample, shrink
from segview.distill.pool import (
    PERSON_SHARE,
    SourceRecord,
    licence_of,
    person_share,
    teacher_probability,
)
from segview.sources.image_folder import list_images

# Teacher runs to find cut-outs: enough frames for variety, without minutes of work on a large pool.
MAX_CUTOUT_FRAMES = 1000


@dataclass(frozen=True, slots=True)
class CompositeSettings:
    """Every range a composite is drawn from; all of it goes into the card."""

    people: tuple[int, int] = (1, 3)
    person_height: tuple[float, float] = (0.15, 1.0)  # of the frame's height
    flip: float = 0.5
    background_area: tuple[float, float] = (0.4, 1.0)  # share of the background the crop covers
    feather_px: float = 1.5  # the cut-out's edge, blurred (Gaussian sigma, pool pixels)
    gain: tuple[float, float] = (0.6, 1.4)
    gamma: tuple[float, float] = (0.7, 1.5)
    colour_cast: float = 0.12  # each channel's gain within 1 +- this
    blur: float = 0.3  # chance of a blur; half Gaussian, half motion
    blur_sigma: tuple[float, float] = (0.6, 2.0)
    motion_px: tuple[int, int] = (3, 13)
    noise_sigma: tuple[float, float] = (0.0, 8.0)  # grey levels
    jpeg_quality: tuple[int, int] = (30, 95)
    min_person: float = 0.02  # a frame is a cut-out when the teacher finds at least this share of person
    background_max_person: float = PERSON_SHARE  # a background showing more person is dropped

    def as_dict(self) -> dict[str, object]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


@dataclass(frozen=True, slots=True)
class Cutout:
    image: np.ndarray  # BGR uint8, the person's bounding box (with the feather's margin)
    alpha: np.ndarray  # float32 0-1 at the same size, feathered
    # The person reached the frame's bottom edge (a portrait's shoulders, legs cut off):
    # pasted standing on the composite's bottom edge too, never floating mid-air.
    grounded: bool = False


@dataclass(frozen=True, slots=True)
class Composite:
    image: np.ndarray  # BGR uint8
    coverage: np.ndarray  # float32 0-1: how much of each pixel is pasted person (before lighting)


@dataclass(frozen=True, slots=True)
class Background:
    name: str
    image: np.ndarray
    folder: Path


def cutout_from(image: np.ndarray, mask: np.ndarray, settings: CompositeSettings) -> Cutout | None:
    """The person's box and its feathered alpha; None when the mask holds under min_person of the frame."""
    binary = mask.astype(bool)
    if binary.mean() < settings.min_person:
        return None
    ys, xs = np.nonzero(binary)
    margin = int(np.ceil(3 * settings.feather_px))
    y0, y1 = max(0, ys.min() - margin), min(binary.shape[0], ys.max() + 1 + margin)
    x0, x1 = max(0, xs.min() - margin), min(binary.shape[1], xs.max() + 1 + margin)
    alpha: np.ndarray = binary[y0:y1, x0:x1].astype(np.float32)
    if settings.feather_px > 0:
        alpha = cv2.GaussianBlur(alpha, (0, 0), settings.feather_px)
    grounded = bool(ys.max() >= binary.shape[0] - max(2, binary.shape[0] // 50))
    return Cutout(np.ascontiguousarray(image[y0:y1, x0:x1]), alpha, grounded)


def read_backgrounds(folders: Sequence[Path], max_side: int) -> list[Background]:
    """Every readable image of every folder; refuses a folder that is missing or reads nothing."""
    backgrounds = []
    for folder in folders:
        if not folder.is_dir():
            raise DistillError(f"background folder {folder} does not exist")
        read = []
        for path in list_images(folder):
            image = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if image is not None:
                read.append(Background(f"{folder.name}/{path.name}", shrink(image, max_side), folder))
        if not read:
            raise DistillError(f"background folder {folder} holds no image that reads")
        backgrounds += read
    return backgrounds


def compose(rng: np.random.Generator, background: np.ndarray, cutouts: Sequence[Cutout], settings: CompositeSettings, side: int) -> Composite:
    """One composite, its long side ``side``: a crop of the background, people pasted, then the camera's artefacts."""
    canvas = _background_crop(rng, background, settings, side).astype(np.float32)
    coverage = np.zeros(canvas.shape[:2], np.float32)
    for _ in range(int(rng.integers(settings.people[0], settings.people[1] + 1))):
        _paste(rng, canvas, coverage, cutouts[int(rng.integers(len(cutouts)))], settings)
    return Composite(_camera(rng, canvas, settings), coverage)


def _background_crop(rng: np.random.Generator, image: np.ndarray, settings: CompositeSettings, side: int) -> np.ndarray:
    h, w = image.shape[:2]
    area = rng.uniform(*settings.background_area) * h * w
    aspect = (w / h) * np.exp(rng.uniform(np.log(3 / 4), np.log(4 / 3)))
    cw = int(max(1, min(w, round(np.sqrt(area * aspect)))))
    ch = int(max(1, min(h, round(np.sqrt(area / aspect)))))
    x0, y0 = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
    crop = image[y0 : y0 + ch, x0 : x0 + cw]
    scale = side / max(cw, ch)
    size = (max(1, round(cw * scale)), max(1, round(ch * scale)))
    return cv2.resize(crop, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)


def _paste(rng: np.random.Generator, canvas: np.ndarray, coverage: np.ndarray, cut: Cutout, settings: CompositeSettings) -> None:
    """Alpha-blends one person in place, at a random height, place and side; up to a quarter may
    hang off the left, right or bottom edge, as people do in frames (a grounded one always does
    at the bottom, or sits on it)."""
    H, W = coverage.shape
    scale = rng.uniform(*settings.person_height) * H / cut.image.shape[0]
    scale = min(scale, W / cut.image.shape[1])
    cw, ch = max(1, round(cut.image.shape[1] * scale)), max(1, round(cut.image.shape[0] * scale))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    person = cv2.resize(cut.image, (cw, ch), interpolation=interpolation).astype(np.float32)
    alpha = cv2.resize(cut.alpha, (cw, ch), interpolation=cv2.INTER_LINEAR)
    if rng.random() < settings.flip:
        person, alpha = person[:, ::-1], alpha[:, ::-1]
    x0 = int(rng.integers(-(cw // 4), W - cw + cw // 4 + 1))
    low = H - ch if cut.grounded else min(0, H - ch)
    y0 = int(rng.integers(low, max(0, H - ch) + ch // 4 + 1))
    # The part of the person inside the frame, in canvas and in person coordinates.
    cx0, cy0, cx1, cy1 = max(0, x0), max(0, y0), min(W, x0 + cw), min(H, y0 + ch)
    if cx1 <= cx0 or cy1 <= cy0:
        return
    a = alpha[cy0 - y0 : cy1 - y0, cx0 - x0 : cx1 - x0]
    region = canvas[cy0:cy1, cx0:cx1]
    region *= 1.0 - a[..., None]
    region += person[cy0 - y0 : cy1 - y0, cx0 - x0 : cx1 - x0] * a[..., None]
    coverage[cy0:cy1, cx0:cx1] = 1.0 - (1.0 - coverage[cy0:cy1, cx0:cx1]) * (1.0 - a)


def _camera(rng: np.random.Generator, canvas: np.ndarray, settings: CompositeSettings) -> np.ndarray:
    """Lighting (gain, gamma, colour cast), sometimes a blur, sensor noise and a JPEG round trip."""
    cast = 1.0 + rng.uniform(-settings.colour_cast, settings.colour_cast, 3)
    gain, gamma = rng.uniform(*settings.gain), rng.uniform(*settings.gamma)
    # Per channel, on 256 levels: a look-up table is ten times cheaper than the power per pixel.
    levels = np.arange(256, dtype=np.float64)[:, None] / 255.0
    lut = (np.clip(levels * gain * cast[None, :], 0.0, 1.0) ** gamma * 255.0).round().astype(np.uint8)
    image = cv2.LUT(np.clip(canvas, 0, 255).round().astype(np.uint8), lut.reshape(256, 1, 3))
    if rng.random() < settings.blur:
        image = _blur(rng, image, settings)
    sigma = rng.uniform(*settings.noise_sigma)
    if sigma > 0:
        noise = rng.standard_normal(image.shape, dtype=np.float32) * np.float32(sigma)
        image = np.clip(image + noise, 0, 255).round().astype(np.uint8)
    quality = int(rng.integers(settings.jpeg_quality[0], settings.jpeg_quality[1] + 1))
    ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    decoded = cv2.imdecode(encoded, cv2.IMREAD_COLOR) if ok else None
    return decoded if decoded is not None else image


def _blur(rng: np.random.Generator, image: np.ndarray, settings: CompositeSettings) -> np.ndarray:
    if rng.random() < 0.5:
        return cv2.GaussianBlur(image, (0, 0), rng.uniform(*settings.blur_sigma))
    # Motion: a line of ones at a random angle, normalised: a camera or a person moving.
    length = int(rng.integers(settings.motion_px[0], settings.motion_px[1] + 1))
    kernel: np.ndarray = np.zeros((length, length), np.float32)
    kernel[length // 2, :] = 1.0
    turn = cv2.getRotationMatrix2D(((length - 1) / 2, (length - 1) / 2), rng.uniform(0, 180), 1.0)
    kernel = cv2.warpAffine(kernel, turn, (length, length))
    return cv2.filter2D(image, -1, kernel / max(kernel.sum(), 1e-6))


Teach = Callable[[np.ndarray], object]


def cutouts_of(teacher: Teach, samples: Sequence[Sample], settings: CompositeSettings, cancelled: Cancelled) -> tuple[list[Cutout], int]:
    """Cut-outs from up to MAX_CUTOUT_FRAMES frames spread over the pool: a frame's given mask when
    it has one, else the teacher's (probability over one half). Also how many used given masks."""
    picks: np.ndarray | list[int] = np.unique(np.linspace(0, len(samples) - 1, min(MAX_CUTOUT_FRAMES, len(samples))).round().astype(int)) if samples else []
    cutouts, given = [], 0
    for i in picks:
        if cancelled():
            break
        s = samples[int(i)]
        mask = s.mask if s.mask is not None else teacher_probability(teacher, s.image) > 0.5
        cut = cutout_from(s.image, mask, settings)
        if cut is not None:
            cutouts.append(cut)
            given += s.mask is not None
    return cutouts, given


def build(
    config: DataConfig, teacher: Teach, pool: Sequence[Sample], backgrounds: Sequence[Background], cancelled: Cancelled, *, pool_sources: Sequence[str] = ()
) -> tuple[list[Sample], SourceRecord]:
    """``config.composites`` composites (fewer when cancelled) and their record for the card;
    ``pool_sources`` names the sources the people were cut out of."""
    settings = CompositeSettings()
    cutouts, given = cutouts_of(teacher, pool, settings, cancelled)
    if not cutouts and not cancelled():
        raise DistillError(f"--composites: no frame of the pool shows a person over {settings.min_person:.0%} of it to cut out")
    clean = [b for b in backgrounds if person_share(teacher, b.image) <= settings.background_max_person]
    if not clean and not cancelled():
        raise DistillError(
            f"--backgrounds: the teacher finds a person (over {settings.background_max_person:.0%}) in every one of the {len(backgrounds)} backgrounds: give pictures without people"
        )
    made = []
    for i in range(config.composites):
        if cancelled():
            break
        rng = np.random.default_rng([config.composite_seed, i])
        background = clean[int(rng.integers(len(clean)))]
        made.append(Sample(f"composite#{i}", compose(rng, background.image, cutouts, settings, config.max_side).image, None))
    record = SourceRecord(
        "composites",
        "composites",
        "; ".join(str(b) for b in config.backgrounds),
        len(made),
        0,
        "derived from the pool's frames and the backgrounds: see their licences",
        details={
            "seed": config.composite_seed,
            "settings": settings.as_dict(),
            "people_from": {
                "sources": list(pool_sources),
                "frames": len(cutouts),
                "given_masks": given,
                "teacher_masks": len(cutouts) - given,
                "pool_frames": len(pool),
            },
            "backgrounds_from": _background_records(backgrounds, clean, config),
        },
    )
    return made, record


def _background_records(backgrounds: Sequence[Background], clean: Sequence[Background], config: DataConfig) -> list[dict[str, object]]:
    kept = {id(b) for b in clean}
    out = []
    for folder in config.backgrounds:
        mine = [b for b in backgrounds if b.folder == folder]
        used = sum(id(b) in kept for b in mine)
        out.append(
            {
                "path": str(folder),
                "images": len(mine),
                "used": used,
                "dropped_with_people": len(mine) - used,
                "licence": licence_of(folder.name, str(folder), config.licences, folder),
            }
        )
    return out
