"""Session recording through the real pipeline: files written while running, summaries, disk errors, loading, comparing."""

import json

import pytest

from recordings import damaged_copies, record_session, rows_on_disk, unreadable_session, wait_for
from segview.errors import SegviewError
from segview.recording import SessionRecorder, compare_sessions, load_session
from segview.recording.session_file import FRAME_COLUMNS


def test_rows_are_on_disk_while_running_and_summary_at_the_end(tmp_path, brightness_model, square_video):
    folder = tmp_path / "run"

    def while_running(recorder, pipeline):
        # Flushed within about a second, while the pipeline is still going.
        assert wait_for(lambda: len(rows_on_disk(folder)) > 0)
        assert not pipeline.finished
        assert wait_for(lambda: (folder / "seconds.jsonl").read_text().count("\n") >= 1)
        assert not (folder / "summary.json").exists()

    recorder, pipeline = record_session(folder, brightness_model, square_video, seconds=2.0, check_while_running=while_running)
    assert recorder.problem is None and pipeline.problem is None

    rows = rows_on_disk(folder)
    assert len(rows) > 5 and {r[1] for r in rows} == {"bright"}
    header = (folder / "frames.csv").read_text().splitlines()[0]
    assert tuple(header.split(",")) == FRAME_COLUMNS

    settings = json.loads((folder / "settings.json").read_text())
    assert settings["provider"] == "cpu" and settings["models"] == ["bright"]
    machine = json.loads((folder / "machine.json").read_text())
    assert machine["provider_used"] == "cpu" and machine["cores"] >= 1 and "onnxruntime" in machine

    summary = json.loads((folder / "summary.json").read_text())
    bright = summary["models"]["bright"]
    assert bright["frames"] == len(rows) and bright["fps"] > 0
    assert bright["latency_ms"]["p50"] > 0 and bright["inference_ms"]["p99"] >= bright["inference_ms"]["p50"]
    assert set(bright["stage_medians_ms"]) == {"capture_ms", "queue_ms", "preprocess_ms", "inference_ms", "postprocess_ms"}
    assert summary["duration_s"] >= 2.0 and summary["frames_dropped"] == 0
    assert summary["metrics_mean"]["rss_mb"] > 1 and summary["energy_per_frame_mj"] == {}

    seconds = [json.loads(line) for line in (folder / "seconds.jsonl").read_text().splitlines()]
    assert [s["second"] for s in seconds] == list(range(len(seconds))) and len(seconds) >= 2
    assert seconds[0]["models"]["bright"]["fps"] > 0 and seconds[0]["metrics"]["rss_mb"] > 1
    assert sum(s["models"]["bright"]["frames"] for s in seconds) == len(rows)


def test_disk_full_keeps_earlier_rows_and_the_pipeline_finishes(tmp_path, brightness_model, square_video):
    folder = tmp_path / "full"
    on_disk_before = []

    def fill_the_disk(recorder, pipeline):
        assert wait_for(lambda: len(rows_on_disk(folder)) > 0)
        on_disk_before.extend(rows_on_disk(folder))

        def no_space(text):
            raise OSError(28, "No space left on device")

        recorder._frames_file.write = no_space
        assert wait_for(lambda: recorder.problem is not None)
        assert not pipeline.finished  # the pipeline goes on without the recording

    recorder, pipeline = record_session(folder, brightness_model, square_video, seconds=0, check_while_running=fill_the_disk)
    assert "No space left on device" in recorder.problem
    assert pipeline.problem is None and pipeline.stats.frames_processed > len(on_disk_before)
    after = rows_on_disk(folder)
    assert len(after) >= len(on_disk_before) > 0 and after[: len(on_disk_before)] == on_disk_before

    summary = json.loads((folder / "summary.json").read_text())
    assert "No space left on device" in summary["problem"]
    assert summary["models"]["bright"]["frames"] == len(after)  # the summary covers what is on disk
    assert load_session(folder).summary.model("bright").frames == len(after)


def test_refuses_a_folder_that_holds_files(tmp_path):
    folder = tmp_path / "taken"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    with pytest.raises(SegviewError, match="already holds files"):
        SessionRecorder(folder, settings={}, models=["m"], source="demo")
    assert (folder / "notes.txt").read_text() == "mine"


