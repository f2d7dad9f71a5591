"""Exact rewrites: the same function, computed with less memory traffic.

Today one rewrite: a 1x1 convolution that follows an upsampling runs before it, on
the narrower tensor (see :mod:`segview.graphs.commute`). Outputs match the
source to float rounding, so this step costs no accuracy; it speeds up models
whose decoders upsample wide tensors, as MediaPipe's selfie models do, and it can
go before any other step.
"""

from __future__ import annotations

from dataclasses import dataclass

import onnx

from segview.compress.step import CompressionError, Step, StepConfig, StepContext, StepOutput, register_step
from segview.graphs.commute import pointwise_before_upsampling, swappable_pairs


@dataclass(frozen=True, slots=True)
class RewriteConfig(StepConfig):
    pass


@register_step
class RewriteStep(Step):
    name = "rewrite"
    title = "Exact rewrites (projection before upsampling)"
    description = "Moves 1x1 convolutions ahead of the upsampling they follow: the same outputs, less memory moved. No accuracy cost."
    config_type = RewriteConfig
    accepts = frozenset({"float32", "float16"})

    def check(self, model: onnx.ModelProto, config: RewriteConfig) -> None:
        if not swappable_pairs(model):
            raise CompressionError("step 'rewrite' has nothing to do: this model has no upsampling followed by a 1x1 convolution")

    def apply(self, model: onnx.ModelProto, config: RewriteConfig, ctx: StepContext) -> StepOutput:
        ctx.progress(0.1, "moving projections before upsampling")
        rewritten = onnx.ModelProto()
        rewritten.CopyFrom(model)
        swapped = pointwise_before_upsampling(rewritten)
        ctx.progress(1.0, f"{swapped} moved")
        return StepOutput(rewritten, {"pointwise_before_upsampling": swapped})
