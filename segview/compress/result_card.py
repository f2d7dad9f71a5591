"""The card of a compressed model: its source's card, renamed, with what made it and what was measured.

The card is written twice: a provisional one beside the staged model (so the result is checked as the
registry will see it) and, once measured, the final one with ``compression.measured`` and the file's hash.
A copy without the measurements travels inside the model file (its metadata), so the model describes
itself wherever it is copied.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import onnx
import onnxruntime as ort

from segview.compress.report import CompressionReport
from segview.compress.step_record import StepRecord
from segview.inference.card import ModelCard
from segview.inference.inspect import METADATA_CARD_KEY

# The bundled cards' key order, so a compressed card reads like its source's.
_FIRST_KEYS = ("name", "title", "task", "source", "license", "license_holder", "input", "output", "made_by", "compression")


def card_json(card: ModelCard, source_file: str, name: str, records: Sequence[StepRecord]) -> dict[str, Any]:
    """The provisional card of the result ``name``, made from ``card`` (read from ``source_file``) by ``records``."""
    data = card.to_json_dict()
    source_sha = data.pop("sha256", None)
    source_made_by = data.pop("made_by", None)
    data.pop("compression", None)
    titles = " + ".join(r.title for r in records)
    data["name"] = name
    data["title"] = f"{card.title or card.name}, {titles}"
    data["source"] = f"{source_file} ({card.source or card.name}), compressed by segview compress"
    data["made_by"] = {"tool": "segview compress", "onnx": onnx.__version__, "onnxruntime": ort.__version__}
    data["compression"] = {
        "source_model": card.name,
        "source_file": source_file,
        "source_sha256": source_sha,
        "source_made_by": source_made_by,
        "steps": [r.to_card_dict() for r in records],
        "report": f"{name}.report.json",
    }
    return {**{k: data[k] for k in _FIRST_KEYS if k in data}, **{k: v for k, v in data.items() if k not in _FIRST_KEYS}}


def measured_json(report: CompressionReport) -> dict[str, Any]:
    """``compression.measured`` of the final card: the report's headline figures."""
    out: dict[str, Any] = {
        "file_bytes": report.file_bytes,
        "zip_bytes": report.zip_bytes,
        "size_ratio": round(report.size_ratio, 4),
        "zip_ratio_to_source_file": round(report.zip_ratio, 4),
        "latency": [lat.to_json_dict() for lat in report.latency],
        "iou_vs_source_masks": None if report.agreement_iou is None else round(report.agreement_iou, 6),
        "iou_vs_source_masks_on": f"{report.agreement_frames} {report.agreement_on}",
    }
    if report.ground_truth is not None:
        out["ground_truth"] = report.ground_truth.to_json_dict()
    return out


def embed_card(model: onnx.ModelProto, card_data: dict[str, Any]) -> None:
    """Put the card (without measurements, which need the file itself) into the model's metadata, replacing any."""
    embedded = {k: v for k, v in card_data.items() if k != "compression"}
    embedded["compression"] = {k: v for k, v in card_data["compression"].items() if k != "measured"}
    for i, prop in enumerate(model.metadata_props):
        if prop.key == METADATA_CARD_KEY:
            del model.metadata_props[i]
            break
    entry = model.metadata_props.add()
    entry.key = METADATA_CARD_KEY
    entry.value = json.dumps(embedded, sort_keys=True)
