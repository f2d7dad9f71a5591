"""Starting and stopping a recorded profiling session from the studio (GUI thread)."""

from __future__ import annotations

import time
from pathlib import Path

from segview.metrics.hub import MetricsHub
from segview.recording.recorder import SessionRecorder
from segview.ui.engine import StudioEngine

DEFAULT_SESSIONS_DIR = Path.home() / "segview-sessions"


class RecordingControl:
    """Attaches a SessionRecorder to the engine (frames) and the hub (metrics) while recording."""

    def __init__(self, engine: StudioEngine, hub: MetricsHub) -> None:
        self.engine = engine
        self.hub = hub
        self.recorder: SessionRecorder | None = None
        self.folder: Path | None = None

    @property
    def recording(self) -> bool:
        return self.recorder is not None

    def start(self, folder: Path | None = None) -> Path:
        """Raises SegviewError if the folder cannot be used; nothing is attached then."""
        folder = folder or DEFAULT_SESSIONS_DIR / time.strftime("%Y%m%d-%H%M%S")
        e = self.engine
        source = str(e.source_spec) if e.source_spec else None
        settings = {
            "source": source,
            "models": [str(m.path) for m in e.models],
            "workers": e.workers,
            "provider": e.provider,
            "overlay": e.overlay.mode.value,
            "smoothing": e.smoothing,
        }
        recorder = SessionRecorder(folder, settings=settings, models=[m.name for m in e.models], source=source or "")
        self.recorder, self.folder = recorder, folder
        e.add_consumer(recorder)
        self.hub.subscribe(recorder.on_metrics)
        return folder

    def stop(self) -> Path | None:
        """Detach and write the summary; returns the session folder."""
        recorder, self.recorder = self.recorder, None
        if recorder is None:
            return None
        self.engine.remove_consumer(recorder)
        self.hub.unsubscribe(recorder.on_metrics)
        recorder.stop(frames_dropped=self.engine.frames_dropped())
        return self.folder

    @property
    def problem(self) -> str | None:
        return self.recorder.problem if self.recorder is not None else None
