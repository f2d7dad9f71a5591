"""Structured pruning: whole channels removed from the graph, so the file and the run time really shrink.

Channels are not independent: a residual Add, a depthwise convolution or a
squeeze-and-excite Mul ties the channels of several tensors together, and they
must lose the same channels. The step groups tensors into *channel spaces*
(union-find over those ties), and prunes a space only when every op touching
it is understood: convolutions (their weights and biases are sliced),
channel-wise ops (Relu, HardSwish, Sigmoid, pooling, Resize with a channel
scale of 1, BatchNormalization) and elementwise Add/Mul. Anything else
(Concat, Reshape, Transpose, graph inputs and outputs) freezes the spaces it
touches.

A channel's importance is its contribution to the next layers: with calibration
frames, E|x_c| times the L1 norm of the consumers' weights for c; without them,
the L1 norm of the producers' weights. Removed channels' mean contribution is
added to the consumers' biases. No fine-tuning is done: expect an accuracy cost,
which the report measures.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import onnx

from segview.compress import graph
from segview.compress.correction import apply_bias_shift, bias_shift
from segview.compress.search import DriftMeter, keep_sensitive
from segview.compress.step import CompressionError, Step, StepConfig, StepContext, StepOutput, option, register_step

MEAN_FRAMES = 32
SEARCH_FRAMES = 24
CHANNELWISE_UNARY = {
    "Relu",
    "HardSwish",
    "HardSigmoid",
    "Sigmoid",
    "Tanh",
    "Clip",
    "LeakyRelu",
    "Elu",
    "Selu",
    "Softplus",
    "Identity",
    "Dropout",
    "MaxPool",
    "AveragePool",
    "GlobalAveragePool",
    "GlobalMaxPool",
    "Resize",
    "Upsample",
    "BatchNormalization",
    "Neg",
    "Abs",
}
ELEMENTWISE_BINARY = {"Add", "Sub", "Mul", "Div", "Max", "Min"}


@dataclass(frozen=True, slots=True)
class PruneChannelsConfig(StepConfig):
    ratio: float = option(0.25, "share of each prunable group's channels to remove")
    round_to: int = option(8, "keep channel counts multiples of this (onnxruntime's blocked kernels work in blocks of 8 or 16 channels)")
    min_channels: int = option(8, "no group is pruned below this many channels")
    bias_compensation: bool = option(True, "move the removed channels' mean contribution into the consuming layers' biases (needs calibration frames)")
    max_iou_drop: float = option(
        0.01,
        "with calibration frames: the groups whose pruning moves the masks most stay whole until the IoU drop against the source meets this (0.01 = one point; 1 prunes every group)",
    )

    def validate(self) -> None:
        if not 0.0 <= self.max_iou_drop <= 1.0:
            raise CompressionError("prune-channels: max_iou_drop must be in [0, 1]")
        if not 0.0 <= self.ratio < 1.0:
            raise CompressionError("prune-channels: ratio must be in [0, 1)")
        if self.round_to < 1 or self.min_channels < 1:
            raise CompressionError("prune-channels: round_to and min_channels must be at least 1")


@dataclass(slots=True)
class _Space:
    """Tensors that share one channel axis, and the weights that must be sliced along it."""

    tensors: set[str] = field(default_factory=set)
    frozen: bool = False
    # (node, role) with role in: conv_out, convt_out, depthwise, batchnorm, const:<initializer>:<axis>
    producers: list[tuple[onnx.NodeProto, str]] = field(default_factory=list)
    # (node, role) with role in: conv_in, convt_in
    consumers: list[tuple[onnx.NodeProto, str]] = field(default_factory=list)
    channels: int | None = None


class _Spaces:
    """Union-find over tensor names."""

    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, name: str) -> str:
        self.parent.setdefault(name, name)
        while self.parent[name] != name:
            self.parent[name] = self.parent[self.parent[name]]
            name = self.parent[name]
        return name

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[rb] = ra


@register_step
class PruneChannelsStep(Step):
    name = "prune-channels"
    title = "Channel pruning (structured)"
    description = "Removes the least important channels of each prunable group of tensors: a smaller file and a faster run, at an accuracy cost."
    config_type = PruneChannelsConfig
    accepts = frozenset({"float32", "float16"})
    takes_iou_target = True

    def suffix(self, config: PruneChannelsConfig) -> str:
        return f"pruned{round(config.ratio * 100)}"

    def check(self, model: onnx.ModelProto, config: PruneChannelsConfig) -> None:
        graph.require_float_weights(model, self.name)

    def apply(self, model: onnx.ModelProto, config: PruneChannelsConfig, ctx: StepContext) -> StepOutput:
        ctx.progress(0.05, "finding channel groups")
        spaces = find_spaces(model)
        prunable = [s for s in spaces if not s.frozen and s.channels and any(r in ("conv_out", "convt_out") for _, r in s.producers)]
        if not prunable:
            raise CompressionError("prune-channels: no channel group in this graph can be pruned safely (every one touches an op it does not understand)")
        inits = graph.initializers(model)
        means: dict[str, np.ndarray] = {}
        abs_means: dict[str, np.ndarray] = {}
        if ctx.calibration is not None:
            ctx.progress(0.1, "measuring channel activity on calibration frames")
            tensors = ctx.calibration.tensors(ctx.card, limit=MEAN_FRAMES)
            inputs = sorted({n.input[0] for s in prunable for n, _ in s.consumers})
            means = graph.activation_means(model, inputs, tensors) if config.bias_compensation else {}
            abs_means = _abs_means(model, inputs, tensors)
        plans: dict[str, _Plan] = {}
        for space in prunable:
            channels = int(space.channels or 0)
            keep_count = _keep_count(channels, config)
            if keep_count < channels:
                keep = np.sort(np.argsort(-_importance(space, inits, abs_means), kind="stable")[:keep_count])
                label = ",".join(sorted(space.tensors)[:2])
                plans[label] = _Plan(space, keep, channels)
        if not plans:
            raise CompressionError(f"prune-channels: ratio {config.ratio} removes no channel at round_to={config.round_to}, min_channels={config.min_channels}")
        order = list(plans)

        def build(unpruned: frozenset[str]) -> onnx.ModelProto:
            return _prune(model, [plans[k] for k in order if k not in unpruned], means)

        notes: dict[str, Any] = {}
        kept_whole: list[str] = []
        if ctx.calibration is not None and config.max_iou_drop < 1.0:
            drift = DriftMeter(model, ctx.calibration.tensors(ctx.card, limit=SEARCH_FRAMES), ctx.card)
            found = keep_sensitive(layers=order, build=build, drift=drift, target=config.max_iou_drop, max_keep=len(order), ctx=ctx, what="pruning")
            result, kept_whole = found.model, found.kept
            notes.update(found.notes(config.max_iou_drop, "pruned"))
        else:
            result = build(frozenset())
        pruned = [plans[k] for k in order if k not in kept_whole]
        ctx.progress(1.0, "pruned")
        notes.update(
            {
                "ratio": config.ratio,
                "channel_groups_pruned": len(pruned),
                "channel_groups_prunable": len(plans),
                "channel_groups_frozen": sum(1 for s in spaces if s.frozen),
                "parameters_before": _parameters(model),
                "parameters_after": _parameters(result),
                "importance": "E|x| x consumer weight L1 (calibration frames)" if abs_means else "producer weight L1",
                "bias_compensated": bool(means),
                "groups": [{"tensors": sorted(p.space.tensors)[:4], "channels": p.channels, "kept": int(p.keep.size)} for p in pruned],
            }
        )
        return StepOutput(result, notes)


@dataclass(frozen=True, slots=True)
class _Plan:
    space: _Space
    keep: np.ndarray
    channels: int


def _prune(model: onnx.ModelProto, plans: list[_Plan], means: dict[str, np.ndarray]) -> onnx.ModelProto:
    """A copy of the model with each plan's channels removed (and their mean contribution moved into the biases)."""
    inits = graph.initializers(model)
    result = graph.copy_model(model)
    nodes = {n.name: n for n in result.graph.node}
    slices: dict[str, list[tuple[int, np.ndarray]]] = defaultdict(list)
    group_updates: dict[str, int] = {}
    for plan in plans:
        removed = np.setdiff1d(np.arange(plan.channels), plan.keep)
        for node, role in plan.space.consumers:
            if node.input[0] not in means:
                continue
            w = graph.to_array(inits[node.input[1]]).astype(np.float32)
            dropped = w.copy()
            if role == "conv_in":
                dropped[:, removed] = 0
            else:
                dropped[removed] = 0
            shift = bias_shift(node, w, dropped, means[node.input[0]])
            if shift is not None:
                # May add a bias input: the slicing below reads the rewritten nodes, so it is sliced too.
                apply_bias_shift(result, nodes[node.name], shift)
    for plan in plans:
        keep = plan.keep
        for node, role in plan.space.consumers:
            slices[node.input[1]].append((1 if role == "conv_in" else 0, keep))
        for original, role in plan.space.producers:
            node = nodes[original.name]
            if role in ("conv_out", "depthwise"):
                slices[node.input[1]].append((0, keep))
                _slice_bias(node, keep, slices)
                if role == "depthwise":
                    group_updates[node.name] = int(keep.size)
            elif role == "convt_out":
                slices[node.input[1]].append((1, keep))
                _slice_bias(node, keep, slices)
            elif role == "batchnorm":
                for name in node.input[1:5]:
                    slices[name].append((0, keep))
            elif role.startswith("const:"):
                _, name, axis_text = role.split(":")
                slices[name].append((int(axis_text), keep))
    current = graph.initializers(result)
    for name, cuts in slices.items():
        array = graph.to_array(current[name])
        for axis, keep in {(a, k.tobytes()): (a, k) for a, k in cuts}.values():
            array = np.take(array, keep, axis=axis)
        graph.replace_initializer(result, name, np.ascontiguousarray(array))
    for name, groups in group_updates.items():
        graph.set_attribute(nodes[name], "group", groups)
    return graph.strip_shapes(result)


