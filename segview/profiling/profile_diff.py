"""Op-by-op diff of two profiles: which nodes and op types a variant made faster or slower.

Nodes are matched by the ONNX file's node they did the work of (:attr:`NodeTime.graph_node`),
so a compressed model lines up with its source: an int8 ``conv2d_3`` (a QLinearConv or
ConvInteger, ``conv2d_3_quant``) is compared with the float ``conv2d_3`` (a Conv, perhaps
fused with its Relu). A node that has no twin (onnxruntime's layout reorders, a quantizer's
QuantizeLinear) is a row of one side only. Op types are compared by the float op they stand
for (QLinearConv, ConvInteger and FusedConv count as Conv), so every node counts there.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass

from segview.profiling.op_profile import OpProfile
from segview.profiling.ort_trace import op_family


@dataclass(frozen=True)
class DiffRow:
    key: str  # the node's name in the source graph (or onnxruntime's, for a node without a twin)
    op_type: str  # "Conv", or "Conv → QLinearConv" when the two ran different kernels
    base_ms: float | None  # None: the base model has no such node
    other_ms: float | None
    delta_ms: float  # other - base (a missing side counts 0): positive = the other is slower

    @property
    def matched(self) -> bool:
        return self.base_ms is not None and self.other_ms is not None


@dataclass(frozen=True)
class OpTypeDelta:
    op_type: str  # the float op family
    base_ms: float
    other_ms: float
    delta_ms: float
    base_count: int
    other_count: int


@dataclass(frozen=True)
class ProfileDiff:
    base: str
    other: str
    rows: tuple[DiffRow, ...]  # largest |delta| first
    op_types: tuple[OpTypeDelta, ...]  # largest |delta| first

    def matched_rows(self) -> list[DiffRow]:
        return [row for row in self.rows if row.matched]

    def as_dict(self) -> dict:
        return {
            "base": self.base,
            "other": self.other,
            "rows": [asdict(r) | {"matched": r.matched} for r in self.rows],
            "op_types": [asdict(t) for t in self.op_types],
        }


def diff_profiles(base: OpProfile, other: OpProfile) -> ProfileDiff:
    """Node rows (matched by source node, else one-sided) and op-type rows, by the time gained or lost."""
    left, right = _by_key(base), _by_key(other)
    rows = []
    for key in list(left) + [k for k in right if k not in left]:
        a, b = left.get(key), right.get(key)
        rows.append(
            DiffRow(
                key=key[0],
                op_type=_op_label(a[1] if a else None, b[1] if b else None),
                base_ms=a[0] if a else None,
                other_ms=b[0] if b else None,
                delta_ms=(b[0] if b else 0.0) - (a[0] if a else 0.0),
            )
        )
    rows.sort(key=lambda r: -abs(r.delta_ms))
    return ProfileDiff(base.model, other.model, tuple(rows), _op_type_deltas(base, other))


def _by_key(profile: OpProfile) -> dict[tuple[str, str], tuple[float, str]]:
    """Summed median ms and the op types run, per source node (several kernels may share one).

    Keys are (name, ""): a node onnxruntime made up (``ReorderOutput_token_7``) is keyed with its
    model's name too, as the same made-up name in another model is a different node.
    """
    ms: dict[tuple[str, str], float] = defaultdict(float)
    ops: dict[tuple[str, str], list[str]] = defaultdict(list)
    for node in profile.nodes:
        key = (node.graph_node, "") if node.graph_node else (node.name, profile.model)
        ms[key] += node.median_ms
        if node.op_type not in ops[key]:
            ops[key].append(node.op_type)
    return {key: (ms[key], "+".join(ops[key])) for key in ms}


def _op_label(base: str | None, other: str | None) -> str:
    if base is None or other is None or base == other:
        return base or other or "?"
    return f"{base} → {other}"


def _op_type_deltas(base: OpProfile, other: OpProfile) -> tuple[OpTypeDelta, ...]:
    def families(profile: OpProfile) -> dict[str, tuple[float, int]]:
        out: dict[str, tuple[float, int]] = {}
        for node in profile.nodes:
            family = op_family(node.op_type)
            ms, count = out.get(family, (0.0, 0))
            out[family] = (ms + node.median_ms, count + 1)
        return out

    left, right = families(base), families(other)
    deltas = []
    for k in list(left) + [k for k in right if k not in left]:
        (a_ms, a_count), (b_ms, b_count) = left.get(k, (0.0, 0)), right.get(k, (0.0, 0))
        deltas.append(OpTypeDelta(k, a_ms, b_ms, b_ms - a_ms, a_count, b_count))
    return tuple(sorted(deltas, key=lambda d: -abs(d.delta_ms)))
