"""Is PyTorch installed? Answered without importing it (importing torch takes seconds)."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
from pathlib import Path
from urllib.parse import unquote, urlparse

from segview.errors import DistillError  # re-exported: distill's modules and tests import it from here

INSTALL_HINT = 'Distillation needs PyTorch: python3 -m pip install "segview[distill]" (or: python3 -m pip install torch==2.13.0)'
EDITABLE_HINT = (
    'Distillation needs PyTorch: in your segview clone ({clone}) run python3 -m pip install -e ".[distill]" (or: python3 -m pip install torch==2.13.0)'
)


def torch_available() -> bool:
    # The GUI page and tests monkeypatch this one function to simulate a machine without torch.
    return importlib.util.find_spec("torch") is not None


def install_hint() -> str:
    """How to add PyTorch, worded for how segview was installed: a clone (pip install -e) or a package."""
    clone = editable_checkout()
    return EDITABLE_HINT.format(clone=clone) if clone is not None else INSTALL_HINT


def editable_checkout() -> Path | None:
    """The clone an editable install points at, from pip's direct_url.json (PEP 610); None otherwise.

    Several "segview" distributions may be visible (a clone's own segview.egg-info when
    run from inside it): the first that records how it was installed decides."""
    for dist in importlib.metadata.distributions(name="segview"):
        try:
            text = dist.read_text("direct_url.json")
            record = json.loads(text) if text else None
        except (OSError, ValueError):
            continue
        if isinstance(record, dict):
            if not (record.get("dir_info") or {}).get("editable"):
                return None
            url = urlparse(str(record.get("url", "")))
            return Path(unquote(url.path)) if url.scheme == "file" else None
    return None


def require_torch() -> None:
    if not torch_available():
        raise DistillError(install_hint())
