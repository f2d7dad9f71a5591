"""Is PyTorch installed? Answered without importing it (importing torch takes seconds)."""

from __future__ import annotations

import importlib.util

from segview.errors import SegviewError

INSTALL_HINT = 'Distillation needs PyTorch: python3 -m pip install "segview[distill]" (or: python3 -m pip install torch==2.13.0)'


class DistillError(SegviewError):
    """Distillation cannot start or cannot go on; the message says why and what to do."""


def torch_available() -> bool:
    # The GUI page and tests monkeypatch this one function to simulate a machine without torch.
    return importlib.util.find_spec("torch") is not None


def require_torch() -> None:
    if not torch_available():
        raise DistillError(INSTALL_HINT)
