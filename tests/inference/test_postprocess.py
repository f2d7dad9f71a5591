"""foreground_probability (one rule for every raw output kind) and the onnxruntime options segview sets."""

import math

import numpy as np
import onnxruntime as ort
import pytest

import factories
from segview.inference.card import ModelCard
from segview.inference.postprocess import Postprocessor, foreground_probability
from segview.inference.session import SessionOptions, cpu_session, ort_options, ort_session_options


def card(kind: str, classes: tuple[str, ...] = ("background", "person")) -> ModelCard:
    return ModelCard("m", "input", 4, 2, "NCHW", "output", kind, classes)


def test_a_sigmoid_output_is_the_probability_itself():
    scores = np.array([[0.2, 0.9]], np.float32)
    assert np.array_equal(foreground_probability(scores, card("sigmoid")), scores)


def test_logits_go_through_a_sigmoid():
    scores = np.array([[0.0, 2.0]], np.float32)
    prob = foreground_probability(scores, card("logits"))
    np.testing.assert_allclose(prob, [[0.5, 1 / (1 + math.exp(-2.0))]], atol=1e-6)


def test_class_logits_are_softmaxed_and_the_person_class_is_picked():
    # Three classes, "person" second: equal logits give a third each; a large person logit nearly 1.
    scores = np.array([[[0.0, 0.0, 0.0], [0.0, 10.0, 0.0]]], np.float32)
    prob = foreground_probability(scores, card("class_logits", ("sky", "person", "road")))
    assert prob.shape == (1, 2)
    assert prob[0, 0] == pytest.approx(1 / 3, abs=1e-6)
    assert prob[0, 1] > 0.99


def test_softmax_scores_are_read_at_the_person_class():
    scores = np.array([[[0.7, 0.1, 0.2]]], np.float32)
    prob = foreground_probability(scores, card("softmax", ("background", "road", "person")))
    np.testing.assert_allclose(prob, [[0.2]])


@pytest.mark.parametrize("kind", ["sigmoid", "logits"])
def test_the_postprocessor_returns_the_same_probability(kind):
    c = card(kind)
    output = np.array([[[[-1.0, 0.3, 0.8, 3.0], [0.1, 0.5, -2.0, 0.9]]]], np.float32)  # (1, 1, H, W)
    post = Postprocessor(c)
    _, probability = post(output, (8, 4))
    assert np.array_equal(probability, foreground_probability(post.scores(output), c))


def test_ort_options_carry_threads_optimisation_and_quiet_logging():
    so = ort_options(2, optimize=False)
    assert (so.intra_op_num_threads, so.inter_op_num_threads) == (2, 1)
    assert so.graph_optimization_level == ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    assert so.log_severity_level == 3
    # No thread count: onnxruntime's own choice is left alone.
    assert ort_options(None).intra_op_num_threads == ort.SessionOptions().intra_op_num_threads


def test_a_segmentation_session_logs_fatal_errors_only_and_does_not_spin_alone():
    so = ort_session_options(SessionOptions(threads=1))
    assert so.log_severity_level == 4
    assert so.graph_optimization_level == ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    assert so.get_session_config_entry("session.intra_op.allow_spinning") == "0"


def test_cpu_session_runs_a_file_and_its_bytes_alike(tmp_path):
    path = factories.brightness_model(tmp_path / "b.onnx", size=8)
    frame = np.full((1, 3, 8, 8), 0.75, np.float32)
    outputs = [cpu_session(model).run(None, {"input": frame})[0] for model in (path, path.read_bytes())]
    # brightness 0.75: sigmoid(20 * (0.75 - 0.5)) everywhere
    np.testing.assert_allclose(outputs[0], np.full((1, 1, 8, 8), 1 / (1 + math.exp(-5.0))), rtol=1e-5)
    assert np.array_equal(outputs[0], outputs[1])
