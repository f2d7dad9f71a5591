"""The distillation pool: several sources mixed and recorded, near-duplicates thinned, licences, recordings."""

from __future__ import annotations

import json

import numpy as np
import pytest

import factories
from cli_tools import TINY_STUDENT
from segview.distill.availability import DistillError
from segview.distill.config import DataConfig
from segview.distill.data import load_frames
from segview.distill.pool import Thinner, describe_sources, require_people
from segview.distill.teacher import Teacher, resolve_teacher
from segview.inference.registry import ModelRegistry


def _squares(count: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    frames = []
    for _ in range(count):
        x0, y0 = int(rng.integers(0, 40)), int(rng.integers(0, 24))
        frames.append(factories.bright_square_frame(80, 60, box=(x0, y0, x0 + 30, y0 + 30)))
    return frames


def _by_kind(description, kind):
    return [r for r in description["sources"] if r["kind"] == kind]


def test_two_image_folders_and_a_video_are_mixed_and_each_recorded_with_its_count(tmp_path):
    factories.write_images(tmp_path / "studio", _squares(5, 1))
    factories.write_images(tmp_path / "street", _squares(3, 2))
    video = factories.write_video(tmp_path / "walk.mp4", factories.moving_square_frames(20))
    config = DataConfig(images=(tmp_path / "studio", tmp_path / "street"), videos=(str(video),), video_every=2, thin=0, val_fraction=0)
    frames = load_frames(config)
    records = frames.description["sources"]
    assert [(r["name"], r["kind"], r["count"]) for r in records] == [("studio", "images", 5), ("street", "images", 3), ("walk.mp4", "video", 10)]
    assert len(frames.train) == 18
    # Two folders' 0.png are two frames, not one name twice.
    assert len({s.name for s in frames.train}) == 18
    json.dumps(frames.description)  # it goes into the card as it is


def test_a_licence_file_beside_a_video_is_not_taken_for_the_videos(tmp_path):
    # A LICENSE next to a clip is as likely the licence of the project holding it.
    video = factories.write_video(tmp_path / "walk.mp4", factories.moving_square_frames(4))
    (tmp_path / "LICENSE").write_text("MIT License\n")
    frames = load_frames(DataConfig(videos=(str(video),), val_fraction=0, licences=()))
    assert frames.description["sources"][0]["licence"] == "not stated"
    named = load_frames(DataConfig(videos=(str(video),), val_fraction=0, licences=(("walk.mp4", "CC BY 4.0"),)))
    assert named.description["sources"][0]["licence"] == "CC BY 4.0"


def test_one_folder_given_the_old_way_still_reads():
    config = DataConfig(images=None)
    assert config.images == ()


def test_thinning_drops_identical_frames_and_keeps_different_ones():
    a, b = _squares(2, 3)
    thinner = Thinner(4.0)
    kept = [thinner.keep(image) for image in (a, a, a.copy(), b, b, a)]
    assert kept == [True, False, False, True, False, True] and thinner.thinned == 3
    assert all(Thinner(0).keep(a) for _ in range(3))  # 0 disables


def test_a_video_of_held_frames_is_thinned_and_counted(tmp_path):
    distinct = _squares(4, 4)
    held = [image for image in distinct for _ in range(5)]  # each picture held for 5 frames
    video = factories.write_video(tmp_path / "held.mp4", held)
    frames = load_frames(DataConfig(videos=(str(video),), video_every=1, val_fraction=0))
    (record,) = frames.description["sources"]
    assert (record["count"], record["thinned"]) == (4, 16)
    assert "16 near-duplicates thinned" in describe_sources(frames.description)
    unthinned = load_frames(DataConfig(videos=(str(video),), video_every=1, thin=0, val_fraction=0))
    assert unthinned.description["sources"][0]["count"] == 20


def test_licence_from_a_licence_file_in_the_folder_and_from_the_command_line(tmp_path):
    factories.write_images(tmp_path / "open", _squares(2))
    (tmp_path / "open" / "LICENSE.txt").write_text("\n\nCC BY 4.0, Example Photographers\nmore text\n")
    factories.write_images(tmp_path / "mine", _squares(2))
    factories.write_images(tmp_path / "unknown", _squares(2))
    config = DataConfig(images=(tmp_path / "open", tmp_path / "mine", tmp_path / "unknown"), licences=(("mine", "CC0"),), val_fraction=0)
    licences = [r["licence"] for r in load_frames(config).description["sources"]]
    assert licences == ["CC BY 4.0, Example Photographers", "CC0", "not stated"]
    by_path = DataConfig(images=(tmp_path / "open",), licences=((str(tmp_path / "open"), "given wins"),), val_fraction=0)
    assert load_frames(by_path).description["sources"][0]["licence"] == "given wins"


def test_a_recording_holding_a_video_is_read_and_one_without_frames_is_refused(tmp_path):
    session = tmp_path / "session-1"
    session.mkdir()
    (session / "settings.json").write_text(json.dumps({"source": "file:/videos/hall.mp4", "models": ["m"]}))
    (session / "frames.csv").write_text("frame,model\n")
    with pytest.raises(DistillError) as caught:
        load_frames(DataConfig(recordings=(session,)))
    assert str(caught.value) == (
        f"recording {session} holds no frames: a segview session records timings, not pictures; "
        "its frames came from file:/videos/hall.mp4: give that with --video"
    )
    factories.write_video(session / "capture.mp4", factories.moving_square_frames(12))
    frames = load_frames(DataConfig(recordings=(session,), video_every=3, val_fraction=0))
    (record,) = frames.description["sources"]
    assert (record["name"], record["kind"], record["count"]) == ("session-1", "recording", 4)
    with pytest.raises(DistillError, match="recording not found"):
        load_frames(DataConfig(recordings=(tmp_path / "gone",)))


@pytest.fixture
def bright_teacher(brightness_model, model_dir):
    return Teacher(resolve_teacher(str(brightness_model), ModelRegistry([model_dir])))


def test_the_people_check_refuses_a_pool_the_teacher_finds_no_person_in(tmp_path, bright_teacher):
    dark = [factories.bright_square_frame(80, 60, box=(0, 0, 0, 0)) for _ in range(70)]
    factories.write_images(tmp_path / "empty-rooms", dark)
    frames = load_frames(DataConfig(images=tmp_path / "empty-rooms", val_fraction=0))
    with pytest.raises(DistillError) as caught:
        require_people(bright_teacher, frames.train)
    assert str(caught.value) == "the teacher finds no person in 64 of 64 sampled frames: these frames cannot teach person segmentation"
    # One in ten with a person is enough: such a pool can teach.
    mixed = list(frames.train[:60]) + [s for s in load_frames(DataConfig(images=_folder(tmp_path / "people", _squares(7)), val_fraction=0)).train]
    require_people(bright_teacher, mixed)


def _folder(path, images):
    factories.write_images(path, images)
    return path


@pytest.mark.parametrize("case", ["empty", "no-people", "recording-without-frames"])
def test_a_pool_that_cannot_teach_is_one_line_through_the_cli_and_writes_nothing(case, capsys, tmp_path, brightness_model, model_dir):
    pytest.importorskip("torch")
    from segview.cli.main import main

    folder = tmp_path / case
    folder.mkdir()
    if case == "no-people":
        factories.write_images(folder, [factories.bright_square_frame(80, 60, box=(0, 0, 0, 0)) for _ in range(8)])
        args, message = ["--images", str(folder)], "the teacher finds no person in 8 of 8 sampled frames: these frames cannot teach person segmentation"
    elif case == "empty":
        args, message = ["--images", str(folder)], "no frames to learn from: give an image folder with images in it, or a video with frames"
    else:
        (folder / "settings.json").write_text("{}")
        args, message = ["--recording", str(folder)], f"recording {folder} holds no frames: a segview session records timings, not pictures"
    before = sorted(p.name for p in model_dir.iterdir())
    code = main(
        [
            "distill",
            "--teacher",
            str(brightness_model),
            *TINY_STUDENT,
            "--steps",
            "2",
            *args,
            "--out",
            str(model_dir / "s.onnx"),
        ]
    )
    assert code == 2 and capsys.readouterr().err == f"segview: error: {message}\n"
    assert sorted(p.name for p in model_dir.iterdir()) == before
