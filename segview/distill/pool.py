"""The distillation pool's real sources: image folders, videos, live sources and recorded sessions.

Each source is read into Samples and described by a :class:`SourceRecord` (name, kind,
where, how many frames, how many were thinned, under which licence) that goes into
the student's card. Video frames are thinned: consecutive frames of a clip are nearly
the same picture, and a pool of near-duplicates teaches one frame many times.
Also here: the check that the teacher sees people in the pool at all.
numpy and OpenCV only (no torch), like data.py.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path

import cv2
import numpy as np

from segview.distill.availability import DistillError
from segview.distill.config import DataConfig
from segview.distill.data import Cancelled, Sample, read_folder, shrink
from segview.errors import SegviewError
from segview.sources.spec import open_source

NOT_STATED = "not stated"
LICENCE_PREFIXES = ("license", "licence", "notice")
VIDEO_SUFFIXES = {".mp4", ".m4v", ".mkv", ".avi", ".mov", ".webm", ".mpg", ".mpeg", ".wmv", ".flv", ".ts"}
THUMB_SIDE = 32
# A live source that thinning keeps dropping (a still scene) stops after this many reads per kept frame asked for.
READS_PER_KEPT = 4
# The people check: a frame shows a person when the teacher marks at least PERSON_SHARE of it;
# a pool where fewer than MIN_WITH_PEOPLE of SAMPLED frames do cannot teach person segmentation.
PERSON_SHARE = 0.01
MIN_WITH_PEOPLE = 0.05
SAMPLED = 64


@dataclass(frozen=True, slots=True)
class SourceRecord:
    name: str
    kind: str  # images, video, source, recording or composites
    path: str  # a folder, a file or a source spec
    count: int  # frames it gave the pool
    thinned: int = 0  # near-duplicate frames dropped
    licence: str = NOT_STATED
    details: Mapping[str, object] = field(default_factory=dict)  # composites: their settings and origins

    def as_dict(self) -> dict[str, object]:
        plain = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "details"}
        return {**plain, **self.details}


class Thinner:
    """Keeps a frame only when its small grey thumbnail differs enough from the last kept one."""

    def __init__(self, threshold: float) -> None:
        self.threshold = threshold
        self.thinned = 0
        self._last: np.ndarray | None = None

    def keep(self, image: np.ndarray) -> bool:
        if self.threshold <= 0:
            return True
        grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
        thumb = cv2.resize(grey, (THUMB_SIDE, THUMB_SIDE), interpolation=cv2.INTER_AREA).astype(np.float32)
        if self._last is not None and float(np.abs(thumb - self._last).mean()) < self.threshold:
            self.thinned += 1
            return False
        self._last = thumb
        return True


def parse_licence(text: str) -> tuple[str, str]:
    """``NAME_OR_PATH=TEXT`` from the command line."""
    key, sep, licence = text.partition("=")
    if not sep or not key.strip() or not licence.strip():
        raise ValueError(f"expected NAME_OR_PATH=LICENCE, not {text!r}")
    return key.strip(), licence.strip()


def licence_of(name: str, where: str, given: Sequence[tuple[str, str]], folder: Path | None = None) -> str:
    """The licence named on the command line for this source (by name or path), else the first
    line of a LICENSE / LICENCE / NOTICE file in its folder, else 'not stated'."""
    for key, text in given:
        if key in (name, where) or _same_path(key, where):
            return text
    if folder is not None and folder.is_dir():
        for path in sorted(folder.iterdir()):
            if path.is_file() and path.name.lower().startswith(LICENCE_PREFIXES):
                line = _first_line(path)
                if line:
                    return line
    return NOT_STATED


def _same_path(a: str, b: str) -> bool:
    try:
        return Path(a).expanduser().resolve() == Path(b).expanduser().resolve()
    except (OSError, RuntimeError):
        return False


def _first_line(path: Path) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.strip():
                    return line.strip()[:200]
    except OSError:
        return None
    return None


def read_image_folders(
    folders: Sequence[Path], masks: Path | None, max_side: int, licences: Sequence[tuple[str, str]]
) -> tuple[list[Sample], list[SourceRecord]]:
    """Every folder's images; the masks go with the first folder. Names are prefixed by the
    folder's when there are several, so frames of two folders never share a name."""
    samples: list[Sample] = []
    records = []
    for i, folder in enumerate(folders):
        read = read_folder(folder, masks if i == 0 else None, max_side)
        if len(folders) > 1:
            read = [Sample(f"{folder.name}/{s.name}", s.image, s.mask) for s in read]
        samples += read
        records.append(SourceRecord(folder.name or str(folder), "images", str(folder), len(read), 0, licence_of(folder.name, str(folder), licences, folder)))
    return samples, records


@dataclass(frozen=True, slots=True)
class StreamLimits:
    every: int  # keep every Nth frame
    max_frames: int  # kept frames at most
    max_side: int
    thin: float


def read_video(
    spec: str, limits: StreamLimits, licences: Sequence[tuple[str, str]], cancelled: Cancelled, *, kind: str | None = None
) -> tuple[list[Sample], SourceRecord]:
    """Every Nth frame of a file or a live source (a camera, a phone), near-duplicates thinned."""
    is_file = Path(spec).exists()
    text = spec if ":" in spec.split("?")[0] or not is_file else f"file:{spec}"
    try:
        source = open_source(text)
    except SegviewError as exc:
        raise DistillError(f"cannot read frames from {spec}: {exc}") from None
    label = Path(spec).name if is_file else spec
    samples, thinner = _read_stream(source, label, limits, cancelled)
    # Only what --licence names: a LICENSE beside a video may be the licence of a whole project.
    record = SourceRecord(label, kind or ("video" if is_file else "source"), spec, len(samples), thinner.thinned, licence_of(label, spec, licences))
    return samples, record


