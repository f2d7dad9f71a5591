"""The studio with the fake phone: the picker lists it, and the hub samples it while it is the source."""

from __future__ import annotations

import pytest

pytest.importorskip("pytestqt")

from fake_adb.fakephone import SERIAL  # noqa: E402
from qt_tools import recorded_seconds  # noqa: E402
from segview.phone.samplers import CHARGING_WARNING  # noqa: E402

TIMEOUT_MS = 30_000  # generous: two busy cores; the waits end as soon as what they wait for happens

# The studio window: tests/conftest.py's studio fixture.


def test_picker_lists_the_phone(fake_phone, monkeypatch):
    from segview.sources import adb_phone
    from segview.sources.discovery import available_sources

    monkeypatch.setattr(adb_phone, "server_running", lambda: True)  # the fake adb has no server to probe
    assert ("Phone: Pixel 7 (FAKE0001)", f"adb:{SERIAL}") in available_sources()
    monkeypatch.setattr(adb_phone, "server_running", lambda: False)  # asking adb would start its server
    assert ("Phone over adb (the one attached)", "adb") in available_sources()


def test_phone_source_adds_phone_metrics_to_the_hub(qtbot, studio, fake_phone):
    fake_phone.set_battery(status=2, usb=True)
    assert studio.open(f"adb:{SERIAL}", ["bright"])
    assert "phone_power_w" in studio.hub.snapshot() and "cpu_percent" in studio.hub.snapshot()
    qtbot.waitUntil(lambda: studio.window.views[0].picture() is not None, timeout=TIMEOUT_MS)
    # USB charging distorts power: the window says so.
    qtbot.waitUntil(lambda: CHARGING_WARNING in studio.window.statusBar().currentMessage(), timeout=TIMEOUT_MS)
    assert studio.window.choose_source("demo")
    assert "phone_power_w" not in studio.hub.snapshot() and "cpu_percent" in studio.hub.snapshot()


def test_recorded_sessions_hold_the_phone_metrics(qtbot, studio, fake_phone, tmp_path):
    import json

    assert studio.open(f"adb:{SERIAL}", ["bright"])
    folder = studio.recording.start(tmp_path / "session")
    qtbot.waitUntil(lambda: (studio.hub.latest() or None) is not None and studio.hub.latest().values.get("phone_power_w") is not None, timeout=TIMEOUT_MS)
    # A whole second with the phone's power in it, however long the busy machine takes to write one.
    qtbot.waitUntil(lambda: any(row["metrics"].get("phone_power_w") for row in recorded_seconds(folder)), timeout=TIMEOUT_MS)
    studio.recording.stop()
    seconds = [json.loads(line) for line in (folder / "seconds.jsonl").read_text().splitlines()]
    assert any(row["metrics"].get("phone_power_w") for row in seconds)
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["metrics_mean"]["phone_power_w"] > 0
