"""Qt test helpers: a studio window to test, and torn down at once; QSettings pointed at a test's own folder."""

from __future__ import annotations

from pathlib import Path


def isolate_qsettings(config_dir: Path, monkeypatch=None) -> None:
    """User-scope QSettings live in ``config_dir`` (as if it were XDG_CONFIG_HOME) from now on.

    Every test gets this from tests/conftest.py's autouse ``isolated_home``; call it only to move
    the store within a test. Both formats: ``QSettings(org, app)`` uses NativeFormat, whose path
    IniFormat's setPath does not change (that gap once let tests write the user's studio.conf).
    """
    from PySide6.QtCore import QSettings

    for fmt in (QSettings.Format.NativeFormat, QSettings.Format.IniFormat):
        QSettings.setPath(fmt, QSettings.Scope.UserScope, str(config_dir))
    if monkeypatch is not None:  # and child processes read the same store
        monkeypatch.setenv("XDG_CONFIG_HOME", str(config_dir))


def make_studio(qtbot, model_dir: Path, *, workers: int):
    """A shown studio window over the models in ``model_dir``, with preferences not saved; close() it after."""
    from segview.inference.registry import ModelRegistry
    from segview.ui.app import Studio, application

    application()
    studio = Studio(workers=workers, persist=False, registry=ModelRegistry([model_dir]))
    qtbot.addWidget(studio.window)
    studio.window.show()
    return studio


def close_studio(studio) -> None:
    """Close the studio and tear its window down now, not in whichever later test Qt next
    processes events in (two full runs once died in a later, non-Qt test's event processing)."""
    import gc

    from PySide6.QtCore import QCoreApplication, QEvent

    dialog = getattr(studio.window, "_distill_dialog", None)
    if dialog is not None:  # a distillation still running in its child process is cancelled first
        dialog.page.shutdown()
    studio.close()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    QCoreApplication.processEvents()
    gc.collect()


def recorded_seconds(folder: Path) -> list[dict]:
    """The per-second lines a recording has written so far (none yet: an empty list)."""
    import json

    from segview.recording.session_file import SECONDS_FILE

    path = Path(folder) / SECONDS_FILE
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.endswith("}")]


def record_seconds(qtbot, studio, folder: Path | None = None, seconds: int = 1, *, timeout_ms: int = 60_000) -> Path:
    """Record (into ``folder``, or the default place) until ``seconds`` whole seconds with frames
    are on disk, then stop; returns the session's folder.

    Waits for what a recording needs rather than for a fixed time: on two busy cores a
    fixed 1.5 s can end before the first frame is shown."""
    started = studio.recording.start(folder)

    def enough() -> bool:
        rows = recorded_seconds(started)
        return len(rows) >= seconds and any(model.get("frames") for row in rows for model in row.get("models", {}).values())

    qtbot.waitUntil(enough, timeout=timeout_ms)
    studio.recording.stop()
    return started
