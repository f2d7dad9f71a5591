"""The Profile view's charts: horizontal bars with their names on the axis and their figures beside them.

GUI thread only. One chart type, :class:`BarChart`, fed rows; the functions below
turn a profile (or a diff of two) into rows: the top operators, the op types, and
the time each node or op type gained or lost. Colours come from palette.py: op
types in Paul Tol's muted set (never a model's colour), a diff's faster bars in
Okabe-Ito blue and slower ones in vermillion, apart for every kind of colour vision.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyqtgraph as pg
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QVBoxLayout, QWidget

from segview.ui.palette import MODEL_COLOURS, NEUTRAL, RGB, SERIES_COLOURS, STAGE_COLOURS

TOP_NODES = 15  # the operators the view draws; a profile's others are summed in its op types
LABEL_CHARS = 40  # longer node names are shortened on the axis (the tooltip of the table holds all)
FASTER: RGB = MODEL_COLOURS[0]  # blue
SLOWER: RGB = MODEL_COLOURS[3]  # vermillion
OP_TYPE_COLOURS: tuple[RGB, ...] = (*STAGE_COLOURS.values(), *SERIES_COLOURS[:2])
BAR_HEIGHT = 0.7
# Room to the right of the longest bar (and the left of the most negative one) for its figures.
TEXT_MARGIN = 0.45
_FONT = QFont()
_FONT.setPointSizeF(8.0)


@dataclass(frozen=True, slots=True)
class Bar:
    label: str  # on the axis
    value: float  # the bar's length (ms; negative for a diff's gains)
    text: str  # beside the bar
    colour: RGB


def short(text: str, limit: int = LABEL_CHARS) -> str:
    """A name that fits the axis: its end kept (a node's last path parts name it best)."""
    return text if len(text) <= limit else "…" + text[-(limit - 1) :]


class OpTypeColours:
    """One colour per op type, the same in every chart of the view (in the order op types are first asked)."""

    def __init__(self) -> None:
        self._given: dict[str, RGB] = {}

    def __call__(self, op_type: str) -> RGB:
        if op_type not in self._given:
            index = len(self._given)
            self._given[op_type] = OP_TYPE_COLOURS[index] if index < len(OP_TYPE_COLOURS) else NEUTRAL
        return self._given[op_type]


class BarChart(QWidget):
    """A titled horizontal bar chart, first row on top; ``bars`` holds what it draws (tests read it)."""

    def __init__(self, title: str = "", *, axis_width: int = 280) -> None:
        super().__init__()
        self.plot = pg.PlotWidget()
        self.plot.setMenuEnabled(False)
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.hideButtons()
        self.plot.showGrid(x=True, y=False, alpha=0.25)
        left = self.plot.getAxis("left")
        left.setWidth(axis_width)
        left.setStyle(tickFont=_FONT)
        self.plot.getAxis("bottom").setStyle(tickFont=_FONT)
        self.plot.getAxis("bottom").enableAutoSIPrefix(False)  # "ms (x0.001)" reads worse than 0.2 ms
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot)
        self.bars: tuple[Bar, ...] = ()
        self._items: list = []
        self.set_title(title)

    def set_title(self, title: str) -> None:
        self.plot.setTitle(f"<span style='font-size:9pt'>{title}</span>" if title else None)

    def set_bars(self, bars: list[Bar], *, unit: str = "ms", diverging: bool = False) -> None:
        """``diverging``: bars either side of zero (a diff); each one's figures then sit on the other side, in its row's empty half."""
        for item in self._items:
            self.plot.removeItem(item)
        self._items = []
        self.bars = tuple(bars)
        self.plot.setLabel("bottom", f"<span style='font-size:8pt'>{unit}</span>")
        count = len(bars)
        ys = [count - 1 - i for i in range(count)]  # the first row on top
        self.plot.getAxis("left").setTicks([[(y, short(b.label)) for y, b in zip(ys, bars, strict=True)]])
        for y, bar in zip(ys, bars, strict=True):
            self._add_bar(y, bar, diverging)
        self._fit_diverging(count) if diverging else self._fit(count)

    def _add_bar(self, y: float, bar: Bar, diverging: bool) -> None:
        x0 = min(0.0, bar.value)
        item = pg.BarGraphItem(x0=[x0], y=[y], width=[abs(bar.value)], height=BAR_HEIGHT, brush=pg.mkBrush(bar.colour), pen=pg.mkPen(None))
        right_of = bar.value >= 0 if not diverging else bar.value < 0
        text = pg.TextItem(bar.text, color=(40, 44, 52), anchor=(0, 0.5) if right_of else (1, 0.5))
        text.setFont(_FONT)
        text.setPos(0.0 if diverging else bar.value, y)
        for it in (item, text):
            self.plot.addItem(it)
            self._items.append(it)

    def _fit(self, count: int) -> None:
        values = [b.value for b in self.bars] or [0.0]
        high, low = max(0.0, *values), min(0.0, *values)
        span = (high - low) or 1.0
        left = low - TEXT_MARGIN * span if low < 0 else 0.0
        right = high + TEXT_MARGIN * span if high > 0 else 0.05 * span
        self.plot.setXRange(left, right, padding=0)
        self.plot.setYRange(-0.6, max(count, 1) - 0.4, padding=0)

    def _fit_diverging(self, count: int) -> None:
        """Zero in the middle: each half holds the longest bar on its side or the figures of the other side's bars."""
        reach = max((abs(b.value) for b in self.bars), default=0.0) or 1.0
        self.plot.setXRange(-1.05 * reach, 1.05 * reach, padding=0)
        self.plot.setYRange(-0.6, max(count, 1) - 0.4, padding=0)


def node_bars(profile, colours: OpTypeColours, limit: int = TOP_NODES) -> list[Bar]:
    """The profile's slowest nodes, slowest first, coloured by op type; named as in the ONNX file where onnxruntime's name derives from one."""
    return [
        Bar(f"{n.graph_node or n.name} ({n.op_type})", n.median_ms, f"{n.median_ms:.3f} ms · {n.share:.0%}", colours(n.op_type)) for n in profile.nodes[:limit]
    ]


def op_type_bars(profile, colours: OpTypeColours) -> list[Bar]:
    """Each op type's summed median, its share of the run and its node count."""
    return [Bar(f"{op_type} ×{count}", ms, f"{ms:.3f} ms · {share:.0%}", colours(op_type)) for op_type, ms, share, count in profile.by_op_type()]


def delta_bars(rows, limit: int = TOP_NODES) -> list[Bar]:
    """Rows of (label, base_ms, other_ms, delta_ms), largest change first: blue where faster, vermillion where slower."""
    bars = []
    for label, base, other, delta in list(rows)[:limit]:
        text = f"{delta:+.3f} ({_ms(base)} → {_ms(other)})"
        bars.append(Bar(label, delta, text, FASTER if delta < 0 else SLOWER))
    return bars


def _ms(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"
