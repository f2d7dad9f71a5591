"""The dashboard reads well and fits: one colour-blind-safe colour per model, titles that name
model and unit, axes that fit their data, history kept across model changes, nothing cut off."""

from __future__ import annotations

import time

import numpy as np
import pytest

import factories
from segview.metrics.live import LiveStats
from segview.types import StageTimings
from segview.ui.palette import MODEL_COLOURS, ModelPalette
from segview.ui.video_view import tile_caption

TIMEOUT_MS = 30_000  # generous: two busy cores; each wait ends as soon as its state is reached

OKABE_ITO = {(0, 0, 0), (230, 159, 0), (86, 180, 233), (0, 158, 115), (240, 228, 66), (0, 114, 178), (213, 94, 0), (204, 121, 167)}

# Machado, Oliveira & Fernandes (2009), severity 1.0, on linear RGB.
_CVD = {
    "protanopia": np.array([[0.152286, 1.052583, -0.204868], [0.114503, 0.786281, 0.099216], [-0.003882, -0.048116, 1.051998]]),
    "deuteranopia": np.array([[0.367322, 0.860646, -0.227968], [0.280085, 0.672501, 0.047413], [-0.011820, 0.042940, 0.968881]]),
    "tritanopia": np.array([[1.255528, -0.076749, -0.178779], [-0.078411, 0.930809, 0.147602], [0.004733, 0.691367, 0.303900]]),
}


def _seen_as(colour, matrix) -> np.ndarray:
    linear = (np.array(colour) / 255.0) ** 2.2
    return np.clip(matrix @ linear, 0, 1) ** (1 / 2.2)


# -- palette -----------------------------------------------------------------------


def test_model_colours_come_from_okabe_ito_and_stay_apart_for_colour_blind_eyes():
    assert set(MODEL_COLOURS) <= OKABE_ITO
    assert (240, 228, 66) not in MODEL_COLOURS  # yellow: unreadable as a line on white
    four = MODEL_COLOURS[:4]  # the most the studio shows at once
    for name, matrix in {**_CVD, "normal vision": np.eye(3)}.items():
        seen = [_seen_as(c, matrix) for c in four]
        closest = min(np.linalg.norm(a - b) for i, a in enumerate(seen) for b in seen[i + 1 :])
        assert closest > 0.2, name  # tab10's first four (the old pens): 0.09


def test_a_model_keeps_its_colour_while_others_are_ticked_and_unticked():
    palette = ModelPalette()
    first = palette.show(["selfie-general", "selfie-general-int8"])
    assert first["selfie-general"] != first["selfie-general-int8"]
    second = palette.show(["selfie-general-int8", "selfie-landscape", "selfie-general"])  # order changed, one added
    assert second["selfie-general"] == first["selfie-general"]
    assert second["selfie-general-int8"] == first["selfie-general-int8"]
    third = palette.show(["selfie-landscape"])
    assert third["selfie-landscape"] == second["selfie-landscape"]
    again = palette.show(["selfie-general", "selfie-landscape"])  # back after being unticked
    assert again["selfie-general"] == first["selfie-general"]
    assert palette.colour("selfie-landscape") == second["selfie-landscape"]


def test_models_shown_together_never_share_a_colour():
    palette = ModelPalette()
    names = [f"model-{i}" for i in range(12)]
    rng = np.random.default_rng(7)
    for _ in range(200):
        shown = list(rng.choice(names, size=int(rng.integers(1, 5)), replace=False))
        colours = palette.show(shown)
        assert len(set(colours.values())) == len(shown), shown
        assert all(palette.colour(n) == colours[n] for n in shown)


# -- plots ---------------------------------------------------------------------------


def _timings(inference: float) -> StageTimings:
    return StageTimings(capture_ms=0.5, queue_ms=0.2, preprocess_ms=1.0, inference_ms=inference, postprocess_ms=0.8, end_to_end_ms=inference + 2.5)


def _fill(live: LiveStats, model: str, seconds: int, *, per_second: int = 5) -> float:
    """Frames in each of the last ``seconds`` whole seconds; returns now."""
    now = time.perf_counter()
    for s in range(seconds, 0, -1):
        for k in range(per_second):
            live.add(model, int(now) - s + k / per_second, _timings(9.0))
    return now


@pytest.fixture
def panel(qtbot):
    from segview.ui.app import application
    from segview.ui.plots import PlotsPanel

    application()
    live = LiveStats()
    widget = PlotsPanel(live)
    qtbot.addWidget(widget)
    widget.resize(1000, 360)
    widget.show()
    return widget


