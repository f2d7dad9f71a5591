from __future__ import annotations

from pathlib import Path

import pytest

import factories
from fake_adb.fakephone import FakePhone, encode_annexb


@pytest.fixture(scope="session")
def square_stream(tmp_path_factory) -> Path:
    """30 frames of 160x120 bright squares as raw H.264 (a keyframe every 10 frames)."""
    path = tmp_path_factory.mktemp("streams") / "squares.h264"
    return encode_annexb([factories.moving_square_frames(30)], path)


@pytest.fixture(scope="session")
def rotating_stream(tmp_path_factory) -> Path:
    """20 frames at 160x120, then 20 at 120x160: the phone turned mid-stream."""
    path = tmp_path_factory.mktemp("streams") / "rotating.h264"
    return encode_annexb([factories.moving_square_frames(20, 160, 120), factories.moving_square_frames(20, 120, 160)], path)


@pytest.fixture
def fake_phone(tmp_path, monkeypatch, square_stream) -> FakePhone:
    """The fake adb first on PATH, one ready phone streaming bright squares at 30 fps."""
    phone = FakePhone(tmp_path / "fake-adb", square_stream)
    env = phone.env()
    monkeypatch.setenv("PATH", env["PATH"])
    monkeypatch.setenv("FAKE_ADB_STATE", env["FAKE_ADB_STATE"])
    return phone
