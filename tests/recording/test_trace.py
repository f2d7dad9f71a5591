"""Timeline traces of real recordings (segview trace, trace_export): valid Chrome JSON, spans matching the rows."""

import csv
import json
from collections import Counter, defaultdict
from itertools import pairwise
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

import factories
from cli_tools import assert_one_line_error, run_segview
from recordings import record_session
from segview.errors import SegviewError
from segview.recording import load_session
from segview.recording.session_file import FRAME_COLUMNS, LEGACY_FRAME_COLUMNS
from segview.recording.trace_export import op_profile_trace, session_trace, write_trace

MODELS = ("a", "b")
STAGES = ("preprocess", "inference", "postprocess")


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """A real two-model recording through the pipeline (two workers, a power sampler), shared by the tests here."""
    root = tmp_path_factory.mktemp("trace")
    model = factories.brightness_model(root / "bright.onnx")
    factories.write_card(model, name="bright")
    video = factories.write_video(root / "squares.mp4", factories.moving_square_frames(24))
    folder = root / "session"
    recorder, pipeline = record_session(folder, model, video, seconds=2.0, names=MODELS, power=True)
    assert recorder.problem is None and pipeline.problem is None
    return folder


def _frame_rows(folder):
    with open(folder / "frames.csv", newline="") as f:
        return list(csv.DictReader(f))


def _check_events(trace):
    """Every event has the fields its phase needs (Chrome trace event format)."""
    assert trace["displayTimeUnit"] == "ms" and isinstance(trace["traceEvents"], list)
    for e in trace["traceEvents"]:
        assert {"name", "ph", "pid", "tid"} <= set(e), e
        assert e["ph"] in {"X", "C", "M", "b", "e"}, e
        if e["ph"] != "M":
            assert isinstance(e["ts"], (int, float)) and e["ts"] >= 0, e
        if e["ph"] == "X":
            assert e["dur"] >= 0 and e["cat"] in {"capture", *STAGES} and "frame" in e["args"], e
        if e["ph"] in {"b", "e"}:
            assert e["cat"] == "queue" and "id" in e, e
        if e["ph"] == "C":
            assert e["args"] and all(isinstance(v, (int, float)) for v in e["args"].values()), e


def _spans(trace, cat=None):
    return [e for e in trace["traceEvents"] if e["ph"] == "X" and (cat is None or e["cat"] == cat)]


def _thread_names(trace):
    return {e["tid"]: e["args"]["name"] for e in trace["traceEvents"] if e["ph"] == "M" and e["name"] == "thread_name"}


def _assert_no_overlaps(trace):
    """Spans on one thread follow each other: none starts before the previous one ends (1 ns of rounding allowed)."""
    by_tid = defaultdict(list)
    for e in _spans(trace):
        by_tid[e["tid"]].append(e)
    for spans in by_tid.values():
        spans.sort(key=lambda e: e["ts"])
        for before, after in pairwise(spans):
            assert after["ts"] >= before["ts"] + before["dur"] - 1e-3, (before, after)


def test_cli_trace_of_a_real_recording_matches_its_rows(recorded, tmp_path):
    out = tmp_path / "trace.json"
    proc = run_segview("trace", recorded, "-o", out)
    assert proc.returncode == 0, proc.stderr
    assert str(out) in proc.stdout
    trace = json.loads(out.read_text())
    _check_events(trace)

    rows = _frame_rows(recorded)
    assert len(rows) > 10 and {r["model"] for r in rows} == set(MODELS)
    per_model = Counter(r["model"] for r in rows)
    for stage in STAGES:
        spans = _spans(trace, stage)
        assert len(spans) == len(rows), stage
        assert Counter(e["args"]["model"] for e in spans) == per_model, stage
    begins = [e for e in trace["traceEvents"] if e["ph"] == "b"]
    ends = [e for e in trace["traceEvents"] if e["ph"] == "e"]
    assert len(begins) == len(ends) == len(rows)
    assert len(_spans(trace, "capture")) == len({r["frame"] for r in rows})  # one capture per frame, for every model
    assert f"{len(rows)} frames.csv rows" in proc.stdout

    names = _thread_names(trace)
    assert names[1] == "capture"
    workers = {f"worker {r['worker']}" for r in rows}
    assert {names[e["tid"]] for e in _spans(trace) if e["cat"] in STAGES} == workers
    assert any(e["name"] == "process_name" for e in trace["traceEvents"] if e["ph"] == "M")

    counters = {e["name"]: e for e in trace["traceEvents"] if e["ph"] == "C"}
    assert set(counters["FPS"]["args"]) <= set(MODELS) and counters["FPS"]["args"]
    assert {"CPU %", "RSS (MB)", "Power (W)"} <= set(counters)
    seconds = (recorded / "seconds.jsonl").read_text().splitlines()
    assert sum(e["name"] == "RSS (MB)" for e in trace["traceEvents"] if e["ph"] == "C") == len(seconds)


