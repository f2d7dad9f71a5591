"""The student network a run trains, on the device it trains on.

Students of the teacher's own graph ("rescaled", "slim") start from its weights; the others
(architectures.py) start from scratch.
"""

from __future__ import annotations

import torch
from torch import nn

from segview.distill.architectures import StudentSpec, build_student
from segview.distill.config import GRAPH_ARCHS
from segview.distill.data import Sample
from segview.distill.teacher import Teacher
from segview.errors import DistillError

# Frames whose mean squeeze-excite gates seed a slim student: the means settle within a few dozen.
GATE_SAMPLE_FRAMES = 64


def pick_device(requested: str) -> torch.device:
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(requested)
    except RuntimeError as exc:
        raise DistillError(f"unknown device {requested!r}: {exc}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise DistillError("a CUDA device was asked for, but PyTorch sees no GPU here")
    return device


def make_student(
    spec: StudentSpec,
    teacher: Teacher,
    frames: tuple[Sample, ...] = (),
    *,
    slim_gates: tuple[str, ...] | None = None,
    slim_relu: bool = False,
    slim_skip_last_stage: bool = False,
) -> nn.Module:
    """The student network; graph students start from the teacher's weights (slim ones
    with its squeeze-excite gates, or just ``slim_gates``, replaced by their means over ``frames``)."""
    if spec.arch not in GRAPH_ARCHS:
        return build_student(spec)
    from segview.distill.graph_student import GraphStudent
    from segview.inference.inspect import load_onnx

    card = teacher.card
    n = card.normalization
    if card.layout != "NCHW" or card.color_order != "RGB" or abs(n.scale - 1 / 255) > 1e-9 or any(n.mean) or any(s != 1 for s in n.std):
        # Students take RGB in [0, 1], NCHW; the rebuilt graph must take the same.
        raise DistillError(f"the {spec.arch} student needs a teacher that takes NCHW RGB scaled to [0, 1]; {teacher.name} does not")
    model = load_onnx(teacher.entry.path)
    if spec.arch == "slim":
        from segview.distill.slim_graph import mean_gates, slim_graph, squeeze_excite_gates

        available = [g.output[0] for g in squeeze_excite_gates(model)]
        unknown = sorted(set(slim_gates or ()) - set(available))
        if unknown:
            raise DistillError(f"{teacher.name} has no squeeze-excite gate producing {', '.join(unknown)}; its gates: {', '.join(available) or 'none'}")
        sample = frames[:GATE_SAMPLE_FRAMES]
        means = mean_gates(model, (teacher.preprocess(s.image) for s in sample))
        try:
            model = slim_graph(model, means, relu=slim_relu, only=slim_gates, skip_last_stage=slim_skip_last_stage)
        except ValueError as exc:  # a last stage that cannot be skipped
            raise DistillError(f"{teacher.name}: {exc}") from None
    from segview.graphs.commute import pointwise_before_upsampling

    swapped = pointwise_before_upsampling(model)  # exact, and less memory traffic
    student = GraphStudent(model, feature=teacher.feature_name, name=teacher.name)
    student.pointwise_before_upsampling = swapped
    if spec.arch == "slim":
        student.removed_gates = list(slim_gates) if slim_gates is not None else available
    return student
