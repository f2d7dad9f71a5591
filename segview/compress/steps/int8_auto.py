"""Accuracy-aware INT8: quantize everything, then keep the most sensitive nodes in float until the mask agrees.

1. Quantize the whole model; measure how far its masks drift from the float
   model's on calibration frames (1 - IoU against the float masks).
2. If that exceeds the target, measure each node's sensitivity: quantize that
   node alone and measure the drift it causes.
3. Keep the most sensitive nodes in float, one more at a time, until the drift
   meets the target or ``max_float_nodes`` are kept. The best model seen so far
   is returned even if the target is never met, and the notes say what was kept
   in float and why.

The reference is the float model's own output, so no labels are needed.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import onnx

from segview.compress.search import DriftMeter
from segview.compress.step import CompressionError, Step, StepContext, StepOutput, option, register_step
from segview.compress.steps.int8_static import Int8StaticConfig, check_quantizable, count_ops, float_nodes, quantize

# Ops worth a sensitivity probe: those onnxruntime turns into integer kernels. Relu, Reshape and the like
# follow their input's precision and cannot be kept in float on their own.
PROBED_OPS = (
    "Conv",
    "ConvTranspose",
    "MatMul",
    "Gemm",
    "Add",
    "Mul",
    "GlobalAveragePool",
    "AveragePool",
    "Sigmoid",
    "Resize",
    "Concat",
    "Softmax",
    "LeakyRelu",
)
SEARCH_FRAMES = 24


@dataclass(frozen=True, slots=True)
class Int8AutoConfig(Int8StaticConfig):
    max_iou_drop: float = option(0.01, "target: 1 - IoU of the result's masks against the float model's, on calibration frames (0.01 = one point)")
    max_float_nodes: int = option(16, "the search stops after keeping this many nodes in float")

    def validate(self) -> None:
        Int8StaticConfig.validate(self)
        if not 0.0 <= self.max_iou_drop <= 1.0:
            raise CompressionError("int8-auto max_iou_drop must be in [0, 1] (0.01 = one IoU point)")


@register_step
class Int8AutoStep(Step):
    name = "int8-auto"
    title = "INT8 accuracy-aware"
    description = "INT8 static, then the most sensitive nodes are kept in float until the masks meet an IoU-drop target against the float model."
    config_type = Int8AutoConfig
    accepts = frozenset({"float32"})
    produces = "int8"
    needs_calibration = True
    takes_iou_target = True

    def suffix(self, config: Int8AutoConfig) -> str:
        return "int8"

    def check(self, model: onnx.ModelProto, config: Int8AutoConfig) -> None:
        check_quantizable(model, self.name)

    def apply(self, model: onnx.ModelProto, config: Int8AutoConfig, ctx: StepContext) -> StepOutput:
        calibration = ctx.require_calibration(self.name)
        reader = calibration.reader(ctx.card, ctx.cancel, limit=config.frames)
        # The float model's own masks are the reference: no labels are needed.
        drift = DriftMeter(model, calibration.tensors(ctx.card, limit=SEARCH_FRAMES), ctx.card)
        cache = ctx.workdir / "int8-ranges.json"
        quant_config = Int8StaticConfig(**{f.name: getattr(config, f.name) for f in fields(Int8StaticConfig)})

        def attempt(in_float: list[str]) -> tuple[onnx.ModelProto, float]:
            reader.rewind()
            quantized = quantize(model, quant_config, reader, ctx.workdir, nodes_to_exclude=in_float, cache=cache)
            return quantized, drift(quantized)

        ctx.progress(0.02, f"calibrating on {len(reader)} frames and quantizing everything")
        best_model, best_drop = attempt([])
        best_nodes: list[str] = []
        ctx.log(f"all nodes in int8: IoU drop against float {best_drop:.4f} (target {config.max_iou_drop:.4f})")
        search: list[dict[str, Any]] = [{"float_nodes": 0, "iou_drop": round(best_drop, 6)}]
        sensitivity: dict[str, float] = {}
        if best_drop > config.max_iou_drop:
            sensitivity = self._sensitivities(model, quant_config, reader, ctx, drift, cache, config)
            order = [n for n, s in sorted(sensitivity.items(), key=lambda kv: -kv[1]) if s > 0]
            limit = min(config.max_float_nodes, len(order))
            for k in range(1, limit + 1):
                ctx.cancel.check()
                ctx.progress(0.6 + 0.4 * k / max(1, limit), f"keeping {k} node(s) in float")
                candidate, drop = attempt(order[:k])
                search.append({"float_nodes": k, "iou_drop": round(drop, 6), "added": order[k - 1]})
                ctx.log(f"{k} node(s) in float (+{order[k - 1]}): IoU drop {drop:.4f}")
                if drop < best_drop:
                    best_model, best_drop, best_nodes = candidate, drop, order[:k]
                if drop <= config.max_iou_drop:
                    break
        met = best_drop <= config.max_iou_drop
        if not met:
            ctx.log(f"target not met: best IoU drop {best_drop:.4f} with {len(best_nodes)} node(s) in float; keeping that model")
        ctx.progress(1.0, "done")
        notes = {
            "target_iou_drop": config.max_iou_drop,
            "target_met": met,
            "iou_drop_on_calibration_frames": round(best_drop, 6),
            "search_frames": len(drift.tensors),
            "calibration_frames": len(reader),
            "kept_in_float": _kept_in_float(model, best_nodes, sensitivity),
            "search": search,
            "most_sensitive": _most_sensitive(model, sensitivity),
            "ops": count_ops(best_model),
        }
        return StepOutput(best_model, notes)

    def _sensitivities(self, model, quant_config, reader, ctx: StepContext, drift, cache, config) -> dict[str, float]:
        excluded = set(float_nodes(model, config))
        candidates = [n.name for n in model.graph.node if n.op_type in PROBED_OPS and n.name and n.name not in excluded]
        result: dict[str, float] = {}
        for i, name in enumerate(candidates):
            ctx.cancel.check()
            ctx.progress(0.05 + 0.55 * i / max(1, len(candidates)), f"sensitivity of {name} ({i + 1}/{len(candidates)})")
            reader.rewind()
            alone = quantize(model, quant_config, reader, ctx.workdir, nodes_to_quantize=[name], cache=cache)
            result[name] = drift(alone)
        ranked = sorted(result.items(), key=lambda kv: -kv[1])[:5]
        ctx.log("most sensitive: " + ", ".join(f"{n} {s:.4f}" for n, s in ranked))
        return result


def _kept_in_float(model: onnx.ModelProto, nodes: list[str], sensitivity: dict[str, float]) -> list[dict[str, Any]]:
    """Each node the search kept in float, with why: how far quantizing it alone moved the masks, and its rank."""
    ops = {n.name: n.op_type for n in model.graph.node}
    return [
        {
            "node": n,
            "op": ops.get(n, "?"),
            "sensitivity": round(sensitivity.get(n, 0.0), 6),
            "why": f"quantized alone it moves the mask by {sensitivity.get(n, 0.0) * 100:.2f} IoU points against float, "
            f"rank {i + 1} of {len(sensitivity)} probed nodes",
        }
        for i, n in enumerate(nodes)
    ]


def _most_sensitive(model: onnx.ModelProto, sensitivity: dict[str, float]) -> list[dict[str, Any]]:
    ops = {n.name: n.op_type for n in model.graph.node}
    return [{"node": n, "op": ops.get(n, "?"), "sensitivity": round(s, 6)} for n, s in sorted(sensitivity.items(), key=lambda kv: -kv[1])[:10]]
