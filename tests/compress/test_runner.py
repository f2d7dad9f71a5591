"""Recipes run end to end: outputs, cards and reports; and every way a job can fail leaves nothing behind."""

from __future__ import annotations

import errno
import hashlib
import json
from pathlib import Path

import cv2
import onnx
import pytest

import factories
from compress.conftest import files_in
from segview.compress import runner
from segview.compress.calibration import CalibrationSpec, load_calibration
from segview.compress.measure import MeasureOptions
from segview.compress.recipe import Recipe, StepSpec
from segview.compress.report import load_report
from segview.compress.step import CancelToken
from segview.compress.steps.fp16 import Fp16Step
from segview.errors import Cancelled, CompressionError, DataError, ModelError, SegviewError
from segview.inference.card import read_card
from segview.inference.inspect import METADATA_CARD_KEY, describe_model

QUICK = MeasureOptions(rounds=2, runs_per_round=2, warmup=1, threads=(1,), agreement_frames=4)


def recipe(model, out, *steps, calib=None, **kw) -> Recipe:
    return Recipe(
        model=str(model),
        steps=tuple(StepSpec.make(s) if isinstance(s, str) else StepSpec.make(s[0], **s[1]) for s in steps),
        calibration=CalibrationSpec(str(calib), max_frames=12, held_out=0.25) if calib else None,
        out=str(out),
        measure=QUICK,
        **kw,
    )


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_chain_writes_model_card_report_and_chart_and_registers_the_result(tiny_model, registry, calib_dir, labelled, out_dir):
    source_sha = sha(tiny_model)
    images, masks = labelled
    r = recipe(tiny_model, out_dir, ("prune", {"sparsity": 0.3}), ("cluster", {"clusters": 8}), calib=calib_dir, eval_images=str(images), eval_masks=str(masks))
    events = []
    result = runner.run_recipe(r, registry=registry, on_event=events.append)
    assert result.model_path == out_dir / "tiny-sparse30-k8.onnx"
    assert files_in(out_dir) == ["tiny-sparse30-k8.json", "tiny-sparse30-k8.onnx", "tiny-sparse30-k8.report.json", "tiny-variants.pareto.png"]
    assert sha(tiny_model) == source_sha, "the source model was modified"
    # The card has the bundled cards' schema plus a compression section, and matches the file.
    card = read_card(result.card_path)
    data = json.loads(result.card_path.read_text())
    assert card.name == "tiny-sparse30-k8" and card.input_name == "input" and card.output_kind == "sigmoid"
    assert data["compression"]["source_model"] == "tiny" and [s["step"] for s in data["compression"]["steps"]] == ["prune", "cluster"]
    assert data["compression"]["measured"]["zip_bytes"] == result.report.zip_bytes
    assert data["sha256"] == sha(result.model_path)
    assert describe_model(result.model_path).name == "tiny-sparse30-k8"
    assert any(p.key == METADATA_CARD_KEY for p in onnx.load(str(result.model_path)).metadata_props)
    # The report measures the result against its source.
    report = load_report(result.report_path)
    assert report.source_sha256 == source_sha and report.agreement_on == "held-out calibration frames" and report.agreement_frames == 3
    assert 0.0 <= report.agreement_iou <= 1.0
    assert report.ground_truth is not None and report.ground_truth.images == 6
    assert report.latency[0].threads == 1 and report.latency[0].source_ms > 0 and report.latency[0].result_ms > 0
    assert report.zip_bytes < report.source_zip_bytes
    assert cv2.imread(str(result.chart_path)) is not None
    # Registered at once under its own name.
    assert registry.resolve("tiny-sparse30-k8").path == result.model_path
    fractions = [e.fraction for e in events if e.kind == "progress"]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0


def test_the_chart_shows_every_variant_of_the_source(tiny_model, registry, out_dir):
    runner.run_recipe(recipe(tiny_model, out_dir, "fp16"), registry=registry)
    second = runner.run_recipe(recipe(tiny_model, out_dir, ("cluster", {"clusters": 4})), registry=registry)
    from segview.compress.chart import points_from_reports, variant_reports

    points, _ = points_from_reports(variant_reports(out_dir, second.report.source_sha256, warn=pytest.fail))
    assert {p.label for p in points} == {"tiny", "tiny-fp16", "tiny-k4"}
    # One chart for the source, redrawn with each variant.
    assert second.chart_path == out_dir / "tiny-variants.pareto.png" and [n for n in files_in(out_dir) if n.endswith(".png")] == ["tiny-variants.pareto.png"]


