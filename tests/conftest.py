from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# tests/ is on sys.path through pyproject.toml's pythonpath, so the helpers import by name.

import factories  # noqa: E402
import home_guard  # noqa: E402
from qt_tools import close_studio, isolate_qsettings, make_studio  # noqa: E402

# The user's own segview files, fingerprinted before anything runs; compared in pytest_sessionfinish.
USER_PLACES = home_guard.user_segview_places()
_USER_FILES = home_guard.fingerprint(USER_PLACES)
# A home for the whole session, set before any segview module computes a default under HOME.
_SESSION_HOME = Path(tempfile.mkdtemp(prefix="segview-tests-home-"))
os.environ.update(home_guard.home_environment(_SESSION_HOME))


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


@pytest.fixture
def studio(request: pytest.FixtureRequest, qtbot, model_dir: Path, brightness_model: Path):
    """A shown 1200x800 studio window over ``model_dir`` (the bright model in it), closed at the test's end.

    The one studio fixture for every folder: ``@pytest.mark.studio(workers=1)`` on a test or a
    module changes its worker count (2 by default). A module that needs more (a model of its own,
    a video playing) overrides it with a fixture that takes this one: ``def studio(studio): ...``.
    """
    marker = request.node.get_closest_marker("studio")
    s = make_studio(qtbot, model_dir, workers=marker.kwargs.get("workers", 2) if marker else 2)
    s.window.resize(1200, 800)
    yield s
    close_studio(s)


@pytest.fixture(autouse=True)
def _isolated_model_path(monkeypatch: pytest.MonkeyPatch) -> None:
    # The user's own model folders must not leak into tests.
    monkeypatch.delenv("SEGVIEW_MODEL_PATH", raising=False)


@pytest.fixture(autouse=True)
def isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test's own HOME and XDG folders; Qt's settings (already started or not) follow them."""
    home = tmp_path_factory.mktemp("home")
    for name, value in home_guard.home_environment(home).items():
        monkeypatch.setenv(name, value)
    # QSettings reads XDG_CONFIG_HOME once, at its first use in the process: later tests need setPath.
    if "PySide6.QtCore" in sys.modules:
        isolate_qsettings(home / ".config")
    return home


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    shutil.rmtree(_SESSION_HOME, ignore_errors=True)
    changes = home_guard.describe_changes(_USER_FILES, home_guard.fingerprint(USER_PLACES))
    if changes:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        message = "tests changed the user's segview files:\n  " + "\n  ".join(changes)
        if reporter is not None:
            reporter.write_line("\n" + message, red=True)
        else:
            print(message, file=sys.stderr)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
