"""The Sessions browser over real recordings (some damaged): list, summary with plots, export off the GUI thread, compare."""

from __future__ import annotations

import csv
import json
import shutil

import pytest
from PySide6.QtCore import QItemSelectionModel, Qt, QTimer, QUrl

from qt_tools import record_seconds
from recordings import damaged_copies, unreadable_session
from segview.ui.session_browser import LIST_HEADERS, SessionBrowser
from segview.ui.session_compare_view import NOT_AVAILABLE, comparison_headers


@pytest.fixture
def sessions(tmp_path, brightness_model, square_video):
    """Five recordings of one real run (four damaged), one unreadable folder; returns (root, original)."""
    original, _ = damaged_copies(tmp_path, brightness_model, square_video)
    root = tmp_path / "sessions"
    unreadable_session(root, b"{torn")
    return root, original


def _browser(qtbot, root) -> SessionBrowser:
    browser = SessionBrowser(root)
    qtbot.addWidget(browser)
    browser.show()
    qtbot.waitUntil(lambda: browser.list.rowCount() > 0, timeout=30000)
    return browser


def _column(browser, header: str) -> list[str]:
    col = LIST_HEADERS.index(header)
    return [browser.list.item(r, col).text() for r in range(browser.list.rowCount())]


def _names(browser) -> list[str]:
    return [browser.list.item(r, 0).toolTip().rsplit("/", 1)[-1] for r in range(browser.list.rowCount())]


def _select(browser, *names: str) -> None:
    browser.list.clearSelection()
    for r in range(browser.list.rowCount()):
        if browser.list.item(r, 0).toolTip().endswith(names):
            flags = QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows
            browser.list.selectionModel().select(browser.list.model().index(r, 0), flags)


def test_lists_every_session_newest_first_with_its_problems(qtbot, sessions):
    root, original = sessions
    browser = _browser(qtbot, root)
    assert browser.list.rowCount() == 6
    dates = _column(browser, "recorded")
    assert dates == sorted(dates, reverse=True)
    folders = [browser.list.item(r, 0).toolTip().rsplit("/", 1)[-1] for r in range(6)]
    assert [f for f in folders if f != "broken-settings"] == ["crashed", "not-utf8", "model-as-string", "bad-second", "clean"]
    problems = dict(zip(folders, _column(browser, "problems"), strict=True))
    assert problems["clean"] == "none"
    assert "seconds.jsonl" in problems["bad-second"] and "UTF-8" in problems["not-utf8"]
    assert "did not stop cleanly" in problems["crashed"] and "settings.json is damaged" in problems["broken-settings"]
    fps = dict(zip(folders, _column(browser, "FPS per model (frames/s)"), strict=True))
    assert fps["clean"] == f"bright {original.summary.model('bright').fps:.1f}  dim {original.summary.model('dim').fps:.1f}"

    # Sortable: by duration, then back to newest first.
    browser.list.sortItems(LIST_HEADERS.index("duration (s)"), Qt.SortOrder.AscendingOrder)
    durations = [float(t) if t != "n/a" else -1 for t in _column(browser, "duration (s)")]
    assert durations == sorted(durations)


def test_opens_with_a_placeholder_then_lists_the_sessions_and_a_damaged_one_still_says_why(qtbot, sessions):
    root, _ = sessions
    browser = SessionBrowser(root)
    qtbot.addWidget(browser)
    browser.show()
    # Nothing was read on the GUI thread: the list is read on a worker, the plots wait for a session.
    assert browser.list.rowCount() == 0
    assert browser.list.placeholder.isVisible() and browser.list.placeholder.text() == "Reading the sessions…"
    assert browser.panel.plots.fps_plot is None and browser.panel.plots.canvas is None
    qtbot.waitUntil(lambda: browser.list.rowCount() == 6, timeout=30000)
    assert not browser.list.placeholder.isVisible()
    problems = dict(zip(_names(browser), _column(browser, "problems"), strict=True))
    assert "settings.json is damaged" in problems["broken-settings"]

    _select(browser, "broken-settings")
    qtbot.waitUntil(lambda: "settings.json is damaged" in browser.panel.head.text(), timeout=30000)
    assert browser.panel.summary_table.rowCount() == 0 and not browser.panel.export_button.isEnabled()
    with qtbot.waitSignal(browser.session_shown, timeout=30000) as shown:
        _select(browser, "crashed")
    plots = browser.panel.plots
    assert shown.args[0].folder.name == "crashed" and "did not stop cleanly" in browser.panel.problems.text()
    assert plots.canvas is not None and plots.canvas.isVisibleTo(plots) and not plots.note.isVisibleTo(plots)
    assert len(plots.fps_plot.listDataItems()) == 2


