from __future__ import annotations

import pytest

import factories
from qt_tools import close_studio, make_studio  # noqa: E402

# Each test's own HOME and QSettings store: tests/conftest.py's autouse isolated_home.


@pytest.fixture
def slow_video(tmp_path):
    """Long enough that the studio is still playing it while a test looks."""
    return factories.write_video(tmp_path / "long.mp4", factories.moving_square_frames(300))


@pytest.fixture
def studio(qtbot, model_dir, brightness_model):
    s = make_studio(qtbot, model_dir, workers=2)
    s.window.resize(1200, 800)
    yield s
    close_studio(s)
