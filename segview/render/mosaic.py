"""The studio's video tiles as one picture (screenshots, recorded video), at full frame resolution.

Qt-free: built from the composed BGR pictures the engine hands out, never from
a grab of the window, so a picture is as sharp as the frames whatever the
window's size. Tiles are laid out like the window's grid (one row of up to three,
then rows of three) and each is named in its top-left corner, as the views are.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

MAX_COLUMNS = 3
GAP_PX = 4
_FONT = cv2.FONT_HERSHEY_SIMPLEX


def mosaic(tiles: Sequence[tuple[str, np.ndarray]], *, columns: int | None = None) -> np.ndarray:
    """(title, BGR image) tiles -> one BGR image; tiles of other sizes are fitted into the first's size."""
    if not tiles:
        raise ValueError("no pictures to put together")
    h, w = tiles[0][1].shape[:2]
    columns = max(1, min(len(tiles), columns or MAX_COLUMNS))
    rows = -(-len(tiles) // columns)
    out = np.zeros((rows * h + (rows - 1) * GAP_PX, columns * w + (columns - 1) * GAP_PX, 3), np.uint8)
    for i, (title, image) in enumerate(tiles):
        y, x = (i // columns) * (h + GAP_PX), (i % columns) * (w + GAP_PX)
        cell = out[y : y + h, x : x + w]
        cell[:] = fit_into(image, (w, h))
        if title:
            _label(cell, title)
    return out


def fit_into(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``image`` scaled to fit (w, h), keeping its aspect, centred on black (a no-op when it already fits)."""
    w, h = size
    ih, iw = image.shape[:2]
    if (iw, ih) == (w, h):
        return image
    scale = min(w / iw, h / ih)
    sw, sh = max(1, int(round(iw * scale))), max(1, int(round(ih * scale)))
    out = np.zeros((h, w, 3), np.uint8)
    y0, x0 = (h - sh) // 2, (w - sw) // 2
    out[y0 : y0 + sh, x0 : x0 + sw] = cv2.resize(image, (sw, sh), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    return out


def _label(cell: np.ndarray, text: str) -> None:
    """The tile's name on a dark band, sized to the tile (readable at 160 px and at 1080p)."""
    scale = max(0.35, cell.shape[0] / 900)
    thickness = max(1, int(round(scale * 2)))
    (tw, th), base = cv2.getTextSize(text, _FONT, scale, thickness)
    pad = max(2, th // 3)
    band = cell[: th + base + 2 * pad, : tw + 2 * pad]
    band[:] = band // 3
    cv2.putText(cell, text, (pad, pad + th), _FONT, scale, (255, 255, 255), thickness, cv2.LINE_AA)
