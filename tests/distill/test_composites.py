"""Synthetic composites: people cut out with the teacher's masks, pasted over backgrounds; deterministic per seed."""

from __future__ import annotations

import json
from dataclasses import replace

import cv2
import numpy as np
import pytest

import factories
from cli_tools import TINY_STUDENT
from segview.distill.availability import DistillError
from segview.distill.composites import (
    CompositeSettings,
    compose,
    cutout_from,
    read_backgrounds,
)
from segview.distill.config import DataConfig
from segview.distill.data import load_frames
from segview.distill.teacher import Teacher, resolve_teacher
from segview.inference.registry import ModelRegistry


@pytest.fixture
def bright_teacher(brightness_model, model_dir):
    """Bright pixels are 'person': the square frames' boxes are people, dark textures are not."""
    return Teacher(resolve_teacher(str(brightness_model), ModelRegistry([model_dir])))


def _textures(count: int, seed: int = 0) -> list[np.ndarray]:
    """Dark, varied backgrounds (never above mid-grey, so the brightness teacher finds no person)."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        small = rng.integers(0, 110, (6, 8, 3), dtype=np.uint8)
        out.append(cv2.resize(small, (96, 72), interpolation=cv2.INTER_LINEAR))
    return out


@pytest.fixture
def pool_and_backgrounds(tmp_path, square_frames):
    factories.write_images(tmp_path / "rooms", _textures(5))
    return square_frames, tmp_path / "rooms"


def _config(frames, backgrounds, **extra):
    settings = {"images": frames, "composites": 6, "backgrounds": (backgrounds,), "val_fraction": 0.0, "max_side": 96}
    settings.update(extra)
    return DataConfig(**settings)


def test_composites_are_deterministic_per_seed_and_counted_in_their_record(pool_and_backgrounds, bright_teacher):
    frames, backgrounds = pool_and_backgrounds
    first = load_frames(_config(frames, backgrounds), teacher=bright_teacher)
    again = load_frames(_config(frames, backgrounds), teacher=bright_teacher)
    other = load_frames(_config(frames, backgrounds, composite_seed=7), teacher=bright_teacher)
    made = [s for s in first.train if s.name.startswith("composite#")]
    assert len(made) == 6 and all(s.mask is None for s in made)  # the teacher labels them
    assert all(np.array_equal(a.image, b.image) for a, b in zip(made, [s for s in again.train if s.name.startswith("composite#")], strict=True))
    assert not all(np.array_equal(a.image, b.image) for a, b in zip(made, [s for s in other.train if s.name.startswith("composite#")], strict=True))
    record = first.description["sources"][-1]
    assert (record["kind"], record["count"], record["seed"]) == ("composites", 6, 0)
    assert record["settings"]["person_height"] == [0.15, 1.0] and record["settings"]["jpeg_quality"] == [30, 95]
    assert record["people_from"]["frames"] == 24 and record["people_from"]["teacher_masks"] == 24
    assert record["people_from"]["sources"] == ["frames"] and record["path"] == str(backgrounds)
    assert record["backgrounds_from"] == [{"path": str(backgrounds), "images": 5, "used": 5, "dropped_with_people": 0, "licence": "not stated"}]
    json.dumps(first.description)


def test_a_composite_differs_from_its_background_and_holds_the_person_where_the_cutout_mask_was():
    person = factories.bright_square_frame(80, 60, box=(20, 10, 50, 50))
    mask = (person[..., 0] > 128).astype(np.uint8)
    cut = cutout_from(person, mask, CompositeSettings())
    assert cut is not None and cut.alpha.max() == pytest.approx(1.0, abs=1e-3)
    background = np.full((90, 120, 3), (90, 40, 10), np.uint8)
    # No lighting, blur, noise or JPEG loss: the pasted pixels can be checked exactly.
    plain = replace(
        CompositeSettings(), gain=(1, 1), gamma=(1, 1), colour_cast=0.0, blur=0.0, noise_sigma=(0, 0), jpeg_quality=(100, 100), background_area=(1, 1)
    )
    made = compose(np.random.default_rng(3), background, [cut], plain, 120)
    assert max(made.image.shape[:2]) == 120 and made.coverage.shape == made.image.shape[:2]
    inside, outside = made.coverage > 0.99, made.coverage < 0.01
    assert inside.sum() > 0.02 * inside.size and outside.any()
    assert np.abs(made.image[inside].astype(int) - 235).max() <= 6  # the person's own pixels
    assert np.abs(made.image[outside].astype(int) - (90, 40, 10)).max() <= 6  # the background's
    # With the camera's artefacts, it still differs from the background wherever people went.
    rough = compose(np.random.default_rng(3), background, [cut], CompositeSettings(), 120)
    assert np.abs(rough.image[rough.coverage > 0.99].astype(int) - (90, 40, 10)).mean() > 60


def test_a_frame_with_too_little_person_is_no_cutout():
    frame = factories.bright_square_frame(80, 60, box=(0, 0, 4, 4))  # 0.3% of the frame
    assert cutout_from(frame, frame[..., 0] > 128, CompositeSettings()) is None


def test_backgrounds_showing_people_are_dropped_and_counted(tmp_path, square_frames, bright_teacher):
    factories.write_images(tmp_path / "mixed", _textures(3) + [np.full((72, 96, 3), 230, np.uint8)])
    frames = load_frames(_config(square_frames, tmp_path / "mixed"), teacher=bright_teacher)
    (entry,) = frames.description["sources"][-1]["backgrounds_from"]
    assert (entry["images"], entry["used"], entry["dropped_with_people"]) == (4, 3, 1)


def test_building_composites_stops_when_cancelled(pool_and_backgrounds, bright_teacher):
    frames, backgrounds = pool_and_backgrounds
    calls = []

    def cancelled():
        calls.append(1)
        return len(calls) > 100  # into the composites: the people check and the cut-outs look 24 times each

    made = load_frames(_config(frames, backgrounds, composites=1000), teacher=bright_teacher, cancelled=cancelled)
    count = made.description["sources"][-1]["count"]
    assert 0 < count < 1000


def test_a_missing_or_unreadable_background_folder_is_refused(tmp_path):
    with pytest.raises(DistillError, match=f"background folder {tmp_path / 'nope'} does not exist"):
        read_backgrounds([tmp_path / "nope"], 96)
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "a.png").write_bytes(b"not a picture")
    with pytest.raises(DistillError) as caught:
        read_backgrounds([tmp_path / "broken"], 96)
    assert str(caught.value) == f"background folder {tmp_path / 'broken'} holds no image that reads"


def _cli(capsys, teacher, out, *frames_args):
    from segview.cli.main import main

    pytest.importorskip("torch")
    code = main(
        [
            "distill",
            "--teacher",
            str(teacher),
            *TINY_STUDENT,
            "--steps",
            "2",
            "--threads",
            "1",
            *frames_args,
            "--out",
            str(out),
        ]
    )
    err = capsys.readouterr().err
    return code, err


@pytest.mark.parametrize(
    "case, message",
    [
        ("no-backgrounds", "segview: error: --composites needs --backgrounds DIR: the people are pasted over those images\n"),
        ("missing", "segview: error: background folder {missing} does not exist\n"),
        ("unreadable", "segview: error: background folder {unreadable} holds no image that reads\n"),
    ],
)
def test_bad_composite_settings_are_one_line_through_the_cli_and_write_nothing(case, message, capsys, tmp_path, brightness_model, square_frames, model_dir):
    unreadable = tmp_path / "unreadable"
    unreadable.mkdir()
    (unreadable / "bg.jpg").write_bytes(b"\xff\xd8 truncated")
    args = {"no-backgrounds": [], "missing": ["--backgrounds", str(tmp_path / "missing")], "unreadable": ["--backgrounds", str(unreadable)]}[case]
    before = sorted(p.name for p in model_dir.iterdir())
    code, err = _cli(capsys, brightness_model, model_dir / "s.onnx", "--images", str(square_frames), "--composites", "4", *args)
    assert code == 2 and err == message.format(missing=tmp_path / "missing", unreadable=unreadable)
    assert sorted(p.name for p in model_dir.iterdir()) == before


def test_the_students_card_records_every_source_and_the_composite_settings(capsys, tmp_path, brightness_model, square_frames, model_dir):
    factories.write_images(tmp_path / "rooms", _textures(3))
    out = model_dir / "mixed.onnx"
    args = ["--images", str(square_frames), "--composites", "5", "--backgrounds", str(tmp_path / "rooms"), "--licence", "frames=CC0", "--batch-size", "4"]
    code, err = _cli(capsys, brightness_model, out, *args)
    assert code == 0, err
    sources = json.loads(out.with_suffix(".json").read_text())["distillation"]["data"]["sources"]
    assert (sources[0]["name"], sources[0]["kind"], sources[0]["licence"]) == ("frames", "images", "CC0")
    assert sources[1]["kind"] == "composites" and sources[1]["count"] == 5 and "gamma" in sources[1]["settings"]


def test_a_person_cut_off_by_the_frames_bottom_stands_on_the_composites_bottom():
    bust = factories.bright_square_frame(80, 60, box=(30, 20, 50, 60))  # reaches the bottom edge
    floating = factories.bright_square_frame(80, 60, box=(30, 10, 50, 40))
    settings = replace(CompositeSettings(), people=(1, 1))
    grounded, free = (cutout_from(f, f[..., 0] > 128, settings) for f in (bust, floating))
    assert grounded.grounded and not free.grounded
    background = np.zeros((90, 120, 3), np.uint8)
    for seed in range(20):
        made = compose(np.random.default_rng(seed), background, [grounded], settings, 120)
        assert made.coverage[-1].max() > 0.5  # on the bottom row, every time
