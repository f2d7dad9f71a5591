"""One recorded session in the studio: its summary and plots, report export, comparison with another (GUI thread).

Reading a session and writing its report run off the GUI thread (see
``background``; the report in a child process, see ``report_child``): the
panel shows a busy bar meanwhile and stays responsive.
"""

from __future__ import annotations

import math
from pathlib import Path

from PySide6.QtCore import QEventLoop, Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from segview.recording.session_file import RecordedSession
from segview.recording.session_list import recorded_at
from segview.recording.session_reader import load_session
from segview.recording.trace_export import TRACE_FILE, write_trace
from segview.ui.background import BackgroundTask, run_in_background
from segview.ui.palette import PROBLEM_STYLE
from segview.ui.report_child import export_report_in_child
from segview.ui.session_compare_view import CompareView, FittedTable, fit_height
from segview.ui.session_plots import SessionPlots

SUMMARY_HEADERS = ["model", "frames", "FPS (frames/s)", "latency p50 (ms)", "latency p95 (ms)", "inference p50 (ms)"]


def fmt(value: float | None, digits: int = 1) -> str:
    """A figure for a table cell; "n/a" when it was never measured."""
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def summary_rows(session: RecordedSession) -> list[list[str]]:
    return [
        [m.model, str(m.frames), fmt(m.fps), fmt(m.latency_ms.p50, 2), fmt(m.latency_ms.p95, 2), fmt(m.inference_ms.p50, 2)] for m in session.summary.models
    ]


def session_problems(session: RecordedSession) -> list[str]:
    notes = [session.summary.problem] if session.summary.problem else []
    return notes + [p for p in session.problems if p not in notes]


def _table(headers: list[str], rows: list[list[str]]) -> QTableWidget:
    table = FittedTable(len(rows), len(headers))
    table.setHorizontalHeaderLabels(headers)
    table.verticalHeader().setVisible(False)
    table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    table.horizontalHeader().setStretchLastSection(True)
    table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
    for r, row in enumerate(rows):
        for c, text in enumerate(row):
            table.setItem(r, c, QTableWidgetItem(text))
    return table


