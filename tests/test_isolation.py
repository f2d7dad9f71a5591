"""Tests and scripted runs leave the user's home alone: a run writes nothing under the HOME it is given,
and a window that saves preferences saves them in the test's own store.

(tests/conftest.py also compares the user's real segview files before and after the whole session.)
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import home_guard
from cli_tools import run_segview


def _seeded_home(home: Path) -> Path:
    """A home as a user has it: remembered studio settings, a session folder, a models folder."""
    conf = home / ".config" / "segview" / "studio.conf"
    conf.parent.mkdir(parents=True)
    conf.write_text("[General]\nsource=demo\nmodels=selfie-general\n\n[overlay]\nmode=blend\nopacity=0.5\n")
    (home / "segview-sessions").mkdir()
    (home / "segview-models").mkdir()
    return home


def test_a_scripted_studio_run_leaves_its_home_untouched(tmp_path):
    home = _seeded_home(tmp_path / "home")
    before = home_guard.fingerprint([home], skip=(".cache",))
    # Only HOME says where the user's things are: no XDG folder points elsewhere.
    env = {k: v for k, v in os.environ.items() if not k.startswith("XDG_")}
    env.update(HOME=str(home), QT_QPA_PLATFORM="offscreen")
    proc = run_segview("studio", "--source", "demo", "--model", "selfie-general", "--overlay", "outline", "--duration", "2", env=env)
    assert proc.returncode == 0, proc.stderr
    # .cache: system libraries (fontconfig, mesa) may keep caches there; segview never writes it.
    assert home_guard.describe_changes(before, home_guard.fingerprint([home], skip=(".cache",))) == []


def test_each_test_has_its_own_home(isolated_home):
    assert Path.home() == isolated_home and os.environ["XDG_CONFIG_HOME"] == str(isolated_home / ".config")
    assert Path("~/segview-models").expanduser().parent == isolated_home


@pytest.fixture
def user_files():
    """The user's segview files (under the home the session started with), before and after a test."""
    before = home_guard.fingerprint(_real_places())
    yield before
    assert home_guard.describe_changes(before, home_guard.fingerprint(_real_places())) == []


def _real_places() -> list[Path]:
    import conftest

    return conftest.USER_PLACES


def test_preferences_a_window_saves_go_to_the_tests_own_store(qtbot, isolated_home, model_dir, brightness_model, user_files):
    from qt_tools import close_studio, make_studio
    from segview.render.overlay import OverlayMode

    studio = make_studio(qtbot, model_dir, workers=1)
    studio.window.persist = True  # as the real studio does: saved when the window closes
    assert studio.open("demo", ["bright"])
    studio.window.overlay_controls.set_mode(OverlayMode.OUTLINE)
    studio.window.overlay_controls.opacity.setValue(30)
    close_studio(studio)
    saved = isolated_home / ".config" / "segview" / "studio.conf"
    assert saved.is_file() and "mode=outline" in saved.read_text()
    assert not any(str(p).startswith(str(isolated_home)) for p in _real_places())
