"""A distillation run's child process and the worker thread that waits for it.

Training runs in a child (:class:`segview.distill.process.DistillProcess`): the studio never
imports torch, stays responsive, and survives the child running out of memory. The worker turns
the child's callbacks into its queued signals, so the page's widgets are touched on the GUI thread.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from segview.distill import availability
from segview.distill.config import DistillConfig
from segview.ui.background import Worker

if TYPE_CHECKING:  # the child's outcome, named for the annotations only
    from segview.distill.events import DistillOutcome


def child_run(config: DistillConfig):  # noqa: ANN201 - (Worker, DistillProcess)
    """A training child and the worker that waits for it: the child's stages and progress become the
    worker's ``progress``, its outcome ``finished``, its failure ``failed``; cancelling tells the child."""
    from segview.distill.process import DistillProcess

    outcome: list[DistillOutcome] = []
    failure: list[str] = []

    def work(_worker: Worker):  # noqa: ANN202 - a DistillOutcome
        process.wait()  # the reader thread has handed over everything once it ends
        if failure or not outcome:
            raise availability.DistillError(failure[0] if failure else "the training process ended without an outcome")
        return outcome[0]

    worker = Worker(work, own_thread=True)  # minutes long: not on the shared pool
    process = DistillProcess(config, on_progress=worker.report, on_stage=worker.report, on_finished=outcome.append, on_failed=failure.append)
    worker.on_cancel = process.cancel
    return worker, process
