from __future__ import annotations

import pytest

import factories

# Each test's own HOME and QSettings store: tests/conftest.py's autouse isolated_home.
# The studio window: tests/conftest.py's studio fixture.


@pytest.fixture
def slow_video(tmp_path):
    """Long enough that the studio is still playing it while a test looks."""
    return factories.write_video(tmp_path / "long.mp4", factories.moving_square_frames(300))
