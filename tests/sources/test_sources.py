import numpy as np
import pytest

import factories
from segview.errors import SourceError
from segview.sources import open_source, parse_source
from segview.sources.camera import list_cameras


def _drain(source, limit=1000):
    frames = []
    while len(frames) < limit:
        frame = source.read()
        if frame is None:
            break
        frames.append(frame)
    return frames


def test_grammar(tmp_path):
    assert parse_source("demo").scheme == "demo"
    spec = parse_source("camera:2?size=1280x720&fps=30")
    assert (spec.scheme, spec.target, spec.size(), spec.number("fps")) == ("camera", "2", (1280, 720), 30.0)
    assert parse_source("file:/x/clip.mp4?loop=1").flag("loop")
    assert parse_source(str(tmp_path)).scheme == "folder"
    assert parse_source(str(tmp_path / "clip.mp4")).scheme == "file"
    with pytest.raises(SourceError, match="unknown source"):
        parse_source("nonsense")
    with pytest.raises(SourceError, match="1280x720"):
        parse_source("camera:0?size=big").size()


def test_video_file_reads_every_frame(square_video):
    with open_source(f"file:{square_video}") as source:
        frames = _drain(source)
    assert len(frames) == 24
    assert frames[0].image.shape == (120, 160, 3)
    assert [f.index for f in frames] == list(range(24))
    assert source.nominal_fps == pytest.approx(30, rel=0.01)
    # The decoded square sits where it was drawn (H.264 is lossy, so compare loosely).
    original = factories.moving_square_frames(24)[5]
    assert np.abs(frames[5].image.astype(int) - original).mean() < 6


def test_video_loops(square_video):
    with open_source(str(square_video), loop="1") as source:
        frames = _drain(source, limit=60)
    assert len(frames) == 60
    assert source.loops_completed == 2


def test_truncated_video_reports_damage(tmp_path):
    frames = factories.moving_square_frames(90)
    video = factories.write_video(tmp_path / "long.mkv", frames)  # Matroska keeps its index up front
    data = video.read_bytes()
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(data[: len(data) // 2])
    with open_source(str(cut)) as source:
        got = _drain(source)
    assert 0 < len(got) < 90
    # The header still says how long the file should be, so the shortfall is reported.
    assert source.problem == f"cut.mkv is damaged: it ended after {len(got)} of its 90 frames"


def test_video_without_index_is_refused(square_video, tmp_path):
    # MP4 written by a muxer puts its index (moov) at the end: cut it off and nothing is decodable.
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(square_video.read_bytes()[:-200])
    with pytest.raises(SourceError, match="cannot decode video cut.mp4"):
        open_source(str(cut))


@pytest.mark.parametrize("content", [b"", b"this is not a video at all" * 100])
def test_undecodable_video(tmp_path, content):
    path = tmp_path / "bad.mp4"
    path.write_bytes(content)
    with pytest.raises(SourceError, match="cannot decode video bad.mp4"):
        open_source(str(path))


def test_missing_video(tmp_path):
    with pytest.raises(SourceError, match="not found"):
        open_source(f"file:{tmp_path / 'gone.mp4'}")


def test_image_folder_in_natural_order(tmp_path):
    frames = factories.moving_square_frames(12)
    factories.write_images(tmp_path / "imgs", frames)
    (tmp_path / "imgs" / "notes.txt").write_text("ignored")
    (tmp_path / "imgs" / "99.png").write_bytes(b"broken")
    with open_source(f"folder:{tmp_path / 'imgs'}") as source:
        got = _drain(source)
    assert len(got) == 12
    assert np.array_equal(got[10].image, frames[10])  # 10.png after 9.png, PNG is lossless
    assert [p.name for p in source.skipped] == ["99.png"]


def test_empty_folder(tmp_path):
    with pytest.raises(SourceError, match="no images in"):
        open_source(f"folder:{tmp_path}")


def test_camera_that_does_not_exist():
    with pytest.raises(SourceError, match="camera 57 not found"):
        open_source("camera:57")


def test_camera_device_path_missing(tmp_path):
    with pytest.raises(SourceError, match="camera device not found"):
        open_source(f"camera:{tmp_path / 'video9'}")


def test_camera_code_path_with_a_video_standing_in(square_video):
    # OpenCV opens a file path like a device: the camera source's real read loop runs on it.
    with open_source(f"camera:{square_video}") as source:
        assert source.is_live
        frames = _drain(source)
    assert len(frames) == 24
    assert source.problem and "stopped delivering frames" in source.problem


def test_list_cameras_reads_sysfs(tmp_path):
    for n, (name, index) in enumerate([("Integrated Camera", "0"), ("Integrated Camera", "1"), ("USB Cam", "0")]):
        node = tmp_path / f"video{n}"
        node.mkdir()
        (node / "name").write_text(name + "\n")
        (node / "index").write_text(index + "\n")
    cameras = list_cameras(tmp_path)
    assert [(c.index, c.device, c.name) for c in cameras] == [(0, "/dev/video0", "Integrated Camera"), (2, "/dev/video2", "USB Cam")]


def test_demo_clip_shows_frames():
    with open_source("demo") as source:
        frames = _drain(source, limit=5)
    assert len(frames) == 5
    assert frames[0].image.shape == (480, 640, 3)
    assert frames[0].image.std() > 10  # a picture, not a blank


# -- the grammar refuses what no source understands (issue 12) -------------------


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("demo?lop=1", "unknown option 'lop' for demo; did you mean loop? known: loop, realtime"),
        ("camera:0?sise=640x480", "known: size, fps"),
        ("camera:0?fps=-3", "fps=-3: must be a number above 0"),
        ("camera:0?fps=nan", "fps=nan: must be a number above 0"),
        ("camera:0?fps=inf", "fps=inf: must be a number above 0"),
        ("folder:x?fps=abc", "fps=abc: not a number"),
        ("demo?loop=banana", "loop=banana: give 1 or 0"),
        ("camera:0?size=0x720", "size must look like 1280x720"),
        ("adb?wait=-1", "wait=-1: must be a number above 0"),
        ("adb?bitrate=fast", "bitrate must look like 8M"),
    ],
)
def test_bad_options_are_refused_before_opening(text, fragment):
    with pytest.raises(SourceError) as caught:
        parse_source(text)
    assert fragment in str(caught.value)


@pytest.mark.parametrize("text", ["demo?loop=0&realtime=yes", "camera:1?size=1280x720&fps=29.97", "adb?bitrate=8M&giveup=2.5", "folder:x?fps=10&loop=on"])
def test_good_options_pass(text):
    assert str(parse_source(text)) == text


def test_a_bare_flag_means_on():
    assert parse_source("demo?realtime").flag("realtime") is True
    assert parse_source("demo?loop=off").flag("loop", True) is False


@pytest.mark.parametrize(
    "text, guess", [("dmeo", "did you mean demo?"), ("camra:0", "did you mean camera:0?"), ("fodler:imgs?loop=1", "did you mean folder:imgs?loop=1?")]
)
def test_mistyped_source_gets_a_suggestion(text, guess):
    with pytest.raises(SourceError) as caught:
        parse_source(text)
    assert str(caught.value).startswith(f"unknown source {text!r}")
    assert str(caught.value).endswith(guess)


def test_no_suggestion_when_nothing_is_close():
    with pytest.raises(SourceError) as caught:
        parse_source("nonsense")
    assert "did you mean" not in str(caught.value)
