"""The one background-work pattern: a Worker's progress, finished and failed arrive on the GUI thread; cancel reaches the work."""

from __future__ import annotations

import threading

import pytest

from segview.errors import SegviewError
from segview.ui.background import Worker, run_in_background, wait_for

pytest.importorskip("pytestqt")

TIMEOUT_MS = 30_000


@pytest.mark.parametrize("own_thread", [False, True])
def test_progress_and_the_result_arrive_on_the_gui_thread(qtbot, own_thread):
    gui = threading.current_thread()
    seen: list[tuple[str, object, bool]] = []

    def work(worker):
        for i in range(3):
            worker.report(i)
        return threading.current_thread() is not gui  # the work itself ran elsewhere

    worker = Worker(work, own_thread=own_thread)
    worker.progress.connect(lambda v: seen.append(("progress", v, threading.current_thread() is gui)))
    worker.finished.connect(lambda v: seen.append(("finished", v, threading.current_thread() is gui)))
    with qtbot.waitSignal(worker.finished, timeout=TIMEOUT_MS):
        worker.start()
    assert seen == [("progress", 0, True), ("progress", 1, True), ("progress", 2, True), ("finished", True, True)]
    assert worker.done


def test_a_failure_is_one_message_and_a_bug_names_its_type(qtbot):
    def refuse(_worker):
        raise SegviewError("no frames to learn from")

    def bug(_worker):
        return {}["missing"]

    for work, expected in ((refuse, "no frames to learn from"), (bug, "KeyError: 'missing'")):
        worker = Worker(work)
        with qtbot.waitSignal(worker.failed, timeout=TIMEOUT_MS) as blocker:
            worker.start()
        assert blocker.args == [expected]


def test_cancel_calls_the_hook_and_the_work_sees_it(qtbot):
    release = threading.Event()
    hooked: list[bool] = []

    def work(worker):
        release.wait(20)
        return "cancelled" if worker.cancelled else "ran out"

    worker = Worker(work, on_cancel=lambda: (hooked.append(True), release.set()), own_thread=True)
    worker.start()
    with qtbot.waitSignal(worker.finished, timeout=TIMEOUT_MS) as blocker:
        worker.cancel()
    assert hooked == [True] and blocker.args == ["cancelled"]


def test_run_in_background_answers_through_its_callbacks_and_wait_for_returns(qtbot):
    answers: list[object] = []
    task = run_in_background(lambda: 6 * 7, answers.append, answers.append)
    wait_for(task)
    qtbot.waitUntil(lambda: answers == [42], timeout=TIMEOUT_MS)
    failed = run_in_background(lambda: 1 / 0, answers.append, lambda m: answers.append(("failed", m)))
    wait_for(failed)
    qtbot.waitUntil(lambda: len(answers) == 2, timeout=TIMEOUT_MS)
    assert answers[1] == ("failed", "ZeroDivisionError: division by zero")


def test_a_question_from_the_work_is_answered_on_the_gui_thread(qtbot):
    gui = threading.current_thread()
    asked_on: list[bool] = []

    def question() -> str:
        asked_on.append(threading.current_thread() is gui)
        return "paused"

    worker = Worker(lambda w: w.ask(question, timeout=TIMEOUT_MS / 1000, default="no answer"), own_thread=True)
    with qtbot.waitSignal(worker.finished, timeout=TIMEOUT_MS) as blocker:
        worker.start()
    assert blocker.args == ["paused"] and asked_on == [True]


def test_a_question_the_gui_does_not_answer_in_time_gets_the_default_and_still_runs_later_in_order(qtbot):
    ran: list[str] = []
    asked = threading.Event()

    def work(worker):
        first = worker.ask(lambda: ran.append("hold") or "held", timeout=0.2, default="no answer")
        asked.set()
        worker.ask(lambda: ran.append("release"), timeout=TIMEOUT_MS / 1000)
        return first

    worker = Worker(work, own_thread=True)
    worker.start()
    assert asked.wait(TIMEOUT_MS / 1000)  # the GUI thread blocks here: nothing it was asked has run yet
    assert ran == []
    with qtbot.waitSignal(worker.finished, timeout=TIMEOUT_MS) as blocker:
        pass
    assert blocker.args == ["no answer"] and ran == ["hold", "release"]


def test_a_question_that_raises_fails_the_work_with_its_message(qtbot):
    def question():
        raise SegviewError("the studio is gone")

    worker = Worker(lambda w: w.ask(question, timeout=TIMEOUT_MS / 1000))
    with qtbot.waitSignal(worker.failed, timeout=TIMEOUT_MS) as blocker:
        worker.start()
    assert blocker.args == ["the studio is gone"]
