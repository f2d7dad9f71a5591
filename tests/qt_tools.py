"""Qt test helpers: each test gets its own QSettings store, so remembered choices never leak."""

from __future__ import annotations

from pathlib import Path


def isolate_qsettings(folder: Path, monkeypatch) -> None:
    from PySide6.QtCore import QSettings

    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(folder))
    monkeypatch.setenv("HOME", str(folder))


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

    studio.close()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    QCoreApplication.processEvents()
    gc.collect()
