"""The model-card schema: any JSON-ish input gives a card or one ModelError, never another exception."""

from __future__ import annotations

import json
import math
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from segview.errors import ModelError
from segview.inference.card import MAX_FRAME_BYTES, ModelCard, parse_card_text, read_card

GOOD = {
    "name": "m",
    "input": {
        "name": "input",
        "width": 32,
        "height": 24,
        "layout": "NHWC",
        "color_order": "BGR",
        "normalization": {"scale": 1, "mean": [0.5, 0.5, 0.5], "std": 0.25},
    },
    "output": {"name": "out", "kind": "softmax", "classes": ["background", "person", "hair"]},
}

json_leaves = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=20)
json_values = st.recursive(json_leaves, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=20)
FIELDS = [
    "name",
    "title",
    "task",
    "source",
    "license",
    "input",
    "output",
    "input.name",
    "input.width",
    "input.height",
    "input.layout",
    "input.color_order",
    "input.normalization",
    "input.normalization.scale",
    "input.normalization.mean",
    "input.normalization.std",
    "output.name",
    "output.kind",
    "output.classes",
]


def _card_or_model_error(data, where="test card"):
    try:
        card = ModelCard.from_json_dict(data, where=where)
    except ModelError as exc:
        message = str(exc)
        assert message.startswith(where) and "\n" not in message
        return None
    return card


def _replaced(path: str, value):
    data = json.loads(json.dumps(GOOD))
    *parents, last = path.split(".")
    node = data
    for key in parents:
        node = node[key]
    node[last] = value
    return data


@given(json_values)
@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
def test_any_json_value_gives_a_card_or_one_model_error(value):
    _card_or_model_error(value)


@given(st.sampled_from(FIELDS), json_values)
@settings(max_examples=500, suppress_health_check=[HealthCheck.too_slow])
def test_a_good_card_with_any_one_field_replaced_gives_a_sane_card_or_one_model_error(field, value):
    card = _card_or_model_error(_replaced(field, value))
    if card is None:
        return
    # Whatever got through is what the code downstream relies on.
    assert isinstance(card.name, str) and card.name
    assert isinstance(card.width, int) and isinstance(card.height, int)
    assert card.width * card.height * 3 * 4 <= MAX_FRAME_BYTES
    assert card.layout in ("NCHW", "NHWC") and card.color_order in ("RGB", "BGR")
    norm = card.normalization
    assert all(isinstance(v, float) and math.isfinite(v) for v in (norm.scale, *norm.mean, *norm.std))
    assert len(norm.mean) == len(norm.std) == 3 and 0 not in norm.std
    assert all(isinstance(c, str) for c in card.classes) and 1 <= len(card.classes) <= 256
    # Names go into one-line messages.
    assert all(n.isprintable() for n in (card.name, card.input_name, card.output_name, *card.classes))


@given(st.text(max_size=200))
@settings(max_examples=300)
def test_any_text_gives_a_card_or_one_model_error(text):
    try:
        parse_card_text(text, where="card.json")
    except ModelError as exc:
        assert "\n" not in str(exc)


@given(st.binary(max_size=200))
@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_file_bytes_give_a_card_or_one_model_error(tmp_path, data):
    path = tmp_path / "card.json"
    path.write_bytes(data)
    try:
        read_card(path)
    except ModelError as exc:
        assert "\n" not in str(exc)


def test_the_good_card_reads_with_its_values():
    card = ModelCard.from_json_dict(GOOD)
    assert (card.width, card.height, card.layout, card.color_order) == (32, 24, "NHWC", "BGR")
    assert card.normalization.std == (0.25, 0.25, 0.25) and card.normalization.scale == 1.0
    assert card.classes == ("background", "person", "hair") and card.foreground_class == 1


def test_a_card_round_trips_through_its_json():
    card = ModelCard.from_json_dict(GOOD)
    assert ModelCard.from_json_dict(card.to_json_dict()) == card


def test_optional_fields_take_their_defaults_and_unknown_keys_are_kept():
    data = {"name": "m", "input": {"name": "i", "width": 8, "height": 8}, "output": {"name": "o", "kind": "sigmoid"}, "lineage": {"from": "x"}}
    card = ModelCard.from_json_dict(data)
    assert (card.layout, card.color_order, card.classes) == ("NCHW", "RGB", ("background", "person"))
    assert card.normalization.scale == pytest.approx(1 / 255)
    assert card.extra == {"lineage": {"from": "x"}}


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("input.width", 1e999, "field 'input.width' must be a whole number from 1 to 1000000, not inf"),
        ("input", "x", "field 'input' must be a JSON object, not a string"),
        ("input.normalization", "x", "field 'input.normalization' must be a JSON object"),
        ("output.classes", "person", "field 'output.classes' must be a list"),
        ("name", "two\nlines", "field 'name' must be a name without line breaks or control characters"),
        ("input.normalization.std", [1, 0, 1], "field 'input.normalization.std' must be a number from -1e+06 to 1e+06 other than zero, not 0"),
    ],
)
def test_each_violation_names_its_field(field, value, message):
    with pytest.raises(ModelError, match="^" + re.escape("my.json: " + message)):
        ModelCard.from_json_dict(_replaced(field, value), where="my.json")


def test_an_integer_too_long_to_print_is_named_not_shown():
    with pytest.raises(ModelError, match="field 'input.width' .* not a number too long to show"):
        ModelCard.from_json_dict(_replaced("input.width", 10**5000))


def test_a_frame_buffer_that_would_not_fit_is_refused_with_its_size():
    data = _replaced("input.width", 20000)
    data["input"]["height"] = 20000
    with pytest.raises(ModelError, match="input 20000x20000 needs 4578 MiB per frame"):
        ModelCard.from_json_dict(data)
