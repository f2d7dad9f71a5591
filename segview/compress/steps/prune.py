"""Magnitude pruning, unstructured: the smallest weights become exactly zero.

The tensors keep their shapes, so onnxruntime's dense kernels run no faster and
the file is no smaller; the zip is (zeros compress). It is the first stage of
Deep Compression and pairs with clustering. For a model that really shrinks
and speeds up, use ``prune-channels``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import onnx

from segview.compress import graph
from segview.compress.correction import apply_bias_shift, bias_shift, correctable
from segview.compress.step import CompressionError, Step, StepConfig, StepContext, StepOutput, option, register_step
from segview.compress.steps.weight_edits import editable_weights, layer_input_means


@dataclass(frozen=True, slots=True)
class PruneConfig(StepConfig):
    sparsity: float = option(0.5, "share of the weights set to zero (0.5 = half)")
    scope: Literal["layer", "global"] = option("layer", "layer: every weight tensor loses the same share; global: one magnitude threshold for all of them")
    bias_correction: bool = option(True, "absorb the mean output shift into the bias (needs calibration frames)")
    skip_nodes: tuple[str, ...] = option((), "nodes (by name) whose weights stay as they are")

    def validate(self) -> None:
        if not 0.0 <= self.sparsity < 1.0:
            raise CompressionError("prune: sparsity must be in [0, 1) (0.5 = half the weights become zero)")


@register_step
class PruneStep(Step):
    name = "prune"
    title = "Magnitude pruning (unstructured)"
    description = "The smallest-magnitude weights become zero, to a target sparsity. Same shapes: the zip shrinks, the run time does not."
    config_type = PruneConfig
    accepts = frozenset({"float32", "float16", "shared"})

    def suffix(self, config: PruneConfig) -> str:
        return f"sparse{round(config.sparsity * 100)}"

    def check(self, model: onnx.ModelProto, config: PruneConfig) -> None:
        graph.require_float_weights(model, self.name)

    def apply(self, model: onnx.ModelProto, config: PruneConfig, ctx: StepContext) -> StepOutput:
        pairs = editable_weights(model, config.skip_nodes, "prune")
        result = graph.copy_model(model)
        nodes = {n.name: n for n in result.graph.node}
        weights = {w.name: graph.to_array(w) for _, w in pairs}
        threshold = None
        if config.scope == "global":
            everything = np.concatenate([np.abs(w.astype(np.float32)).ravel() for w in weights.values()])
            threshold = float(np.quantile(everything, config.sparsity)) if config.sparsity > 0 else -1.0
        means = layer_input_means(model, pairs, ctx, enabled=config.bias_correction, at=0.05)
        per_layer = {}
        done: set[str] = set()
        zeros = total = 0
        for i, (node, init) in enumerate(pairs):
            ctx.cancel.check()
            ctx.progress(0.1 + 0.9 * i / len(pairs), f"pruning {node.name}")
            if init.name in done:
                continue
            done.add(init.name)
            w = weights[init.name]
            magnitude = np.abs(w.astype(np.float32))
            if threshold is None:
                count = int(round(w.size * config.sparsity))
                pruned = w.copy()
                if count:
                    # Exactly ``count`` weights, ties broken by position: a threshold would over-prune on repeated values.
                    order = np.argsort(magnitude, axis=None, kind="stable")[:count]
                    pruned.reshape(-1)[order] = 0
            else:
                pruned = np.where(magnitude <= threshold, 0, w).astype(w.dtype)
            graph.replace_initializer(result, init.name, pruned)
            mean = means.get(node.input[0]) if correctable(node, model) else None
            if mean is not None:
                shift = bias_shift(node, w.astype(np.float32), pruned.astype(np.float32), mean)
                if shift is not None:
                    apply_bias_shift(result, nodes[node.name], shift)
            layer_zeros = int(np.count_nonzero(pruned == 0))
            per_layer[node.name] = round(layer_zeros / pruned.size, 4)
            zeros += layer_zeros
            total += pruned.size
        ctx.progress(1.0, "pruned")
        return StepOutput(
            result,
            {
                "target_sparsity": config.sparsity,
                "sparsity": round(zeros / max(1, total), 4),
                "weights_total": int(total),
                "weights_zero": int(zeros),
                "per_layer": per_layer,
                "bias_corrected": bool(means),
            },
        )
