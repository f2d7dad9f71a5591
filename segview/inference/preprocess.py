"""Frame (BGR uint8, any size) -> model input tensor, as the card describes."""

from __future__ import annotations

import cv2
import numpy as np

from segview.inference.card import ModelCard


class Preprocessor:
    """Resize, reorder colours, normalise and lay out one frame.

    Thread-safe and allocation-light: the per-channel affine transform is
    precomputed so each frame costs one resize, one colour swap and one
    fused multiply-add in float32.
    """

    def __init__(self, card: ModelCard) -> None:
        self.size = (card.width, card.height)
        self.swap_rb = card.color_order == "RGB"
        self.nchw = card.layout == "NCHW"
        norm = card.normalization
        std = np.asarray(norm.std, dtype=np.float32)
        self.gain = (norm.scale / std).astype(np.float32)
        self.offset = (-np.asarray(norm.mean, dtype=np.float32) / std).astype(np.float32)

    def __call__(self, image: np.ndarray) -> np.ndarray:
        resized = cv2.resize(image, self.size, interpolation=cv2.INTER_LINEAR)
        if self.swap_rb:
            resized = cv2.cvtColor(resized, cv2.COLOR_BGR2RGB)
        if self.nchw:
            # Transpose the uint8 image first: a quarter of the bytes to move.
            planar = np.ascontiguousarray(resized.transpose(2, 0, 1))
            tensor = planar.astype(np.float32)
            tensor *= self.gain[:, None, None]
            tensor += self.offset[:, None, None]
        else:
            tensor = resized.astype(np.float32)
            tensor *= self.gain
            tensor += self.offset
        return tensor[None]
