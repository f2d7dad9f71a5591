"""Model output -> mask at frame resolution."""

from __future__ import annotations

import cv2
import numpy as np

from segview.inference.card import ModelCard

# The default cut between background and foreground; the studio's threshold control moves it (0.05 to 0.95).
THRESHOLD = 0.5
THRESHOLD_RANGE = (0.05, 0.95)


class Postprocessor:
    """Turns the raw output tensor into (mask, foreground probability).

    Binary models: the probability map is resized to the frame (bilinear)
    before thresholding, so edges follow the frame's pixels, not the model's.
    Multi-class models: class scores are resized, then argmaxed.
    """

    def __init__(self, card: ModelCard) -> None:
        self.card = card
        self.binary = card.is_binary
        self.num_classes = 1 if card.is_binary else len(card.classes)
        self.foreground = card.foreground_class

    def scores(self, output: np.ndarray) -> np.ndarray:
        """(H, W) for binary models, (H, W, C) otherwise, at model resolution, float32."""
        arr = np.asarray(output)
        if arr.ndim == 4:
            arr = arr[0]
            if arr.shape[0] == self.num_classes and arr.shape[-1] != self.num_classes:
                arr = arr.transpose(1, 2, 0)
        elif arr.ndim == 3:
            arr = arr[0][..., None]
        if self.binary:
            return arr[..., 0].astype(np.float32, copy=False)
        return arr.astype(np.float32, copy=False)

    def __call__(self, output: np.ndarray, frame_size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
        """Returns (mask uint8 at frame_size, foreground probability at model resolution)."""
        scores = self.scores(output)
        if self.binary:
            probability = foreground_probability(scores, self.card)
            return binary_mask(probability, frame_size), probability
        big = cv2.resize(scores, frame_size, interpolation=cv2.INTER_LINEAR)
        if big.ndim == 2:  # cv2 drops a single trailing channel
            big = big[..., None]
        mask = np.argmax(big, axis=-1).astype(np.uint8)
        return mask, foreground_probability(scores, self.card)


def foreground_probability(scores: np.ndarray, card: ModelCard) -> np.ndarray:
    """The foreground probability at model resolution, from :meth:`Postprocessor.scores` of a raw output:
    a sigmoid output as it is, logits through a sigmoid, class scores (softmaxed when they are logits)
    at the card's foreground class. The studio's postprocessing and the distillation teacher share it."""
    kind = card.output_kind
    if kind == "sigmoid":
        return scores
    if kind == "logits":
        return _sigmoid(scores)
    probabilities = _softmax(scores) if kind == "class_logits" else scores
    return probabilities[..., card.foreground_class]


def binary_mask(probability: np.ndarray, frame_size: tuple[int, int], threshold: float = THRESHOLD) -> np.ndarray:
    """Foreground probability at model resolution -> 0/1 uint8 mask at ``frame_size`` (w, h).

    Resized as 8-bit (probability in 1/255 steps), then thresholded: 0.09 ms instead of 0.15 ms
    at 640x480, and the mask changes only where the probability is within 1/255 of the threshold.
    """
    quantised = cv2.convertScaleAbs(probability, alpha=255.0)
    big = cv2.resize(quantised, frame_size, interpolation=cv2.INTER_LINEAR)
    return cv2.threshold(big, int(threshold * 255), 1, cv2.THRESH_BINARY)[1]


def clamp_threshold(value: float) -> float:
    low, high = THRESHOLD_RANGE
    return max(low, min(high, float(value)))


def soft_alpha(probability: np.ndarray, threshold: float = THRESHOLD) -> np.ndarray:
    """The probability remapped so ``threshold`` lands on 0.5 (piecewise linear, 0 and 1 kept):
    the soft edges of blur/replace then sit where the thresholded mask's edges are."""
    if threshold == THRESHOLD:
        return probability
    p = probability.astype(np.float32, copy=False)
    low = p * (0.5 / threshold)
    high = 0.5 + (p - threshold) * (0.5 / (1.0 - threshold))
    return np.where(p < threshold, low, high).astype(np.float32, copy=False)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return (1.0 / (1.0 + np.exp(-x))).astype(np.float32)


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return (e / e.sum(axis=-1, keepdims=True)).astype(np.float32)