def find_spaces(model: onnx.ModelProto) -> list[_Space]:
    """Group tensors into channel spaces; a space is frozen when any op touching it is not understood."""
    inits = graph.initializers(model)
    uf = _Spaces()
    roles: list[tuple[str, str, onnx.NodeProto | None, str]] = []  # (tensor, kind: producer/consumer/freeze, node, role)
    uses: dict[str, int] = defaultdict(int)
    for node in model.graph.node:
        for name in node.input[1:]:
            if name in inits:
                uses[name] += 1

    def freeze(*names: str) -> None:
        for n in names:
            if n and n not in inits:
                roles.append((n, "freeze", None, ""))

    for node in model.graph.node:
        data = [n for n in node.input if n and n not in inits]
        op = node.op_type
        shared_weight = any(uses[n] > 1 for n in node.input[1:] if n in inits)
        if op in ("Conv", "ConvTranspose") and len(node.input) > 1 and node.input[1] in inits and not shared_weight:
            w = inits[node.input[1]]
            group = int(graph.attribute(node, "group", 1))
            x, y = node.input[0], node.output[0]
            if op == "Conv" and group == 1:
                roles += [(x, "consumer", node, "conv_in"), (y, "producer", node, "conv_out")]
            elif op == "Conv" and group == w.dims[0] and w.dims[1] == 1:
                uf.union(x, y)
                roles.append((y, "producer", node, "depthwise"))
            elif op == "ConvTranspose" and group == 1:
                roles += [(x, "consumer", node, "convt_in"), (y, "producer", node, "convt_out")]
            else:
                freeze(x, y)
            continue
        if op in CHANNELWISE_UNARY and len(node.output) == 1 and data[:1] == [node.input[0]] and _channel_preserving(node, inits):
            uf.union(node.input[0], node.output[0])
            if op == "BatchNormalization":
                roles.append((node.output[0], "producer", node, "batchnorm"))
            continue
        if op in ELEMENTWISE_BINARY and len(node.input) == 2 and len(node.output) == 1:
            ok = True
            for name in node.input:
                if name in inits:
                    axis = _channel_axis_of_constant(inits[name])
                    if axis == -2:
                        ok = False
                    elif axis >= 0:
                        roles.append((node.output[0], "producer", node, f"const:{name}:{axis}"))
                else:
                    uf.union(name, node.output[0])
            if not ok:
                freeze(*node.input, *node.output)
            continue
        freeze(*data, *node.output)
    freeze(*(i.name for i in model.graph.input), *(o.name for o in model.graph.output))

    spaces: dict[str, _Space] = {}

    def space_of(name: str) -> _Space:
        return spaces.setdefault(uf.find(name), _Space())

    for node in model.graph.node:
        for name in [*node.input, *node.output]:
            if name and name not in inits:
                space_of(name).tensors.add(name)
    for tensor, kind, node, role in roles:
        space = space_of(tensor)
        space.tensors.add(tensor)
        if kind == "freeze" or node is None:  # only a freeze names no node
            space.frozen = True
        elif kind == "producer":
            space.producers.append((node, role))
        else:
            space.consumers.append((node, role))
    for space in spaces.values():
        counts = {_channels_of(node, role, inits) for node, role in space.producers + space.consumers}
        counts.discard(None)
        if len(counts) != 1:
            space.frozen = True
        else:
            space.channels = counts.pop()
    return list(spaces.values())