class SessionPanel(QWidget):
    """The summary of one session: what ran, its problems, its model table, its plots, and its report."""

    shown = Signal(object)  # the RecordedSession now in the summary, its plots drawn
    export_finished = Signal(object)  # the report folder
    export_failed = Signal(str)
    trace_finished = Signal(object)  # the trace file
    trace_failed = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session: RecordedSession | None = None
        self.report_folder: Path | None = None
        self.export_task: BackgroundTask | None = None
        self.last_export: Path | None = None  # where the latest export wrote, None if it failed
        self.trace_task: BackgroundTask | None = None
        self.open_url = QDesktopServices.openUrl  # replaced in tests: nothing opens a browser there
        self.head = QLabel("Select a session.")
        self.head.setWordWrap(True)
        self.problems = QLabel("")
        self.problems.setWordWrap(True)
        self.problems.setStyleSheet(PROBLEM_STYLE)
        self.problems.hide()
        self.summary_table = _table(SUMMARY_HEADERS, [])
        self.summary_table.horizontalHeader().setStretchLastSection(False)
        fit_height(self.summary_table, room_for_scroll_bar=False)
        self.plots = SessionPlots()  # built when the first session is shown: the panel opens sooner
        self.plots.drawn.connect(self._plots_drawn)
        self.export_button = QPushButton("Export report")
        self.export_button.setToolTip("Write report.html, report.md and PNG plots into the session's report folder")
        self.export_button.clicked.connect(self.start_export)
        self.open_button = QPushButton("Open report")
        self.open_button.setToolTip("Open report.html in the web browser")
        self.open_button.clicked.connect(self.open_report)
        self.trace_button = QPushButton("Export trace")
        self.trace_button.setToolTip(f"Write {TRACE_FILE}, the session's timeline for ui.perfetto.dev or chrome://tracing, into its folder")
        self.trace_button.clicked.connect(self.start_trace_export)
        self.busy = QProgressBar()
        self.busy.setRange(0, 0)  # no steps to count: a moving bar says "working"
        self.busy.setMaximumWidth(140)
        self.busy.hide()
        self.status = QLabel("")
        self.status.setWordWrap(True)
        actions = QHBoxLayout()
        for control in (self.export_button, self.open_button, self.trace_button, self.busy):
            actions.addWidget(control)
        actions.addWidget(self.status, 1)
        box = QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        for widget in (self.head, self.problems):
            box.addWidget(widget)
        box.addWidget(self.summary_table, 0, Qt.AlignmentFlag.AlignLeft)
        box.addWidget(self.plots, 1)
        box.addLayout(actions)
        self._update_buttons()

    def show_session(self, session: RecordedSession | None) -> None:
        self.session = session
        self.status.setText("")
        if session is None:
            self.head.setText("Select a session.")
            self.problems.hide()
            self.summary_table.setRowCount(0)
            self.plots.show_session(None)
        else:
            self._show(session)
        existing = session.folder / "report" if session is not None else None
        self.report_folder = existing if existing is not None and (existing / "report.html").is_file() else None
        self._update_buttons()

    def _plots_drawn(self) -> None:
        if self.session is not None:
            self.shown.emit(self.session)

    def show_message(self, text: str) -> None:
        """A session that could not be read: say why in place of its summary."""
        self.show_session(None)
        self.head.setText(f"<span style='{PROBLEM_STYLE}'>{text}</span>")

    def _show(self, session: RecordedSession) -> None:
        s = session.summary
        when = recorded_at(session).strftime("%Y-%m-%d %H:%M:%S")
        self.head.setText(
            f"<b>{session.folder}</b><br>recorded {when} · {fmt(s.duration_s)} s on "
            f"{session.machine.get('cpu', '?')}, source {session.settings.get('source') or '?'}"
        )
        notes = session_problems(session)
        self.problems.setText("<br>".join(notes))
        self.problems.setVisible(bool(notes))
        rows = summary_rows(session)
        self.summary_table.setRowCount(len(rows))
        for r, row in enumerate(rows):
            for c, text in enumerate(row):
                self.summary_table.setItem(r, c, QTableWidgetItem(text))
        fit_height(self.summary_table, room_for_scroll_bar=False)
        self.plots.show_session(session)

    def _update_buttons(self) -> None:
        working = self.export_task is not None
        self.export_button.setEnabled(self.session is not None and not working)
        self.open_button.setEnabled(self.report_folder is not None and not working)
        self.trace_button.setEnabled(self.session is not None and self.trace_task is None)
        self.busy.setVisible(working or self.trace_task is not None)

    def start_export(self) -> BackgroundTask | None:
        """Write the report in the background; ``export_finished``/``export_failed`` say how it went."""
        if self.session is None or self.export_task is not None:
            return self.export_task
        folder = self.session.folder
        self.status.setText("Writing the report…")
        self.export_task = run_in_background(lambda: export_report_in_child(folder), self._exported, self._export_failed, owner=self)
        self._update_buttons()
        return self.export_task

    def export(self) -> Path | None:
        """Export and wait for it, the event loop turning meanwhile; the report folder, or None (status says why)."""
        # Not background.wait_for: a task that reports before its wait connects would never end that wait.
        # Our own signals are connected before the export starts, and nothing is delivered until exec().
        loop = QEventLoop()
        self.export_finished.connect(loop.quit)
        self.export_failed.connect(loop.quit)
        try:
            if self.start_export() is None:
                return None
            loop.exec()
        finally:
            self.export_finished.disconnect(loop.quit)
            self.export_failed.disconnect(loop.quit)
        return self.last_export

    def _exported(self, folder: Path) -> None:
        self.export_task = None
        self.last_export = folder
        if self.session is not None and folder.parent == self.session.folder:
            self.report_folder = folder
        self.status.setText(f"Report written to {folder / 'report.html'}")
        self._update_buttons()
        self.export_finished.emit(folder)

    def _export_failed(self, message: str) -> None:
        self.export_task = self.last_export = None
        self.status.setText(f"<span style='{PROBLEM_STYLE}'>Export failed: {message}</span>")
        self._update_buttons()
        self.export_failed.emit(message)

    def start_trace_export(self) -> BackgroundTask | None:
        """Write the session's trace.json in the background (a long session's JSON takes a while); the status says where."""
        if self.session is None or self.trace_task is not None:
            return self.trace_task
        out = self.session.folder / TRACE_FILE
        self.status.setText("Writing the trace…")

        def work() -> Path:
            write_trace(out.parent, out)
            return out

        self.trace_task = run_in_background(work, self._traced, self._trace_failed, owner=self)
        self._update_buttons()
        return self.trace_task

    def _traced(self, out: Path) -> None:
        self.trace_task = None
        self.status.setText(f"Trace written to {out} (open it in ui.perfetto.dev or chrome://tracing)")
        self._update_buttons()
        self.trace_finished.emit(out)

    def _trace_failed(self, message: str) -> None:
        self.trace_task = None
        self.status.setText(f"<span style='{PROBLEM_STYLE}'>Trace export failed: {message}</span>")
        self._update_buttons()
        self.trace_failed.emit(message)

    def open_report(self) -> bool:
        if self.report_folder is None:
            return False
        return bool(self.open_url(QUrl.fromLocalFile(str(self.report_folder / "report.html"))))


