"""``segview compress`` as a user runs it: real subprocesses, exit codes, one-line errors."""

from __future__ import annotations

import json

import pytest

from cli_tools import assert_one_line_error, run_segview
from compress.conftest import files_in

FAST = ["--rounds", "2", "--runs", "2", "--threads", "1"]


def segview(*args):
    return run_segview(*args, timeout=180)


def test_compress_chains_steps_and_reports(tiny_model, calib_dir, labelled, out_dir, tmp_path):
    images, masks = labelled
    saved = tmp_path / "recipe.json"
    proc = segview(
        "compress",
        "--model",
        tiny_model,
        "--step",
        "int8-static:calibration=percentile",
        "--calib",
        calib_dir,
        "--calib-frames",
        8,
        "--eval-images",
        images,
        "--eval-masks",
        masks,
        "--out",
        out_dir,
        "--save-recipe",
        saved,
        "--json",
        tmp_path / "r.json",
        *FAST,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert "tiny-int8" in proc.stdout and "IoU against ground truth" in proc.stdout and "latency (1 thread)" in proc.stdout
    assert files_in(out_dir) == ["tiny-int8.json", "tiny-int8.onnx", "tiny-int8.report.json", "tiny-variants.pareto.png"]
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["steps"][0]["config"]["calibration"] == "percentile"
    assert report["calibration"]["frames"] + report["calibration"]["held_out"] == 8
    # The saved recipe replays the same job into another folder.
    again = tmp_path / "again"
    proc = segview("compress", "--recipe", saved, "--out", again)
    assert proc.returncode == 0, proc.stderr
    assert "tiny-int8.onnx" in files_in(again)


def test_list_steps_names_every_step_and_option():
    proc = segview("compress", "--list-steps")
    assert proc.returncode == 0
    for name in ("rewrite", "fp16", "int8-static", "int8-dynamic", "int8-auto", "prune", "prune-channels", "cluster", "max_iou_drop=0.01", "clusters=16"):
        assert name in proc.stdout


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--step", "fp16"], "needs --model"),
        (["--model", "MODEL"], "at least one --step"),
        (["--model", "MODEL", "--step", "zip"], "unknown compression step 'zip'"),
        (["--model", "MODEL", "--step", "cluster:clusters=1"], "clusters must be between"),
        (["--model", "MODEL", "--step", "rewrite"], "step 'rewrite' has nothing to do"),
        (["--model", "MODEL", "--step", "int8-static"], "needs calibration frames"),
        (["--model", "MODEL", "--step", "int8-static", "--calib", "EMPTY"], "no images in calibration folder"),
        (["--model", "no/such/model.onnx", "--step", "fp16"], "model file not found"),
        (["--model", "MODEL", "--step", "fp16", "--eval-images", "EMPTY"], "give both evaluation images and masks"),
        (["--recipe", "no-such-recipe.json"], "cannot read recipe"),
    ],
)
def test_bad_input_is_one_line_on_stderr(tiny_model, tmp_path, out_dir, args, fragment):
    empty = tmp_path / "empty"
    empty.mkdir()
    args = [str(tiny_model) if a == "MODEL" else str(empty) if a == "EMPTY" else a for a in args]
    proc = segview("compress", *args, "--out", out_dir, *FAST)
    assert_one_line_error(proc, fragment)
    assert files_in(out_dir) == []
