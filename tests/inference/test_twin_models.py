"""One model named twice (issue 13.12): refused with one line by bench, eval and the studio's --model.

Before, the twin's rows merged into one with twice the frames and twice the FPS.
"""

from __future__ import annotations

import argparse
import os

import pytest

import factories
from cli_tools import assert_one_line_error, run_segview
from segview.cli.options import refuse_twin_models
from segview.errors import SegviewError
from segview.inference.registry import ModelRegistry
from segview.startup_checks import check_arguments


@pytest.fixture
def registry(model_dir, brightness_model):
    factories.write_card(factories.brightness_model(model_dir / "other.onnx"), name="other")
    return ModelRegistry([model_dir])


@pytest.mark.parametrize(
    "twice",
    [
        lambda m: ["bright", "bright"],
        lambda m: ["bright", str(m)],
        lambda m: [str(m), "bright"],
        lambda m: ["bright", os.path.relpath(m)],
        lambda m: ["bright", str(m.parent / ".." / m.parent.name / m.name)],
        lambda m: ["other", "bright", str(m)],
    ],
    ids=["name-name", "name-path", "path-name", "name-relative", "name-dotdot", "third"],
)
def test_the_same_model_twice_is_refused(registry, brightness_model, twice):
    references = twice(brightness_model)
    with pytest.raises(SegviewError, match=r"^bright is given twice") as caught:
        refuse_twin_models(registry, references)
    if len(set(references)) == len(references):  # different spellings: both are named
        assert all(repr(r) in str(caught.value) for r in references if r != "other")


def test_links_to_the_same_file_are_the_same_model(registry, brightness_model, tmp_path):
    symlink = tmp_path / "alias.onnx"
    symlink.symlink_to(brightness_model)
    hardlink = tmp_path / "hard.onnx"
    os.link(brightness_model, hardlink)
    for other in (symlink, hardlink):
        with pytest.raises(SegviewError, match="given twice"):
            refuse_twin_models(registry, ["bright", str(other)])


def test_distinct_models_pass(registry, brightness_model, model_dir, tmp_path):
    refuse_twin_models(registry, ["bright", "other"])
    copy = tmp_path / "bright.onnx"  # same bytes, another file: the user may mean to compare them
    copy.write_bytes(brightness_model.read_bytes())
    refuse_twin_models(registry, ["bright", str(copy)])
    refuse_twin_models(registry, ["bright", "no-such-model"])  # left for resolve to name


def test_the_studio_refuses_twins_before_qt(registry, brightness_model, monkeypatch):
    monkeypatch.setenv("SEGVIEW_MODEL_PATH", str(brightness_model.parent))
    with pytest.raises(SegviewError, match="bright is given twice"):
        check_arguments(argparse.Namespace(source=None, models=["bright", str(brightness_model)]))
    check_arguments(argparse.Namespace(source=None, models=["bright", "other"]))


def test_bench_and_eval_refuse_twins_in_one_line(brightness_model, tmp_path):
    env = dict(os.environ, SEGVIEW_MODEL_PATH=str(brightness_model.parent))
    images, masks = tmp_path / "images", tmp_path / "masks"
    factories.write_images(images, factories.moving_square_frames(2))
    factories.write_images(masks, factories.moving_square_frames(2))
    twice = ["--model", "bright", "--model", str(brightness_model)]
    assert_one_line_error(run_segview("bench", *twice, "--source", f"folder:{images}", "--frames", "3", "--warmup", "0", env=env), "bright is given twice")
    assert_one_line_error(run_segview("eval", *twice, "--images", images, "--masks", masks, env=env), "bright is given twice")
    assert_one_line_error(run_segview("studio", "--model", "bright", "--model", "bright", "--duration", "1", env=env), "bright is given twice")
