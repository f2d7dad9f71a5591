"""Structured pruning: whole channels removed from the graph, so the file and the run time really shrink.

Tensors that share a channel axis must lose the same channels: the step prunes
the *channel spaces* segview.graphs.channel_spaces finds (convolutions' weights
and biases are sliced, channel-wise and elementwise ops follow), never one that
touches an op it does not understand.

A channel's importance is its contribution to the next layers: with calibration
frames, E|x_c| times the L1 norm of the consumers' weights for c; without them,
the L1 norm of the producers' weights. Removed channels' mean contribution is
added to the consumers' biases. No fine-tuning is done: expect an accuracy cost,
which the report measures.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import onnx

from segview.compress import graph
from segview.compress.correction import apply_bias_shift, bias_shift
from segview.compress.step import CompressionError, Step, StepConfig, StepContext, StepOutput, option, register_step
from segview.compress.steps.weight_edits import MEAN_FRAMES, compress_keeping_sensitive
from segview.graphs.channel_spaces import ChannelSpace, find_spaces


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

        result, kept_whole, notes = compress_keeping_sensitive(
            model, order, build, ctx, target=config.max_iou_drop, max_keep=len(order), what="pruning", done="pruned"
        )
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
    space: ChannelSpace
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


def _keep_count(channels: int, config: PruneChannelsConfig) -> int:
    target = channels * (1.0 - config.ratio)
    keep = int(np.ceil(target / config.round_to) * config.round_to)
    return int(min(channels, max(keep, min(config.min_channels, channels))))


def _importance(space: ChannelSpace, inits: dict[str, onnx.TensorProto], abs_means: dict[str, np.ndarray]) -> np.ndarray:
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
