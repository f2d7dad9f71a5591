"""The studio's side panel: source, models, overlay and comparison controls. Emits intents, owns no state."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from segview.inference.postprocess import THRESHOLD, THRESHOLD_RANGE
from segview.inference.registry import ModelEntry
from segview.render.overlay import OverlayMode
from segview.ui.user_action import reports_problems


class SourcePicker(QGroupBox):
    source_chosen = Signal(str)
    open_video_requested = Signal()
    open_folder_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Source", parent)
        self.combo = QComboBox()
        self.combo.setToolTip("Where frames come from")
        self.combo.activated.connect(self._on_activated)
        video = QPushButton("Video file…")
        folder = QPushButton("Image folder…")
        video.clicked.connect(self.open_video_requested)
        folder.clicked.connect(self.open_folder_requested)
        buttons = QHBoxLayout()
        buttons.addWidget(video)
        buttons.addWidget(folder)
        layout = QVBoxLayout(self)
        layout.addWidget(self.combo)
        layout.addLayout(buttons)

    def set_sources(self, sources: list[tuple[str, str]], current: str | None) -> None:
        """(label, source name) pairs; the current one is selected, added if missing."""
        self.combo.blockSignals(True)
        self.combo.clear()
        for label, spec in sources:
            self.combo.addItem(label, spec)
        if current and self.combo.findData(current) < 0:
            self.combo.addItem(current, current)
        if current:
            self.combo.setCurrentIndex(self.combo.findData(current))
        self.combo.blockSignals(False)

    @reports_problems("Choosing the source")
    def _on_activated(self, index: int) -> None:
        self.source_chosen.emit(self.combo.itemData(index))


class ModelPicker(QGroupBox):
    selection_changed = Signal(list)
    open_model_requested = Signal()

    def __init__(self, max_models: int, parent: QWidget | None = None) -> None:
        super().__init__("Models", parent)
        self.max_models = max_models
        self.list = QListWidget()
        self.list.setToolTip(f"Tick up to {max_models} models to run side by side")
        self.list.itemChanged.connect(self._on_item_changed)
        self.list.setMinimumHeight(110)
        open_button = QPushButton("Open model file…")
        open_button.clicked.connect(self.open_model_requested)
        layout = QVBoxLayout(self)
        layout.addWidget(self.list)
        layout.addWidget(open_button)

    def set_models(self, entries: list[ModelEntry], checked: list[str]) -> None:
        self.list.blockSignals(True)
        self.list.clear()
        for entry in entries:
            item = QListWidgetItem(entry.name)
            card = entry.card
            item.setToolTip(f"{card.title or entry.name}\n{card.width}x{card.height} {card.layout}, {card.output_kind}\n{entry.path}")
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if entry.name in checked else Qt.CheckState.Unchecked)
            self.list.addItem(item)
        self.list.blockSignals(False)

    def checked(self) -> list[str]:
        return [self.list.item(i).text() for i in range(self.list.count()) if self.list.item(i).checkState() == Qt.CheckState.Checked]

    def set_checked(self, names: list[str]) -> None:
        """Reflect a selection made elsewhere; emits nothing."""
        self.list.blockSignals(True)
        for i in range(self.list.count()):
            item = self.list.item(i)
            item.setCheckState(Qt.CheckState.Checked if item.text() in names else Qt.CheckState.Unchecked)
        self.list.blockSignals(False)

    @reports_problems("Choosing the models")
    def _on_item_changed(self, item: QListWidgetItem) -> None:
        names = self.checked()
        if len(names) > self.max_models:
            self.list.blockSignals(True)
            item.setCheckState(Qt.CheckState.Unchecked)
            self.list.blockSignals(False)
            return
        self.selection_changed.emit(names)


class OverlayControls(QGroupBox):
    mode_changed = Signal(object)
    opacity_changed = Signal(float)
    smoothing_changed = Signal(float)
    threshold_changed = Signal(float)
    background_image_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Overlay", parent)
        self.mode = QComboBox()
        for i, mode in enumerate(OverlayMode, start=1):
            self.mode.addItem(f"{mode.label}  ({i})", mode)
        self.mode.currentIndexChanged.connect(lambda i: self.mode_changed.emit(self.mode.itemData(i)))
        self.opacity = _slider(0, 100, 50)
        self.opacity.valueChanged.connect(lambda v: self.opacity_changed.emit(v / 100))
        self.smoothing = _slider(0, 95, 0)
        self.smoothing.setToolTip("Temporal smoothing of masks: steadier edges, a little lag")
        self.smoothing.valueChanged.connect(lambda v: self.smoothing_changed.emit(v / 100))
        self.threshold = QDoubleSpinBox()
        self.threshold.setRange(*THRESHOLD_RANGE)
        self.threshold.setSingleStep(0.05)
        self.threshold.setDecimals(2)
        self.threshold.setValue(THRESHOLD)
        self.threshold.setToolTip("Mask threshold: a pixel is foreground where the model's probability is above it (binary models; higher = tighter mask)")
        self.threshold.valueChanged.connect(self.threshold_changed)
        background = QPushButton("Background image…")
        background.setToolTip("Image used by 'Replace background' (a plain colour otherwise)")
        background.clicked.connect(self.background_image_requested)
        form = QFormLayout(self)
        form.addRow("Mode", self.mode)
        form.addRow("Opacity", self.opacity)
        form.addRow("Smoothing", self.smoothing)
        form.addRow("Threshold", self.threshold)
        form.addRow(background)

    def set_mode(self, mode: OverlayMode) -> None:
        self.mode.setCurrentIndex(self.mode.findData(mode))


class CompareControls(QGroupBox):
    pair_changed = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Compare two views", parent)
        self.a = QComboBox()
        self.b = QComboBox()
        self.iou = QLabel("IoU –")
        self.iou.setObjectName("iouLabel")
        for combo in (self.a, self.b):
            combo.currentIndexChanged.connect(self._emit)
        form = QFormLayout(self)
        form.addRow("View A", self.a)
        form.addRow("View B", self.b)
        form.addRow(self.iou)

    def set_models(self, names: list[str], tooltips: list[str] | None = None) -> None:
        """The running models by their short names; ``tooltips`` (each model's name and path) show on hover."""
        for combo, default in ((self.a, 0), (self.b, 1)):
            combo.blockSignals(True)
            combo.clear()
            combo.addItem("—", None)
            for i, name in enumerate(names):
                combo.addItem(name, i)
                if tooltips is not None:
                    combo.setItemData(combo.count() - 1, tooltips[i], Qt.ItemDataRole.ToolTipRole)
            combo.setCurrentIndex(default + 1 if len(names) >= 2 else 0)
            combo.blockSignals(False)
        self.setEnabled(len(names) >= 2)
        self._emit()

    def pair(self) -> tuple[int, int] | None:
        a, b = self.a.currentData(), self.b.currentData()
        return (a, b) if a is not None and b is not None and a != b else None

    def _emit(self) -> None:
        self.pair_changed.emit(self.pair())


def _slider(low: int, high: int, value: int) -> QSlider:
    slider = QSlider(Qt.Orientation.Horizontal)
    slider.setRange(low, high)
    slider.setValue(value)
    return slider