class SessionDialog(QDialog):
    """One session's panel, with 'Compare with…' another session folder."""

    def __init__(self, session: RecordedSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Session {session.folder.name}")
        self.resize(1100, 640)
        self.panel = SessionPanel()
        self.panel.show_session(session)
        self.session = session
        self.compare_view = CompareView()
        self.compare_view.caption.setText("Press Compare with… and choose another session folder.")
        self.tabs = QTabWidget()  # the same two views as the Sessions browser
        self.tabs.addTab(self.panel, "Summary")
        self.tabs.addTab(self.compare_view, "Compare")
        compare = QPushButton("Compare with…")
        compare.clicked.connect(self._on_compare)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        buttons.addButton(compare, QDialogButtonBox.ButtonRole.ActionRole)
        box = QVBoxLayout(self)
        box.addWidget(self.tabs, 1)
        box.addWidget(buttons)

    @property
    def summary_table(self) -> QTableWidget:
        return self.panel.summary_table

    @property
    def status(self) -> QLabel:
        return self.panel.status

    @property
    def comparison(self) -> QTableWidget | None:
        return self.compare_view.table

    def export(self) -> Path | None:
        return self.panel.export()

    def compare_with(self, other_folder: Path) -> bool:
        """Read the other session off the GUI thread (the event loop turning meanwhile), then show both."""
        outcome: list[bool] = []
        loop = QEventLoop()  # quit by the callbacks themselves: none can run before exec() (see export)

        def finished(other: RecordedSession) -> None:
            outcome.append(self._compare(other))
            loop.quit()

        def failed(message: str) -> None:
            outcome.append(self._compare_failed(message))
            loop.quit()

        run_in_background(lambda: load_session(other_folder), finished, failed, owner=self)
        loop.exec()
        return outcome == [True]

    def _compare(self, other: RecordedSession) -> bool:
        self.compare_view.show_pair(self.session, other)
        self.tabs.setCurrentWidget(self.compare_view)
        return True

    def _compare_failed(self, message: str) -> bool:
        self.tabs.setCurrentWidget(self.panel)
        self.panel.status.setText(f"<span style='{PROBLEM_STYLE}'>{message}</span>")
        return False

    def _on_compare(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Session to compare with", str(self.session.folder.parent))
        if folder:
            self.compare_with(Path(folder))


def open_session(folder: Path, parent: QWidget | None = None) -> SessionDialog:
    """Raises SegviewError if the folder is not a readable session."""
    return SessionDialog(load_session(folder), parent)
