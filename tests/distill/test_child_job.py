"""The child-job protocol of a distillation run: the parent writes the DistillConfig as JSON,
`segview distill --config-json FILE --events` rebuilds it; nothing is mirrored flag by flag."""

from __future__ import annotations

import json
from dataclasses import replace

import cv2
import numpy as np
import pytest

import factories
from segview.distill.availability import DistillError
from segview.distill.config import DataConfig, DistillConfig, SelectConfig


def _dark_rooms(folder, count=5):
    """Backgrounds without a 'person' for the brightness teacher: dark, varied textures."""
    rng = np.random.default_rng(0)
    rooms = [cv2.resize(rng.integers(0, 110, (6, 8, 3), dtype=np.uint8), (96, 72)) for _ in range(count)]
    factories.write_images(folder, rooms)
    return folder


@pytest.fixture
def full_config(tmp_path, model_dir, tiny_config, teacher, square_frames):
    """Every source kind the pool takes: two image folders, composites over two background folders, a selection pool."""
    second = tmp_path / "more-frames"
    factories.write_images(second, [factories.bright_square_frame(80, 60, box=(10 + 3 * i, 8, 40 + 3 * i, 40)) for i in range(6)])
    unseen = tmp_path / "unseen"
    factories.write_images(unseen, [factories.bright_square_frame(80, 60, box=(2 + i, 3, 30 + 2 * i, 40)) for i in range(6)])
    base = tiny_config(teacher, square_frames, model_dir / "child.onnx", max_steps=2, batch_size=4, validate_every_s=5.0)
    data = DataConfig(
        images=(square_frames, second),
        licences=((square_frames.name, "CC0"),),
        thin=2.5,
        composites=3,
        composite_seed=4,
        backgrounds=(_dark_rooms(tmp_path / "rooms"), _dark_rooms(tmp_path / "halls", 3)),
        val_fraction=0.25,
    )
    return replace(base, data=data, select=SelectConfig(images=(unseen,)), name="child-student", command=("segview", "distill", "(test)"))


def test_every_field_round_trips_through_json(full_config):
    again = DistillConfig.from_json_dict(json.loads(json.dumps(full_config.to_json_dict())))
    assert again == full_config
    assert again.command == full_config.command  # not compared by ==
    assert again.data.images == full_config.data.images and all(type(p).__name__.endswith("Path") for p in again.data.backgrounds)
    assert again.data.licences == (("frames", "CC0"),)


def test_an_unknown_setting_is_refused_by_name(full_config):
    data = full_config.to_json_dict()
    data["train"]["epohcs"] = 3
    with pytest.raises(DistillError, match="unknown setting in the distillation config: epohcs"):
        DistillConfig.from_json_dict(data)


def test_the_child_runs_the_whole_config_it_was_given(full_config):
    pytest.importorskip("torch")
    from segview.distill.process import DistillProcess

    finished, failed, stages = [], [], []
    job = DistillProcess(full_config, on_finished=finished.append, on_failed=failed.append, on_stage=stages.append)
    job.start()
    assert "--config-json" in job.command and "--teacher" not in job.command
    config_file = job.command[job.command.index("--config-json") + 1]
    assert job.wait(300)
    assert not failed, failed
    outcome = finished[0]
    assert outcome.model_path == full_config.out and outcome.model_path.exists() and outcome.steps == 2
    card = json.loads(full_config.out.with_suffix(".json").read_text())["distillation"]
    sources = {(r["kind"], r["name"]): r for r in card["data"]["sources"]}
    assert sources[("images", "frames")]["licence"] == "CC0" and sources[("images", "more-frames")]["count"] > 0
    assert sources[("composites", "composites")]["count"] == 3
    assert card["validation"]["unseen_pool"]["frames"] > 0 and card["validation"]["chosen_by"] == "unseen-pool agreement"
    assert card["config"]["data"]["thin"] == 2.5 and card["recipe"] == ["segview", "distill", "(test)"]
    assert not __import__("pathlib").Path(config_file).exists()  # the parent removes its temporary file