def test_every_plot_names_its_unit_and_the_per_model_plots_name_their_model(panel):
    for name in ("selfie-general", "selfie-general-int8"):
        _fill(panel.live, name, 3)
    panel.refresh(["selfie-general", "selfie-general-int8"], {}, part=None)
    titles = {plot: panel.titles.plain(plot) for plot in panel._followed_plots()}
    units = {
        panel.fps_plot: "(FPS)",
        panel.stage_plot: "(ms)",
        panel.hist_plot: "(ms)",
        panel.lag_plot: "(ms)",
        panel.cpu_plot: "(% of a core)",
        panel.rss_plot: "(MB)",
        panel.clock_plot: "(MHz)",
        panel.power_plot: "(W)",
        panel.energy_plot: "(mJ)",
    }
    for plot, unit in units.items():
        assert unit in titles[plot], titles[plot]
    for plot in (panel.stage_plot, panel.hist_plot, panel.energy_plot):
        assert titles[plot].endswith("selfie-general") or "— selfie-general " in titles[plot], titles[plot]
    panel.set_focus_model("selfie-general-int8")  # chosen in the header
    assert panel.focus_model == "selfie-general-int8"
    assert "selfie-general-int8" in panel.titles.plain(panel.stage_plot)
    panel.set_pair(("selfie-general", "selfie-general-int8"))
    assert panel.titles.plain(panel.iou_plot) == "IoU of compared views — selfie-general vs selfie-general-int8"


def test_legends_sit_above_the_plots_not_on_their_data(panel):
    names = ["selfie-general", "selfie-general-int8", "selfie-landscape", "selfie-student-fast"]
    panel.refresh(names, {}, part=0)
    legend = panel.header.legend.text()
    assert all(name in legend for name in names) and "inference" in legend
    assert panel.fps_plot.legend is None and panel.stage_plot.legend is None
    colours = {panel._fps_curves[n].opts["pen"].color().getRgb()[:3] for n in names}
    assert colours == set(panel.model_palette.show(names).values()) and len(colours) == 4


def test_iou_axis_fits_its_data_instead_of_zero_to_one(panel):
    now = time.perf_counter()
    for i, value in enumerate(np.linspace(0.93, 0.99, 7)):
        panel.live.add_iou(now - 7.5 + i, float(value))  # one a second: each is its second's mean
    panel.refresh(["a", "b"], {}, part=1)
    _, shown = panel._iou_curve.getData()
    assert shown.min() == pytest.approx(0.93) and shown.max() == pytest.approx(0.99)
    low, high = panel.iou_plot.getViewBox().viewRange()[1]
    assert low < 0.93 and high > 0.99  # all of it shown, with a margin
    assert high - low < 0.15  # and spread over the plot, not squeezed into a sliver of 0..1


def test_iou_is_drawn_one_point_a_second():
    from segview.ui.plots import per_second_mean

    t = np.array([-3.9, -3.5, -3.1, -1.2, -1.1])  # two seconds with frames, one without
    x, y = per_second_mean(t, np.array([0.90, 0.92, 0.94, 0.5, 0.7]))
    assert list(x) == [-3.5, -1.5] and y == pytest.approx([0.92, 0.6])


def test_an_unavailable_plot_wraps_its_message_inside_the_plot(panel, qtbot):
    from segview.metrics.hub import MetricSeries

    missing = MetricSeries("rapl_w", "CPU package power (RAPL)", "W", False, "no permission", np.empty(0), np.empty(0))
    panel.resize(900, 300)  # 180 px a column, as at 1280x720
    qtbot.waitUntil(lambda: panel.width() == 900)
    panel.refresh([], {"rapl_w": missing}, part=2)
    for plot in (panel.power_plot, panel.energy_plot):
        item = panel._unavailable[id(plot)]
        assert item.isVisible()
        text = item.textItem.boundingRect().width()
        assert 0 < text <= plot.getViewBox().width(), (text, plot.getViewBox().width())


def test_tile_caption_says_which_latency():
    assert tile_caption(29.0, 9.1, 14.0) == "29 FPS · inference 9.1 ms · e2e 14.0 ms"
    assert tile_caption(29.0, float("nan"), 14.0) == "29 FPS · e2e 14.0 ms"
    assert tile_caption(0.0, 9.1, 14.0) == ""


# -- the real window ---------------------------------------------------------------------


def _finite_seconds(live: LiveStats, model: str) -> int:
    series = live.series(model)
    return 0 if series is None else int(np.count_nonzero(np.isfinite(series.fps) & (series.fps > 0)))


