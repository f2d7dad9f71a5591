from __future__ import annotations

from pathlib import Path

import pytest

import factories


def encoder_teacher(path: Path, *, size: int = 32) -> Path:
    """The brightness rule computed at half resolution and upsampled: a teacher with an
    intermediate tensor ("features", 4 channels at 16x16) for attention and hint transfer."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    w1 = numpy_helper.from_array(np.full((4, 3, 1, 1), 1.0 / 3.0, np.float32), "w1")
    w2 = numpy_helper.from_array(np.full((1, 4, 1, 1), 5.0, np.float32), "w2")
    b2 = numpy_helper.from_array(np.array([-10.0], np.float32), "b2")
    scales = numpy_helper.from_array(np.array([1, 1, 2, 2], np.float32), "scales")
    roi = numpy_helper.from_array(np.zeros(0, np.float32), "roi")
    graph = helper.make_graph(
        [
            helper.make_node("AveragePool", ["input"], ["pooled"], kernel_shape=[2, 2], strides=[2, 2]),
            helper.make_node("Conv", ["pooled", "w1"], ["features"]),
            helper.make_node("Conv", ["features", "w2", "b2"], ["small"]),
            helper.make_node("Resize", ["small", "roi", "scales"], ["logit"], mode="linear"),
            helper.make_node("Sigmoid", ["logit"], ["prob"]),
        ],
        "encoder_teacher",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, size, size])],
        [helper.make_tensor_value_info("prob", TensorProto.FLOAT, [1, 1, size, size])],
        [w1, w2, b2, scales, roi],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    factories._save(model, path)
    factories.write_card(path, name=path.stem)
    return path


@pytest.fixture
def teacher(model_dir: Path) -> Path:
    return encoder_teacher(model_dir / "teacher.onnx")


@pytest.fixture
def square_frames(tmp_path: Path) -> Path:
    """Generated frames: a bright box on a dark background, at varied places (the brightness teacher's 'person')."""
    frames = []
    for i in range(24):
        x0, y0 = 4 + (i * 7) % 40, 4 + (i * 5) % 24
        frames.append(factories.bright_square_frame(80, 60, box=(x0, y0, x0 + 30, y0 + 26)))
    folder = tmp_path / "frames"
    factories.write_images(folder, frames)
    return folder


@pytest.fixture
def tiny_config():
    """Builds the settings of a run of a few steps on the CPU: seconds, not minutes."""
    return _tiny_config


def _tiny_config(teacher: Path, images: Path, out: Path, **train):
    from segview.distill.config import DataConfig, DistillConfig, LossConfig, TrainConfig

    settings = {
        "epochs": None,
        "minutes": None,
        "max_steps": 40,
        "batch_size": 8,
        "learning_rate": 1e-2,
        "threads": 1,
        "device": "cpu",
        "validate_every_s": 0.0,
    }
    settings.update(train)
    return DistillConfig(
        teacher=str(teacher),
        arch="mobilenet",
        width=0.25,
        resolution=32,
        data=DataConfig(images=images, val_fraction=0.25),
        loss=LossConfig(temperature=2.0, hint="attention"),
        train=TrainConfig(**settings),
        out=out,
    )
