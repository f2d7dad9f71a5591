"""While a model's speed is measured elsewhere (a compress job, a distillation's export), the studio's models pause;
holds nest, and only what played before plays again."""

from __future__ import annotations

import pytest

pytest.importorskip("pytestqt")

from segview.ui import measure_hold  # noqa: E402

pytestmark = pytest.mark.studio(workers=1)


@pytest.fixture
def studio(studio, slow_video):
    """tests/conftest.py's studio, playing a long video through the bright model."""
    assert studio.open(str(slow_video), ["bright"])
    return studio


def test_holds_nest_and_the_last_one_resumes(qtbot, studio):
    engine = studio.engine
    assert engine.running
    assert measure_hold.hold(engine, studio.window) == measure_hold.PAUSED
    assert not engine.running and measure_hold.NOTE in studio.window.statusBar().currentMessage()
    assert measure_hold.hold(engine, studio.window) == measure_hold.PAUSED
    measure_hold.release(engine, studio.window)
    assert not engine.running  # the other hold still measures
    measure_hold.release(engine, studio.window)
    assert engine.running and studio.window.statusBar().currentMessage() == ""
    measure_hold.release(engine, studio.window)  # one release too many changes nothing
    assert engine.running


def test_a_paused_studio_stays_paused(qtbot, studio):
    engine = studio.engine
    engine.pause()
    assert measure_hold.hold(engine) == measure_hold.IDLE
    measure_hold.release(engine)
    assert not engine.running


def test_the_distill_page_pauses_the_studio_while_it_measures(qtbot, studio):
    page = studio.window.open_distill().page
    page._on_stage_changed("training on 10 frames")
    assert studio.engine.running
    page._on_stage_changed("exporting and measuring")
    assert not studio.engine.running
    assert "measured beside: nothing (studio paused)" in page.status_label.text()
    page._on_run_failed("the export failed")
    assert studio.engine.running
