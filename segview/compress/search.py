"""Keeping the most sensitive layers uncompressed until the masks agree with the source model.

Shared by the weight-editing steps (clustering, pruning): ``build(keep)`` makes
the model with every layer compressed except those in ``keep``. A layer's
sensitivity is the drift of the masks when it alone is compressed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import onnx

from segview.compress import graph
from segview.compress.step import StepContext
from segview.inference.card import ModelCard


@dataclass(slots=True)
class SearchResult:
    model: onnx.ModelProto
    drop: float
    kept: list[str]
    sensitivity: dict[str, float] = field(default_factory=dict)
    log: list[dict[str, Any]] = field(default_factory=list)

    def notes(self, target: float, what: str) -> dict[str, Any]:
        ranked = sorted(self.sensitivity.items(), key=lambda kv: -kv[1])
        rank = {name: i + 1 for i, (name, _) in enumerate(ranked)}
        return {
            "target_iou_drop": target,
            "target_met": self.drop <= target,
            "iou_drop_on_calibration_frames": round(self.drop, 6),
            "kept_uncompressed": [
                {
                    "layer": name,
                    "sensitivity": round(self.sensitivity.get(name, 0.0), 6),
                    "why": f"{what} alone it moves the mask by {self.sensitivity.get(name, 0.0) * 100:.2f} IoU points, rank {rank.get(name, 0)} of {len(ranked)}",
                }
                for name in self.kept
            ],
            "search": self.log,
        }


class DriftMeter:
    """How far a model's masks drift from the source model's on a few calibration frames (1 - IoU)."""

    def __init__(self, source: onnx.ModelProto, tensors: list[np.ndarray], card: ModelCard) -> None:
        self.tensors = tensors
        self.card = card
        self.reference = graph.run_outputs(graph.session(source), tensors, card.output_name)

    def __call__(self, model: onnx.ModelProto) -> float:
        outputs = graph.run_outputs(graph.session(model), self.tensors, self.card.output_name)
        return graph.mask_disagreement(self.reference, outputs, self.card)


def keep_sensitive(
    *,
    layers: list[str],
    build: Callable[[frozenset[str]], onnx.ModelProto],
    drift: DriftMeter,
    target: float,
    max_keep: int,
    ctx: StepContext,
    what: str,
) -> SearchResult:
    ctx.progress(0.05, f"{what} every layer")
    everything = build(frozenset())
    best = SearchResult(everything, drift(everything), [])
    best.log.append({"kept": 0, "iou_drop": round(best.drop, 6)})
    ctx.log(f"{what} every layer: IoU drop against the source {best.drop:.4f} (target {target:.4f})")
    if best.drop <= target or not layers:
        return best
    all_layers = frozenset(layers)
    for i, name in enumerate(layers):
        ctx.cancel.check()
        ctx.progress(0.1 + 0.5 * i / len(layers), f"sensitivity of {name} ({i + 1}/{len(layers)})")
        best.sensitivity[name] = drift(build(all_layers - {name}))
    order = [n for n, s in sorted(best.sensitivity.items(), key=lambda kv: -kv[1]) if s > 0]
    # Layers are tried in order of sensitivity; one that does not lower the drift is put back (its error
    # happened to cancel another's), so the kept set only ever helps. At most twice max_keep tries.
    trials = order[: 2 * max_keep]
    kept: list[str] = []
    for k, name in enumerate(trials, start=1):
        if len(kept) >= max_keep or best.drop <= target:
            break
        ctx.cancel.check()
        ctx.progress(0.6 + 0.4 * k / len(trials), f"trying {name} uncompressed ({len(kept)} kept)")
        candidate = build(frozenset([*kept, name]))
        drop = drift(candidate)
        accepted = drop < best.drop
        best.log.append({"try": name, "iou_drop": round(drop, 6), "kept": accepted})
        ctx.log(f"{name} uncompressed: IoU drop {drop:.4f} ({'kept' if accepted else 'no better, compressed again'})")
        if accepted:
            kept.append(name)
            best.model, best.drop, best.kept = candidate, drop, list(kept)
    if best.drop > target:
        ctx.log(f"target not met: best IoU drop {best.drop:.4f} keeping {len(best.kept)} layer(s); keeping that model")
    return best