def _channels_of(node: onnx.NodeProto, role: str, inits: dict[str, onnx.TensorProto]) -> int | None:
    if role.startswith("const:"):
        _, name, axis = role.split(":")
        return int(inits[name].dims[int(axis)])
    if role == "batchnorm":
        return int(inits[node.input[1]].dims[0]) if node.input[1] in inits else None
    dims = inits[node.input[1]].dims
    return int({"conv_out": dims[0], "depthwise": dims[0], "convt_out": dims[1], "conv_in": dims[1], "convt_in": dims[0]}[role])


def _channel_preserving(node: onnx.NodeProto, inits: dict[str, onnx.TensorProto]) -> bool:
    if node.op_type in ("Resize", "Upsample"):
        # Resize(X, roi, scales, sizes): only a constant scale of 1 on the channel axis keeps channels.
        if len(node.input) > 3 and node.input[3]:
            return False
        scales_name = node.input[2] if node.op_type == "Resize" and len(node.input) > 2 else (node.input[1] if len(node.input) > 1 else "")
        if scales_name not in inits:
            return False
        scales = graph.to_array(inits[scales_name])
        return scales.size >= 2 and float(scales[1]) == 1.0 and float(scales[0]) == 1.0
    if node.op_type == "BatchNormalization":
        return all(n in inits for n in node.input[1:5])
    if node.op_type == "Clip":
        return all(not n or n in inits for n in node.input[1:])
    return True