def test_running_again_replaces_the_previous_result(tiny_model, registry, out_dir):
    first = runner.run_recipe(recipe(tiny_model, out_dir, "fp16"), registry=registry)
    old = sha(first.model_path)
    second = runner.run_recipe(recipe(tiny_model, out_dir, ("fp16", {"keep_ops": ["Sigmoid"]})), registry=registry)
    assert second.model_path == first.model_path and sha(second.model_path) != old
    assert not [n for n in files_in(out_dir) if n.startswith(".")]


def test_cancelling_leaves_nothing_and_the_source_untouched(tiny_model, registry, calib_dir, out_dir):
    source_sha = sha(tiny_model)
    token = CancelToken()

    def cancel_once_the_step_runs(event):
        if event.kind == "log" and "int8-auto" in event.message:
            token.cancel()

    with pytest.raises(Cancelled, match="nothing was written"):
        runner.run_recipe(
            recipe(tiny_model, out_dir, ("int8-auto", {"max_iou_drop": 0.0}), calib=calib_dir),
            registry=registry,
            on_event=cancel_once_the_step_runs,
            cancel=token,
        )
    assert files_in(out_dir) == []
    assert sha(tiny_model) == source_sha


def test_cancelling_during_measurement_leaves_nothing(tiny_model, registry, out_dir):
    token = CancelToken()

    def cancel_when_measuring(event):
        if event.kind == "progress" and "latency" in event.message:
            token.cancel()

    with pytest.raises(Cancelled):
        runner.run_recipe(recipe(tiny_model, out_dir, "fp16"), registry=registry, on_event=cancel_when_measuring, cancel=token)
    assert files_in(out_dir) == []


def test_a_full_disk_is_a_clear_error_and_leaves_nothing(tiny_model, registry, out_dir, monkeypatch):
    def full(path, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(runner, "write_file", full)
    with pytest.raises(SegviewError, match="No space left on device"):
        runner.run_recipe(recipe(tiny_model, out_dir, "fp16"), registry=registry)
    assert files_in(out_dir) == []


def test_a_disk_that_fills_up_while_the_results_are_moved_into_place_restores_the_old_ones(tiny_model, registry, out_dir, monkeypatch):
    first = runner.run_recipe(recipe(tiny_model, out_dir, "fp16"), registry=registry)
    before = {n: (out_dir / n).read_bytes() for n in files_in(out_dir)}
    real_replace = runner.os.replace

    def failing_replace(src, dst):
        # The new model's move fails; putting the old files back still works.
        if str(dst).endswith(".onnx") and Path(dst).parent == out_dir and not str(src).endswith(".previous"):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_replace(src, dst)

    monkeypatch.setattr(runner.os, "replace", failing_replace)
    with pytest.raises(SegviewError, match="No space left on device"):
        runner.run_recipe(recipe(tiny_model, out_dir, ("fp16", {"keep_ops": ["Sigmoid"]})), registry=registry)
    assert {n: (out_dir / n).read_bytes() for n in files_in(out_dir)} == before
    assert first.model_path.exists()


def test_a_failing_step_is_reported_and_writes_nothing(tiny_model, registry, out_dir, monkeypatch):
    def broken(self, model, config, ctx):
        raise CompressionError("fp16 broke on purpose")

    monkeypatch.setattr(Fp16Step, "apply", broken)
    with pytest.raises(CompressionError, match="broke on purpose"):
        runner.run_recipe(recipe(tiny_model, out_dir, "fp16"), registry=registry)
    assert files_in(out_dir) == []


def test_a_step_that_returns_a_broken_graph_is_caught(tiny_model, registry, out_dir, monkeypatch):
    from segview.compress.step import StepOutput

    def breaks_the_graph(self, model, config, ctx):
        model.graph.node[0].input[1] = "no-such-weight"
        return StepOutput(model)

    monkeypatch.setattr(Fp16Step, "apply", breaks_the_graph)
    with pytest.raises(CompressionError, match="onnxruntime cannot run the result"):
        runner.run_recipe(recipe(tiny_model, out_dir, "fp16"), registry=registry)
    assert files_in(out_dir) == []


def test_unsupported_models_are_refused(tmp_path, out_dir, registry):
    two = factories.two_input_model(tmp_path / "two.onnx")
    with pytest.raises(ModelError, match="exactly one image input"):
        runner.run_recipe(recipe(two, out_dir, "fp16"), registry=registry)
    classifier = factories.classifier_model(tmp_path / "classifier.onnx")
    with pytest.raises(ModelError, match="not a mask"):
        runner.run_recipe(recipe(classifier, out_dir, "fp16"), registry=registry)
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"not a model")
    with pytest.raises(ModelError, match="not a readable ONNX model"):
        runner.run_recipe(recipe(junk, out_dir, "fp16"), registry=registry)
    no_weights = factories.brightness_model(tmp_path / "bright.onnx")
    with pytest.raises(CompressionError, match="needs a float model"):
        # A 1x1 conv with a (1,3,1,1) weight has weights; strip them to make a weightless graph.
        model = onnx.load(str(no_weights))
        model.graph.node[0].op_type = "Identity"
        del model.graph.node[0].input[1:]
        del model.graph.initializer[:]
        onnx.save(model, str(no_weights))
        runner.run_recipe(recipe(no_weights, out_dir, "cluster"), registry=registry)
    assert files_in(out_dir) == []


