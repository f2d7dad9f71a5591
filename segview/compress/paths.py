"""Where compression results go by default. Kept free of heavy imports: the studio reads it at start-up."""

from __future__ import annotations

import os
from pathlib import Path

from segview.inference.registry import MODEL_PATH_ENV

USER_MODELS_DIR = Path("~/segview-models")


def default_output_dir() -> Path:
    """The first $SEGVIEW_MODEL_PATH folder (so the registry finds results by name), else ~/segview-models."""
    first = next((p for p in os.environ.get(MODEL_PATH_ENV, "").split(os.pathsep) if p), None)
    return Path(first).expanduser() if first else USER_MODELS_DIR.expanduser()
