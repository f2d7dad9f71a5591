"""Paths typed by users (issue 13.10): a NUL byte or a name too long is one clear SegviewError, never
``OSError: [Errno 36]`` or ``ValueError: embedded null byte`` from deeper down."""

from __future__ import annotations

import pytest

from cli_tools import assert_one_line_error, run_segview
from segview.compress.recipe import Recipe
from segview.errors import ModelError, SegviewError, SourceError
from segview.fileio import user_path
from segview.inference.registry import ModelRegistry
from segview.sources.spec import parse_source

LONG_NAME = "n" * 300  # over the 255 bytes of ext4, tmpfs, btrfs ...


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("a\0b", "NUL byte"),
        (LONG_NAME, "300 bytes long"),
        (f"/tmp/{LONG_NAME}/clip.mp4", "300 bytes long"),
        ("é" * 128, "256 bytes long"),  # 128 characters, 256 bytes in UTF-8: bytes are what the limit counts
        ("x/" * 2100, "paths here are limited"),
        ("\ud800", "characters no file name can hold"),  # a lone surrogate cannot be encoded
    ],
)
def test_user_path_refuses_what_the_os_would_choke_on(text, fragment):
    with pytest.raises(SegviewError, match=fragment):
        user_path(text, "--source")


def test_user_path_keeps_ordinary_paths(tmp_path):
    assert user_path(str(tmp_path / ("n" * 255)), "x").name == "n" * 255  # exactly at the limit is fine
    assert user_path("~/clip.mp4", "x").parts[-1] == "clip.mp4"
    assert not str(user_path("~/clip.mp4", "x")).startswith("~")
    assert str(user_path("~no-such-user-here/x", "x")) == "~no-such-user-here/x"  # Path.expanduser would raise


@pytest.mark.parametrize("text", [LONG_NAME, f"folder:{LONG_NAME}", f"file:/tmp/{LONG_NAME}.mp4", "x" * 5000, "file:a\0b.mp4", "clip\0.mp4"])
def test_source_grammar_refuses_bad_paths(text):
    with pytest.raises(SourceError, match="NUL byte|bytes long"):
        parse_source(text)


@pytest.mark.parametrize("text", [f"{LONG_NAME}.onnx", f"/tmp/{LONG_NAME}/m.onnx", "m\0.onnx"])
def test_model_reference_refuses_bad_paths(text):
    with pytest.raises(ModelError, match="NUL byte|bytes long"):
        ModelRegistry([]).resolve(text)


@pytest.mark.parametrize("field, value", [("model", "m\0.onnx"), ("out", "/tmp/out\0"), ("out", f"/tmp/{LONG_NAME}"), ("model", f"{LONG_NAME}.onnx")])
def test_recipe_refuses_bad_paths(field, value):
    data = {"model": "selfie-general", "steps": [{"step": "fp16"}], field: value}
    with pytest.raises(SegviewError, match="NUL byte|bytes long") as caught:
        Recipe.from_json_dict(data, where="recipe r.json")
    assert field in str(caught.value)


def test_cli_says_one_line_for_long_names(tmp_path):
    proc = run_segview("bench", "--source", f"folder:{tmp_path}/{LONG_NAME}", "--frames", "2")
    assert_one_line_error(proc, "300 bytes long")
    proc = run_segview("eval", "--model", f"{tmp_path}/{LONG_NAME}.onnx", "--images", tmp_path, "--masks", tmp_path)
    assert_one_line_error(proc, "bytes long")


def test_cli_says_one_line_for_a_nul_in_a_recipe(tmp_path):
    recipe = tmp_path / "r.json"
    recipe.write_text('{"model": "selfie-general", "steps": [{"step": "fp16"}], "out": "/tmp/a\\u0000b"}')
    assert_one_line_error(run_segview("compress", "--recipe", recipe), "NUL byte")


def test_the_studio_checks_model_names_before_qt():
    import argparse

    from segview.startup_checks import check_arguments

    with pytest.raises(ModelError, match="300 bytes long"):  # was OSError 36 from Path.exists
        check_arguments(argparse.Namespace(source=None, models=[LONG_NAME]))


def test_a_name_near_the_limit_can_be_written(tmp_path):
    from segview.fileio import atomic_write_bytes

    target = tmp_path / ("é" * 127)  # 254 bytes: allowed, but its temporary twin ".name.XXXX.tmp" was not
    atomic_write_bytes(target, b"data")
    assert target.read_bytes() == b"data"
    assert [p.name for p in tmp_path.iterdir()] == [target.name]  # no temporary file left


def test_eval_folders_are_checked(tmp_path):
    from segview.evaluation import find_pairs

    with pytest.raises(SegviewError, match="image folder: the name .* 300 bytes long"):  # was OSError 36 from is_dir
        find_pairs(tmp_path / LONG_NAME, tmp_path)
    with pytest.raises(SegviewError, match="mask folder .* NUL byte"):
        find_pairs(tmp_path, tmp_path / "a\0b")
