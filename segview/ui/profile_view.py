"""The studio's Profile view: where a running model's time goes, operator by operator, and how a second model differs.

GUI thread only. The profile itself (onnxruntime's profiler, :mod:`segview.profiling`)
runs on a worker thread through :class:`ProfileRunner`, with the studio's models
paused meanwhile so that neither disturbs the other's figures; the view says so.
One model: its slowest operators and its op types as bar charts, and the overhead
line. Two: each one's charts on its own tab and, on the diff tab, the time each node
and op type gained (blue) or lost (vermillion) from the first to the second.
"""

from __future__ import annotations

import html

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from segview.ui.palette import PROBLEM_STYLE
from segview.ui.profile_charts import TOP_NODES, BarChart, OpTypeColours, delta_bars, node_bars, op_type_bars
from segview.ui.profile_runner import ProfileOutcome, ProfileRequest, ProfileRunner

NONE = "— (one model)"
DEFAULT_RUNS = 50
DEFAULT_WARMUP = 10


def overhead_line(profile) -> str:
    """What the figures leave out and what the profiler costs, in one line."""
    text = (
        f"{profile.model}: {profile.wall_median_ms:.3f} ms a profiled run (median of {profile.runs}), the nodes account for "
        f"{profile.node_sum_median_ms:.3f} ms; the other {profile.overhead():.0%} is onnxruntime's own work between kernels."
    )
    cost = profile.profiling_cost()
    if cost is not None:
        effect = f"the profiler adds {cost:.0%}" if cost >= 0 else f"profiled runs were {-cost:.0%} faster: the machine's noise"
        text += f" Without the profiler a run takes {profile.unprofiled_median_ms:.3f} ms ({effect})."
    return text


def diff_line(diff, base, other) -> str:
    ratio = other.unprofiled_median_ms / base.unprofiled_median_ms if base.unprofiled_median_ms and other.unprofiled_median_ms else None
    verdict = (
        ""
        if ratio is None
        else f"; {other.model} runs at {1 / ratio:.2f}x the speed of {base.model} (plain runs, {base.unprofiled_median_ms:.3f} → {other.unprofiled_median_ms:.3f} ms)"
    )
    slower = sum(1 for r in diff.matched_rows() if r.delta_ms > 0)
    return (
        f"{other.model} against {base.model}: {len(diff.matched_rows())} nodes matched, {slower} of them slower{verdict}. "
        "Blue: faster in the second model; vermillion: slower."
    )


class ProfileTab(QWidget):
    """One model's profile: its slowest nodes and its op types, side by side."""

    def __init__(self, colours: OpTypeColours) -> None:
        super().__init__()
        self.colours = colours
        self.nodes_chart, self.types_chart, split = _node_and_type_charts()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 0)
        layout.addWidget(split)

    def show_profile(self, profile) -> None:
        for op_type, *_ in profile.by_op_type():
            self.colours(op_type)  # the costliest op types get the distinct colours, the rest share grey
        shown = min(TOP_NODES, len(profile.nodes))
        self.nodes_chart.set_title(f"Top {shown} of {len(profile.nodes)} operators, median ms · share of the run")
        self.nodes_chart.set_bars(node_bars(profile, self.colours))
        self.types_chart.set_title(f"By op type ({profile.threads} thread{'s' if profile.threads != 1 else ''})")
        self.types_chart.set_bars(op_type_bars(profile, self.colours))


def _node_and_type_charts() -> tuple[BarChart, BarChart, QSplitter]:
    """Per-node bars beside per-op-type bars, the nodes given the wider share."""
    nodes, types = BarChart(), BarChart(axis_width=170)
    split = QSplitter()
    split.addWidget(nodes)
    split.addWidget(types)
    split.setStretchFactor(0, 3)
    split.setStretchFactor(1, 2)
    return nodes, types, split


class DiffTab(QWidget):
    """Two models' difference: per node (matched by the source graph's node) and per op type."""

    def __init__(self) -> None:
        super().__init__()
        self.summary = QLabel("")
        self.summary.setWordWrap(True)
        self.nodes_chart, self.types_chart, split = _node_and_type_charts()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 0)
        layout.addWidget(self.summary)
        layout.addWidget(split, 1)

    def show_diff(self, diff, base, other) -> None:
        self.summary.setText(diff_line(diff, base, other))
        rows = [(f"{r.key} ({r.op_type})", r.base_ms, r.other_ms, r.delta_ms) for r in diff.rows]
        self.nodes_chart.set_title(f"Largest changes of {len(diff.rows)} nodes, ms ({base.model} → {other.model})")
        self.nodes_chart.set_bars(delta_bars(rows), diverging=True)
        types = [(f"{t.op_type} ×{t.base_count}→{t.other_count}", t.base_ms, t.other_ms, t.delta_ms) for t in diff.op_types]
        self.types_chart.set_title("By op type (int8 kernels counted as their float op)")
        self.types_chart.set_bars(delta_bars(types), diverging=True)


