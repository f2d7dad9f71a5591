"""The studio starts anywhere, or says in one line why not: arguments first, then display and system libraries.

Qt alone aborted the process (exit 134) without a display or without an xcb library, before
segview had looked at a mistyped --source.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cli_tools import assert_one_line_error, run_segview
from segview.errors import SourceError
from segview.startup_checks import GUI_LIBRARIES, NO_DISPLAY, XCB_LIBRARIES, StartupError, check_studio_start, debian_packages


def _headless_env(**extra) -> dict[str, str]:
    """The environment of a machine with no display at all (a server, a fresh CI runner)."""
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    env.update(extra)
    return env


def _args(source=None, models=None) -> argparse.Namespace:
    return argparse.Namespace(source=source, models=models)


def _loader(*missing: str):
    """A library lookup that finds everything except ``missing`` (as on a machine without those packages)."""
    return lambda soname: soname not in missing


@pytest.mark.parametrize("argv", [(), ("studio", "--source", "demo", "--duration", "2")])
def test_no_display_is_one_line_and_exit_2(argv):
    proc = run_segview(*argv, env=_headless_env(), timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert_one_line_error(proc, NO_DISPLAY)
    assert proc.stderr.strip() == f"segview: error: {NO_DISPLAY}"


def test_a_mistyped_source_is_reported_before_the_missing_display():
    proc = run_segview("studio", "--source", "demoo", env=_headless_env(), timeout=60)
    assert proc.returncode == 2
    assert_one_line_error(proc, "unknown source 'demoo'")


def test_an_unknown_model_is_reported_before_the_missing_display():
    proc = run_segview("--model", "selfie-generall", env=_headless_env(), timeout=60)
    assert proc.returncode == 2
    assert_one_line_error(proc, "unknown model 'selfie-generall'")


@pytest.mark.parametrize("platform", ["offscreen", "minimal", "vnc:size=800x600", "wayland;offscreen"])
def test_platforms_that_need_no_display_pass(platform):
    check_studio_start(_args("demo", ["selfie-general"]), environ={"QT_QPA_PLATFORM": platform}, platform="linux", load=_loader())


@pytest.mark.parametrize(
    "environ",
    [{}, {"QT_QPA_PLATFORM": "xcb"}, {"QT_QPA_PLATFORM": "xcb", "WAYLAND_DISPLAY": "wayland-0"}, {"QT_QPA_PLATFORM": "wayland", "DISPLAY": ":0"}],
)
def test_without_the_display_its_platform_needs_the_studio_says_so(environ):
    with pytest.raises(StartupError, match="^no display: run under xvfb-run"):
        check_studio_start(_args(), environ=environ, platform="linux", load=_loader())


def test_a_wayland_session_needs_no_x11_libraries():
    check_studio_start(_args(), environ={"WAYLAND_DISPLAY": "wayland-0"}, platform="linux", load=_loader(*XCB_LIBRARIES))


def test_a_missing_xcb_library_names_its_package():
    with pytest.raises(StartupError) as caught:
        check_studio_start(_args(), environ={"DISPLAY": ":0"}, platform="linux", load=_loader("libxcb-cursor.so.0", "libxcb-icccm.so.4"))
    message = str(caught.value)
    assert "\n" not in message
    assert "libxcb-cursor.so.0, libxcb-icccm.so.4" in message
    assert message.endswith("sudo apt-get install libxcb-cursor0 libxcb-icccm4")


def test_a_missing_gui_library_is_named_even_offscreen():
    # QtGui itself links to these: without them, importing PySide6 fails whatever the platform.
    with pytest.raises(StartupError, match=r"libEGL\.so\.1.*sudo apt-get install libegl1$"):
        check_studio_start(_args(), environ={"QT_QPA_PLATFORM": "offscreen"}, platform="linux", load=_loader("libEGL.so.1"))


def test_arguments_come_before_libraries_and_display():
    with pytest.raises(SourceError, match="unknown source"):
        check_studio_start(_args("demoo"), environ={}, platform="linux", load=_loader(*GUI_LIBRARIES, *XCB_LIBRARIES))


def test_macos_and_windows_need_nothing_from_the_system():
    for platform in ("darwin", "win32"):
        check_studio_start(_args("demo"), environ={}, platform=platform, load=_loader(*GUI_LIBRARIES, *XCB_LIBRARIES))


def test_a_display_nobody_serves_is_one_line():
    if sys.platform != "linux":
        pytest.skip("X11 display check is Linux only")
    with pytest.raises(StartupError, match="^cannot connect to display :917: run under xvfb-run"):
        check_studio_start(_args(), environ={"DISPLAY": ":917"}, platform="linux")


def test_the_real_window_starts_under_xvfb(tmp_path):
    import cv2

    missing = [tool for tool in ("xvfb-run", "Xvfb", "xauth") if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"needs {' and '.join(missing)} (Debian/Ubuntu: apt-get install xvfb xauth), as .ci/run installs")
    shot = tmp_path / "window.png"
    env = _headless_env(QT_QPA_PLATFORM="xcb")  # the real X11 window, not offscreen
    command = ["xvfb-run", "-a", "-s", "-screen 0 1280x800x24", sys.executable, "-P", "-m", "segview"]
    proc = run_segview_under(command, "studio", "--source", "demo", "--model", "selfie-general", "--duration", "3", "--screenshot", shot, env=env)
    assert proc.returncode == 0, proc.stderr
    image = cv2.imread(str(shot))
    assert image is not None and image.shape[0] >= 400 and image.shape[1] >= 600
    assert image.std() > 20  # a drawn window, not a blank frame


def run_segview_under(command: list[str], *args, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([*command, *map(str, args)], capture_output=True, text=True, timeout=180, env=dict(env, PYTHONUNBUFFERED="1"))


def test_readme_set_up_names_every_package_the_studio_needs():
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    set_up = readme[readme.index("## Set up") :].split("\n## ", 1)[0]
    words = set(set_up.replace("\\", " ").split())
    assert [p for p in debian_packages() if p not in words] == []
    assert {"xvfb", "xauth"} <= words
