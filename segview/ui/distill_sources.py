"""The Distill page's pool: training sources as a list (image folders, videos, live sources,
recordings), backgrounds and a count of synthetic composites, an unseen selection pool, and
how often both validation figures are scored. Builds the DataConfig / SelectConfig pieces."""

from __future__ import annotations

from functools import partial
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

# kind -> (button text, what the list shows before the value)
KINDS = {
    "images": ("Images folder…", "images"),
    "video": ("Video…", "video"),
    "source": ("Live source…", "live"),
    "recording": ("Recording…", "recording"),
}
VIDEO_FILTER = "Videos (*.mp4 *.mkv *.avi *.mov *.webm);;All files (*)"


class SourceList(QWidget):
    """A list of (kind, value) entries with one add button per kind and a Remove button."""

    def __init__(self, kinds: tuple[str, ...], rows: int = 3, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.kinds = kinds
        self.list = QListWidget()
        self.list.setSelectionMode(QListWidget.SelectionMode.ExtendedSelection)
        # A few rows, not a stretch: the plots below need the height.
        self.list.setFixedHeight(self.list.fontMetrics().lineSpacing() * rows + 12)
        buttons = QVBoxLayout()
        buttons.setSpacing(2)
        # One "Add" button (a menu when there are several kinds), so the list sets the row's height.
        self.add_button = QPushButton("Add…" if len(kinds) > 1 else KINDS[kinds[0]][0].replace("…", "") + "…")
        self.add_button.setMinimumWidth(130)
        if len(kinds) > 1:
            menu = QMenu(self.add_button)
            for kind in kinds:
                menu.addAction(KINDS[kind][0], partial(self.browse, kind))
            self.add_button.setMenu(menu)
        else:
            self.add_button.clicked.connect(lambda: self.browse(kinds[0]))
        buttons.addWidget(self.add_button)
        self.remove_button = QPushButton("Remove")
        self.remove_button.clicked.connect(self.remove_selected)
        buttons.addWidget(self.remove_button)
        buttons.addStretch(1)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.list, 1)
        row.addLayout(buttons)

    def add(self, kind: str, value: str | Path) -> None:
        if kind not in self.kinds:
            raise ValueError(f"this list takes {', '.join(self.kinds)}, not {kind}")
        text = str(value).strip()
        if not text or (kind, text) in self.entries():
            return
        item = QListWidgetItem(f"{KINDS[kind][1]}: {text}")
        item.setData(Qt.ItemDataRole.UserRole, (kind, text))
        item.setToolTip(text)
        self.list.addItem(item)

    def entries(self) -> list[tuple[str, str]]:
        return [self.list.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.list.count())]

    def values(self, *kinds: str) -> list[str]:
        return [value for kind, value in self.entries() if kind in kinds]

    def remove_selected(self) -> None:
        for item in self.list.selectedItems():
            self.list.takeItem(self.list.row(item))

    def clear(self) -> None:
        self.list.clear()

    def browse(self, kind: str) -> None:
        if kind in ("images", "recording"):
            title = "A folder of frames" if kind == "images" else "A recorded session folder"
            value = QFileDialog.getExistingDirectory(self, title, str(Path.home()))
        elif kind == "video":
            value, _ = QFileDialog.getOpenFileName(self, "A video", str(Path.home()), VIDEO_FILTER)
        else:
            value, ok = QInputDialog.getText(self, "A live source", "Source (camera:0, adb, a stream URL):", text="camera:0")
            value = value if ok else ""
        if value:
            self.add(kind, value)


class PoolForm(QWidget):
    """The pool's widgets in one form; the page reads them back with the accessors below."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.sources = SourceList(("images", "video", "source", "recording"), rows=4)
        self.backgrounds = SourceList(("images",), rows=2)
        self.composites_spin = QSpinBox()
        self.composites_spin.setMaximumWidth(140)
        self.composites_spin.setRange(0, 100_000)
        self.composites_spin.setSpecialValueText("none")
        self.composites_spin.setToolTip("synthetic frames: people cut out of the pool with the teacher's masks, pasted over the backgrounds")
        self.selection = SourceList(("images", "video"), rows=2)
        self.selection.setToolTip("frames the run never trains on: the checkpoint that agrees best with the teacher on them is exported")
        self.validate_spin = QDoubleSpinBox()
        self.validate_spin.setRange(0.0, 24 * 3600)
        self.validate_spin.setValue(30.0)
        self.validate_spin.setSuffix(" s")
        self.validate_spin.setMaximumWidth(140)
        self.validate_spin.setToolTip("score the labelled IoU and the unseen-pool agreement this often (and at the end)")
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        form.addRow("Sources", self.sources)
        form.addRow("Backgrounds", self.backgrounds)
        form.addRow("Composites", _with_note(self.composites_spin, "synthetic frames: people from the pool pasted over the backgrounds"))
        form.addRow("Selection pool", self.selection)
        form.addRow("Validate every", _with_note(self.validate_spin, "labelled IoU and agreement with the teacher on the selection pool"))

    def data_settings(self) -> dict:
        """The DataConfig fields this form sets."""
        return {
            "images": tuple(Path(v).expanduser() for v in self.sources.values("images")),
            "videos": tuple(self.sources.values("video", "source")),
            "recordings": tuple(Path(v).expanduser() for v in self.sources.values("recording")),
            "composites": self.composites_spin.value(),
            "backgrounds": tuple(Path(v).expanduser() for v in self.backgrounds.values("images")),
        }

    def select_settings(self) -> dict:
        """The SelectConfig fields this form sets."""
        return {"images": tuple(Path(v).expanduser() for v in self.selection.values("images")), "videos": tuple(self.selection.values("video"))}


def _with_note(widget: QWidget, note: str) -> QWidget:
    box = QWidget()
    row = QHBoxLayout(box)
    row.setContentsMargins(0, 0, 0, 0)
    row.addWidget(widget)
    label = QLabel(note)
    label.setStyleSheet("color: #5f6670")
    row.addWidget(label, 1)
    return box