def _channel_axis_of_constant(init: onnx.TensorProto) -> int:
    """-1: broadcasts over channels (scalar-like); k >= 0: holds one value per channel on axis k; -2: not understood."""
    dims = list(init.dims)
    if all(d == 1 for d in dims):
        return -1
    # [C,1,1] broadcast against NCHW, or [1,C,1,1].
    if len(dims) == 3 and dims[1] == dims[2] == 1:
        return 0
    if len(dims) == 4 and dims[0] == 1 and dims[2] == dims[3] == 1:
        return 1
    return -2


def _keep_count(channels: int, config: PruneChannelsConfig) -> int:
    target = channels * (1.0 - config.ratio)
    keep = int(np.ceil(target / config.round_to) * config.round_to)
    return int(min(channels, max(keep, min(config.min_channels, channels))))


def _importance(space: _Space, inits: dict[str, onnx.TensorProto], abs_means: dict[str, np.ndarray]) -> np.ndarray:
    channels = int(space.channels or 0)
    score = np.zeros(channels)
    used = False
    for node, role in space.consumers:
        activity = abs_means.get(node.input[0])
        if activity is None or activity.size != channels:
            continue
        w = np.abs(graph.to_array(inits[node.input[1]]).astype(np.float64))
        per_channel = w.sum(axis=tuple(a for a in range(w.ndim) if a != (1 if role == "conv_in" else 0)))
        score += activity * per_channel
        used = True
    if used:
        return score
    for node, role in space.producers:
        if role not in ("conv_out", "convt_out", "depthwise"):
            continue
        w = np.abs(graph.to_array(inits[node.input[1]]).astype(np.float64))
        axis = 1 if role == "convt_out" else 0
        l1 = w.sum(axis=tuple(a for a in range(w.ndim) if a != axis))
        score += l1 / max(l1.mean(), 1e-12)
    return score


def _slice_bias(node: onnx.NodeProto, keep: np.ndarray, slices: dict[str, list[tuple[int, np.ndarray]]]) -> None:
    if len(node.input) > 2 and node.input[2]:
        slices[node.input[2]].append((0, keep))


def _abs_means(model: onnx.ModelProto, names: list[str], tensors: list[np.ndarray]) -> dict[str, np.ndarray]:
    probe = graph.copy_model(model)
    inputs_abs = []
    for name in names:
        out = f"{name}__abs"
        probe.graph.node.append(onnx.helper.make_node("Abs", [name], [out]))
        inputs_abs.append(out)
    means = graph.activation_means(probe, inputs_abs, tensors)
    return {name: means[f"{name}__abs"] for name in names if f"{name}__abs" in means}


def _parameters(model: onnx.ModelProto) -> int:
    return int(sum(int(np.prod(i.dims)) for i in model.graph.initializer))
