"""The Compress wizard's last page: the job in its own process, with progress, a log, the results and the chart.

The job (:class:`segview.compress.job.CompressionJob`) runs in a child process; a
:class:`segview.ui.background.Worker` on a thread of its own blocks on the job's
updates and pushes each to the page as ``progress``, the last one (how it ended)
as ``finished``. The job's ``on_measuring`` (pause the studio while it times the
models) is asked of the GUI thread through the worker. Cancelling leaves no partial
files. The page says what happened and passes it on: ``finished`` (RunResult),
``failed`` (message), ``cancelled``; ``completeChanged`` after each, so the
wizard's buttons follow.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import QHBoxLayout, QHeaderView, QLabel, QPlainTextEdit, QProgressBar, QPushButton, QTableWidget, QTableWidgetItem, QVBoxLayout

from segview.errors import SegviewError
from segview.ui.background import Worker
from segview.ui.palette import PROBLEM_STYLE
from segview.ui.wizard_page import WizardPage

if TYPE_CHECKING:  # the job's modules load on the steps page's worker thread, not when the wizard opens
    from segview.compress.job import CompressionJob, JobUpdate
    from segview.compress.recipe import Recipe
    from segview.compress.runner import RunResult

CHART_WIDTH = 760


class RunPage(WizardPage):
    finished = Signal(object)
    failed = Signal(str)
    cancelled = Signal()

    def __init__(self) -> None:
        super().__init__()
        self.setTitle("Compressing")
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.log = QPlainTextEdit()
        self.log.setReadOnly(True)
        self.cancel_button = QPushButton("Cancel job")
        self.cancel_button.clicked.connect(self.cancel)
        self.compare_button = QPushButton("Run beside the original")
        self.compare_button.setEnabled(False)
        self.results = QTableWidget(0, 2)
        self.results.setHorizontalHeaderLabels(["", "value"])
        self.results.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.results.verticalHeader().setVisible(False)
        self.chart = QLabel()
        self.chart.setAlignment(Qt.AlignmentFlag.AlignCenter)
        buttons = QHBoxLayout()
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.compare_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addLayout(buttons)
        layout.addWidget(self.log, 1)
        layout.addWidget(self.results, 1)
        layout.addWidget(self.chart)
        self.finished_ok = False
        self.job: CompressionJob | None = None
        self.worker: Worker | None = None  # follows the job while it runs

    def initializePage(self) -> None:  # noqa: N802 - Qt's name
        self.wizard().start_job()

    def isComplete(self) -> bool:  # noqa: N802 - Qt's name
        return self.finished_ok

    @property
    def running(self) -> bool:
        return self.worker is not None and not self.worker.done

    # -- the job -----------------------------------------------------------------

    def reset(self) -> None:
        self.finished_ok = False
        self.log.clear()
        self.results.setRowCount(0)
        self.chart.clear()
        self.compare_button.setEnabled(False)

    def start(self, recipe: Recipe, on_measuring: Callable[[bool], str]) -> bool:
        """Start the job in its own process; ``on_measuring`` pauses the studio while it times the models."""
        from segview.compress.job import NO_ANSWER, QUIET_ANSWER_S, CompressionJob

        worker = Worker(lambda w: follow(job, w), own_thread=True)  # minutes long: not on the shared pool

        def on_gui_thread(measuring: bool) -> str:
            # Called where the job is read (the worker's thread); the studio is paused from the GUI thread. The
            # child waits as long for the answer, then measures anyway.
            return worker.ask(lambda: on_measuring(measuring), QUIET_ANSWER_S, NO_ANSWER if measuring else "")

        try:
            job = CompressionJob(recipe, on_measuring=on_gui_thread)
            job.start()
        except SegviewError as exc:
            self.fail(str(exc))
            return False
        worker.on_cancel = job.cancel
        worker.progress.connect(self._apply)
        worker.finished.connect(self._apply)
        worker.failed.connect(self.fail)
        self.job, self.worker = job, worker.start()
        self.cancel_button.setEnabled(True)
        self.status.setText(f"Compressing {recipe.model}: {' + '.join(s.name for s in recipe.steps)}")
        return True

    def cancel(self) -> None:
        if self.running and self.worker is not None:
            self.worker.cancel()  # its hook tells the job
            self.status.setText("Cancelling…")

    def stop(self) -> None:
        """Stop a running job at once (the wizard closes); the job removes its partial files."""
        worker = self.worker
        if worker is None or worker.done or self.job is None:
            return
        # The page stops listening: a closing wizard ends its job quietly. The worker still reads the job
        # to its end, and still asks the GUI thread to resume the studio if it was paused for a measurement.
        self.worker = None
        for signal, slot in ((worker.progress, self._apply), (worker.finished, self._apply), (worker.failed, self.fail)):
            signal.disconnect(slot)
        self.job.close()

    def _apply(self, update: JobUpdate) -> None:
        if update.kind == "progress":
            self.progress.setValue(int(update.fraction * 1000))
            self.status.setText(update.message)
        elif update.kind in ("log", "measuring"):
            self.log.appendPlainText(update.message)
        elif update.kind == "finished" and update.result is not None:
            self._finish(update.result)
        elif update.kind == "failed":
            self.fail(update.message)
        elif update.kind == "cancelled":
            self.cancel_button.setEnabled(False)
            self.status.setText("Cancelled: nothing was written.")
            self.log.appendPlainText(update.message)
            self.completeChanged.emit()
            self.cancelled.emit()

    def _finish(self, result: RunResult) -> None:
        self.progress.setValue(1000)
        self.cancel_button.setEnabled(False)
        self.show_result(result)
        for line in result.report.summary_lines():
            self.log.appendPlainText(line)
        self.finished_ok = True
        self.completeChanged.emit()
        self.finished.emit(result)

    def fail(self, message: str) -> None:
        self.cancel_button.setEnabled(False)
        self.status.setText(f"<span style='{PROBLEM_STYLE}'>Failed: {message}</span>")
        self.log.appendPlainText(f"failed: {message}")
        if self.job is not None and self.job.traceback:
            self.log.appendPlainText(self.job.traceback)
        self.completeChanged.emit()  # Back is open again: the fields are as they were, to fix and run again
        self.failed.emit(message)

    # -- the result --------------------------------------------------------------

    def show_result(self, result: RunResult) -> None:
        rows = result_rows(result)
        self.results.setRowCount(len(rows))
        for i, (key, value) in enumerate(rows):
            self.results.setItem(i, 0, QTableWidgetItem(key))
            self.results.setItem(i, 1, QTableWidgetItem(value))
        pixmap = QPixmap(str(result.chart_path))
        if not pixmap.isNull():
            self.chart.setPixmap(pixmap.scaledToWidth(CHART_WIDTH, Qt.TransformationMode.SmoothTransformation))


def follow(job: CompressionJob, worker: Worker) -> JobUpdate:
    """The worker's work (its own thread): each update of the job as ``progress``, the last one (how it ended) as the answer."""
    for update in job.updates():
        if update.ends:
            return update
        worker.report(update)
    raise SegviewError(f"the compression job stopped without an end ({job.state})")


