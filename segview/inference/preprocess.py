"""Frame (BGR uint8, any size) -> model input tensor, as the card describes."""

from __future__ import annotations

import cv2
import numpy as np

from segview.inference.card import ModelCard


class Preprocessor:
    """Resize, reorder colours, normalise and lay out one frame.

    Thread-safe and allocation-light: the per-channel affine transform is
    precomputed, so each frame costs one resize and one fused
    convert-and-scale pass (plus an add when the card has a mean).
    """

    def __init__(self, card: ModelCard) -> None:
        self.size = (card.width, card.height)
        self.swap_rb = card.color_order == "RGB"
        self.nchw = card.layout == "NCHW"
        norm = card.normalization
        std = np.asarray(norm.std, dtype=np.float32)
        self.gain = (norm.scale / std).astype(np.float32)
        self.offset = (-np.asarray(norm.mean, dtype=np.float32) / std).astype(np.float32)
        self.has_offset = bool(np.any(self.offset))

    def __call__(self, image: np.ndarray) -> np.ndarray:
        resized = cv2.resize(image, self.size, interpolation=cv2.INTER_LINEAR)
        # Colour swap and layout change are views; the one copy happens in the
        # multiply that converts to float32 and scales (one pass instead of four).
        source = resized.transpose(2, 0, 1) if self.nchw else resized
        if self.swap_rb:
            source = source[::-1] if self.nchw else source[..., ::-1]
        w, h = self.size
        out = np.empty((1, 3, h, w) if self.nchw else (1, h, w, 3), np.float32)
        gain = self.gain[:, None, None] if self.nchw else self.gain
        np.multiply(source, gain, out=out[0], dtype=np.float32)
        if self.has_offset:
            out[0] += self.offset[:, None, None] if self.nchw else self.offset
        return out
