"""The real adb (Debian's ``adb`` package; .ci/run installs it): found on PATH and called correctly.

Runs its own adb server on a free port, so a developer's running server and
phones are left alone, and kills it afterwards.
"""

from __future__ import annotations

import shutil
import socket

import pytest

from segview.phone.adb import find_adb, server_running
from segview.phone.devices import list_phones

pytestmark = pytest.mark.skipif(shutil.which("adb") is None, reason="adb is not installed (Debian: apt-get install adb)")


@pytest.fixture
def private_server(monkeypatch):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.delenv("ADB_SERVER_SOCKET", raising=False)
    monkeypatch.setenv("ANDROID_ADB_SERVER_PORT", str(port))
    adb = find_adb()
    yield adb
    adb.kill_server()


def test_real_adb_version_and_devices(private_server):
    adb = private_server
    version = adb.version()
    assert version.version.count(".") == 2 and version.version[0].isdigit()
    assert not server_running()
    phones = list_phones(adb)  # starts the server: its chatter must not look like a phone
    assert server_running()
    assert all(p.serial and p.state for p in phones)
    assert all(not p.serial.startswith("*") for p in phones)
    if not phones:
        assert list_phones(adb, ask_models=False) == []
