"""Student networks: the knobs change what they should, and the output is a mask at the input size."""

import pytest

torch = pytest.importorskip("torch")

from segview.distill.architectures import StudentSpec, build_student, count_parameters  # noqa: E402


@pytest.mark.parametrize("arch", ["mobilenet", "enet"])
def test_student_outputs_one_logit_channel_at_input_size(arch):
    student = build_student(StudentSpec(arch, 0.5, 64)).eval()
    logit, feature = student(torch.zeros(2, 3, 64, 48))
    assert logit.shape == (2, 1, 64, 48)
    assert feature.shape[0] == 2 and feature.shape[1] == student.feature_channels


@pytest.mark.parametrize("arch", ["mobilenet", "enet"])
def test_width_multiplier_scales_parameters(arch):
    small = count_parameters(build_student(StudentSpec(arch, 0.5, 64)))
    large = count_parameters(build_student(StudentSpec(arch, 1.0, 64)))
    assert large > 2.5 * small


def test_mobilenet_uses_depthwise_and_enet_asymmetric_convolutions():
    mobile = build_student(StudentSpec("mobilenet", 1.0, 64))
    assert any(isinstance(m, torch.nn.Conv2d) and m.groups == m.in_channels > 1 for m in mobile.modules())
    enet = build_student(StudentSpec("enet", 1.0, 64))
    kernels = {m.kernel_size for m in enet.modules() if isinstance(m, torch.nn.Conv2d)}
    assert (5, 1) in kernels and (1, 5) in kernels
    assert any(isinstance(m, torch.nn.Conv2d) and m.dilation[0] > 1 for m in enet.modules())


@pytest.mark.parametrize("spec", [dict(arch="resnet"), dict(width=0.0), dict(resolution=100)])
def test_bad_knobs_are_refused(spec):
    with pytest.raises(ValueError):
        StudentSpec(**spec)