def test_refreshing_shows_the_placeholder_again_then_the_new_session(qtbot, sessions):
    root, _ = sessions
    browser = _browser(qtbot, root)
    qtbot.waitUntil(lambda: browser.list.rowCount() == 6, timeout=30000)
    assert dict(zip(_names(browser), _column(browser, "problems"), strict=True))["clean"] == "none"
    shutil.copytree(root / "clean", root / "clean-again")
    (root / "clean" / "summary.json").write_text("{torn")  # a session listed before changes: it is read again
    browser.refresh_button.click()
    assert browser.list.rowCount() == 0 and browser.list.placeholder.isVisible()
    qtbot.waitUntil(lambda: browser.list.rowCount() == 7, timeout=30000)
    assert not browser.list.placeholder.isVisible()
    problems = dict(zip(_names(browser), _column(browser, "problems"), strict=True))
    assert problems["clean-again"] == "none" and "summary.json is damaged" in problems["clean"]


def test_selecting_a_session_shows_its_summary_plots_and_problems(qtbot, sessions):
    root, original = sessions
    browser = _browser(qtbot, root)
    panel = browser.panel
    with qtbot.waitSignal(browser.session_shown, timeout=30000) as shown:
        _select(browser, "clean")
    assert shown.args[0].folder.name == "clean"
    assert panel.summary_table.rowCount() == 2 and panel.summary_table.item(0, 0).text() == "bright"
    assert float(panel.summary_table.item(0, 2).text()) == pytest.approx(original.summary.model("bright").fps, abs=0.06)
    assert panel.problems.isHidden()
    assert len(panel.plots.fps_plot.listDataItems()) == 2 and len(panel.plots.latency_plot.listDataItems()) == 2
    assert not panel.open_button.isEnabled()  # nothing exported yet

    with qtbot.waitSignal(browser.session_shown, timeout=30000):
        _select(browser, "model-as-string")
    assert not panel.problems.isHidden() and "'dim' is damaged" in panel.problems.text()
    assert panel.summary_table.rowCount() == 2  # dim recomputed from its rows

    _select(browser, "broken-settings")
    qtbot.waitUntil(lambda: "settings.json is damaged" in panel.head.text(), timeout=30000)
    assert panel.summary_table.rowCount() == 0 and not panel.export_button.isEnabled()


def test_export_runs_off_the_gui_thread_then_open_report_opens_it(qtbot, sessions):
    root, _ = sessions
    browser = _browser(qtbot, root)
    with qtbot.waitSignal(browser.session_shown, timeout=30000):
        _select(browser, "clean")
    panel = browser.panel
    opened: list[QUrl] = []
    panel.open_url = lambda url: opened.append(url) or True

    ticks = []
    probe = QTimer()
    probe.timeout.connect(lambda: ticks.append(1))
    probe.start(10)
    with qtbot.waitSignal(panel.export_finished, timeout=120000) as done:
        panel.export_button.click()
        assert not panel.busy.isHidden() and not panel.export_button.isEnabled()  # busy while it runs
        ticks.clear()
    probe.stop()
    # The event loop kept turning during the export: a GUI-thread export would leave no tick at all.
    assert len(ticks) >= 5
    report = done.args[0]
    assert report == root / "clean" / "report"
    assert (report / "report.html").is_file() and (report / "report.md").is_file() and (report / "fps.png").is_file()
    assert panel.busy.isHidden() and panel.open_button.isEnabled() and "report.html" in panel.status.text()
    panel.open_button.click()
    assert opened == [QUrl.fromLocalFile(str(report / "report.html"))]


def test_a_failed_export_says_why_and_keeps_open_report_off(qtbot, sessions):
    root, _ = sessions
    (root / "clean" / "report").write_text("a file where the report folder goes")
    browser = _browser(qtbot, root)
    with qtbot.waitSignal(browser.session_shown, timeout=30000):
        _select(browser, "clean")
    panel = browser.panel
    with qtbot.waitSignal(panel.export_failed, timeout=120000) as failed:
        panel.export_button.click()
    assert "it is a file" in failed.args[0] and "it is a file" in panel.status.text()
    assert not panel.open_button.isEnabled() and panel.export_button.isEnabled()


