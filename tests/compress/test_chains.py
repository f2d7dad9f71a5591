"""Which steps can follow which, from the steps' own declarations, checked against real runs on the tiny model."""

from __future__ import annotations

import dataclasses
import itertools

import onnx
import pytest

from cli_tools import assert_one_line_error, run_segview
from compress.conftest import files_in
from segview.compress import graph
from segview.compress.recipe import Recipe, StepSpec
from segview.compress.step import CancelToken, CompressionError, StepContext, all_steps, chain_problem, config_from_dict, form_of_card, get_step


def run_chain(names, model, card, calibration, workdir):
    for name in names:
        step = get_step(name)
        config = config_from_dict(step, {})
        step.check(model, config)
        model = step.apply(graph.copy_model(model), config, StepContext(card=card, workdir=workdir, cancel=CancelToken(), calibration=calibration)).model
        graph.session(model)
    return model


# rewrite and prune-channels find nothing to do on the tiny model; recover trains for minutes by default (test_recover.py
# runs it for a few steps); every other step runs on it.
RUNNABLE = [s.name for s in all_steps() if s.name not in ("rewrite", "prune-channels", "recover")]


def test_every_pair_the_declarations_allow_runs(tiny_model, tiny_card, calibration, tmp_path):
    source = onnx.load(str(tiny_model))
    allowed = [pair for pair in itertools.product(RUNNABLE, repeat=2) if chain_problem(list(pair)) is None]
    assert ("prune", "int8-static") in allowed and ("fp16", "int8-static") not in allowed
    for pair in allowed:
        run_chain(pair, source, tiny_card, calibration, tmp_path)


@pytest.mark.parametrize("pair", [("fp16", "int8-static"), ("int8-static", "fp16"), ("int8-dynamic", "prune")])
def test_a_refused_pair_really_fails(pair, tiny_model, tiny_card, calibration, tmp_path):
    with pytest.raises(CompressionError):
        run_chain(pair, onnx.load(str(tiny_model)), tiny_card, calibration, tmp_path)


def test_the_reason_names_the_step_what_it_needs_and_what_it_got():
    assert chain_problem(["fp16", "int8-static"]) == (
        "int8-static needs float32 or shared (k-means) weights; after fp16 they are float16 (fp16 and int8 do not combine: choose one)"
    )
    assert chain_problem(["prune", "fp16"]) is None
    assert "m has int8 (quantized) weights" in chain_problem(["int8-dynamic"], source_form="int8", source="m")


def test_a_card_that_records_its_steps_gives_the_models_form(tiny_card):
    recorded = dataclasses.replace(tiny_card, extra={"compression": {"steps": [{"step": "prune"}, {"step": "int8-auto"}]}})
    assert form_of_card(tiny_card) == "float32"
    assert form_of_card(recorded) == "int8"


def test_a_recipe_with_an_impossible_order_is_refused(tiny_model, calib_dir):
    from segview.compress.calibration import CalibrationSpec

    recipe = Recipe(model=str(tiny_model), steps=(StepSpec.make("fp16"), StepSpec.make("int8-static")), calibration=CalibrationSpec(str(calib_dir)))
    with pytest.raises(CompressionError, match="int8-static needs float32"):
        recipe.validate()


def test_the_cli_refuses_an_impossible_chain_before_any_work(tiny_model, tmp_path, out_dir):
    # The calibration folder does not exist: refused on the chain, the frames were never looked at.
    proc = run_segview("compress", "--model", tiny_model, "--step", "fp16", "--step", "int8-static", "--calib", tmp_path / "nowhere", "--out", out_dir)
    assert_one_line_error(proc, "int8-static needs float32 or shared (k-means) weights; after fp16 they are float16")
    assert files_in(out_dir) == []
