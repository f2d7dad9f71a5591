"""The Sessions dialog: every recorded session in a folder, newest first; the selected one's summary; two compared.

Listing and reading run off the GUI thread (``background``); a session that
cannot be read is listed with its problem and does not stop the others.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from segview.recording.session_file import RecordedSession
from segview.recording.session_list import SessionEntry, list_sessions, looks_like_session, recorded_at
from segview.recording.session_reader import load_session
from segview.ui.background import run_in_background
from segview.ui.session_compare_view import CompareView
from segview.ui.sessions_dialog import SessionPanel, fmt

LIST_HEADERS = ["recorded", "source", "models", "duration (s)", "FPS per model (frames/s)", "problems"]
FOLDER_ROLE = Qt.ItemDataRole.UserRole
SORT_ROLE = Qt.ItemDataRole.UserRole + 1


class _SortableItem(QTableWidgetItem):
    """Sorts by the value stored under SORT_ROLE (a date, a number) rather than by its text."""

    def __lt__(self, other: QTableWidgetItem) -> bool:
        mine, theirs = self.data(SORT_ROLE), other.data(SORT_ROLE)
        if mine is None or theirs is None:
            return (mine is None, self.text()) < (theirs is None, other.text())
        return mine < theirs


def _item(text: str, sort_key: Any = None, tooltip: str | None = None) -> QTableWidgetItem:
    item = _SortableItem(text)
    item.setData(SORT_ROLE, sort_key if sort_key is not None else text.lower())
    if tooltip:
        item.setToolTip(tooltip)
    return item


def entry_cells(entry: SessionEntry) -> list[QTableWidgetItem]:
    """The list's cells for one session, in LIST_HEADERS order."""
    when = entry.recorded_at.strftime("%Y-%m-%d %H:%M:%S")
    fps = "  ".join(f"{name} {fmt(value)}" for name, value in entry.fps.items())
    problems = "; ".join(entry.problems)
    cells = [
        _item(when, entry.recorded_at.timestamp(), str(entry.folder)),
        _item(entry.source or "?"),
        _item(", ".join(entry.models) or "–"),
        _item(fmt(entry.duration_s), entry.duration_s if entry.duration_s is not None else -1.0),
        _item(fps or "–", max((v for v in entry.fps.values() if v is not None), default=-1.0)),
        _item(problems or "none", len(entry.problems), "\n".join(entry.problems) or None),
    ]
    cells[3].setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    if entry.problems:
        colour = QColor("#b00020") if not entry.readable else QColor("#9a5b00")
        cells[5].setForeground(QBrush(colour))
    for cell in cells:
        cell.setData(FOLDER_ROLE, str(entry.folder))
    return cells