def test_the_output_may_not_replace_the_source(tiny_model, registry):
    with pytest.raises(CompressionError, match="is the source model itself"):
        runner.run_recipe(recipe(tiny_model, tiny_model, "fp16"), registry=registry)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda d: d.mkdir(), "no images in calibration folder"),
        (lambda d: (d.mkdir(), (d / "a.png").write_bytes(b"nope"), (d / "b.jpg").write_bytes(b"")), "could be read"),
        (lambda d: None, "not found"),
    ],
)
def test_empty_unreadable_or_missing_calibration_sources_are_clear_errors(tiny_model, registry, tmp_path, out_dir, make, message):
    calib = tmp_path / "calib-bad"
    make(calib)
    target = calib if calib.exists() else tmp_path / "missing.mp4"
    with pytest.raises(DataError, match=message):
        runner.run_recipe(recipe(tiny_model, out_dir, "int8-static", calib=target), registry=registry)
    assert files_in(out_dir) == []


def test_a_damaged_video_is_a_clear_calibration_error(tmp_path):
    bad = tmp_path / "clip.mp4"
    bad.write_bytes(b"\x00" * 1000)
    with pytest.raises(DataError, match="cannot decode video"):
        load_calibration(CalibrationSpec(str(bad)))


def test_calibration_from_a_video_spreads_frames_and_holds_some_out(square_video):
    calibration = load_calibration(CalibrationSpec(str(square_video), max_frames=6, held_out=0.5))
    assert len(calibration.calibration_frames) == 3 and len(calibration.held_out_frames) == 3


def test_steps_that_need_frames_refuse_a_recipe_without_them(tiny_model, out_dir):
    with pytest.raises(CompressionError, match="needs calibration frames"):
        recipe(tiny_model, out_dir, "int8-static").validate()


def test_a_recipe_survives_json(tiny_model, calib_dir, labelled, tmp_path):
    images, masks = labelled
    r = recipe(
        tiny_model,
        tmp_path / "out",
        ("prune", {"sparsity": 0.2}),
        ("int8-auto", {"max_iou_drop": 0.02, "exclude_op_types": ["Sigmoid"]}),
        calib=calib_dir,
        eval_images=str(images),
        eval_masks=str(masks),
        name="mine",
    )
    path = tmp_path / "recipe.json"
    r.save(path)
    assert Recipe.load(path) == r


@pytest.mark.parametrize(
    "text, message",
    [
        ("{", "not valid JSON"),
        ('{"model": "m"}', "not a segview compression recipe"),
        ('{"model": "m", "steps": [{"step": "zip"}]}', "unknown compression step"),
        ('{"model": "m", "steps": [{"step": "prune", "config": {"sparsity": "lots"}}]}', "must be a number"),
        ('{"model": "m", "steps": []}', "at least one step"),
        ('{"segview_recipe": 9, "model": "m", "steps": []}', "recipe version 9"),
    ],
)
def test_bad_recipes_are_clear_errors(tmp_path, text, message):
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(SegviewError, match=message):
        Recipe.load(path)
