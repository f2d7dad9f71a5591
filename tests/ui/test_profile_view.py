"""The studio's Profile view offscreen: real onnxruntime profiles of tiny generated models, drawn as bars; the diff of a
model and its int8 variant; the studio paused while profiling and playing again after; errors shown in the view;
and the Compress wizard's "on this CPU" line for an int8 step."""

from __future__ import annotations

import shutil

import pytest

pytest.importorskip("pytestqt")

import pyqtgraph as pg  # noqa: E402

from compress import tiny  # noqa: E402
from factories import write_card  # noqa: E402
from segview.ui import measure_hold  # noqa: E402
from segview.ui.profile_charts import FASTER, SLOWER, TOP_NODES  # noqa: E402
from segview.ui.speed_hint import shares_of  # noqa: E402

PROFILE_TIMEOUT_MS = 60_000
RUNS = 5


def int8_variant(source, path):
    from onnxruntime.quantization import quantize_dynamic

    quantize_dynamic(str(source), str(path))
    write_card(path, name=path.stem)
    return path


@pytest.fixture
def playing(studio, model_dir, slow_video):
    """The studio playing the tiny segmenter, its int8 variant registered beside it."""
    source = tiny.tiny_segmenter(model_dir / "tiny.onnx")
    studio.registry.add_file(source)
    studio.registry.add_file(int8_variant(source, model_dir / "tiny-int8.onnx"))
    assert studio.open(str(slow_video), ["tiny", "bright"])
    return studio


def open_view(studio):
    studio.window.profile_action.trigger()
    view = studio.window._profile_view
    assert view.isVisible()
    view.runs.setValue(RUNS)
    return view


def drawn_bars(chart) -> int:
    return sum(1 for item in chart.plot.getPlotItem().items if isinstance(item, pg.BarGraphItem))


def test_the_view_draws_a_bar_for_every_top_node_of_the_running_model(qtbot, playing):
    view = open_view(playing)
    assert view.model_a.currentText() == "tiny"  # the studio's first running model
    with qtbot.waitSignal(view.runner.finished, timeout=PROFILE_TIMEOUT_MS):
        assert view.profile()
    profile = view.shown.profiles[0]
    top = profile.nodes[:TOP_NODES]
    assert profile.model == "tiny" and profile.runs == RUNS and len(top) >= 5
    chart = view.tab_a.nodes_chart
    assert [bar.label for bar in chart.bars] == [f"{n.graph_node or n.name} ({n.op_type})" for n in top]
    assert [bar.value for bar in chart.bars] == [n.median_ms for n in top]
    assert drawn_bars(chart) == len(top)
    types = view.tab_a.types_chart
    assert [bar.value for bar in types.bars] == [ms for _, ms, _, _ in profile.by_op_type()]
    assert drawn_bars(types) == len(profile.by_op_type())
    assert "ms a profiled run" in view.overhead.text() and f"{profile.overhead():.0%}" in view.overhead.text()
    assert view.tabs.count() == 1 and view.cancel_button.isEnabled() is False


def test_two_models_show_their_diff_faster_in_blue_and_slower_in_vermillion(qtbot, playing):
    view = open_view(playing)
    with qtbot.waitSignal(view.runner.finished, timeout=PROFILE_TIMEOUT_MS):
        assert view.profile("tiny", "tiny-int8")
    base, other = view.shown.profiles
    diff = view.shown.diff
    assert (base.model, other.model) == ("tiny", "tiny-int8") and (diff.base, diff.other) == ("tiny", "tiny-int8")
    assert view.tabs.count() == 3 and view.tabs.currentWidget() is view.diff_tab
    assert [view.tab_a.nodes_chart.bars[0].value, view.tab_b.nodes_chart.bars[0].value] == [base.nodes[0].median_ms, other.nodes[0].median_ms]
    bars = view.diff_tab.nodes_chart.bars
    assert [bar.value for bar in bars] == [row.delta_ms for row in diff.rows[:TOP_NODES]]
    assert drawn_bars(view.diff_tab.nodes_chart) == len(bars)
    assert all(bar.colour == (FASTER if bar.value < 0 else SLOWER) for bar in bars)
    assert any("ConvInteger" in row.op_type and row.matched for row in diff.rows)  # the int8 Convs line up with their float twins
    assert [bar.value for bar in view.diff_tab.types_chart.bars] == [t.delta_ms for t in diff.op_types[:TOP_NODES]]
    assert f"{len(diff.matched_rows())} nodes matched" in view.diff_tab.summary.text()


