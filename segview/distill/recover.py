"""Recovery after compression: the compressed model, rebuilt in PyTorch, distilled from its own source.

Structured pruning and weight sharing cost accuracy that no calibration trick
brings back (25% of selfie-general's channels: IoU 0.05 against the unpruned
model). The compressed graph is rebuilt with :class:`GraphStudent` (its pruned
shapes and all), and fine-tuned on frames against the soft targets of the
chain's source model: the thesis's prune-then-retrain, with the teacher's
answers as labels.

After weight sharing (``cluster``) each shared tensor keeps its index map and
only its shared values are trained (trained quantization, Han et al.): the
weight is rebuilt as ``table[index]`` at every step, so the result still has at
most k distinct values per tensor (per channel where the sharing was per
channel). The sharing is read from the graph: the cluster step's
Cast -> Gather (-> Mul by channel scales) codebooks, or dense tensors with few
distinct values.

Written back into the compressed graph itself (not torch.onnx), so the nodes,
shapes and codebooks onnxruntime loads are the ones it had.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import onnx
import torch
from onnx import numpy_helper
from torch import nn
from torch.nn import functional as F

from segview.distill.graph_student import SUPPORTED_OPS, GraphStudent
from segview.distill.losses import soft_target_loss
from segview.distill.schedule import learning_rate
from segview.graphs import graph

# A dense tensor with at most this many distinct values, each used at least twice on average, is shared.
MAX_SHARED_VALUES = 4096
# The ops the cluster step rebuilds a codebook weight with; they run on initializers only and are folded away.
CODEBOOK_OPS = {"Cast", "Gather", "Mul"}
EVAL_BATCH = 8


@dataclass(frozen=True, slots=True)
class SharedWeight:
    """A weight made of shared values: ``table[group, index]`` (times ``scale``)."""

    table: np.ndarray  # (groups, values) float32
    index: np.ndarray  # weight-shaped int64: which value of the row
    group: np.ndarray | None  # weight-shaped int64: which row (None: one row for the whole tensor)
    scale: np.ndarray | None  # fixed, broadcastable to the weight (the cluster step's channel scales)
    codebook: str | None  # the codebook initializer to write back into; None: the dense weight itself
    rebuilt_by: frozenset[str]  # outputs of the nodes that rebuild the weight from its codebook

    def dense(self) -> np.ndarray:
        values = self.table[0 if self.group is None else self.group, self.index]
        return (values if self.scale is None else values * self.scale).astype(np.float32)


@dataclass(frozen=True, slots=True)
class RecoverSettings:
    steps: int | None  # an exact number of steps; None: train for ``minutes``
    minutes: float
    lr: float
    batch: int
    resolution: int | None  # None: the frames' own (the model's input) size
    temperature: float = 2.0
    seed: int = 0


@dataclass(frozen=True, slots=True)
class RecoverResult:
    model: onnx.ModelProto
    steps: int
    seconds: float
    loss_start: float
    loss_end: float
    shared_tensors: int
    trained_tensors: int


def unsupported_reason(model: onnx.ModelProto) -> str | None:
    """Why the model cannot be rebuilt in PyTorch (naming the op), or None. Cheap: no torch work."""
    dense = dense_copy(model, find_shared(model))
    ops = sorted({n.op_type for n in dense.graph.node} - set(SUPPORTED_OPS))
    if ops:
        return f"it uses {', '.join(ops)} (recover rebuilds {', '.join(SUPPORTED_OPS)}; put recover before int8 or fp16)"
    inits = {i.name for i in dense.graph.initializer}
    inputs = [i.name for i in dense.graph.input if i.name not in inits]
    if len(inputs) != 1:
        return f"it has {len(inputs)} inputs ({', '.join(inputs)}); recover rebuilds models with one"
    last = next((n for n in dense.graph.node if dense.graph.output[0].name in n.output), None)
    if last is None or last.op_type != "Sigmoid":
        return "its output is not a Sigmoid; recover rebuilds sigmoid person models"
    return None


def find_shared(model: onnx.ModelProto) -> dict[str, SharedWeight]:
    """The convolution weights made of shared values, by weight name."""
    inits = graph.initializers(model)
    made = graph.producers(model)
    found: dict[str, SharedWeight] = {}
    for node in model.graph.node:
        if node.op_type not in ("Conv", "ConvTranspose") or len(node.input) < 2 or node.input[1] in found:
            continue
        name = node.input[1]
        shared = _repeated(graph.to_array(inits[name]), 1 if node.op_type == "ConvTranspose" else 0) if name in inits else _codebook(name, made, inits)
        if shared is not None:
            found[name] = shared
    return found


def _codebook(name: str, made: dict[str, onnx.NodeProto], inits: dict[str, onnx.TensorProto]) -> SharedWeight | None:
    """The cluster step's codebook form: Cast(indices) -> Gather(codebook, .) [-> Mul(., channel scales)]."""
    node, scale, outputs = made.get(name), None, set()
    if node is not None and node.op_type == "Mul" and node.input[1] in inits:
        scale = graph.to_array(inits[node.input[1]]).astype(np.float32)
        outputs.add(node.output[0])
        node = made.get(node.input[0])
    if node is None or node.op_type != "Gather" or node.input[0] not in inits:
        return None
    cast = made.get(node.input[1])
    if cast is None or cast.op_type != "Cast" or cast.input[0] not in inits:
        return None
    outputs |= {node.output[0], cast.output[0]}
    table = graph.to_array(inits[node.input[0]]).astype(np.float32)[None]
    index = graph.to_array(inits[cast.input[0]]).astype(np.int64)
    return SharedWeight(table, index, None, scale, node.input[0], frozenset(outputs))