def result_rows(result: RunResult) -> list[tuple[str, str]]:
    """The results table: size, latency per thread count, what ran beside, and the IoUs."""
    r = result.report
    rows = [
        ("model", r.name),
        ("file", f"{r.file_bytes / 1024:.1f} KiB ({r.size_ratio:.0%} of the source)"),
        ("zip", f"{r.zip_bytes / 1024:.1f} KiB ({r.zip_ratio:.0%} of the source file)"),
    ]
    for lat in r.latency:
        threads = "default threads" if lat.threads == 0 else f"{lat.threads} thread(s)"
        rows.append((f"latency, {threads}", f"{lat.result_ms:.3f} ms vs {lat.source_ms:.3f} ms: {lat.speedup:.2f}x"))
    besides = sorted({lat.beside for lat in r.latency if lat.beside})
    if besides:
        rows.append(("measured beside", "; ".join(besides)))
    if r.agreement_iou is not None:
        rows.append(("IoU vs source masks", f"{r.agreement_iou:.4f} ({r.agreement_frames} {r.agreement_on})"))
    if r.ground_truth is not None:
        gt = r.ground_truth
        rows.append(("IoU vs ground truth", f"{gt.iou:.4f} (source {gt.source_iou:.4f}, {-gt.drop_points:+.2f} points)"))
    return rows