def test_load_session_rebuilds_a_missing_summary(tmp_path, brightness_model, square_video):
    folder = tmp_path / "crashed"
    recorder, _ = record_session(folder, brightness_model, square_video, seconds=1.2, names=("a", "b"), power=True)
    written = load_session(folder)
    assert not written.summary.reconstructed and written.models == ("a", "b")
    assert set(written.summary.energy_per_frame_mj) == {"rapl_power_w"}

    (folder / "summary.json").unlink()
    with open(folder / "frames.csv", "a") as f:
        f.write("999,a,1.0")  # a torn last line, as a crash mid-write leaves
    rebuilt = load_session(folder)
    assert rebuilt.summary.reconstructed and "did not stop cleanly" in rebuilt.summary.problem
    for name in ("a", "b"):
        before, after = written.summary.model(name), rebuilt.summary.model(name)
        assert after.frames == before.frames == len(rebuilt.frames[name]) > 0
        assert after.latency_ms.p50 == pytest.approx(before.latency_ms.p50, abs=1e-3)
        assert after.fps == pytest.approx(before.fps, rel=1e-3)
    assert rebuilt.summary.metrics_mean["rapl_power_w"] == pytest.approx(13.0, abs=1.0)
    assert rebuilt.summary.energy_per_frame_mj["rapl_power_w"] > 0
    assert len(rebuilt.second_times()) == len(rebuilt.seconds) and rebuilt.model_series("a", "fps")[0] > 0


def test_load_session_errors_are_clear(tmp_path):
    with pytest.raises(SegviewError, match="no such folder"):
        load_session(tmp_path / "nope")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(SegviewError, match="frames.csv"):
        load_session(empty)
    (empty / "frames.csv").write_text(",".join(FRAME_COLUMNS) + "\n")
    (empty / "settings.json").write_text("{not json")
    with pytest.raises(SegviewError, match="settings.json is damaged"):
        load_session(empty)


def test_compare_two_recordings(tmp_path, brightness_model, square_video):
    a_folder, b_folder = tmp_path / "a", tmp_path / "b"
    record_session(a_folder, brightness_model, square_video, seconds=0.8, names=("bright", "only-a"))
    record_session(b_folder, brightness_model, square_video, seconds=0.8, names=("bright",))
    rows = compare_sessions(load_session(a_folder), b_folder)
    assert [r.model for r in rows] == ["bright", "only-a"]
    bright, only_a = rows
    assert bright.fps_a > 0 and bright.fps_b > 0
    assert bright.fps_ratio == pytest.approx(bright.fps_b / bright.fps_a)
    assert bright.latency_p50_ratio == pytest.approx(bright.latency_p50_b / bright.latency_p50_a)
    assert only_a.fps_a > 0 and only_a.fps_b is None and only_a.fps_ratio is None


def test_damaged_sessions_load_with_their_problems(tmp_path, brightness_model, square_video):
    original, folders = damaged_copies(tmp_path, brightness_model, square_video)
    assert original.problems == ()

    bad_second = load_session(folders["bad-second"])
    assert len(bad_second.seconds) == len(original.seconds)
    assert any("seconds.jsonl: 1 damaged line(s) skipped (line 2)" in p for p in bad_second.problems)

    as_string = load_session(folders["model-as-string"])
    assert as_string.models == ("bright", "dim")
    assert any("'dim' is damaged; recomputed from frames.csv" in p for p in as_string.problems)
    assert as_string.summary.model("dim").frames == original.summary.model("dim").frames
    assert as_string.summary.model("bright") == original.summary.model("bright")

    not_utf8 = load_session(folders["not-utf8"])
    assert any("not valid UTF-8 in 1 row(s)" in p for p in not_utf8.problems)
    assert any("1 damaged row(s) skipped" in p for p in not_utf8.problems)
    frames = sum(len(rows) for rows in not_utf8.frames.values())
    assert frames == sum(len(rows) for rows in original.frames.values()) - 1

    crashed = load_session(folders["crashed"])
    assert crashed.summary.reconstructed and crashed.problems == ()


def test_listing_keeps_every_session_and_shows_each_problem(tmp_path, brightness_model, square_video):
    from segview.recording.session_list import list_sessions

    original, folders = damaged_copies(tmp_path, brightness_model, square_video)
    root = tmp_path / "sessions"
    unreadable_session(root, b"\xff{")
    (root / "holiday-photos").mkdir()  # not a session: not listed

    entries = list_sessions(root)
    by_name = {e.name: e for e in entries}
    assert set(by_name) == {*folders, "broken-settings"}
    dated = [e.name for e in entries if e.name != "broken-settings"]
    assert dated == ["crashed", "not-utf8", "model-as-string", "bad-second", "clean"]  # newest first
    clean = by_name["clean"]
    assert clean.problems == () and clean.models == ("bright", "dim") and clean.source.startswith("file:")
    assert clean.fps["bright"] == pytest.approx(original.summary.model("bright").fps)
    assert clean.duration_s == pytest.approx(original.summary.duration_s)
    for name, words in (("bad-second", "seconds.jsonl"), ("model-as-string", "'dim'"), ("not-utf8", "UTF-8"), ("crashed", "did not stop cleanly")):
        assert any(words in p for p in by_name[name].problems), name
        assert by_name[name].readable and by_name[name].fps["bright"] > 0, name
    assert not by_name["broken-settings"].readable
    assert "settings.json is damaged" in by_name["broken-settings"].problems[0]
    assert list_sessions(tmp_path / "no-such-folder") == []
