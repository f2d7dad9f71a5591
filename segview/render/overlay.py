"""Overlay modes for the live view.

Runs on the studio's render thread (never the GUI thread): a blend costs about
1 ms on a 640x480 frame, a background blur about 2 ms (it blurs a quarter-size
copy, which looks the same and costs a sixteenth).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import cv2
import numpy as np


class OverlayMode(enum.Enum):
    BLEND = "blend"
    OUTLINE = "outline"
    BLUR = "blur"
    REPLACE = "replace"
    MASK = "mask"
    ORIGINAL = "original"

    @property
    def label(self) -> str:
        return {
            "blend": "Colour blend",
            "outline": "Outline",
            "blur": "Blur background",
            "replace": "Replace background",
            "mask": "Mask only",
            "original": "Original",
        }[self.value]


@dataclass(frozen=True, slots=True)
class OverlaySettings:
    mode: OverlayMode = OverlayMode.BLEND
    opacity: float = 0.5
    # BGR, like the frames.
    color: tuple[int, int, int] = (255, 144, 30)
    background_color: tuple[int, int, int] = (60, 180, 75)
    background_image: np.ndarray | None = None
    blur_sigma: float = 12.0
    outline_px: int = 3


def palette(num_classes: int) -> np.ndarray:
    """(num_classes, 3) BGR colours: class 0 (background) black, the rest well apart in hue."""
    colours = np.zeros((num_classes, 3), np.uint8)
    for c in range(1, num_classes):
        hue = int(round(((c - 1) * 0.618033988749895 % 1.0) * 179))
        hsv = np.array([[[hue, 200, 255]]], np.uint8)
        colours[c] = cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)[0, 0]
    return colours


def binary_palette(color: tuple[int, int, int]) -> np.ndarray:
    return np.array([(0, 0, 0), color], np.uint8)


def compose(
    frame: np.ndarray,
    mask: np.ndarray,
    settings: OverlaySettings,
    *,
    colours: np.ndarray,
    alpha: np.ndarray | None = None,
) -> np.ndarray:
    """The picture for one view. ``mask`` is class indices at frame size (0 = background);
    ``alpha`` is an optional soft foreground weight in [0, 1] at any size, for smooth edges.

    Every mode is a handful of OpenCV calls (no per-pixel numpy indexing), so a
    640x480 picture costs well under 2 ms and OpenCV releases the GIL meanwhile.
    """
    mode = settings.mode
    if mode is OverlayMode.ORIGINAL:
        return frame
    if mode is OverlayMode.MASK:
        return _colourise(mask, colours) if len(colours) > 2 else _gray_mask(mask)
    if mode is OverlayMode.BLEND:
        return _blend(frame, mask, colours, settings.opacity)
    if mode is OverlayMode.OUTLINE:
        return _outline(frame, mask, colours, settings.outline_px)
    background = _blurred(frame, settings.blur_sigma) if mode is OverlayMode.BLUR else _replacement(frame, settings)
    return _composite(frame, background, mask, alpha)


def _colourise(mask: np.ndarray, colours: np.ndarray) -> np.ndarray:
    """Class indices -> BGR through a lookup table (far cheaper than colours[mask])."""
    table = np.zeros((1, 256, 3), np.uint8)
    table[0, : len(colours)] = colours
    return cv2.LUT(cv2.cvtColor(mask, cv2.COLOR_GRAY2BGR), table)


def _gray_mask(mask: np.ndarray) -> np.ndarray:
    gray = cv2.threshold(mask, 0, 255, cv2.THRESH_BINARY)[1]
    return cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR)


def _foreground(mask: np.ndarray) -> np.ndarray:
    return cv2.threshold(mask, 0, 255, cv2.THRESH_BINARY)[1]


def _blend(frame: np.ndarray, mask: np.ndarray, colours: np.ndarray, opacity: float) -> np.ndarray:
    out = frame.copy()
    foreground = _foreground(mask)
    # Only the box around the foreground is tinted: a person rarely fills the frame.
    x, y, w, h = cv2.boundingRect(foreground)
    if w == 0 or h == 0:
        return out
    region = (slice(y, y + h), slice(x, x + w))
    if len(colours) == 2:
        # frame * (1 - opacity) + colour * opacity, with the colour as a per-channel scalar:
        # filling a colour image first (numpy broadcast) cost 1.1 ms at 640x480.
        tinted = cv2.convertScaleAbs(frame[region], alpha=1.0 - opacity)
        b, g, r = (float(c) * opacity for c in colours[1])
        cv2.add(tinted, (b, g, r, 0.0), dst=tinted)  # type: ignore[call-overload]  # a Scalar operand: OpenCV takes it, its stubs list arrays only
    else:
        tinted = cv2.addWeighted(frame[region], 1.0 - opacity, _colourise(mask[region], colours), opacity, 0.0)
    cv2.copyTo(tinted, foreground[region], out[region])
    return out


def _outline(frame: np.ndarray, mask: np.ndarray, colours: np.ndarray, width: int) -> np.ndarray:
    out = frame.copy()
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * width + 1, 2 * width + 1))
    present = np.flatnonzero(np.bincount(mask.ravel(), minlength=len(colours))) if len(colours) > 2 else (1,)
    for c in present:
        if c == 0:
            continue
        region = mask if len(colours) == 2 else cv2.compare(mask, int(c), cv2.CMP_EQ)  # type: ignore[call-overload]  # a Scalar operand, as above
        edge = cv2.morphologyEx(_foreground(region), cv2.MORPH_GRADIENT, kernel)
        cv2.copyTo(_solid(frame.shape, colours[c]), edge, out)
    return out


_solid_cache: dict[tuple, np.ndarray] = {}


def _solid(shape: tuple[int, ...], colour: np.ndarray) -> np.ndarray:
    """A one-colour image, kept (read it, never write it): filling one per frame (numpy
    broadcast) costs about 1 ms at 640x480."""
    key = (*shape, *(int(c) for c in colour))
    image = _solid_cache.get(key)
    if image is None:
        if len(_solid_cache) >= 8:
            _solid_cache.clear()
        image = np.empty(shape, np.uint8)
        image[:] = colour
        _solid_cache[key] = image
    return image


def _blurred(frame: np.ndarray, sigma: float) -> np.ndarray:
    h, w = frame.shape[:2]
    small = cv2.resize(frame, (max(1, w // 4), max(1, h // 4)), interpolation=cv2.INTER_LINEAR)
    small = cv2.GaussianBlur(small, (0, 0), max(0.5, sigma / 4))
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


_cover_cache: dict[tuple[int, int, int], np.ndarray] = {}


def _replacement(frame: np.ndarray, settings: OverlaySettings) -> np.ndarray:
    h, w = frame.shape[:2]
    image = settings.background_image
    if image is None:
        return _solid(frame.shape, np.asarray(settings.background_color))
    # The same background for every frame: scale it once per size.
    key = (id(image), w, h)
    cached = _cover_cache.get(key)
    if cached is None:
        _cover_cache.clear()
        cached = _cover_cache[key] = _cover(image, w, h)
    return cached


def _cover(image: np.ndarray, w: int, h: int) -> np.ndarray:
    """Scale to cover (w, h) and crop the centre, like CSS background-size: cover."""
    ih, iw = image.shape[:2]
    scale = max(w / iw, h / ih)
    resized = cv2.resize(image, (max(w, int(round(iw * scale))), max(h, int(round(ih * scale)))), interpolation=cv2.INTER_AREA)
    y0 = (resized.shape[0] - h) // 2
    x0 = (resized.shape[1] - w) // 2
    return np.ascontiguousarray(resized[y0 : y0 + h, x0 : x0 + w])


def _composite(frame: np.ndarray, background: np.ndarray, mask: np.ndarray, alpha: np.ndarray | None) -> np.ndarray:
    h, w = frame.shape[:2]
    weight: np.ndarray
    if alpha is None:
        weight = (mask > 0).astype(np.float32)
    else:
        weight = cv2.resize(alpha.astype(np.float32, copy=False), (w, h), interpolation=cv2.INTER_LINEAR)
    return cv2.blendLinear(frame, background, weight, 1.0 - weight)


class MaskSmoother:
    """Temporal smoothing: an exponential moving average of the probability map.

    Steadies flickering edges at the cost of a little lag; ``strength`` 0 is off,
    0.8 follows motion within about five frames. Binary models only: averaging
    class indices means nothing. Not thread-safe; one per view.
    """

    def __init__(self, strength: float = 0.0) -> None:
        self.strength = strength
        self._state: np.ndarray | None = None

    def reset(self) -> None:
        self._state = None

    def __call__(self, probability: np.ndarray, frame_size: tuple[int, int], threshold: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
        """(mask at frame size, smoothed probability at model size)."""
        if self._state is None or self._state.shape != probability.shape or self.strength <= 0:
            self._state = probability.astype(np.float32, copy=True)
        else:
            self._state *= self.strength
            self._state += (1.0 - self.strength) * probability
        big = cv2.resize(self._state, frame_size, interpolation=cv2.INTER_LINEAR)
        return (big > threshold).view(np.uint8), self._state


def disagreement(mask_a: np.ndarray, mask_b: np.ndarray, frame: np.ndarray | None = None) -> np.ndarray:
    """Where two masks differ: orange where only A says foreground, blue where only B does, on a dimmed frame."""
    a = mask_a > 0
    b = mask_b > 0
    base = (frame // 3) if frame is not None else np.zeros((*a.shape, 3), np.uint8)
    out = base.copy()
    out[a & b] = (base[a & b] // 2) + 60
    out[a & ~b] = (0, 140, 255)
    out[~a & b] = (255, 120, 0)
    return out
