"""The sessions browser's Export trace button over a real recording: written off the GUI thread, said where, failures named."""

from __future__ import annotations

import csv
import json

from recordings import record_session
from segview.ui.session_browser import SessionBrowser


def test_export_trace_writes_trace_json_into_the_session_and_says_where(qtbot, tmp_path, brightness_model, square_video):
    folder = tmp_path / "sessions" / "run"
    record_session(folder, brightness_model, square_video, seconds=1.2, names=("a", "b"))
    (folder / "trace.json").mkdir()  # first a folder where the trace goes: the export must fail and say why
    browser = SessionBrowser(folder.parent)
    qtbot.addWidget(browser)
    browser.show()
    qtbot.waitUntil(lambda: browser.list.rowCount() == 1, timeout=30000)
    # The browser selects the only session itself once listed (maybe before a wait on its signal
    # could start): wait for the summary to hold it rather than for the signal.
    panel = browser.panel
    qtbot.waitUntil(lambda: panel.session is not None and panel.session.folder == folder, timeout=30000)
    assert panel.trace_button.isEnabled() and panel.trace_button.text() == "Export trace"

    with qtbot.waitSignal(panel.trace_failed, timeout=60000) as failed:
        panel.trace_button.click()
    assert "it is a folder" in failed.args[0] and "Trace export failed" in panel.status.text()
    assert panel.trace_button.isEnabled()

    (folder / "trace.json").rmdir()
    with qtbot.waitSignal(panel.trace_finished, timeout=60000) as done:
        panel.trace_button.click()
        assert not panel.trace_button.isEnabled() and not panel.busy.isHidden()  # busy while it runs
    out = done.args[0]
    assert out == folder / "trace.json" and str(out) in panel.status.text()
    assert panel.trace_button.isEnabled() and panel.busy.isHidden()
    trace = json.loads(out.read_text())
    with open(folder / "frames.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert sum(e["ph"] == "X" and e["cat"] == "inference" for e in trace["traceEvents"]) == len(rows) > 0
