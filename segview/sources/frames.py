"""The first few frames of a source, for work that needs real frames but no pipeline (profiling)."""

from __future__ import annotations

import numpy as np

from segview.errors import SourceError
from segview.sources.spec import open_source


def first_frames(source: str, count: int) -> list[np.ndarray]:
    """The first ``count`` BGR frames of the source (fewer if it ends first); SourceError if it gives none."""
    opened = open_source(source)
    try:
        frames: list[np.ndarray] = []
        while len(frames) < count:
            frame = opened.read()
            if frame is None:
                break
            frames.append(frame.image)
    finally:
        opened.close()
    if not frames:
        raise SourceError(f"source {source} gave no frames")
    return frames
