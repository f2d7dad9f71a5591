from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

import factories
from compress import tiny
from segview.compress.calibration import CalibrationSpec, load_calibration
from segview.inference.inspect import describe_model
from segview.inference.registry import ModelRegistry


@pytest.fixture
def tiny_model(model_dir: Path) -> Path:
    return tiny.tiny_segmenter(model_dir / "tiny.onnx")


@pytest.fixture
def tiny_card(tiny_model: Path):
    return describe_model(tiny_model)


@pytest.fixture
def registry(model_dir: Path, tiny_model: Path) -> ModelRegistry:
    return ModelRegistry([model_dir])


@pytest.fixture
def calib_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "calib"
    factories.write_images(folder, tiny.frames(12, seed=3))
    return folder


@pytest.fixture
def calibration(calib_dir: Path):
    return load_calibration(CalibrationSpec(str(calib_dir), max_frames=12, held_out=0.25))


@pytest.fixture
def labelled(tmp_path: Path, tiny_model: Path) -> tuple[Path, Path]:
    """Images with masks: the tiny model's own masks, slightly eroded, so IoU is high but not 1."""
    images, masks = tmp_path / "eval" / "images", tmp_path / "eval" / "masks"
    pictures = tiny.frames(6, seed=11)
    factories.write_images(images, pictures)
    masks.mkdir(parents=True)
    probs = tiny.outputs(tiny_model, pictures)
    for i, (picture, p) in enumerate(zip(pictures, probs, strict=True)):
        mask = cv2.resize((p[0, 0] > 0.5).astype(np.uint8) * 255, picture.shape[1::-1], interpolation=cv2.INTER_NEAREST)
        cv2.imwrite(str(masks / f"{i}.png"), cv2.erode(mask, np.ones((3, 3), np.uint8)))
    return images, masks


@pytest.fixture
def out_dir(tmp_path: Path) -> Path:
    return tmp_path / "out"


def files_in(folder: Path) -> list[str]:
    """Everything in the folder, hidden work folders included."""
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []
