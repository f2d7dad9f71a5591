"""Setting up the fake adb: a bin folder to put first on PATH, its JSON state, and H.264 streams to send.

Used by tests/phone and by benchmarks/bench_phone_decode.py.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

FAKE_ADB = Path(__file__).with_name("adb")
SERIAL = "FAKE0001"
MODEL = "Pixel 7"


def encode_annexb(segments: list[list[np.ndarray]], path: Path, *, fps: int = 30, gop: int = 10, bit_rate: int | None = None) -> Path:
    """Raw Annex-B H.264 (what screenrecord --output-format=h264 sends) from BGR frames, with libx264.

    Each segment is encoded on its own, so a segment of another size starts
    with new parameter sets, as after a rotation. The packet sizes go to
    ``PATH.json`` so the fake can send frame by frame.
    """
    sizes = []
    with open(path, "wb") as out:
        for frames in segments:
            height, width = frames[0].shape[:2]
            ctx = av.CodecContext.create("libx264", "w")
            ctx.width, ctx.height, ctx.pix_fmt = width, height, "yuv420p"
            ctx.time_base = Fraction(1, fps)
            ctx.framerate = Fraction(fps, 1)
            if bit_rate:
                ctx.bit_rate = bit_rate
            # Low-latency settings: no B-frames, no lookahead, a keyframe every `gop` frames.
            ctx.options = {"preset": "ultrafast", "tune": "zerolatency", "g": str(gop), "bf": "0"}
            packets = []
            for i, image in enumerate(frames):
                frame = av.VideoFrame.from_ndarray(image, format="bgr24")
                frame.pts = i
                packets += [bytes(p) for p in ctx.encode(frame)]
            packets += [bytes(p) for p in ctx.encode(None)]
            for packet in packets:
                out.write(packet)
                sizes.append(len(packet))
    index = path.with_suffix(path.suffix + ".json")
    index.write_text(json.dumps(sizes))
    return path


def screen_frames(count: int, width: int = 720, height: int = 1280, seed: int = 3) -> list[np.ndarray]:
    """Frames that look like a scrolling phone screen: flat bars, text-like detail and a moving photo-like block."""
    rng = np.random.default_rng(seed)
    page = np.full((height * 2, width, 3), 245, np.uint8)
    for y in range(0, height * 2, 96):
        page[y : y + 80, 24 : width - 24] = rng.integers(180, 250, 3)
        glyphs = rng.integers(0, 2, (8, (width - 96) // 6), dtype=np.uint8) * 200
        page[y + 20 : y + 28, 48 : 48 + glyphs.shape[1] * 6] = np.repeat(glyphs, 6, axis=1)[..., None]
    photo = rng.integers(0, 255, (height // 3, width * 3 // 4, 3), dtype=np.uint8)
    frames = []
    for i in range(count):
        top = (i * 12) % height
        frame = page[top : top + height].copy()
        x = (i * 7) % (width - photo.shape[1] + 1)
        frame[height // 3 : height // 3 + photo.shape[0], x : x + photo.shape[1]] = photo
        frames.append(frame)
    return frames


def device(serial: str = SERIAL, *, model: str = MODEL, state: str = "device", **extra) -> dict:
    entry = {
        "serial": serial,
        "state": state,
        "model": model,
        "product": "panther",
        "usb": "1-1",
        "battery": {"status": 3, "usb": False, "ac": False, "level": 80, "voltage_mv": 3900, "temperature_dc": 312, "current_now": -450000},
        "thermal_status": 1,
        "cpu_khz": [1800000, 1800000, 2400000, None],
    }
    entry.update(extra)
    return entry


class FakePhone:
    """The fake adb's folder and state. ``env()`` puts it first on PATH; ``save()`` after changing ``state``."""

    def __init__(self, root: Path, stream: Path, *, fps: int = 30) -> None:
        self.root = root
        self.bin = root / "bin"
        self.bin.mkdir(parents=True, exist_ok=True)
        self.adb = self.bin / "adb"
        shutil.copyfile(FAKE_ADB, self.adb)
        self.adb.chmod(self.adb.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        self.state_path = root / "state.json"
        self.log_path = root / "invocations.jsonl"
        self.state: dict = {
            "log": str(self.log_path),
            "devices": [device()],
            "stream": {"file": str(stream), "index": str(stream) + ".json", "fps": fps},
        }
        self.save()

    def save(self) -> None:
        tmp = self.state_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.state))
        os.replace(tmp, self.state_path)

    def set_stream(self, **options) -> None:
        self.state["stream"].update(options)
        self.save()

    def set_device(self, index: int = 0, **fields) -> None:
        self.state["devices"][index].update(fields)
        self.save()

    def set_battery(self, index: int = 0, **fields) -> None:
        self.state["devices"][index]["battery"].update(fields)
        self.save()

    def env(self, base: dict | None = None) -> dict:
        env = dict(os.environ if base is None else base)
        env["PATH"] = f"{self.bin}{os.pathsep}{env.get('PATH', '')}"
        env["FAKE_ADB_STATE"] = str(self.state_path)
        return env

    def invocations(self) -> list[dict]:
        if not self.log_path.exists():
            return []
        return [json.loads(line) for line in self.log_path.read_text().splitlines() if line.strip()]

    def screenrecord_starts(self) -> list[float]:
        return [i["t"] for i in self.invocations() if "screenrecord" in i["argv"]]
