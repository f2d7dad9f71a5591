"""The bundled demo clip (see resources/demo-PROVENANCE.md): a file source that loops."""

from __future__ import annotations

from pathlib import Path

from segview.errors import SourceError
from segview.sources.spec import SourceSpec, register_scheme
from segview.sources.video_file import VideoFileSource

DEMO_CLIP = Path(__file__).resolve().parents[2] / "resources" / "demo.mp4"


def _from_spec(spec: SourceSpec) -> VideoFileSource:
    if not DEMO_CLIP.exists():
        raise SourceError(f"the demo clip is missing ({DEMO_CLIP}); reinstall segview or run tools/make_demo_clip.py")
    return VideoFileSource(DEMO_CLIP, loop=spec.flag("loop", True), realtime=spec.flag("realtime"), name="demo")


register_scheme("demo", _from_spec)
