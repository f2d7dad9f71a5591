"""INT8 dynamic: weights stored in 8 bits, activations quantized on the fly at each run (no calibration).

onnxruntime.quantization's ``quantize_dynamic`` turns Conv into ConvInteger and
MatMul into MatMulInteger. On CPU, onnxruntime implements ConvInteger only for
uint8 weights, hence that default.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import onnx
from onnxruntime.quantization import quantize_dynamic

from segview.compress import graph
from segview.compress.step import Step, StepConfig, StepContext, StepOutput, option, register_step
from segview.compress.steps.int8_static import QUANT_TYPES, check_quantizable, count_ops, run_quantizer


@dataclass(frozen=True, slots=True)
class Int8DynamicConfig(StepConfig):
    weights: Literal["uint8", "int8"] = option("uint8", "the weights' 8-bit type")
    per_channel: bool = option(False, "one scale per output channel instead of one per tensor")
    reduce_range: bool = option(False, "7-bit weights: avoids saturation on CPUs without VNNI")
    op_types: tuple[str, ...] = option((), "op types to quantize; empty: every one onnxruntime can quantize dynamically (Conv, MatMul, Gemm, ...)")
    exclude_nodes: tuple[str, ...] = option((), "nodes (by name) to leave in float")


@register_step
class Int8DynamicStep(Step):
    name = "int8-dynamic"
    title = "INT8 dynamic"
    description = "8-bit weights; activations quantized at run time from their own range. No calibration needed."
    config_type = Int8DynamicConfig
    accepts = frozenset({"float32"})  # k-means weights are rebuilt by a Gather, not initializers it can quantize
    produces = "int8"

    def suffix(self, config: Int8DynamicConfig) -> str:
        return "int8dyn"

    def check(self, model: onnx.ModelProto, config: Int8DynamicConfig) -> None:
        check_quantizable(model, self.name)

    def apply(self, model: onnx.ModelProto, config: Int8DynamicConfig, ctx: StepContext) -> StepOutput:
        out = ctx.workdir / "int8-dynamic.onnx"
        ctx.progress(0.1, "quantizing weights")
        result = run_quantizer(
            "dynamic quantizer",
            out,
            lambda: quantize_dynamic(
                graph.copy_model(model),  # the quantizer may rewrite the proto it is given
                out,
                weight_type=QUANT_TYPES[config.weights],
                per_channel=config.per_channel,
                reduce_range=config.reduce_range,
                op_types_to_quantize=list(config.op_types) or None,
                nodes_to_exclude=list(config.exclude_nodes) or None,
            ),
        )
        ctx.progress(1.0, "quantized")
        return StepOutput(result, {"ops": count_ops(result)})
