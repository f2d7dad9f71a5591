"""Qt test helpers: each test gets its own QSettings store, so remembered choices never leak."""

from __future__ import annotations

from pathlib import Path


def isolate_qsettings(folder: Path, monkeypatch) -> None:
    from PySide6.QtCore import QSettings

    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(folder))
    monkeypatch.setenv("HOME", str(folder))
