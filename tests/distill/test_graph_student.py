"""The rescaled student: the teacher's graph rebuilt in PyTorch, same answers, any resolution."""

import numpy as np
import onnx
import onnxruntime as ort
import pytest

torch = pytest.importorskip("torch")

from segview.distill.availability import DistillError  # noqa: E402
from segview.distill.graph_student import GraphStudent  # noqa: E402
from segview.distill.runner import distill  # noqa: E402
from segview.inference.registry import ModelRegistry  # noqa: E402


def test_rebuilt_graph_matches_onnxruntime_and_runs_at_other_sizes(brightness_model):
    student = GraphStudent(onnx.load(str(brightness_model))).eval()
    x = np.random.default_rng(0).random((1, 3, 32, 32), dtype=np.float32)
    expected = ort.InferenceSession(str(brightness_model), providers=["CPUExecutionProvider"]).run(None, {"input": x})[0]
    with torch.no_grad():
        logit, _ = student(torch.from_numpy(x))
        assert np.abs(torch.sigmoid(logit).numpy() - expected).max() < 1e-5
        assert student(torch.zeros(1, 3, 48, 64))[0].shape == (1, 1, 48, 64)


def test_unsupported_teacher_is_refused_by_name(teacher, square_frames, model_dir, tiny_config):
    from dataclasses import replace

    config = replace(tiny_config(teacher, square_frames, model_dir / "s.onnx"), arch="rescaled", width=1.0)
    with pytest.raises(DistillError, match="AveragePool"):
        distill(config, registry=ModelRegistry([model_dir]))


def test_rescaled_student_distils_and_exports(brightness_model, square_frames, model_dir, tiny_config):
    from dataclasses import replace

    out = model_dir / "rescaled.onnx"
    config = replace(tiny_config(brightness_model, square_frames, out, max_steps=3), arch="rescaled", width=1.0)
    outcome = distill(config, registry=ModelRegistry([model_dir]))
    assert outcome.model_path == out and out.exists()
    # Exported by writing the weights back into the teacher's graph: same nodes, same names, new size.
    exported, original = onnx.load(str(out)), onnx.load(str(brightness_model))
    assert [n.op_type for n in exported.graph.node] == [n.op_type for n in original.graph.node]
    assert exported.graph.input[0].type.tensor_type.shape.dim[2].dim_value == 32
    card = ModelRegistry([model_dir]).resolve("rescaled").card
    assert (card.input_name, card.output_name, card.output_kind) == ("input", "prob", "sigmoid")
