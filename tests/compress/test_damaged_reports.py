"""A damaged ``*.report.json`` beside the results must not fail a compression at its very end (issue 13.14).

Each damaged report is skipped for the Pareto chart with one warning line naming it; the run still writes its
result, card, report and chart, and exits 0.
"""

from __future__ import annotations

import json

import cv2

from cli_tools import run_segview

# What a hand edit, a truncated write or another tool can leave: each used to end the run with a traceback.
DAMAGE = {
    "truncated": lambda good: json.dumps(good)[:200],
    "a-list": lambda good: "[1, 2]",
    "agreement-a-string": lambda good: json.dumps({**good, "agreement": "x"}),
    "iou-a-string": lambda good: json.dumps({**good, "agreement": {**good["agreement"], "iou_vs_source_masks": "x"}}),
    "size-infinite": lambda good: json.dumps(good).replace(f'"zip_bytes": {good["zip_bytes"]}', '"zip_bytes": 1e999'),
    "latency-nan": lambda good: json.dumps({**good, "latency": [{**good["latency"][0], "result_ms": float("nan")}]}),
    "nested-too-deep": lambda good: "[" * 100_000 + "]" * 100_000,
    "source-a-number": lambda good: json.dumps({**good, "source": 5}),
}


def test_damaged_reports_are_skipped_for_the_chart_with_a_warning(tiny_model, tmp_path):
    out = tmp_path / "out"
    first = run_segview("compress", "--model", tiny_model, "--step", "fp16", "--out", out, "--rounds", 2, "--runs", 3)
    assert first.returncode == 0, first.stderr
    good = json.loads((out / "tiny-fp16.report.json").read_text())
    for name, damage in DAMAGE.items():
        # Named after the real result, from the same source: the chart would have plotted them.
        (out / f"{name}.report.json").write_text(damage({**good, "name": name}))
    (out / "not-utf8.report.json").write_bytes(b"\xff\xfe{" + b"\x80" * 20)
    second = run_segview("compress", "--model", tiny_model, "--step", "cluster:clusters=4", "--out", out, "--rounds", 2, "--runs", 3)
    assert second.returncode == 0, second.stderr
    assert "Traceback" not in second.stderr
    warnings = second.stderr.strip().splitlines()
    skipped = {*DAMAGE, "not-utf8"}
    assert len(warnings) == len(skipped), second.stderr
    assert all(line.startswith("segview: warning: skipped ") for line in warnings)
    assert {line.split("skipped ", 1)[1].split(".report.json", 1)[0] for line in warnings} == skipped
    assert (out / "tiny-k4.onnx").is_file() and (out / "tiny-k4.report.json").is_file()
    assert cv2.imread(str(out / "tiny-variants.pareto.png")) is not None
