"""The studio's pictures of one frame: a composed view per model, and the pair's disagreement.

Composed on the pipeline's consumer thread (see SessionControl._on_bundle), so
everything here is plain numpy and OpenCV: no Qt. ``prepare_screen`` is the
hook through which the studio turns each picture into what its view paints
(a QImage at the view's size), still on the consumer thread.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from segview.inference.card import ModelCard
from segview.inference.postprocess import THRESHOLD, soft_alpha
from segview.pipeline.pipeline import FrameResults
from segview.render.overlay import OverlaySettings, binary_palette, compose, disagreement, palette

MAX_VIEWS = 4

PrepareScreen = Callable[[np.ndarray, tuple[int, int]], Any]


@dataclass(frozen=True, slots=True)
class ViewPicture:
    model: str
    image: np.ndarray  # BGR, composed
    classes: tuple[str, ...]
    colours: np.ndarray
    screen: Any = None  # the image ready for its view, from prepare_screen (a QImage in the studio)


@dataclass(frozen=True, slots=True)
class RenderedFrame:
    frame_index: int
    views: tuple[ViewPicture, ...]
    comparison: np.ndarray | None
    pair: tuple[str, str] | None
    iou: float | None
    comparison_screen: Any = None


def compose_frame(
    bundle: FrameResults,
    masks: list[np.ndarray],
    pair: tuple[int, int] | None,
    iou: float | None,
    threshold: float = THRESHOLD,
    smoothing: float = 0.0,
    *,
    overlay: OverlaySettings,
    cards: Mapping[str, ModelCard],
    screens: tuple[tuple[int, int], ...],
    prepare_screen: PrepareScreen,
) -> RenderedFrame:
    """``screens``: the (w, h) of each view, then of the comparison view; a view without one gets no screen image."""
    image = bundle.frame.image
    views = []
    for i, (result, mask) in enumerate(zip(bundle.results, masks, strict=True)):
        card = cards.get(result.model)
        classes = card.classes if card else ("background", "person")
        colours = binary_palette(overlay.color) if card is None or card.is_binary else palette(len(classes))
        alpha = None  # unsmoothed binary views blend by probability: soft edges where the cut is
        if result.probability is not None and card is not None and card.is_binary and smoothing <= 0:
            alpha = soft_alpha(result.probability, threshold)
        picture = compose(image, mask, overlay, colours=colours, alpha=alpha)
        screen = prepare_screen(picture, screens[i]) if i < len(screens) else None
        views.append(ViewPicture(result.model, picture, classes, colours, screen))
    comparison = comparison_screen = None
    names = None
    if pair is not None and max(pair) < len(masks):
        comparison = disagreement(masks[pair[0]], masks[pair[1]], image)
        names = (bundle.results[pair[0]].model, bundle.results[pair[1]].model)
        if len(screens) > MAX_VIEWS:
            comparison_screen = prepare_screen(comparison, screens[MAX_VIEWS])
    return RenderedFrame(bundle.frame.index, tuple(views), comparison, names, iou, comparison_screen)
