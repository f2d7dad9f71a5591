"""What the weight-editing steps (prune, cluster, prune-channels) share: the weights they may edit, the layer
inputs their bias corrections need, and the search that keeps the most sensitive layers uncompressed."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import onnx

from segview.compress import graph
from segview.compress.correction import correctable
from segview.compress.search import DriftMeter, keep_sensitive
from segview.compress.step import CompressionError, StepContext

MEAN_FRAMES = 32  # calibration frames a layer input's mean is measured on
SEARCH_FRAMES = 24  # calibration frames the sensitivity search compares masks on


def editable_weights(model: onnx.ModelProto, skip_nodes: Sequence[str], step: str) -> list[tuple[onnx.NodeProto, onnx.TensorProto]]:
    """(node, weight) of every weighted node not skipped by name; none at all is the step's error ("prune: no ... to prune")."""
    skipped = set(skip_nodes)
    pairs = [(n, w) for n, w in graph.weight_nodes(model) if n.name not in skipped]
    if not pairs:
        raise CompressionError(f"{step}: no Conv/Gemm/MatMul weights to {step}")
    return pairs


def layer_input_means(
    model: onnx.ModelProto, pairs: Sequence[tuple[onnx.NodeProto, onnx.TensorProto]], ctx: StepContext, *, enabled: bool, at: float
) -> dict[str, np.ndarray]:
    """Per-channel means of the inputs of the layers a bias correction can fix, on calibration frames ({} without them)."""
    if not (enabled and ctx.calibration is not None):
        return {}
    ctx.progress(at, "measuring layer inputs on calibration frames")
    inputs = [n.input[0] for n, _ in pairs if correctable(n, model)]
    return graph.activation_means(model, inputs, ctx.calibration.tensors(ctx.card, limit=MEAN_FRAMES))


def compress_keeping_sensitive(
    model: onnx.ModelProto,
    layers: list[str],
    build: Callable[[frozenset[str]], onnx.ModelProto],
    ctx: StepContext,
    *,
    target: float,
    max_keep: int,
    what: str,
    done: str,
) -> tuple[onnx.ModelProto, list[str], dict[str, Any]]:
    """(result, layers kept uncompressed, the search's notes): with calibration frames and a target below 1 the
    most sensitive layers stay whole until the masks meet ``target``; otherwise every layer is compressed."""
    if ctx.calibration is None or target >= 1.0:
        return build(frozenset()), [], {}
    drift = DriftMeter(model, ctx.calibration.tensors(ctx.card, limit=SEARCH_FRAMES), ctx.card)
    found = keep_sensitive(layers=layers, build=build, drift=drift, target=target, max_keep=max_keep, ctx=ctx, what=what)
    return found.model, found.kept, found.notes(target, done)
