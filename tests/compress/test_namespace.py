"""One model namespace: what compress writes by default is found by name by every command, and no result
takes another model's name. HOME and $SEGVIEW_MODEL_PATH point at this test's own folders."""

from __future__ import annotations

from pathlib import Path

import pytest

import factories
from cli_tools import assert_one_line_error, run_segview
from compress import tiny
from segview.compress.recipe import Recipe, StepSpec
from segview.compress.step import CompressionError
from segview.inference.registry import ModelRegistry, default_output_dir, default_search_dirs

FAST = ["--rounds", "2", "--runs", "2", "--threads", "1"]


@pytest.fixture
def home(isolated_home: Path) -> Path:
    """This test's own HOME (tests/conftest.py, which also unsets $SEGVIEW_MODEL_PATH); the CLI inherits both."""
    return isolated_home


def test_the_default_output_folder_is_searched_once(home, tmp_path, monkeypatch):
    assert default_output_dir() == home / "segview-models"
    assert default_search_dirs()[-1] == home / "segview-models"
    extra = tmp_path / "extra"
    monkeypatch.setenv("SEGVIEW_MODEL_PATH", str(extra))
    # The first $SEGVIEW_MODEL_PATH folder is where results go, and it is listed once.
    assert default_output_dir() == extra
    assert default_search_dirs().count(extra) == 1 and home / "segview-models" not in default_search_dirs()


def test_a_model_in_the_default_output_folder_is_known_by_name(home):
    folder = home / "segview-models"
    folder.mkdir()
    tiny.tiny_segmenter(folder / "mine.onnx", name="mine")
    assert ModelRegistry().resolve("mine").path == (folder / "mine.onnx").resolve()


def test_two_files_with_one_name_get_short_distinct_names(tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    for folder in (first, second):
        folder.mkdir()
        factories.write_card(factories.brightness_model(folder / "bright.onnx"), name="bright")
    registry = ModelRegistry([first, second])
    assert registry.names() == ["bright", "bright (2)"]
    assert registry.resolve("bright (2)").path == (second / "bright.onnx").resolve()
    assert str(second / "bright.onnx") in registry.resolve("bright (2)").tooltip
    # The same file again keeps its name, and no third name appears.
    assert registry.add_file(second / "bright.onnx").name == "bright (2)"
    assert registry.names() == ["bright", "bright (2)"]


def recipe_for(model: Path, out: Path, **kw) -> Recipe:
    return Recipe(model=str(model), steps=(StepSpec.make("fp16"),), out=str(out), **kw)


def test_a_default_result_name_that_is_taken_moves_on(tmp_path, tiny_model):
    others = tmp_path / "others"
    others.mkdir()
    factories.write_card(factories.brightness_model(others / "x.onnx"), name="tiny-fp16")
    registry = ModelRegistry([tiny_model.parent, others])
    out = tmp_path / "out"
    assert recipe_for(tiny_model, out).settled(registry).name == "tiny-fp16-2"
    with pytest.raises(CompressionError, match="the name 'tiny-fp16' is taken by .*x.onnx; choose another name"):
        recipe_for(tiny_model, out, name="tiny-fp16").settled(registry)
    # A result written again over its own earlier file keeps its name.
    out.mkdir()
    own = ModelRegistry([tiny_model.parent])
    own.add_file(tiny.tiny_segmenter(out / "tiny-fp16.onnx", name="tiny-fp16"))
    assert recipe_for(tiny_model, out).settled(own).name is None


def test_compress_results_are_listed_and_benched_by_name(home, tiny_model):
    proc = run_segview("compress", "--model", tiny_model, "--step", "fp16", *FAST)
    assert proc.returncode == 0, proc.stderr
    written = home / "segview-models" / "tiny-fp16.onnx"
    assert written.exists()
    assert "SEGVIEW_MODEL_PATH" not in proc.stdout  # no hint to extend it: the folder is searched already
    listed = run_segview("models")
    assert listed.returncode == 0 and "tiny-fp16" in listed.stdout, listed.stderr
    bench = run_segview("bench", "--model", "tiny-fp16", "--frames", "3", "--warmup", "1", "--workers", "1")
    assert bench.returncode == 0, bench.stderr
    # An explicit name another model holds is refused before any work.
    proc = run_segview("compress", "--model", tiny_model, "--step", "fp16", "--name", "selfie-general", *FAST)
    assert_one_line_error(proc, "the name 'selfie-general' is taken by")
    assert sorted(p.name for p in (home / "segview-models").glob("*.onnx")) == ["tiny-fp16.onnx"]


def test_the_compare_box_shows_short_names_with_the_path_on_hover(qtbot, tmp_path):
    pytest.importorskip("pytestqt")
    from PySide6.QtCore import Qt

    from qt_tools import close_studio, make_studio

    first, second = tmp_path / "a", tmp_path / "b"
    for folder in (first, second):
        folder.mkdir()
        factories.write_card(factories.brightness_model(folder / "bright.onnx"), name="bright")
    studio = make_studio(qtbot, first, workers=1)
    try:
        studio.registry.add_folder(second)
        video = factories.write_video(tmp_path / "v.mp4", factories.moving_square_frames(30))
        assert studio.open(str(video), ["bright", "bright (2)"])
        box = studio.window.compare_controls.b
        assert [box.itemText(i) for i in range(box.count())] == ["—", "bright", "bright (2)"]
        assert str((second / "bright.onnx").resolve()) in box.itemData(2, Qt.ItemDataRole.ToolTipRole)
    finally:
        close_studio(studio)


def test_segview_models_lists_a_second_model_of_a_name_and_says_so(home):
    folder = home / "segview-models"
    folder.mkdir()
    factories.write_card(factories.brightness_model(folder / "copy.onnx"), name="selfie-general")
    proc = run_segview("models")
    assert proc.returncode == 0, proc.stderr
    assert "selfie-general (2)" in proc.stdout
    assert "selfie-general (2): a second model named 'selfie-general'" in proc.stdout
