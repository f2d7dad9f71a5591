"""FP16: weights and arithmetic in half precision, the inputs and outputs kept float32.

Callers keep feeding float32 and reading float32 (the converter puts Casts at
the edges). On a CPU without half-precision kernels onnxruntime casts the
weights back to float32 when it loads the model, so the gain is the file size,
not the speed; GPU and mobile execution providers run it in fp16.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx

from segview.compress import graph
from segview.compress.step import CompressionError, Step, StepConfig, StepContext, StepOutput, option, register_step


@dataclass(frozen=True, slots=True)
class Fp16Config(StepConfig):
    keep_ops: tuple[str, ...] = option((), "op types to leave in float32 (onnxruntime's converter already keeps the ones that have no fp16 form)")
    keep_nodes: tuple[str, ...] = option((), "nodes (by name) to leave in float32")


@register_step
class Fp16Step(Step):
    name = "fp16"
    title = "FP16 (half precision)"
    description = "Weights and arithmetic in float16; inputs and outputs stay float32, so callers need no change. Halves the file."
    config_type = Fp16Config
    accepts = frozenset({"float32", "shared"})
    produces = "float16"

    def check(self, model: onnx.ModelProto, config: Fp16Config) -> None:
        if not any(i.data_type == onnx.TensorProto.FLOAT for i in model.graph.initializer):
            raise CompressionError("step 'fp16' needs float32 weights; this model has none (already fp16 or quantized?)")

    def apply(self, model: onnx.ModelProto, config: Fp16Config, ctx: StepContext) -> StepOutput:
        # Imported here: the converter lives in onnxruntime's transformers tools and is only needed by this step.
        from onnxruntime.transformers.float16 import DEFAULT_OP_BLOCK_LIST, convert_float_to_float16

        ctx.progress(0.1, "converting to float16")
        before = sum(graph.to_array(i).size for i in model.graph.initializer if i.data_type == onnx.TensorProto.FLOAT)
        converted = convert_float_to_float16(
            model,
            keep_io_types=True,
            op_block_list=list(DEFAULT_OP_BLOCK_LIST) + list(config.keep_ops),
            node_block_list=list(config.keep_nodes) or None,
        )
        # The converter leaves shape annotations for every tensor; onnxruntime infers them anyway, and they cost bytes.
        del converted.graph.value_info[:]
        after = sum(graph.to_array(i).size for i in converted.graph.initializer if i.data_type == onnx.TensorProto.FLOAT16)
        clipped = _beyond_fp16_range(model)
        ctx.progress(1.0, "converted")
        return StepOutput(converted, {"float16_parameters": int(after), "float32_parameters_before": int(before), "weights_clipped_to_fp16_range": clipped})


def _beyond_fp16_range(source: onnx.ModelProto) -> int:
    """How many weights were beyond fp16's range (converted to its largest finite value): should be 0."""
    count = 0
    for init in source.graph.initializer:
        if init.data_type == onnx.TensorProto.FLOAT:
            count += int(np.count_nonzero(np.abs(graph.to_array(init)) > 65504.0))
    return count