def test_the_studio_is_paused_while_profiling_and_plays_again_after(qtbot, playing, monkeypatch):
    engine = playing.engine
    calls = []
    for name in ("hold", "release"):
        real = getattr(measure_hold, name)
        monkeypatch.setattr(measure_hold, name, lambda *a, _real=real, _name=name, **k: (calls.append(_name), _real(*a, **k))[1])
    states = []
    engine.state_changed.connect(lambda: states.append(engine.running))
    view = open_view(playing)
    while_profiling = []
    view.runner.progressed.connect(lambda text: while_profiling.append(engine.running) if text.startswith("Profiling") else None)
    with qtbot.waitSignal(view.runner.finished, timeout=PROFILE_TIMEOUT_MS) as finished:
        assert view.profile("tiny", "bright")
    assert calls == ["hold", "release"]
    assert while_profiling == [False, False]  # both models profiled with the studio paused
    changes = [s for i, s in enumerate(states) if i == 0 or s != states[i - 1]]  # a pause is announced twice (stopped, then finished)
    assert changes == [False, True]  # one pause, one play
    assert engine.running and not measure_hold.held(engine)
    assert finished.args[0].paused and "paused while profiling" in view.pause_note.text()
    assert finished.args[0].frames_from != "the demo clip"  # the studio's own frames


def test_an_error_in_profiling_is_shown_and_the_studio_keeps_running(qtbot, playing, model_dir):
    broken = shutil.copy(model_dir / "tiny.onnx", model_dir / "broken.onnx")
    write_card(model_dir / "broken.onnx", name="broken")
    playing.registry.add_file(broken)
    (model_dir / "broken.onnx").write_bytes(b"not an onnx file")  # damaged after it was listed
    view = open_view(playing)
    with qtbot.waitSignal(view.runner.failed, timeout=PROFILE_TIMEOUT_MS) as failed:
        assert view.profile("broken")
    assert failed.args[0] and "Cannot profile" in view.status.text() and failed.args[0] in view.status.text()
    qtbot.waitUntil(lambda: playing.engine.running, timeout=30_000)
    assert view.profile_button.isEnabled() and not view.runner.running and not measure_hold.held(playing.engine)
    assert playing.window.isVisible()


def test_cancelling_before_the_profile_starts_leaves_the_studio_playing(qtbot, playing):
    view = open_view(playing)
    assert view.profile("tiny", "tiny-int8")
    with qtbot.waitSignal(view.runner.cancelled, timeout=PROFILE_TIMEOUT_MS):
        view.cancel_button.click()
    assert "Cancelled" in view.status.text() and view.shown is None
    qtbot.waitUntil(lambda: not view.runner.running, timeout=PROFILE_TIMEOUT_MS)
    assert playing.engine.running and not measure_hold.held(playing.engine)


def test_the_wizard_says_before_a_run_that_int8_makes_the_model_smaller_not_faster(qtbot, playing):
    wizard = playing.window.open_compress()
    wizard.steps_page.set_model("tiny")
    wizard.steps_page.set_steps(["int8-static"])
    hint = wizard.speed_hint
    qtbot.waitUntil(lambda: "int8-static: smaller, not faster" in hint.text(), timeout=PROFILE_TIMEOUT_MS)
    assert hint.text().startswith("On this CPU (1 thread, tiny): Conv") and hint.isVisible()
    qtbot.waitUntil(lambda: playing.engine.running, timeout=30_000)  # paused for the profile, playing again
    profile = next(iter(hint.profiles.values()))
    depthwise = sum(n.share for n in profile.nodes if n.graph_node == "dw")
    assert depthwise > 0 and shares_of(profile).depthwise == pytest.approx(depthwise)  # the [16,1,3,3] Conv
    assert f"depthwise {depthwise:.0%}" in hint.text()
    wizard.steps_page.set_steps(["fp16"])  # another step: the same profile, another line, no new run
    assert "fp16: smaller, not faster" in hint.text() and "int8-static" not in hint.text()
    assert not hint.runner.running
