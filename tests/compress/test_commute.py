"""Pointwise convolutions moved before upsampling: the same numbers, a narrower tensor upsampled;
as a function and as the exact 'rewrite' compression step."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest

import factories
from segview.graphs.commute import pointwise_before_upsampling


def _run(model: onnx.ModelProto, x: np.ndarray) -> np.ndarray:
    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"input": x})[0]


@pytest.mark.parametrize("mode", ["linear", "nearest"])
def test_a_projection_after_upsampling_moves_before_it_and_computes_the_same(mode):
    model = factories.decoder_model(mode=mode)
    x = np.random.default_rng(0).random((1, 3, 16, 16), np.float32)
    before = _run(model, x)
    assert pointwise_before_upsampling(model) == 1
    onnx.checker.check_model(model)
    by_output = {n.output[0]: n for n in model.graph.node}
    # The projection reads the encoder's 8 channels; the Resize now upsamples its 3.
    assert by_output["proj/before_upsampling"].op_type == "Conv" and by_output["proj/before_upsampling"].input[0] == "enc_relu"
    assert by_output["proj"].op_type == "Resize" and by_output["proj"].input[0] == "proj/before_upsampling"
    np.testing.assert_allclose(_run(model, x), before, atol=1e-5)


@pytest.mark.parametrize(
    "variant",
    [{"kernel": 3}, {"readers": 2}, {"by_sizes": True}, {"mode": "cubic"}],
    ids=["3x3 convolution", "upsampled tensor read twice", "Resize by sizes", "cubic Resize"],
)
def test_what_would_not_compute_the_same_is_left_alone(variant):
    model = factories.decoder_model(**variant)
    x = np.random.default_rng(1).random((1, 3, 16, 16), np.float32)
    before = _run(model, x)
    original = model.SerializeToString()
    assert pointwise_before_upsampling(model) == 0
    assert model.SerializeToString() == original
    np.testing.assert_allclose(_run(model, x), before, atol=1e-6)


def test_the_rewrite_step_computes_what_its_source_does_and_leaves_it_untouched(tmp_path):
    from segview.compress.step import CancelToken, StepContext, config_from_dict, get_step
    from segview.inference.inspect import describe_model

    path = factories._save(factories.decoder_model(size=32), tmp_path / "decoder.onnx")
    factories.write_card(path, name="decoder")
    source = onnx.load(str(path))
    before = source.SerializeToString()
    step = get_step("rewrite")
    config = config_from_dict(step, {})
    step.check(source, config)
    output = step.apply(source, config, StepContext(card=describe_model(path), workdir=tmp_path, cancel=CancelToken()))
    assert source.SerializeToString() == before, "the step modified its input"
    assert output.notes == {"pointwise_before_upsampling": 1}
    x = np.random.default_rng(2).random((1, 3, 32, 32), np.float32)
    np.testing.assert_allclose(_run(output.model, x), _run(source, x), atol=1e-5)


def test_the_rewrite_step_on_a_model_it_cannot_help_says_so(tmp_path):
    from segview.compress.step import CompressionError, config_from_dict, get_step

    step = get_step("rewrite")
    with pytest.raises(CompressionError, match="nothing to do: this model has no upsampling followed by a 1x1 convolution"):
        step.check(factories.decoder_model(kernel=3), config_from_dict(step, {}))