class ProfileView(QDialog):
    """Profile one of the studio's models, or two and their diff. ``shown`` holds the outcome drawn last."""

    def __init__(self, window, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Profile")
        self.resize(1240, 680)
        self.window_ref = window
        self.registry = window.registry
        self.runner = ProfileRunner(window.engine, window)
        self.runner.progressed.connect(self._on_progress)
        self.runner.finished.connect(self._on_finished)
        self.runner.failed.connect(self._on_failed)
        self.runner.cancelled.connect(self._on_cancelled)
        self.shown: ProfileOutcome | None = None
        self.colours = OpTypeColours()
        self._build()
        self.refresh_models()

    def _build(self) -> None:
        self.model_a, self.model_b = QComboBox(), QComboBox()
        self.threads, self.runs = QSpinBox(), QSpinBox()
        self.threads.setRange(1, 64)
        self.runs.setRange(1, 10_000)
        self.runs.setValue(DEFAULT_RUNS)
        self.profile_button = QPushButton("Profile")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.profile_button.clicked.connect(lambda: self.profile())
        self.cancel_button.clicked.connect(self.runner.cancel)
        row = QHBoxLayout()
        for label, widget in (("Model", self.model_a), ("against", self.model_b), ("threads", self.threads), ("runs", self.runs)):
            row.addWidget(QLabel(label))
            row.addWidget(widget, 2 if isinstance(widget, QComboBox) else 0)
        row.addWidget(self.profile_button)
        row.addWidget(self.cancel_button)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1)
        self.progress.setTextVisible(False)
        self.progress.setMaximumHeight(8)
        self.status = QLabel("Pick a model and press Profile: onnxruntime's profiler times each operator on the studio's frames.")
        self.status.setWordWrap(True)
        self.pause_note = QLabel("")
        self.overhead = QLabel("")
        self.overhead.setWordWrap(True)
        self.tabs = QTabWidget()
        self.tab_a, self.tab_b, self.diff_tab = ProfileTab(self.colours), ProfileTab(self.colours), DiffTab()
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addWidget(self.pause_note)
        layout.addWidget(self.overhead)
        layout.addWidget(self.tabs, 1)

    def refresh_models(self) -> None:
        """The studio's running models first (the first one chosen), then the registry's others."""
        running = [e.name for e in self.window_ref.engine.models]
        others = [n for n in self.registry.names() if n not in running]
        for combo, first in ((self.model_a, []), (self.model_b, [NONE])):
            current = combo.currentText()
            combo.clear()
            combo.addItems([*first, *running, *others])
            if current and combo.findText(current) >= 0:
                combo.setCurrentIndex(combo.findText(current))

    def profile(self, model: str | None = None, other: str | None = None) -> bool:
        """Start profiling ``model`` (default: the chosen one) and, if given, ``other`` to diff against it."""
        if model is not None:
            self.model_a.setCurrentText(model)
        if other is not None:
            self.model_b.setCurrentText(other)
        names = [self.model_a.currentText()] + ([self.model_b.currentText()] if self.model_b.currentText() not in ("", NONE) else [])
        try:
            entries = tuple(self.registry.resolve(n) for n in names if n)
        except Exception as exc:  # noqa: BLE001 - a model that vanished or cannot be read: said here
            self._show_problem(str(exc))
            return False
        if not entries:
            self._show_problem("pick a model to profile")
            return False
        request = ProfileRequest(entries, threads=self.threads.value(), runs=self.runs.value(), warmup=min(DEFAULT_WARMUP, self.runs.value()))
        if not self.runner.start(request):
            return False
        self._set_busy(True)
        return True

    # -- the runner's answers ------------------------------------------------------

    def _on_progress(self, text: str) -> None:
        self.status.setStyleSheet("")
        self.status.setText(text)

    def _on_finished(self, outcome: ProfileOutcome) -> None:
        self._set_busy(False)
        self.shown = outcome
        profiles = outcome.profiles
        self.status.setStyleSheet("")
        self.status.setText(
            f"Profiled on frames from {outcome.frames_from}: {profiles[0].runs} runs of each model after "
            f"{self.runner.last_warmup} warm-up runs, {profiles[0].threads} thread(s)."
        )
        self.pause_note.setText(self._pause_text(outcome))
        self.overhead.setText("<br>".join(html.escape(overhead_line(p), quote=False) for p in profiles))
        self._fill_tabs(outcome)

    def _fill_tabs(self, outcome: ProfileOutcome) -> None:
        while self.tabs.count():
            self.tabs.removeTab(0)
        for tab, profile in zip((self.tab_a, self.tab_b), outcome.profiles, strict=False):  # one profile, or two compared
            tab.show_profile(profile)
            self.tabs.addTab(tab, profile.model if tab is self.tab_a or profile.model != outcome.profiles[0].model else f"{profile.model} (2)")
        if outcome.diff is not None:
            self.diff_tab.show_diff(outcome.diff, *outcome.profiles[:2])
            self.tabs.addTab(self.diff_tab, f"Diff: {outcome.profiles[0].model} → {outcome.profiles[1].model}")
            self.tabs.setCurrentWidget(self.diff_tab)

    @staticmethod
    def _pause_text(outcome: ProfileOutcome) -> str:
        if outcome.paused:
            return "The studio's models were paused while profiling (so neither disturbed the other's figures); they play again now."
        return "The studio was not playing: the profile had the machine to itself."

    def _on_failed(self, message: str) -> None:
        self._set_busy(False)
        self._show_problem(message)

    def _on_cancelled(self) -> None:
        self._set_busy(False)
        self.status.setStyleSheet("")
        self.status.setText("Cancelled: nothing was profiled to the end. The studio plays as before.")

    def _show_problem(self, message: str) -> None:
        self.status.setStyleSheet(PROBLEM_STYLE)
        self.status.setText(f"Cannot profile: {message}")

    def _set_busy(self, busy: bool) -> None:
        self.progress.setRange(0, 0 if busy else 1)  # 0..0: Qt's busy bar
        self.progress.setValue(0)
        self.profile_button.setEnabled(not busy)
        self.cancel_button.setEnabled(busy)
        if busy:
            self.pause_note.setText("")

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        self.runner.cancel()  # the studio plays again once the model being profiled is done
        super().closeEvent(event)
