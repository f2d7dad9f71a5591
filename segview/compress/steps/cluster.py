"""Weight sharing: each layer's weights take one of k shared values (k-means), as in Deep Compression.

Per layer, k-means (1-D, linear initialisation as Han et al. recommend: it keeps
the rare large weights) picks k centroids; each weight becomes its nearest one.
With ``per_channel_scale`` the weights are first divided by each output
channel's largest magnitude and the k centroids are shared over the normalised
values: batch-norm folding leaves channels on very different scales, and one
plain codebook for all of them (tried on selfie-general: IoU 0.006 at k=16)
wipes out the small channels.

``storage="codebook"`` writes uint8 indices, the k centroids and the channel
scales, and a Cast -> Gather -> Mul that rebuilds the weight; onnxruntime folds
it into a constant when it loads the model, so inference runs at float speed.
``"dense"`` writes the clustered float weights (same file size, smaller zip).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import onnx
from onnx import helper, numpy_helper

from segview.compress import graph
from segview.compress.correction import apply_bias_shift, bias_shift, correctable
from segview.compress.step import CompressionError, Step, StepConfig, StepContext, StepOutput, option, register_step
from segview.compress.steps.weight_edits import compress_keeping_sensitive, editable_weights, layer_input_means


@dataclass(frozen=True, slots=True)
class ClusterConfig(StepConfig):
    clusters: int = option(16, "shared values per layer (k of k-means, 2 to 65536)")
    per_channel_scale: bool = option(
        True, "share the values over weights divided by each output channel's largest magnitude, so small channels keep their own range"
    )
    bias_correction: bool = option(True, "absorb the mean output shift into the bias (needs calibration frames)")
    max_iou_drop: float = option(
        0.01,
        "with calibration frames: keep the most sensitive layers unclustered until the IoU drop against the source meets this (0.01 = one point; 1 disables)",
    )
    max_kept_layers: int = option(12, "at most this many layers stay unclustered")
    storage: Literal["codebook", "dense"] = option(
        "codebook", "codebook: uint8 indices and the k values (a smaller file); dense: the clustered float weights (same file size, smaller zip)"
    )
    skip_nodes: tuple[str, ...] = option((), "nodes (by name) whose weights stay as they are")

    def validate(self) -> None:
        if not 2 <= self.clusters <= 65536:
            raise CompressionError("cluster: clusters must be between 2 and 65536")
        if not 0.0 <= self.max_iou_drop <= 1.0:
            raise CompressionError("cluster: max_iou_drop must be in [0, 1]")


@dataclass(frozen=True, slots=True)
class _Layer:
    node: str
    weight: str
    codebook: np.ndarray  # (k,) float32, sorted
    indices: np.ndarray  # weight-shaped, uint8 or uint16
    scale: np.ndarray | None  # broadcastable to the weight, or None
    dtype: np.dtype
    shift: np.ndarray | None  # bias correction, per output channel

    @property
    def dense(self) -> np.ndarray:
        values = self.codebook[self.indices]
        if self.scale is not None:
            values = values * self.scale
        return values.astype(self.dtype)


def kmeans_1d(values: np.ndarray, k: int, *, iterations: int = 50) -> tuple[np.ndarray, np.ndarray]:
    """(sorted centroids, index of each value's centroid). Exact when the values take k or fewer distinct values."""
    flat = values.astype(np.float64).ravel()
    unique = np.unique(flat)
    if unique.size <= k:
        return unique.astype(np.float32), np.searchsorted(unique, flat).reshape(values.shape)
    centroids = np.linspace(flat.min(), flat.max(), k)
    for _ in range(iterations):
        # In one dimension the nearest centroid is found by the midpoints between sorted centroids.
        index = np.searchsorted((centroids[1:] + centroids[:-1]) / 2, flat)
        sums = np.bincount(index, flat, k)
        counts = np.bincount(index, None, k)
        updated = np.sort(np.where(counts > 0, sums / np.maximum(counts, 1), centroids))
        if np.allclose(updated, centroids, rtol=0, atol=1e-12):
            break
        centroids = updated
    index = np.searchsorted((centroids[1:] + centroids[:-1]) / 2, flat)
    return centroids.astype(np.float32), index.reshape(values.shape)


def output_axis(node: onnx.NodeProto, rank: int) -> int:
    if node.op_type == "ConvTranspose":
        return 1
    if node.op_type == "Gemm":
        return 0 if graph.attribute(node, "transB", 0) else 1
    if node.op_type == "MatMul":
        return rank - 1
    return 0


@register_step
class ClusterStep(Step):
    name = "cluster"
    title = "Weight sharing (k-means)"
    description = "Each layer's weights share k values found by k-means; stored as small indices plus a codebook, so the zip shrinks several-fold."
    config_type = ClusterConfig
    accepts = frozenset({"float32", "float16", "shared"})
    takes_iou_target = True

    def output_form(self, form: str) -> str:
        # A float32 model's weights become a codebook; fp16 ones stay fp16 (the codebook is fp16).
        return "shared" if form == "float32" else form

    def suffix(self, config: ClusterConfig) -> str:
        return f"k{config.clusters}"

    def check(self, model: onnx.ModelProto, config: ClusterConfig) -> None:
        graph.require_float_weights(model, self.name)

    def apply(self, model: onnx.ModelProto, config: ClusterConfig, ctx: StepContext) -> StepOutput:
        pairs = editable_weights(model, config.skip_nodes, "cluster")
        shared = _shared_weights(model)
        means = layer_input_means(model, pairs, ctx, enabled=config.bias_correction, at=0.02)
        layers: dict[str, _Layer] = {}
        for i, (node, init) in enumerate(pairs):
            ctx.cancel.check()
            ctx.progress(0.05 * i / len(pairs), f"k-means on {node.name}")
            if init.name in {layer.weight for layer in layers.values()}:
                continue
            correct = init.name not in shared and correctable(node, model)
            layers[node.name] = self._cluster(node, init, config, means.get(node.input[0]) if correct else None)
        order = list(layers)

        def build(keep: frozenset[str]) -> onnx.ModelProto:
            return _write(model, [layers[n] for n in order if n not in keep], config.storage)

        result, kept, notes = compress_keeping_sensitive(
            model, order, build, ctx, target=config.max_iou_drop, max_keep=config.max_kept_layers, what="clustering", done="clustered"
        )
        clustered = [layers[n] for n in order if n not in kept]
        total = sum(graph.to_array(w).size for _, w in pairs)
        shared_params = sum(layer.indices.size for layer in clustered)
        notes.update(
            {
                "clusters": config.clusters,
                "per_channel_scale": config.per_channel_scale,
                "storage": config.storage,
                "layers_clustered": len(clustered),
                "layers_total": len(pairs),
                "weights_clustered": int(shared_params),
                "weights_total": int(total),
                "bias_corrected": bool(means),
                "max_distinct_values_per_layer": max((int(np.unique(layer.indices).size) for layer in clustered), default=0),
            }
        )
        ctx.progress(1.0, "clustered")
        return StepOutput(result, notes)

    def _cluster(self, node: onnx.NodeProto, init: onnx.TensorProto, config: ClusterConfig, mean: np.ndarray | None) -> _Layer:
        weight = graph.to_array(init)
        w = weight.astype(np.float32)
        scale = None
        if config.per_channel_scale and w.ndim >= 2:
            axis = output_axis(node, w.ndim)
            other = tuple(a for a in range(w.ndim) if a != axis)
            scale = np.abs(w).max(axis=other, keepdims=True).astype(np.float32)
            scale[scale == 0] = 1.0
            codebook, index = kmeans_1d(w / scale, config.clusters)
        else:
            codebook, index = kmeans_1d(w, config.clusters)
        index = index.astype(np.uint8 if codebook.size <= 256 else np.uint16)
        layer = _Layer(node.name, init.name, codebook, index, scale, weight.dtype, None)
        if mean is not None:
            shift = bias_shift(node, w, layer.dense.astype(np.float32), mean)
            layer = _Layer(node.name, init.name, codebook, index, scale, weight.dtype, shift)
        return layer


def _shared_weights(model: onnx.ModelProto) -> set[str]:
    seen: dict[str, int] = {}
    for _, init in graph.weight_nodes(model):
        seen[init.name] = seen.get(init.name, 0) + 1
    return {name for name, count in seen.items() if count > 1}


def _write(source: onnx.ModelProto, layers: list[_Layer], storage: str) -> onnx.ModelProto:
    model = graph.copy_model(source)
    nodes = {n.name: n for n in model.graph.node}
    rebuild: list[onnx.NodeProto] = []
    for layer in layers:
        if layer.shift is not None:
            apply_bias_shift(model, nodes[layer.node], layer.shift)
        if storage == "dense":
            graph.replace_initializer(model, layer.weight, layer.dense)
            continue
        _remove_initializer(model, layer.weight)
        idx, book = f"{layer.weight}__idx", f"{layer.weight}__codebook"
        idx32 = f"{layer.weight}__idx32"
        model.graph.initializer.append(numpy_helper.from_array(layer.indices, idx))
        model.graph.initializer.append(numpy_helper.from_array(layer.codebook.astype(layer.dtype), book))
        rebuild.append(helper.make_node("Cast", [idx], [idx32], to=onnx.TensorProto.INT32, name=f"{layer.weight}__cast"))
        if layer.scale is None:
            rebuild.append(helper.make_node("Gather", [book, idx32], [layer.weight], name=f"{layer.weight}__gather"))
        else:
            shared = f"{layer.weight}__shared"
            scale = f"{layer.weight}__scale"
            model.graph.initializer.append(numpy_helper.from_array(layer.scale.astype(layer.dtype), scale))
            rebuild.append(helper.make_node("Gather", [book, idx32], [shared], name=f"{layer.weight}__gather"))
            rebuild.append(helper.make_node("Mul", [shared, scale], [layer.weight], name=f"{layer.weight}__scale_mul"))
    if rebuild:
        # The weights must exist before their first use: put the rebuilding nodes first.
        existing = list(model.graph.node)
        del model.graph.node[:]
        model.graph.node.extend(rebuild + existing)
    return model


def _remove_initializer(model: onnx.ModelProto, name: str) -> None:
    for i, init in enumerate(model.graph.initializer):
        if init.name == name:
            del model.graph.initializer[i]
            break
    # Older exporters also list initializers as graph inputs.
    for i, value in enumerate(model.graph.input):
        if value.name == name:
            del model.graph.input[i]
            break