def test_fps_history_is_kept_when_a_model_is_ticked(qtbot, studio, slow_video, model_dir):
    factories.brightness_model(model_dir / "second.onnx", layout="NHWC")
    studio.registry.add_folder(model_dir)
    assert studio.open(str(slow_video), ["bright"])
    live = studio.engine.live
    qtbot.waitUntil(lambda: _finite_seconds(live, "bright") >= 2, timeout=TIMEOUT_MS)
    before = _finite_seconds(live, "bright")
    assert studio.window.choose_models(["bright", "second"])
    assert _finite_seconds(live, "bright") >= before  # not wiped
    studio.window.plots.refresh(["bright", "second"], {}, part=0)
    _, fps = studio.window.plots._fps_curves["bright"].getData()
    assert np.count_nonzero(np.isfinite(fps) & (fps > 0)) >= before
    qtbot.waitUntil(lambda: _finite_seconds(live, "second") >= 1, timeout=TIMEOUT_MS)
    assert _finite_seconds(live, "bright") > before  # and it goes on
    assert studio.window.choose_models(["second"])
    assert live.series("bright") is None  # an unticked model's history goes


def test_tiles_carry_their_model_colour_and_say_which_latency(qtbot, studio, slow_video):
    assert studio.open(str(slow_video), ["bright"])
    view = studio.window.views[0]
    qtbot.waitUntil(lambda: "e2e" in view.subtitle, timeout=TIMEOUT_MS)
    assert "inference" in view.subtitle and "FPS" in view.subtitle
    assert view.accent == studio.window.palette_of_models.colour("bright") == studio.window.plots.model_palette.colour("bright")


@pytest.mark.parametrize("size", [(1280, 720), (1600, 900), (1920, 1080)])
def test_at_common_screen_sizes_the_plots_fit_inside_the_window(qtbot, studio, slow_video, model_dir, size):
    names = ["bright", "selfie-general-int8-distilled", "selfie-landscape-student-fast", "selfie-general-fp16-pruned"]  # long, as users' are
    for name in names[1:]:
        factories.brightness_model(model_dir / f"{name}.onnx")
    studio.registry.add_folder(model_dir)
    assert studio.open(str(slow_video), names)
    studio.window.compare_controls.b.setCurrentIndex(3)  # compares two long names
    window = studio.window
    window.resize(*size)
    qtbot.waitUntil(lambda: window.views[3].picture() is not None, timeout=TIMEOUT_MS)
    window.plots.refresh(names, {}, part=None)
    qtbot.waitUntil(lambda: _fits(window, size), timeout=TIMEOUT_MS)  # once the layouts have settled


def _fits(window, size) -> None:
    assert (window.width(), window.height()) == size  # no minimum size pushes it past the screen
    inside = window.rect()
    plots = window.plots
    assert inside.contains(plots.mapTo(window, plots.rect().topLeft())) and inside.contains(plots.mapTo(window, plots.rect().bottomRight()))
    viewport = plots.canvas.viewport().rect()
    for plot in plots._followed_plots():
        rect = plots.canvas.mapFromScene(plot.sceneBoundingRect()).boundingRect()
        assert viewport.contains(rect), (plots.titles.plain(plot), rect, viewport)
        assert plot.getViewBox().height() > 40  # room for the data, not only titles and axes
    legend = plots.header.legend
    assert legend.heightForWidth(legend.width()) <= legend.height()  # the legend wraps, nothing is hidden
    for view in window.views:
        assert view._caption.geometry().right() <= view.width(), view.title


def test_a_caption_too_long_for_its_tile_wraps_inside_it(qtbot):
    from segview.ui.app import application
    from segview.ui.video_view import VideoView

    application()
    view = VideoView()
    qtbot.addWidget(view)
    view.resize(600, 200)
    view.show()
    view.set_caption("selfie-general-int8", tile_caption(29.0, 9.1, 14.0))
    one_line = view._caption.height()
    assert view._caption.geometry().right() < view.width()
    view.resize(200, 200)
    qtbot.waitUntil(lambda: view.width() == 200)
    assert view._caption.geometry().right() < view.width()
    assert view._caption.height() > one_line  # wrapped, all of it still there


def test_a_long_problem_ends_in_an_ellipsis_and_keeps_the_window_on_screen(qtbot, studio):
    window = studio.window
    window.resize(1280, 720)
    message = "cannot open camera:0: " + "the device answered with an error about its format " * 6
    window.show_problem(message)
    qtbot.waitUntil(lambda: window.width() == 1280)
    label = window.problem_label
    assert label.text() == message and label.toolTip() == message
    shown = super(type(label), label).text()  # what Qt paints
    assert shown.endswith("…") and label.fontMetrics().horizontalAdvance(shown) <= label.width()


def test_window_size_option_and_the_first_size_fit_the_screen():
    import argparse

    from segview.cli.studio_args import window_size
    from segview.ui.main_window import fitted_size

    assert window_size("1280x720") == (1280, 720)
    for bad in ("1280", "12x", "axb", "100x100"):
        with pytest.raises(argparse.ArgumentTypeError):
            window_size(bad)
    assert fitted_size((1280, 720)) == (1280, 720)
    assert fitted_size((2560, 1440)) == (1400, 860)
