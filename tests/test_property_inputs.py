"""Property-based tests (hypothesis) for what users type: the source grammar and the recipe reader.

Any input gives either a value or one SegviewError (a subclass included), never another exception:
that is what lets the CLI print one line and the studio show the problem.
"""

from __future__ import annotations

import json

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from segview.compress.recipe import Recipe
from segview.errors import SegviewError
from segview.sources.spec import KNOWN_OPTIONS, SourceSpec, parse_source

CHECKS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


def value_or_segview_error(call, *args, **kwargs):
    """The call's value, or None when it raised a SegviewError; any other exception fails the test."""
    try:
        return call(*args, **kwargs)
    except SegviewError as exc:
        assert str(exc).strip(), "a SegviewError must say what is wrong"
        assert "\n" not in str(exc), f"one line: {exc!r}"
        return None


# -- the source grammar --------------------------------------------------------------------------------

schemes = st.sampled_from([*KNOWN_OPTIONS, "", "C", "camra", "http", "~", "."])
option_keys = st.sampled_from(sorted({k for opts in KNOWN_OPTIONS.values() for k in opts} | {"lop", "", "size\0"}))
option_values = st.one_of(
    st.sampled_from(["", "1", "0", "yes", "banana", "nan", "inf", "-3", "1e999", "0x10", "1280x720", "99999x1", "4M", "8m", "1.5", "%00", "%ff"]),
    st.text(max_size=12),
)
targets = st.one_of(
    st.text(max_size=40), st.sampled_from(["0", "-1", "99999999999999999999", "/dev/null", "/nonexistent/x.mp4", "~", "~nobody/x", "n" * 300, "a\0b"])
)


@st.composite
def source_names(draw) -> str:
    """Text shaped like a source: scheme:target?key=value&key=value, each part possibly odd."""
    name = draw(schemes)
    if draw(st.booleans()):
        name += ":" + draw(targets)
    pairs = draw(st.lists(st.tuples(option_keys, option_values), max_size=3))
    if pairs or draw(st.booleans()):
        name += "?" + "&".join(f"{k}={v}" if draw(st.booleans()) else k for k, v in pairs)
    return name


@CHECKS
@given(st.text(max_size=300))
@example("x" * 5000)  # once OSError 36 from Path.is_dir
@example("clip\0.mp4")  # once ValueError: embedded null byte
@example("\ud800.mp4")  # a lone surrogate: UnicodeEncodeError
@example("camra:\n0")  # once a two-line 'did you mean'
def test_any_text_is_a_source_or_one_segview_error(text):
    spec = value_or_segview_error(parse_source, text)
    assert spec is None or isinstance(spec, SourceSpec)


@CHECKS
@given(source_names())
@example("demo?loop=\n0")  # once a two-line message
@example("folder:" + "n" * 300)
def test_source_shaped_text_is_a_source_or_one_segview_error(text):
    spec = value_or_segview_error(parse_source, text)
    if spec is not None:
        assert spec.scheme in KNOWN_OPTIONS or spec.scheme in ("file", "folder")
        # What was accepted can be used: typed accessors say yes or no, with a SegviewError at worst.
        value_or_segview_error(spec.size)
        for key in spec.options:
            value_or_segview_error(spec.flag, key)
        str(spec)


# -- the recipe reader ---------------------------------------------------------------------------------

json_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=20))
json_values = st.recursive(
    json_scalars, lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)), max_leaves=12
)
step_names_seen = st.sampled_from(["fp16", "int8-dynamic", "int8-static", "int8-auto", "prune", "prune-channels", "cluster", "FP16", "", "nope"])


@st.composite
def steps(draw):
    """A step as a recipe holds one, each part possibly of the wrong type or out of range."""
    step = {"step": draw(st.one_of(step_names_seen, json_scalars))}
    if draw(st.booleans()):
        keys = st.one_of(st.sampled_from(["sparsity", "clusters", "calibration", "per_channel", "symmetric", "amount", "bits", "x"]), st.text(max_size=8))
        step["config"] = draw(st.one_of(st.dictionaries(keys, json_values, max_size=3), st.just({"odd\nkey": 1}), json_values))
    return draw(st.one_of(st.just(step), json_values))


@st.composite
def recipe_shaped(draw):
    """A dict with a recipe's keys (some missing), each value sometimes well-formed, sometimes anything."""
    fields = {
        "segview_recipe": st.one_of(st.just(1), json_scalars),
        "model": st.one_of(st.sampled_from(["selfie-general", "m.onnx", "m\0.onnx", "n" * 300]), json_values),
        "steps": st.one_of(st.lists(steps(), max_size=3), json_values),
        "calibration": st.one_of(
            st.none(),
            st.fixed_dictionaries({"source": st.one_of(st.text(max_size=20), json_scalars)}, optional={"max_frames": json_scalars, "held_out": json_scalars}),
            json_values,
        ),
        "eval_images": st.one_of(st.none(), st.text(max_size=20), json_values),
        "eval_masks": st.one_of(st.none(), st.text(max_size=20), json_values),
        "out": st.one_of(st.none(), st.sampled_from(["/tmp/out\0", "n" * 300, "out", "x.onnx"]), json_values),
        "name": st.one_of(st.none(), st.text(max_size=20), st.just("a\0b"), json_values),
        "measure": st.one_of(
            st.none(),
            st.dictionaries(st.sampled_from(["rounds", "runs_per_round", "warmup", "threads", "agreement_frames"]), json_values, max_size=3),
            json_values,
        ),
    }
    chosen = draw(st.lists(st.sampled_from(sorted(fields)), unique=True))
    data = {key: draw(fields[key]) for key in chosen}
    if draw(st.booleans()):
        data.setdefault("model", "selfie-general")
        data.setdefault("steps", [{"step": "fp16"}])
    return data


@CHECKS
@given(json_values)
def test_any_json_value_is_a_recipe_or_one_segview_error(data):
    recipe = value_or_segview_error(Recipe.from_json_dict, data, where="recipe r.json")
    assert recipe is None or isinstance(recipe, Recipe)


@CHECKS
@given(recipe_shaped())
@example({"model": "m", "steps": [{"step": "fp16"}], "measure": [None]})  # once AttributeError
@example({"model": "m", "steps": [{"step": "fp16"}], "segview_recipe": "\n"})  # once a two-line message
@example({"model": "m", "steps": [{"step": "fp16", "config": {"a\nb": 1}}]})  # once a two-line message
@example({"model": "m", "steps": [{"step": "int8-static"}], "calibration": {"source": "a", "max_frames": 1e999}})  # once OverflowError
@example({"model": "m", "steps": [{"step": "fp16"}], "out": "/tmp/a\0b"})
def test_recipe_shaped_json_is_a_recipe_or_one_segview_error(data):
    recipe = value_or_segview_error(Recipe.from_json_dict, data, where="recipe r.json")
    if recipe is not None:
        # What was accepted survives a round trip unchanged.
        assert Recipe.from_json_dict(json.loads(json.dumps(recipe.to_json_dict()))) == recipe


@CHECKS
@given(st.binary(max_size=200))
@example(raw=b"\x80")  # once UnicodeDecodeError
def test_any_file_is_a_recipe_or_one_segview_error(tmp_path_factory, raw):
    path = tmp_path_factory.mktemp("recipe") / "r.json"
    path.write_bytes(raw)
    value_or_segview_error(Recipe.load, path)
