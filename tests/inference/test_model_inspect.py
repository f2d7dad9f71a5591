import json

import onnx
import pytest

import factories
from segview.errors import ModelError
from segview.inference.inspect import METADATA_CARD_KEY, describe_model
from segview.inference.registry import ModelRegistry


def test_card_beside_model_is_used(brightness_model):
    card = describe_model(brightness_model)
    assert card.origin == "card"
    assert card.name == "bright"
    assert (card.width, card.height, card.layout) == (32, 32, "NCHW")


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
def test_layout_and_size_inferred_without_card(model_dir, layout):
    path = factories.brightness_model(model_dir / f"m_{layout}.onnx", size=48, layout=layout)
    card = describe_model(path)
    assert card.origin == "inferred"
    assert card.layout == layout
    assert (card.width, card.height) == (48, 48)
    assert card.output_kind == "sigmoid"
    assert card.input_name == "input" and card.output_name == "prob"


def test_multiclass_softmax_inferred(model_dir):
    card = describe_model(factories.colour_class_model(model_dir / "colours.onnx"))
    assert card.output_kind == "softmax"
    assert len(card.classes) == 3
    assert not card.is_binary


def test_metadata_card_is_read(model_dir):
    path = factories.brightness_model(model_dir / "meta.onnx")
    model = onnx.load(str(path))
    card = {"name": "from-metadata", "input": {"name": "input", "width": 32, "height": 32, "layout": "NCHW"}, "output": {"name": "prob", "kind": "sigmoid"}}
    entry = model.metadata_props.add()
    entry.key, entry.value = METADATA_CARD_KEY, json.dumps(card)
    onnx.save(model, str(path))
    described = describe_model(path)
    assert described.name == "from-metadata"
    assert described.origin == "metadata"


def test_missing_file(tmp_path):
    with pytest.raises(ModelError, match="not found"):
        describe_model(tmp_path / "nope.onnx")


def test_not_onnx(tmp_path):
    path = tmp_path / "photo.onnx"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    with pytest.raises(ModelError, match="not a readable ONNX model"):
        describe_model(path)


def test_truncated_onnx(brightness_model, tmp_path):
    data = brightness_model.read_bytes()
    path = tmp_path / "cut.onnx"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelError, match="truncated"):
        describe_model(path)


def test_empty_file(tmp_path):
    path = tmp_path / "empty.onnx"
    path.write_bytes(b"")
    with pytest.raises(ModelError, match="empty"):
        describe_model(path)


def test_two_inputs_rejected(model_dir):
    path = factories.two_input_model(model_dir / "two.onnx")
    with pytest.raises(ModelError, match="exactly one image input; this one has 2"):
        describe_model(path)


def test_classifier_output_is_not_a_mask(model_dir):
    with pytest.raises(ModelError, match="not a mask"):
        describe_model(factories.classifier_model(model_dir / "cls.onnx"))


def test_dynamic_size_needs_a_card(model_dir):
    path = factories.brightness_model(model_dir / "dyn.onnx", dynamic=True)
    with pytest.raises(ModelError, match="dynamic"):
        describe_model(path)


def test_card_that_names_a_missing_output(brightness_model):
    factories.write_card(brightness_model, output={"name": "nope", "kind": "sigmoid"})
    with pytest.raises(ModelError, match="does not have"):
        describe_model(brightness_model)


def test_card_with_bad_layout(brightness_model):
    factories.write_card(brightness_model, input={"name": "input", "width": 32, "height": 32, "layout": "CHW"})
    with pytest.raises(ModelError, match="layout"):
        describe_model(brightness_model)


def test_registry_lists_good_models_and_explains_rejects(model_dir, brightness_model):
    factories.two_input_model(model_dir / "two.onnx")
    (model_dir / "junk.onnx").write_text("hello")
    registry = ModelRegistry([model_dir])
    assert registry.names() == ["bright"]
    reasons = {r.path.name: r.reason for r in registry.rejected}
    assert set(reasons) == {"two.onnx", "junk.onnx"}
    assert "exactly one image input" in reasons["two.onnx"]


def test_registry_resolves_names_and_paths(model_dir, brightness_model, tmp_path):
    registry = ModelRegistry([model_dir])
    assert registry.resolve("bright").path == brightness_model.resolve()
    other = factories.brightness_model(tmp_path / "other.onnx")
    assert registry.resolve(str(other)).name == "other"
    with pytest.raises(ModelError, match="unknown model 'nothing'"):
        registry.resolve("nothing")


def test_bundled_models_are_registered():
    registry = ModelRegistry()
    assert {"selfie-general", "selfie-landscape"} <= set(registry.names())
    general = registry.resolve("selfie-general").card
    assert (general.width, general.height) == (256, 256)
    assert general.license == "Apache-2.0"
    landscape = registry.resolve("selfie-landscape").card
    assert (landscape.width, landscape.height) == (256, 144)
