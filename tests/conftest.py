from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).parent))

import factories  # noqa: E402


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "models"
    folder.mkdir()
    return folder


@pytest.fixture
def brightness_model(model_dir: Path) -> Path:
    path = factories.brightness_model(model_dir / "bright.onnx")
    factories.write_card(path, name="bright")
    return path


@pytest.fixture
def square_video(tmp_path: Path) -> Path:
    return factories.write_video(tmp_path / "squares.mp4", factories.moving_square_frames(24))


@pytest.fixture(autouse=True)
def _isolated_model_path(monkeypatch: pytest.MonkeyPatch) -> None:
    # The user's own model folders must not leak into tests.
    monkeypatch.delenv("SEGVIEW_MODEL_PATH", raising=False)
