"""What onnxruntime's profiler adds *inside* each node's ``_kernel_time`` span, measured on this machine.

onnxruntime starts a node's kernel span before, and ends it after, its own bookkeeping for the event:
it formats every input's and output's type and shape into a string and sizes them
(``CalculateTotalInputSizes`` / ``CalculateTotalOutputSizes`` in onnxruntime/core/framework/session_scope.cc)
and collects the thread pool's statistics. That time is in every node's figure but not in a plain run,
so a graph of many small nodes (an int8 graph's QuantizeLinear, DequantizeLinear and QLinear* nodes,
with up to nine inputs each) sums to more than its plain run.

:func:`measure_span_cost` measures it: chains of nodes that do almost nothing (on a 4-element tensor),
with 1 and with 9 inputs, run profiled and plain, alternating; a node's cost is its mean kernel span
less its share of the plain run. That share includes the executor's work between nodes, which is not
in any span, so the cost is an underestimate: a figure corrected by it is still at least the kernel's time.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort
from onnx import TensorProto, helper

from segview.inference.session import SessionOptions, ort_session_options
from segview.profiling.ort_trace import runs_from_events

CHAIN_NODES = 100
CHAIN_RUNS = 100
CHAIN_WARMUP = 10
# Calibrated fan-ins: a one-input op, and as many inputs as a QLinearConv with bias (x, w, B and their scales and zero points).
FAN_INS = (1, 9)


@dataclass(frozen=True)
class SpanCost:
    """The profiler's own microseconds inside one node's kernel span, for a node of ``inputs`` inputs."""

    one_input_us: float
    nine_inputs_us: float

    def for_inputs(self, inputs: int) -> float:
        """Linear in the number of inputs between the two calibrated fan-ins (each input is formatted once)."""
        k = max(1, inputs)
        per_input = (self.nine_inputs_us - self.one_input_us) / (FAN_INS[1] - FAN_INS[0])
        return max(0.0, self.one_input_us + per_input * (k - FAN_INS[0]))


def _chain(fan_in: int) -> bytes:
    """CHAIN_NODES nodes in a row on a [1, 4] tensor: Relu for one input, Sum of the same tensor fan_in times."""
    nodes, previous = [], "x"
    for i in range(CHAIN_NODES):
        op = "Relu" if fan_in == 1 else "Sum"
        nodes.append(helper.make_node(op, [previous] * fan_in, [f"t{i}"], name=f"n{i}"))
        previous = f"t{i}"
    graph = helper.make_graph(
        nodes,
        "span_cost",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info(previous, TensorProto.FLOAT, [1, 4])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    return model.SerializeToString()


def _node_cost_us(fan_in: int, threads: int, folder: Path) -> float:
    """A do-nothing node's mean kernel span in a run, less its share of the plain run after it (never below 0)."""
    options = SessionOptions(threads=threads)
    so_plain, so_profiled = ort_session_options(options), ort_session_options(options)
    for so in (so_plain, so_profiled):
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL  # keep every node of the chain
    so_profiled.enable_profiling = True
    so_profiled.profile_file_prefix = str(folder / f"chain{fan_in}")
    model = _chain(fan_in)
    plain = ort.InferenceSession(model, sess_options=so_plain, providers=["CPUExecutionProvider"])
    profiled = ort.InferenceSession(model, sess_options=so_profiled, providers=["CPUExecutionProvider"])
    feed = {"x": np.ones((1, 4), np.float32)}
    plain_walls = []
    for _ in range(CHAIN_WARMUP + CHAIN_RUNS):  # alternating, so a slow spell falls on both
        profiled.run(None, feed)
        start = time.perf_counter()
        plain.run(None, feed)
        plain_walls.append((time.perf_counter() - start) * 1e6)
    path = Path(profiled.end_profiling())
    events = json.loads(path.read_text(encoding="utf-8"))
    path.unlink(missing_ok=True)
    runs = runs_from_events(events)
    # Paired per run (a profiled run and the plain one right after it), median over runs: robust to a preempted run.
    costs = [
        statistics.fmean(n.duration_us for n in run.nodes.values()) - wall / CHAIN_NODES
        for run, wall in list(zip(runs, plain_walls, strict=False))[CHAIN_WARMUP:]
        if len(run.nodes) == CHAIN_NODES
    ]
    return max(0.0, statistics.median(costs)) if costs else 0.0


def measure_span_cost(threads: int = 1) -> SpanCost:
    """The profiler's cost inside a node's span at ``threads`` threads, for 1 and 9 inputs (about a second)."""
    with tempfile.TemporaryDirectory(prefix="segview-span-cost-") as folder:
        one, nine = (_node_cost_us(k, threads, Path(folder)) for k in FAN_INS)
    return SpanCost(one, nine)
