"""What the studio needs before Qt starts: valid arguments, a display, the system libraries Qt loads.

Qt reports none of these well: without a display, or without one of the X11 libraries
its xcb platform plugin links to, it aborts the process (exit 134) with a message that
often names the wrong library, and it does so before segview has looked at ``--source``.
So the studio checks, in order and without importing Qt: its arguments (source grammar,
model names), the libraries every Qt GUI loads, a display (Linux), the xcb plugin's
libraries, and that the X server answers. Each failure is one :class:`StartupError`.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import sys
from collections.abc import Callable, Mapping

from segview.errors import ModelError, StartupError  # StartupError: tests import it from here too

# Shared libraries (soname -> Debian/Ubuntu package) that PySide6's wheels link to but do
# not ship: QtGui's (any platform, offscreen too), then the xcb platform plugin's.
GUI_LIBRARIES = {
    "libEGL.so.1": "libegl1",
    "libGL.so.1": "libgl1",
    "libfontconfig.so.1": "libfontconfig1",
    "libfreetype.so.6": "libfreetype6",
    "libX11.so.6": "libx11-6",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libglib-2.0.so.0": "libglib2.0-0",
    "libgthread-2.0.so.0": "libglib2.0-0",
}
XCB_LIBRARIES = {
    "libxcb.so.1": "libxcb1",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-render.so.0": "libxcb-render0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-shm.so.0": "libxcb-shm0",
    "libxcb-sync.so.1": "libxcb-sync1",
    "libxcb-util.so.1": "libxcb-util1",
    "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
}
# Qt platforms that draw without a display server.
HEADLESS_PLATFORMS = frozenset({"offscreen", "minimal", "minimalegl", "vnc", "linuxfb", "eglfs", "vkkhrdisplay"})
NO_DISPLAY = "no display: run under xvfb-run, or set QT_QPA_PLATFORM=offscreen for scripted runs"

LibraryLoader = Callable[[str], bool]


def check_studio_start(
    args: argparse.Namespace, *, environ: Mapping[str, str] = os.environ, platform: str = sys.platform, load: LibraryLoader | None = None
) -> None:
    """Raise the first reason the studio cannot start (arguments first), before anything imports Qt."""
    check_arguments(args)
    if not platform.startswith("linux"):
        return  # PyPI's wheels carry what Qt needs on macOS and Windows
    load = load or can_load
    check_libraries(GUI_LIBRARIES, load)
    check_display(environ, load)


def check_display(environ: Mapping[str, str], load: LibraryLoader) -> None:
    """The first platform Qt will try that can work here must have its display (and, for xcb, its libraries)."""
    display, wayland = environ.get("DISPLAY", ""), environ.get("WAYLAND_DISPLAY", "")
    # Unset: Qt takes Wayland in a Wayland session, else X11.
    for platform in qt_platforms(environ) or (["wayland", "xcb"] if wayland else ["xcb"]):
        if platform == "xcb" and display:
            check_libraries(XCB_LIBRARIES, load)
            check_x_server(display)
            return
        if platform in HEADLESS_PLATFORMS or (platform == "wayland" and wayland) or platform not in ("xcb", "wayland"):
            return  # drawing without a display, a Wayland compositor, or a platform plugin not ours to judge
    raise StartupError(NO_DISPLAY)


def check_arguments(args: argparse.Namespace) -> None:
    """The source's grammar and the models' names: what can be judged without opening anything."""
    from segview.sources.spec import parse_source

    if getattr(args, "source", None) is not None:
        parse_source(args.source)
    models = getattr(args, "models", None) or []
    if models:
        from segview.cli.options import refuse_twin_models
        from segview.fileio import user_path
        from segview.inference.registry import ModelRegistry

        registry = ModelRegistry()
        for reference in models:
            # An existing file is described (and judged) when the window loads it; the rest fail here.
            if reference not in registry.names() and not user_path(reference, "model", ModelError).exists():
                registry.resolve(reference)
        refuse_twin_models(registry, models)


def qt_platforms(environ: Mapping[str, str]) -> list[str]:
    """QT_QPA_PLATFORM's platform names, in Qt's order of trying ("wayland;xcb", "vnc:size=800x600")."""
    return [part.split(":", 1)[0].strip().lower() for part in environ.get("QT_QPA_PLATFORM", "").split(";") if part.strip()]


def check_libraries(libraries: Mapping[str, str], load: LibraryLoader) -> None:
    missing = [soname for soname in libraries if not load(soname)]
    if missing:
        packages = " ".join(dict.fromkeys(libraries[s] for s in missing))
        raise StartupError(
            f"the studio window needs system libraries that are missing ({', '.join(missing)}); on Debian/Ubuntu: sudo apt-get install {packages}"
        )


def debian_packages(*, load: LibraryLoader | None = None) -> list[str]:
    """The Debian/Ubuntu packages of every library the studio window needs; with ``load``, only those it cannot find
    (.ci/run installs these; README's set-up lists them all)."""
    libraries = {**GUI_LIBRARIES, **XCB_LIBRARIES}
    return list(dict.fromkeys(package for soname, package in libraries.items() if load is None or not load(soname)))


def can_load(soname: str) -> bool:
    """Whether the dynamic loader finds the library, as Qt's loader would (same search path)."""
    try:
        ctypes.CDLL(soname)
    except OSError:
        return False
    return True


def check_x_server(display: str) -> None:
    """Connect to the X server as Qt's xcb plugin will; Qt aborts the process when it cannot."""
    try:
        xcb = ctypes.CDLL("libxcb.so.1")
    except OSError:
        return  # not loadable here: check_libraries has said so, or a test pretends it is there
    xcb.xcb_connect.restype = ctypes.c_void_p
    xcb.xcb_connect.argtypes = [ctypes.c_char_p, ctypes.c_void_p]
    xcb.xcb_connection_has_error.argtypes = [ctypes.c_void_p]
    xcb.xcb_disconnect.argtypes = [ctypes.c_void_p]
    connection = xcb.xcb_connect(display.encode(), None)
    try:
        failed = xcb.xcb_connection_has_error(connection) != 0
    finally:
        xcb.xcb_disconnect(connection)  # also frees the error object a failed connect returns
    if failed:
        raise StartupError(f"cannot connect to display {display}: run under xvfb-run, or set QT_QPA_PLATFORM=offscreen for scripted runs")