def test_spans_are_ordered_like_the_pipeline_ran_them(recorded):
    trace = session_trace(recorded)
    _assert_no_overlaps(trace)
    by_frame = defaultdict(list)
    for e in _spans(trace):
        by_frame[e["args"]["frame"]].append(e)
    for spans in by_frame.values():
        capture = next(e for e in spans if e["cat"] == "capture")
        work = sorted((e for e in spans if e["cat"] != "capture"), key=lambda e: e["ts"])
        assert [e["cat"] for e in work] == list(STAGES) * len(MODELS)  # a then b, each pre, run, post
        assert [e["args"]["model"] for e in work[::3]] == list(MODELS)
        assert capture["ts"] + capture["dur"] <= work[0]["ts"] + 1e-3  # captured before a worker started on it
        assert len({e["tid"] for e in work}) == 1  # one worker ran every model of the frame


def test_older_sessions_without_worker_columns_get_one_track_per_model(recorded, tmp_path):
    old = tmp_path / "old"
    old.mkdir()
    for name in ("settings.json", "machine.json", "seconds.jsonl", "summary.json"):
        (old / name).write_bytes((recorded / name).read_bytes())
    rows = _frame_rows(recorded)
    with open(old / "frames.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(LEGACY_FRAME_COLUMNS)
        writer.writerows([[r[c] for c in LEGACY_FRAME_COLUMNS] for r in rows])
    session = load_session(old)
    assert not session.problems and session.frames["a"].worker is None
    assert len(load_session(recorded).frames["a"].worker) == len(session.frames["a"])

    trace = session_trace(old)
    _check_events(trace)
    _assert_no_overlaps(trace)
    for stage in STAGES:
        assert len(_spans(trace, stage)) == len(rows)
    names = _thread_names(trace)
    tracks = {names[e["tid"]] for e in _spans(trace) if e["cat"] in STAGES}
    assert {"a", "b"} <= tracks and not any(t.startswith("worker") for t in tracks)
    assert trace["otherData"]["tracks"].startswith("per model")


def test_bad_inputs_are_one_line_and_write_nothing(recorded, tmp_path):
    not_session = tmp_path / "plain"
    not_session.mkdir()
    out = tmp_path / "t.json"
    assert_one_line_error(run_segview("trace", not_session, "-o", out), "not a recorded session")
    assert not out.exists()

    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "settings.json").write_text("{}")
    (empty / "frames.csv").write_text(",".join(FRAME_COLUMNS) + "\n")
    assert_one_line_error(run_segview("trace", empty, "-o", out), "no frames to trace")
    assert not out.exists()

    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    assert_one_line_error(run_segview("trace", recorded, "-o", blocker / "trace.json"), "cannot write")
    with pytest.raises(SegviewError, match="it is a folder"):
        write_trace(recorded, tmp_path)
    assert not (recorded / "trace.json").exists() and sorted(p.name for p in tmp_path.iterdir()) == ["a-file", "empty", "plain"]


def test_op_profile_of_a_real_onnxruntime_run_becomes_a_trace(tmp_path):
    model = factories.brightness_model(tmp_path / "bright.onnx")
    options = ort.SessionOptions()
    options.enable_profiling = True
    options.profile_file_prefix = str(tmp_path / "ort")
    session = ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
    feed = {session.get_inputs()[0].name: np.zeros((1, 3, 32, 32), dtype=np.float32)}
    for _ in range(3):
        session.run(None, feed)
    profile = json.loads(Path(session.end_profiling()).read_text())
    trace = op_profile_trace(profile)
    nodes = [e for e in trace["traceEvents"] if e.get("cat") == "Node"]
    assert len(nodes) == sum(e.get("cat") == "Node" for e in profile) > 0
    assert trace["traceEvents"][0]["ph"] == "M" and trace["traceEvents"][0]["args"]["name"] == "onnxruntime profile"
    assert json.loads(json.dumps(trace)) == trace
