"""The Compress wizard on its own, with no studio window: what it says before a run, and the signals it sends."""

from __future__ import annotations

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from segview.compress.int8_note import int8_note  # noqa: E402
from segview.ui.compress_wizard import CompressWizard  # noqa: E402


@pytest.fixture
def wizard(qtbot, registry):
    w = CompressWizard(registry)
    qtbot.addWidget(w)
    w.show()
    assert w.steps_page.set_model("tiny")
    w.steps_page.ensure_steps()
    yield w
    w.stop_job()


def test_the_int8_note_shows_while_an_int8_step_is_ticked_and_hides_otherwise(qtbot, wizard):
    note = wizard.int8_note
    assert not note.isVisible() and note.text() == ""
    for int8 in ("int8-static", "int8-dynamic", "int8-auto"):
        wizard.steps_page.set_steps(["prune", int8])
        assert note.isVisible(), int8
        assert note.text() == int8_note() and "not faster" in note.text()
    wizard.steps_page.set_steps(["fp16", "prune"])
    assert not note.isVisible() and note.text() == ""
    wizard.steps_page.set_steps([])
    assert not note.isVisible()
