"""Recorded sessions in the studio: open one, export its report, compare it with another (GUI thread)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from segview.errors import SegviewError
from segview.recording.session_file import RecordedSession, compare_sessions, load_session
from segview.ui.report import export_report


def _fmt(value: float | None, digits: int = 1) -> str:
    return "–" if value is None or value != value else f"{value:.{digits}f}"


def _table(headers: list[str], rows: list[list[str]]) -> QTableWidget:
    table = QTableWidget(len(rows), len(headers))
    table.setHorizontalHeaderLabels(headers)
    table.verticalHeader().setVisible(False)
    table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
    for r, row in enumerate(rows):
        for c, text in enumerate(row):
            table.setItem(r, c, QTableWidgetItem(text))
    return table


class SessionDialog(QDialog):
    """Shows one session's summary; 'Export report' and 'Compare with…' act on it."""

    def __init__(self, session: RecordedSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.report_folder: Path | None = None
        self.comparison: QTableWidget | None = None
        self.setWindowTitle(f"Session {session.folder.name}")
        self.resize(760, 420)
        s = session.summary
        cpu = session.machine.get("cpu", "?")
        head = QLabel(
            f"<b>{session.folder}</b><br>{_fmt(s.duration_s)} s on {cpu}, source {session.settings.get('source', '?')}"
            + ("<br><span style='color:#b00020'>Rebuilt from the rows on disk: the run did not stop cleanly.</span>" if s.reconstructed else "")
            + (f"<br><span style='color:#b00020'>{s.problem}</span>" if s.problem else "")
        )
        head.setWordWrap(True)
        rows = [
            [m.model, str(m.frames), _fmt(m.fps), _fmt(m.latency_ms.p50), _fmt(m.latency_ms.p95), _fmt(m.inference_ms.p50, 2)]
            for m in s.models
        ]
        self.summary_table = _table(["model", "frames", "FPS", "latency p50 ms", "latency p95 ms", "inference p50 ms"], rows)
        export = QPushButton("Export report")
        export.clicked.connect(self._on_export)
        compare = QPushButton("Compare with…")
        compare.clicked.connect(self._on_compare)
        self.status = QLabel("")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        buttons.addButton(export, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.addButton(compare, QDialogButtonBox.ButtonRole.ActionRole)
        self.layout_ = QVBoxLayout(self)
        for widget in (head, self.summary_table, self.status, buttons):
            self.layout_.addWidget(widget)

    def export(self) -> Path | None:
        try:
            self.report_folder = export_report(self.session.folder)
        except SegviewError as exc:
            self.status.setText(f"Export failed: {exc}")
            return None
        self.status.setText(f"Report written to {self.report_folder / 'report.html'}")
        return self.report_folder

    def compare_with(self, other_folder: Path) -> bool:
        try:
            rows = compare_sessions(self.session, load_session(other_folder))
        except SegviewError as exc:
            self.status.setText(str(exc))
            return False
        table_rows = [
            [r.model, _fmt(r.fps_a), _fmt(r.fps_b), _fmt(r.fps_ratio, 2) + "x", _fmt(r.latency_p50_a), _fmt(r.latency_p50_b), _fmt(r.latency_p50_ratio, 2) + "x"]
            for r in rows
        ]
        if self.comparison is not None:
            self.comparison.setParent(None)
        self.comparison = _table(
            ["model", f"FPS {self.session.folder.name}", f"FPS {other_folder.name}", "FPS ratio", "p50 ms A", "p50 ms B", "p50 ratio"],
            table_rows,
        )
        self.layout_.insertWidget(2, QLabel(f"Compared with {other_folder} (ratios are B / A)"))
        self.layout_.insertWidget(3, self.comparison)
        return True

    def _on_export(self) -> None:
        self.export()

    def _on_compare(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Session to compare with", str(self.session.folder.parent))
        if folder:
            self.compare_with(Path(folder))


def open_session(folder: Path, parent: QWidget | None = None) -> SessionDialog:
    """Raises SegviewError if the folder is not a readable session."""
    return SessionDialog(load_session(folder), parent)