def _repeated(weight: np.ndarray, axis: int) -> SharedWeight | None:
    """A dense weight with few distinct values, over the whole tensor or per output channel (trained floats never repeat)."""
    if weight.dtype != np.float32 or weight.ndim < 2:
        return None
    values, inverse = np.unique(weight, return_inverse=True)
    if values.size <= MAX_SHARED_VALUES and 2 * values.size <= weight.size:
        return SharedWeight(values[None], inverse.reshape(weight.shape), None, None, None, frozenset())
    rows = np.moveaxis(weight, axis, 0).reshape(weight.shape[axis], -1)
    found = [np.unique(row, return_inverse=True) for row in rows]
    if any(3 * v.size > 2 * rows.shape[1] for v, _ in found):
        return None
    table = np.zeros((len(found), max(v.size for v, _ in found)), np.float32)
    for c, (v, _) in enumerate(found):
        table[c, : v.size] = v
    index = np.moveaxis(np.stack([i.reshape(-1) for _, i in found]).reshape(np.moveaxis(weight, axis, 0).shape), 0, axis)
    group = np.moveaxis(np.broadcast_to(np.arange(len(found)).reshape(-1, *[1] * (weight.ndim - 1)), np.moveaxis(weight, axis, 0).shape), 0, axis)
    return SharedWeight(table, index.astype(np.int64), np.ascontiguousarray(group, dtype=np.int64), None, None, frozenset())


def dense_copy(model: onnx.ModelProto, shared: dict[str, SharedWeight]) -> onnx.ModelProto:
    """The model with each codebook weight as a plain initializer (what GraphStudent rebuilds)."""
    dense = graph.copy_model(model)
    drop = set().union(*(s.rebuilt_by for s in shared.values())) if shared else set()
    kept = [n for n in dense.graph.node if not set(n.output) & drop]
    del dense.graph.node[:]
    dense.graph.node.extend(kept)
    for name, s in shared.items():
        if s.codebook is not None:
            dense.graph.initializer.append(numpy_helper.from_array(s.dense(), name))
    return dense


