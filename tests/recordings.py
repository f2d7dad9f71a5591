"""Recordings made through the real pipeline, for the tests of recording, reports, traces and the sessions dialog."""

import csv
import json
import shutil
import time
from pathlib import Path

from segview.inference.inspect import describe_model
from segview.inference.session import SegmentationSession, SessionOptions
from segview.metrics.hub import MetricsHub
from segview.metrics.samplers import ProcessCpuSampler, ProcessMemorySampler, Sampler
from segview.pipeline import Pipeline
from segview.recording import SessionRecorder, load_session
from segview.recording.session_file import FRAME_COLUMNS
from segview.sources import open_source


class SteadyPowerSampler(Sampler):
    """Stands in for RAPL, which test machines rarely let us read."""

    key, label, unit = "rapl_power_w", "CPU package power (RAPL)", "W"

    def __init__(self) -> None:
        super().__init__()
        self.n = 0

    def _read(self):
        self.n += 1
        return 12.0 + (self.n % 3)  # 12, 13, 14: a visible wiggle in the plots


def sessions_for(model_path: Path, names: list[str]) -> list[SegmentationSession]:
    card = describe_model(model_path)
    return [SegmentationSession(model_path, card.with_name(n), SessionOptions(threads=1)) for n in names]


def rows_on_disk(folder: Path) -> list[list[str]]:
    path = folder / "frames.csv"
    if not path.exists():
        return []
    with open(path, newline="") as f:
        return list(csv.reader(f))[1:]


def frames_on_disk(folder: Path, names) -> list[int]:
    rows = rows_on_disk(folder)
    return [sum(row[1] == name for row in rows) for name in names]


def wait_for(condition, timeout: float = 60.0) -> bool:
    """True as soon as ``condition()`` holds; generous, as two busy cores can be slow to get there."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


MIN_FRAMES_ON_DISK = 6  # per model: enough for medians and a frame-rate line, on any machine


def record_session(
    folder: Path,
    model_path: Path,
    video: Path,
    *,
    seconds: float = 1.5,
    names: tuple[str, ...] = ("bright",),
    power: bool = False,
    check_while_running=None,
):
    """Record a looping video through the real pipeline for at least ``seconds`` and until every model
    has a few frames on disk; returns (recorder, pipeline).

    The recording starts once the pipeline has done its first frame, so even on two busy cores its
    first second has frames; and it ends on a count of frames, not only on the clock."""
    sessions = sessions_for(model_path, list(names))
    samplers = [ProcessCpuSampler(), ProcessMemorySampler()] + ([SteadyPowerSampler()] if power else [])
    hub = MetricsHub(samplers, interval_s=0.2)
    source = open_source(f"file:{video}?loop=1")
    pipeline = Pipeline(source, sessions, workers=2)
    pipeline.start()
    try:
        assert wait_for(lambda: pipeline.stats.frames_processed > 0 or pipeline.finished), "no frame within a minute"
        recorder = SessionRecorder(folder, settings={"provider": "cpu", "workers": 2}, models=list(names), source=f"file:{video}?loop=1")
        hub.subscribe(recorder.on_metrics)
        pipeline.add_consumer(recorder)
        hub.start()
        if check_while_running is not None:
            check_while_running(recorder, pipeline)
        time.sleep(max(0.0, seconds - recorder.elapsed_s))  # paces the recording: summaries check its duration
        assert wait_for(lambda: recorder.problem is not None or min(frames_on_disk(folder, names)) >= MIN_FRAMES_ON_DISK)
    finally:
        pipeline.stop()
        pipeline.wait(10)
        pipeline.join()
        hub.stop()
        source.close()
    recorder.stop(frames_dropped=pipeline.stats.frames_dropped)
    return recorder, pipeline


def damaged_copies(tmp_path, brightness_model, square_video):
    """One real recording, copied and damaged the ways crashed runs and bad disks do; by name."""
    original = tmp_path / "original"
    record_session(original, brightness_model, square_video, seconds=2.2, names=("bright", "dim"))
    folders = {}
    for i, name in enumerate(("clean", "bad-second", "model-as-string", "not-utf8", "crashed")):
        folder = tmp_path / "sessions" / name
        shutil.copytree(original, folder)
        machine = json.loads((folder / "machine.json").read_text())
        machine["recorded_at"] = f"2026-01-0{i + 1}T10:00:00+00:00"  # clean is the oldest
        (folder / "machine.json").write_text(json.dumps(machine))
        folders[name] = folder
    lines = (folders["bad-second"] / "seconds.jsonl").read_text().splitlines()
    assert len(lines) >= 2
    (folders["bad-second"] / "seconds.jsonl").write_text("\n".join([lines[0], '{"second": oops', *lines[1:]]) + "\n")
    summary = json.loads((folders["model-as-string"] / "summary.json").read_text())
    summary["models"]["dim"] = "fast"
    (folders["model-as-string"] / "summary.json").write_text(json.dumps(summary))
    raw = (folders["not-utf8"] / "frames.csv").read_bytes().splitlines(keepends=True)
    raw[2] = raw[2].replace(b",", b"\xff,", 3)  # bad bytes in the frame number, model and time of one row
    (folders["not-utf8"] / "frames.csv").write_bytes(b"".join(raw))
    (folders["crashed"] / "summary.json").unlink()
    return load_session(original), folders


def unreadable_session(root, settings: bytes):
    """A folder that looks like a session (frames.csv header) but whose settings.json cannot be read."""
    folder = root / "broken-settings"
    folder.mkdir()
    (folder / "frames.csv").write_text(",".join(FRAME_COLUMNS) + "\n")
    (folder / "settings.json").write_bytes(settings)
    return folder
