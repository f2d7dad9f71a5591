"""A slim student of a teacher whose decoder projects after upsampling is built with the projection first."""

from __future__ import annotations

from dataclasses import replace

import onnx
import pytest

import factories


def test_a_slim_student_of_such_a_teacher_is_built_rewritten_and_says_so(model_dir, square_frames, tiny_config):
    pytest.importorskip("torch")
    from segview.distill.runner import distill
    from segview.inference.registry import ModelRegistry

    teacher = model_dir / "decoder.onnx"
    factories._save(factories.decoder_model(size=32), teacher)
    factories.write_card(teacher, name="decoder")
    out = model_dir / "rewritten.onnx"
    config = replace(tiny_config(teacher, square_frames, out, max_steps=3), arch="slim", width=1.0, resolution=32)
    distill(config, registry=ModelRegistry([model_dir]))
    card = ModelRegistry([model_dir]).resolve("rewritten").card
    assert card.extra["distillation"]["graph_rewrites"] == {"pointwise_before_upsampling": 1}
    exported = onnx.load(str(out))
    assert [n.op_type for n in exported.graph.node][:4] == ["Conv", "Relu", "Conv", "Resize"]