class _RecoveringStudent(GraphStudent):
    """GraphStudent whose shared weights are rebuilt from their trainable tables at every forward pass."""

    def __init__(self, model: onnx.ModelProto, shared: dict[str, SharedWeight]) -> None:
        super().__init__(dense_copy(model, shared), name="the compressed model")
        self.shared = shared
        self.tables = nn.ParameterDict({self._key[n]: nn.Parameter(torch.from_numpy(s.table.copy())) for n, s in shared.items()})
        # Exact zeros stay zero: a value that was pruned away is not brought back by the fine-tune.
        self._live = {n: torch.from_numpy(s.table != 0).float() for n, s in shared.items()}
        self._index = {
            n: (torch.from_numpy(s.group) if s.group is not None else torch.zeros((), dtype=torch.int64), torch.from_numpy(s.index)) for n, s in shared.items()
        }
        self._scale = {n: torch.from_numpy(s.scale) for n, s in shared.items() if s.scale is not None}
        for name in shared:
            self.params[self._key[name]].requires_grad_(False)

    def _weight(self, name: str) -> torch.Tensor | None:
        if name not in self.__dict__.get("shared", {}):
            return super()._weight(name)
        group, index = self._index[name]
        weight = (self.tables[self._key[name]] * self._live[name])[group, index]
        return weight * self._scale[name] if name in self._scale else weight

    def trainable(self) -> list[nn.Parameter]:
        return [p for p in self.params.values() if p.requires_grad] + list(self.tables.values())

    def write_back(self, model: onnx.ModelProto) -> onnx.ModelProto:
        """A copy of the compressed model with the trained values: shared tables into their codebooks or weights."""
        out = graph.copy_model(model)
        inits = graph.initializers(out)
        for onnx_name, key in self._key.items():
            if onnx_name in self.shared:
                s = self.shared[onnx_name]
                table = (self.tables[key] * self._live[onnx_name]).detach().numpy()
                if s.codebook is not None:
                    graph.replace_initializer(out, s.codebook, table[0].astype(graph.to_array(inits[s.codebook]).dtype))
                else:
                    graph.replace_initializer(out, onnx_name, table[0 if s.group is None else s.group, s.index].astype(np.float32))
            elif onnx_name in inits:
                graph.replace_initializer(out, onnx_name, self.params[key].detach().numpy().astype(np.float32))
        return out


def fine_tune(
    model: onnx.ModelProto,
    inputs: np.ndarray,
    targets: np.ndarray,
    settings: RecoverSettings,
    *,
    check_cancel: Callable[[], None],
    progress: Callable[[float, str], None],
) -> RecoverResult:
    """Distil ``model`` towards ``targets`` (the teacher's probabilities for ``inputs``, NCHW); returns the trained copy."""
    torch.manual_seed(settings.seed)
    shared = find_shared(model)
    student = _RecoveringStudent(model, shared)
    x_all = torch.from_numpy(np.ascontiguousarray(inputs, dtype=np.float32))
    if settings.resolution:
        x_all = F.interpolate(x_all, size=(settings.resolution, settings.resolution), mode="bilinear", align_corners=False)
    t_all = _targets_like(student, x_all, torch.from_numpy(np.ascontiguousarray(targets, dtype=np.float32)))
    parameters = student.trainable()
    optimizer = torch.optim.Adam(parameters, lr=settings.lr)
    loss_start = _mean_loss(student, x_all, t_all, settings.temperature)
    generator = torch.Generator().manual_seed(settings.seed)
    started = time.monotonic()
    budget = settings.minutes * 60.0
    step = 0
    student.train()
    while True:
        fraction = step / settings.steps if settings.steps else (time.monotonic() - started) / budget
        if fraction >= 1.0:
            break
        check_cancel()
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(settings.lr, fraction)
        pick = torch.randint(0, x_all.shape[0], (settings.batch,), generator=generator)
        flip = torch.rand(settings.batch, generator=generator) < 0.5  # mirrored frames: the teacher's mirrored answer
        x = torch.where(flip[:, None, None, None], x_all[pick].flip(-1), x_all[pick])
        t = torch.where(flip[:, None, None, None], t_all[pick].flip(-1), t_all[pick])
        loss = soft_target_loss(student(x)[0], t, settings.temperature)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        step += 1
        progress(min(1.0, fraction), f"step {step}, loss {loss.item():.4f}")
    seconds = time.monotonic() - started
    check_cancel()
    loss_end = _mean_loss(student, x_all, t_all, settings.temperature)
    trained = sum(1 for p in student.params.values() if p.requires_grad)
    return RecoverResult(student.write_back(model), step, seconds, loss_start, loss_end, len(shared), trained + len(shared))


def _targets_like(student: GraphStudent, x_all: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """The teacher's probabilities at the student's output size (they differ when training at another resolution)."""
    with torch.no_grad():
        shape = student(x_all[:1])[0].shape
    if targets.shape[1:] != shape[1:]:
        targets = F.interpolate(targets, size=tuple(shape[-2:]), mode="bilinear", align_corners=False)
    return targets


def _mean_loss(student: GraphStudent, x_all: torch.Tensor, t_all: torch.Tensor, temperature: float) -> float:
    student.eval()
    total = 0.0
    with torch.no_grad():
        for start in range(0, x_all.shape[0], EVAL_BATCH):
            x, t = x_all[start : start + EVAL_BATCH], t_all[start : start + EVAL_BATCH]
            total += float(soft_target_loss(student(x)[0], t, temperature)) * x.shape[0]
    student.train()
    return total / max(1, x_all.shape[0])