def _read_stream(source, label: str, limits: StreamLimits, cancelled: Cancelled) -> tuple[list[Sample], Thinner]:
    samples: list[Sample] = []
    thinner = Thinner(limits.thin)
    every = max(1, limits.every)
    try:
        index = 0
        while len(samples) < limits.max_frames and index < limits.max_frames * every * READS_PER_KEPT and not cancelled():
            frame = source.read()
            if frame is None:
                break
            if index % every == 0:
                image = shrink(frame.image, limits.max_side)
                if thinner.keep(image):
                    samples.append(Sample(f"{label}#{index}", image, None))
            index += 1
    finally:
        source.close()
    return samples, thinner


def recording_videos(folder: Path) -> list[Path]:
    """The video files a recorded session folder holds; refuses one that holds none."""
    if not folder.is_dir():
        raise DistillError(f"recording not found: {folder}")
    videos = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES)
    if videos:
        return videos
    from segview.recording.session_file import FRAMES_FILE, SETTINGS_FILE

    if not (folder / SETTINGS_FILE).is_file() and not (folder / FRAMES_FILE).is_file():
        raise DistillError(f"{folder} is not a segview recorded session (no {SETTINGS_FILE}, no {FRAMES_FILE}) and holds no video")
    raise DistillError(f"recording {folder} holds no frames: a segview session records timings, not pictures{_source_hint(folder / SETTINGS_FILE)}")


def _source_hint(settings: Path) -> str:
    import json

    try:
        source = json.loads(settings.read_text(encoding="utf-8")).get("source")
    except (OSError, ValueError, AttributeError):
        return ""
    return f"; its frames came from {source}: give that with --video" if isinstance(source, str) and source else ""


def read_recording(folder: Path, limits: StreamLimits, licences: Sequence[tuple[str, str]], cancelled: Cancelled) -> tuple[list[Sample], SourceRecord]:
    samples: list[Sample] = []
    thinned = 0
    for video in recording_videos(folder):
        read, record = read_video(str(video), limits, licences, cancelled)
        samples += [Sample(f"{folder.name}/{s.name}", s.image, s.mask) for s in read]
        thinned += record.thinned
    licence = licence_of(folder.name, str(folder), licences, folder)
    return samples, SourceRecord(folder.name or str(folder), "recording", str(folder), len(samples), thinned, licence)


def read_sources(config: DataConfig, cancelled: Cancelled) -> tuple[list[Sample], list[SourceRecord]]:
    """Every image folder, video, live source and recording the config names, with a record each."""
    samples, records = read_image_folders(config.images, config.masks, config.max_side, config.licences)
    limits = StreamLimits(config.video_every, config.video_max_frames, config.max_side, config.thin)
    for spec in config.videos:
        read, record = read_video(spec, limits, config.licences, cancelled)
        samples += read
        records.append(record)
    for folder in config.recordings:
        read, record = read_recording(folder, limits, config.licences, cancelled)
        samples += read
        records.append(record)
    return samples, records


def teacher_probability(teacher: Callable[[np.ndarray], object], image: np.ndarray) -> np.ndarray:
    """The teacher's person probability at the image's size (its preprocessing stretches, so a resize maps back)."""
    prob = teacher(image).probability  # type: ignore[attr-defined]
    h, w = image.shape[:2]
    return cv2.resize(prob, (w, h), interpolation=cv2.INTER_LINEAR) if prob.shape != (h, w) else prob


def person_share(teacher: Callable[[np.ndarray], object], image: np.ndarray) -> float:
    """Share of the frame the teacher calls person (probability over one half), at its own resolution."""
    return float((teacher(image).probability > 0.5).mean())  # type: ignore[attr-defined]


def require_people(teacher: Callable[[np.ndarray], object], samples: Sequence[Sample], cancelled: Cancelled = lambda: False) -> None:
    """Up to SAMPLED frames spread over the pool, run through the teacher: refuses a pool where
    it finds a person in fewer than MIN_WITH_PEOPLE of them, before any training starts."""
    if not samples:
        return
    picks = np.unique(np.linspace(0, len(samples) - 1, min(SAMPLED, len(samples))).round().astype(int))
    found = 0
    for i in picks:
        if cancelled():
            return
        found += person_share(teacher, samples[int(i)].image) >= PERSON_SHARE
    if found < MIN_WITH_PEOPLE * len(picks):
        missing = len(picks) - found
        raise DistillError(f"the teacher finds no person in {missing} of {len(picks)} sampled frames: these frames cannot teach person segmentation")


def describe_sources(description: Mapping[str, object]) -> str:
    """One line for the run's log: each source's frames, what thinning and the people check dropped."""
    parts = []
    sources = description.get("sources", [])
    if not isinstance(sources, list):
        raise TypeError(f"a description's sources are a list of records, not {type(sources).__name__}")
    for r in sources:
        text = f"{r['name']} ({r['kind']}): {r['count']}"
        if r.get("thinned"):
            text += f", {r['thinned']} near-duplicates thinned"
        for b in r.get("backgrounds_from", []):
            if b["dropped_with_people"]:
                text += f", {b['dropped_with_people']} of {b['images']} backgrounds in {Path(b['path']).name} dropped (they show a person)"
        parts.append(text)
    return "frames: " + "; ".join(parts)
