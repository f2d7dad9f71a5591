"""Bad input: a clear message, nothing half-written."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

torch = pytest.importorskip("torch")

import factories  # noqa: E402
from segview.distill.availability import DistillError  # noqa: E402
from segview.distill.runner import distill  # noqa: E402
from segview.inference.registry import ModelRegistry  # noqa: E402


def test_no_frames(teacher, tmp_path, model_dir, tiny_config):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DistillError, match="no frames to learn from"):
        distill(tiny_config(teacher, empty, model_dir / "s.onnx"), registry=ModelRegistry([model_dir]))
    assert sorted(p.name for p in model_dir.iterdir()) == ["teacher.json", "teacher.onnx"]


def test_missing_folder(teacher, tmp_path, model_dir, tiny_config):
    with pytest.raises(DistillError, match="image folder not found"):
        distill(tiny_config(teacher, tmp_path / "nope", model_dir / "s.onnx"), registry=ModelRegistry([model_dir]))


def test_teacher_that_is_not_a_segmentation_model(tmp_path, square_frames, model_dir, tiny_config):
    classifier = factories.classifier_model(tmp_path / "classifier.onnx")
    with pytest.raises(DistillError, match="not a usable segmentation model.*not a mask"):
        distill(tiny_config(classifier, square_frames, model_dir / "s.onnx"), registry=ModelRegistry([model_dir]))
    assert not (model_dir / "s.onnx").exists()


def test_out_of_memory_is_reported_and_writes_no_model(monkeypatch, teacher, square_frames, model_dir, tiny_config):
    from segview.distill import trainer

    def exhausted(*args, **kwargs):
        raise RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to allocate 1099511627776 bytes")

    monkeypatch.setattr(trainer.Trainer, "_step", exhausted)
    with pytest.raises(DistillError, match="out of memory on cpu at batch size 8"):
        distill(tiny_config(teacher, square_frames, model_dir / "s.onnx"), registry=ModelRegistry([model_dir]))
    assert not (model_dir / "s.onnx").exists() and not (model_dir / "s.json").exists()


def test_output_that_would_overwrite_the_teacher(teacher, square_frames, model_dir, tiny_config):
    with pytest.raises(DistillError, match="overwrite its teacher"):
        distill(tiny_config(teacher, square_frames, teacher), registry=ModelRegistry([model_dir]))


def test_resume_without_a_checkpoint(teacher, square_frames, model_dir, tiny_config):
    config = replace(tiny_config(teacher, square_frames, model_dir / "s.onnx"), resume=True)
    with pytest.raises(DistillError, match="nothing to resume"):
        distill(config, registry=ModelRegistry([model_dir]))


def test_a_missing_init_from_is_reported_before_any_frame_is_read(teacher, tmp_path, model_dir, tiny_config):
    # The image folder does not exist either: the checkpoint is what is reported, at once.
    config = replace(tiny_config(teacher, tmp_path / "no-frames", model_dir / "s.onnx"), init_from=tmp_path / "gone.ckpt.pt")
    with pytest.raises(DistillError, match="nothing to start from: no checkpoint at"):
        distill(config, registry=ModelRegistry([model_dir]))


def test_a_file_that_is_no_checkpoint_is_one_clear_line_and_writes_nothing(teacher, square_frames, tmp_path, model_dir, tiny_config):
    bogus = tmp_path / "notes.ckpt.pt"
    bogus.write_text("not a checkpoint\n")
    config = replace(tiny_config(teacher, square_frames, model_dir / "s.onnx"), init_from=bogus)
    with pytest.raises(DistillError) as caught:
        distill(config, registry=ModelRegistry([model_dir]))
    assert str(caught.value) == f"checkpoint {bogus} cannot be read: not a segview distillation checkpoint, or damaged"
    assert sorted(p.name for p in model_dir.iterdir()) == ["teacher.json", "teacher.onnx"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"arch": "mobilenet", "slim_relu": True}, "apply to --arch slim only"),
        ({"resolution": 40}, "resolution must be a multiple of 16"),
        ({"out": "student.onnx.json"}, "the output must be an .onnx file, not student.onnx.json"),
        ({"resume": True, "init_from": "old.ckpt.pt"}, "give one of them"),
        ({"resume": True}, "nothing to resume: no checkpoint at"),
    ],
)
def test_a_run_that_cannot_start_is_refused_by_its_config_before_the_teacher_loads(tmp_path, model_dir, tiny_config, change, message):
    # The teacher does not exist and the frames folder is missing: check() must not need either.
    config = tiny_config(tmp_path / "no-teacher.onnx", tmp_path / "no-frames", model_dir / "student.onnx")
    paths = {k: (model_dir / v if k in ("out", "init_from") else v) for k, v in change.items()}
    with pytest.raises(DistillError, match=re.escape(message)):
        replace(config, **paths).check()
    config.check()  # the unchanged settings pass
