import pytest

torch = pytest.importorskip("torch")

from segview.distill.losses import attention_transfer_loss, hard_target_loss, soft_target_loss  # noqa: E402


def test_soft_target_loss_is_smallest_when_the_student_matches_the_teacher():
    teacher = torch.tensor([[[[0.1, 0.9], [0.7, 0.3]]]])
    matching = torch.logit(teacher)
    assert soft_target_loss(matching, teacher, 2.0) < soft_target_loss(-matching, teacher, 2.0)
    # The minimum of a cross-entropy is the teacher's entropy, reached at equality.
    nudged = matching + 0.3
    assert soft_target_loss(matching, teacher, 2.0) < soft_target_loss(nudged, teacher, 2.0)


def test_hard_loss_counts_only_frames_with_masks():
    logit = torch.zeros(2, 1, 4, 4)
    masks = torch.ones(2, 1, 4, 4)
    assert hard_target_loss(logit, masks, torch.tensor([0.0, 0.0])) == 0
    assert hard_target_loss(logit, masks, torch.tensor([1.0, 0.0])) > 0


def test_attention_transfer_ignores_channel_count_and_resolution():
    a = torch.rand(2, 8, 4, 4)
    b = a.repeat(1, 3, 1, 1)  # same attention, three times the channels
    assert attention_transfer_loss(a, b) < 1e-6
    assert attention_transfer_loss(a, torch.nn.functional.interpolate(b, scale_factor=2.0, mode="nearest")) < 1e-3
    assert attention_transfer_loss(a, torch.rand(2, 5, 4, 4)) > 1e-4


def test_soft_targets_do_not_pull_back_a_student_as_sure_as_a_saturated_teacher():
    # The selfie teacher's logits reach +-800: its probabilities are exactly 0 or 1 in float32.
    teacher = torch.tensor([[[[1.0, 0.0]]]])
    sure = torch.tensor([[[[400.0, -800.0]]]], requires_grad=True)
    soft_target_loss(sure, teacher, 2.0).backward()
    assert torch.count_nonzero(sure.grad) == 0
    # Less sure than the clamp, or wrong, is still corrected (towards the teacher).
    unsure = torch.tensor([[[[1.0, 3.0]]]], requires_grad=True)
    soft_target_loss(unsure, teacher, 2.0).backward()
    assert unsure.grad[0, 0, 0, 0] < 0 < unsure.grad[0, 0, 0, 1]