class SessionList(QTableWidget):
    """The sessions of one folder, one row each; sortable by any column, newest first to begin with."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(0, len(LIST_HEADERS), parent)
        self.setHorizontalHeaderLabels(LIST_HEADERS)
        self.verticalHeader().setVisible(False)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        header = self.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.setAlternatingRowColors(True)
        self.setWordWrap(False)  # one line per session; a long problem is elided, its tooltip holds it whole
        self.setMinimumHeight(150)
        self.entries: list[SessionEntry] = []
        # Over the empty table while it has no rows: "Reading the sessions…", or why it has none.
        self.placeholder = QLabel("", self.viewport())
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.placeholder.setWordWrap(True)
        self.placeholder.setStyleSheet("color: #666666; font-size: 11pt")
        self.placeholder.hide()

    def show_placeholder(self, text: str) -> None:
        """``text`` over the table (emptied meanwhile), or no placeholder for an empty ``text``."""
        if text:
            self.set_entries([])
        self.placeholder.setText(text)
        self.placeholder.setGeometry(self.viewport().rect())
        self.placeholder.setVisible(bool(text))

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        self.placeholder.setGeometry(self.viewport().rect())

    def set_entries(self, entries: list[SessionEntry]) -> None:
        self.entries = list(entries)
        self.setSortingEnabled(False)  # rows are placed by index; sorting while filling would move them
        self.setRowCount(len(entries))
        for row, entry in enumerate(entries):
            for col, cell in enumerate(entry_cells(entry)):
                self.setItem(row, col, cell)
        self.setSortingEnabled(True)
        self.sortItems(0, Qt.SortOrder.DescendingOrder)

    def selected_folders(self) -> list[Path]:
        rows = sorted({index.row() for index in self.selectedIndexes()})
        return [folder for folder in map(self._folder_at, rows) if folder is not None]

    def select_folder(self, folder: Path) -> bool:
        for row in range(self.rowCount()):
            if self._folder_at(row) == folder:
                self.selectRow(row)
                return True
        return False

    def _folder_at(self, row: int) -> Path | None:
        # set_entries fills every row; a row without its first cell holds no session.
        item = self.item(row, 0)
        return Path(item.data(FOLDER_ROLE)) if item is not None else None

    def entry(self, folder: Path) -> SessionEntry | None:
        return next((e for e in self.entries if e.folder == folder), None)


class SessionBrowser(QDialog):
    """Browse, read, export and compare the sessions of a folder (by default the one the studio records into)."""

    listed = Signal(int)  # how many sessions the folder holds
    session_shown = Signal(object)  # the RecordedSession now in the summary
    compared = Signal(object, object)  # sessions A and B

    def __init__(self, root: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Sessions")
        self.resize(1240, 700)
        self.root = Path(root)
        self.loaded: dict[Path, RecordedSession] = {}  # read once per opening of a folder
        self._wanted: Path | None = None  # the session the summary waits for (the latest click wins)
        self._listing = 0  # counts the listings started: only the latest one's answer is shown
        self.folder_label = QLabel()
        self.folder_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.open_button = QPushButton("Open folder…")
        self.open_button.setToolTip("List the sessions of another folder (or open one session folder)")
        self.open_button.clicked.connect(self._on_open_folder)
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.clicked.connect(lambda: self.show_folder(self.root))
        self.list = SessionList()
        self.list.itemSelectionChanged.connect(self._on_selection)
        self.compare_button = QPushButton("Compare selected")
        self.compare_button.setToolTip("Select two sessions (Ctrl+click): the earlier one is A, the later B")
        self.compare_button.clicked.connect(self.compare_selected)
        self.compare_button.setEnabled(False)
        self.hint = QLabel("")
        self.panel = SessionPanel()
        self.panel.shown.connect(self._panel_shown)
        self.compare_view = CompareView()
        self.compare_view.shown.connect(self.compared.emit)
        self.tabs = QTabWidget()
        self.tabs.addTab(self.panel, "Summary")
        self.tabs.addTab(self.compare_view, "Compare")
        self._lay_out()
        self.show_folder(self.root)

    def _lay_out(self) -> None:
        top = QHBoxLayout()
        top.addWidget(QLabel("Sessions in"))
        top.addWidget(self.folder_label, 1)
        top.addWidget(self.refresh_button)
        top.addWidget(self.open_button)
        below_list = QHBoxLayout()
        below_list.addWidget(self.hint, 1)
        below_list.addWidget(self.compare_button)
        upper = QWidget()
        upper_box = QVBoxLayout(upper)
        upper_box.setContentsMargins(0, 0, 0, 0)
        upper_box.addWidget(self.list)
        upper_box.addLayout(below_list)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(upper)
        splitter.addWidget(self.tabs)
        splitter.setStretchFactor(0, 2)
        splitter.setStretchFactor(1, 5)
        splitter.setSizes([220, 480])
        box = QVBoxLayout(self)
        box.addLayout(top)
        box.addWidget(splitter, 1)

    # -- listing ----------------------------------------------------------------------

    def show_folder(self, root: Path, select: Path | None = None) -> None:
        """List ``root``'s sessions in the background; ``select`` one of them once listed."""
        self.root = Path(root)
        self.loaded.clear()
        self.folder_label.setText(str(self.root))
        self.hint.setText("")  # the placeholder over the list says it
        self.list.show_placeholder("Reading the sessions…")
        root = self.root
        self._listing += 1
        listing = self._listing  # a listing that a later one overtook is dropped: the later one is filled in
        run_in_background(
            lambda: list_sessions(root),
            self._if_latest(listing, lambda entries: self._listed(entries, select)),
            self._if_latest(listing, self._list_failed),
            owner=self,
        )

    def _if_latest(self, listing: int, then: Callable[[Any], None]) -> Callable[[Any], None]:
        def answer(value: Any) -> None:
            if listing == self._listing:
                then(value)

        return answer

    def _listed(self, entries: list[SessionEntry], select: Path | None) -> None:
        self.list.show_placeholder("" if entries else "No recorded sessions in this folder.")
        self.list.set_entries(entries)
        self.hint.setText(
            f"{len(entries)} session(s); select one for its summary, two to compare."
            if entries
            else "No recorded sessions here yet: record one with Ctrl+R, or open another folder."
        )
        if entries:
            self.list.select_folder(select) if select is not None else self.list.selectRow(0)
        self.listed.emit(len(entries))

    def _list_failed(self, message: str) -> None:
        self.list.show_placeholder(message)
        self.hint.setText(message)
        self.listed.emit(0)

    def _on_open_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder of recorded sessions", str(self.root))
        if folder:
            self.open_folder(Path(folder))

    def open_folder(self, folder: Path) -> None:
        """A folder of sessions is listed; a session folder is shown among its neighbours."""
        if looks_like_session(folder):
            self.show_folder(folder.parent, select=folder)
        else:
            self.show_folder(folder)

    # -- one session -------------------------------------------------------------------

    def _on_selection(self) -> None:
        folders = self.list.selected_folders()
        self.compare_button.setEnabled(len(folders) == 2)
        if len(folders) == 1:
            self.tabs.setCurrentWidget(self.panel)
            self.show_session(folders[0])

    def show_session(self, folder: Path) -> None:
        self._wanted = folder
        entry = self.list.entry(folder)
        if entry is not None and not entry.readable:
            self.panel.show_message("; ".join(entry.problems))
            return
        self._with_session(folder, self._show_loaded)

    def _show_loaded(self, session: RecordedSession) -> None:
        if session.folder != self._wanted:
            return  # the user has moved on to another row meanwhile
        self.panel.show_session(session)  # its plots are drawn on later turns: session_shown follows them

    def _panel_shown(self, session: RecordedSession) -> None:
        if session.folder == self._wanted:
            self.session_shown.emit(session)

    def _with_session(self, folder: Path, then) -> None:
        if folder in self.loaded:
            then(self.loaded[folder])
            return

        def loaded(session: RecordedSession) -> None:
            self.loaded[folder] = session
            then(session)

        run_in_background(lambda: load_session(folder), loaded, self.panel.show_message, owner=self)

    # -- two sessions ------------------------------------------------------------------

    def compare_selected(self) -> bool:
        folders = self.list.selected_folders()
        if len(folders) != 2:
            return False
        a, b = folders
        self._with_session(a, lambda sa: self._with_session(b, lambda sb: self._compare(sa, sb)))
        return True

    def _compare(self, a: RecordedSession, b: RecordedSession) -> None:
        # The earlier run is the baseline: "B / A above 1" then reads "the later run is faster".
        if recorded_at(b) < recorded_at(a):
            a, b = b, a
        self.compare_view.show_pair(a, b)  # compared follows once its plots are drawn
        self.tabs.setCurrentWidget(self.compare_view)