def _drop_model(folder, model: str) -> None:
    summary = json.loads((folder / "summary.json").read_text())
    del summary["models"][model]
    (folder / "summary.json").write_text(json.dumps(summary))
    with open(folder / "frames.csv", newline="") as f:
        rows = [r for r in csv.reader(f) if r[1] != model]
    with open(folder / "frames.csv", "w", newline="") as f:
        csv.writer(f).writerows(rows)


def test_compare_view_names_metrics_alike_and_explains_missing_ratios(qtbot, sessions):
    root, original = sessions
    shutil.copytree(root / "clean", root / "bright-only")
    _drop_model(root / "bright-only", "dim")
    machine = json.loads((root / "bright-only" / "machine.json").read_text())
    machine["recorded_at"] = "2026-01-09T10:00:00+00:00"  # after every other
    (root / "bright-only" / "machine.json").write_text(json.dumps(machine))
    browser = _browser(qtbot, root)
    _select(browser, "clean", "bright-only")
    assert browser.compare_button.isEnabled()
    with qtbot.waitSignal(browser.compared, timeout=30000) as compared:
        browser.compare_button.click()
    a, b = compared.args
    assert a.folder.name == "clean" and b.folder.name == "bright-only"  # the earlier run is A
    table = browser.compare_view.table
    headers = [table.horizontalHeaderItem(c).text() for c in range(table.columnCount())]
    assert headers == comparison_headers()
    for c in range(1, len(headers), 3):
        metric_a, side_a = headers[c].split("\n")
        metric_b, side_b = headers[c + 1].split("\n")
        assert metric_a == metric_b and side_a.startswith("A (") and side_b == side_a.replace("A", "B", 1)
    cells = {(table.item(r, 0).text(), headers[c]): table.item(r, c) for r in range(table.rowCount()) for c in range(1, len(headers))}
    assert cells[("bright", "FPS\nB / A")].text() == "1.00x"  # the same run, copied
    for (model, header), item in cells.items():
        assert "–" not in item.text() and item.text() != "x", (model, header)
        if item.text() == NOT_AVAILABLE:
            assert model == "dim" and "not in session B" in item.toolTip()
    assert cells[("dim", "FPS\nA (frames/s)")].text() == f"{original.summary.model('dim').fps:.1f}"
    # Both runs on one pair of plots: bright and dim from A, bright from B.
    plots = browser.compare_view.plots
    assert len(plots.fps_plot.listDataItems()) == 3 and len(plots.latency_plot.listDataItems()) == 3


def test_the_studio_sessions_action_browses_the_folder_it_records_into(qtbot, studio, slow_video):
    from segview.ui.recording_control import DEFAULT_SESSIONS_DIR

    assert studio.open(str(slow_video), ["bright"])
    folder = record_seconds(qtbot, studio)  # into the default folder, under the test's own HOME
    assert folder.parent == DEFAULT_SESSIONS_DIR
    studio.window.sessions_action.trigger()
    browser = studio.window._session_browser
    qtbot.waitUntil(lambda: browser.list.select_folder(folder), timeout=30000)
    assert browser.isVisible() and browser.root == DEFAULT_SESSIONS_DIR
    qtbot.waitUntil(lambda: browser.panel.session is not None and browser.panel.session.folder == folder, timeout=30000)
    assert browser.panel.summary_table.item(0, 0).text() == "bright"
    studio.window.sessions_action.trigger()  # reopening reuses the one browser
    assert studio.window._session_browser is browser


def test_open_folder_lists_another_folder_or_picks_out_one_session(qtbot, sessions, tmp_path):
    root, _ = sessions
    browser = SessionBrowser(tmp_path / "no-sessions-yet")
    qtbot.addWidget(browser)
    qtbot.waitUntil(lambda: "No recorded sessions here yet" in browser.hint.text(), timeout=30000)
    assert browser.list.rowCount() == 0 and not browser.panel.export_button.isEnabled()

    with qtbot.waitSignal(browser.session_shown, timeout=30000) as shown:
        browser.open_folder(root / "bad-second")  # a session folder: shown among its neighbours
    assert browser.root == root and browser.list.rowCount() == 6
    assert shown.args[0].folder == root / "bad-second"
    assert browser.list.selected_folders() == [root / "bad-second"]
