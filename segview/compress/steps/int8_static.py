"""INT8 static: activations and weights in 8 bits, activation ranges calibrated on frames.

Everything numeric is onnxruntime.quantization's (``quantize_static``); this
module only maps typed options onto it, feeds it frames, and keeps its logging
off the user's terminal. The accuracy-aware search (``int8-auto``) reuses
:func:`quantize`.
"""

from __future__ import annotations

import contextlib
import io
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import onnx
import onnxruntime as ort
from onnxruntime.quantization import CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType, quantize_static

from segview.compress import graph
from segview.compress.step import Cancelled, CompressionError, Step, StepConfig, StepContext, StepOutput, option, register_step
from segview.errors import first_line

CALIBRATION_METHODS = {"minmax": CalibrationMethod.MinMax, "entropy": CalibrationMethod.Entropy, "percentile": CalibrationMethod.Percentile}
QUANT_TYPES = {"uint8": QuantType.QUInt8, "int8": QuantType.QInt8}


@dataclass(frozen=True, slots=True)
class Int8StaticConfig(StepConfig):
    calibration: Literal["minmax", "entropy", "percentile"] = option("minmax", "how the activations' ranges are found on the calibration frames")
    percentile: float = option(99.999, "percentile calibration only: the share of values the range must cover")
    format: Literal["qdq", "qoperator"] = option(
        "qdq", "qdq: QuantizeLinear/DequantizeLinear pairs that onnxruntime fuses into integer kernels; qoperator: QLinearConv etc. directly"
    )
    activations: Literal["uint8", "int8"] = option(
        "uint8", "the activations' 8-bit type (uint8 with int8 weights is what onnxruntime's x86 kernels are tuned for)"
    )
    weights: Literal["int8", "uint8"] = option("int8", "the weights' 8-bit type")
    per_channel: bool = option(True, "one scale per output channel instead of one per tensor")
    reduce_range: bool = option(False, "7-bit weights: avoids saturation on CPUs without VNNI")
    activation_symmetric: bool = option(False, "activations with zero point 0")
    weight_symmetric: bool = option(True, "weights with zero point 0 (selects MLAS's fused symmetric convolution kernels)")
    keep_removable_activations: bool = option(False, "keep the Relu/Clip that a quantized range makes redundant (onnxruntime removes them by default)")
    exclude_op_types: tuple[str, ...] = option((), "op types to leave in float")
    exclude_nodes: tuple[str, ...] = option((), "nodes (by name) to leave in float")
    # MLAS has no fast int8 kernel for them and falls back to im2col (selfie-general's stem: 675 us in int8, 226 us in float).
    float_narrow_convs: bool = option(True, "keep in float the convolutions whose input channels are not a multiple of 4 (the RGB stem): int8 is slower there")
    frames: int = option(100, "at most this many calibration frames are fed to the calibrator")

    def validate(self) -> None:
        if not 0.0 < self.percentile <= 100.0:
            raise CompressionError("int8 percentile must be in (0, 100]")
        if self.frames < 1:
            raise CompressionError("int8 needs at least one calibration frame (frames >= 1)")


def quantize(
    model: onnx.ModelProto,
    config: Int8StaticConfig,
    reader: CalibrationDataReader,
    workdir: Path,
    *,
    nodes_to_exclude: Sequence[str] = (),
    nodes_to_quantize: Sequence[str] = (),
    cache: Path | None = None,
) -> onnx.ModelProto:
    """One ``quantize_static`` call; ``cache`` reuses activation ranges between calls on the same model and frames."""
    out = workdir / "int8-static.onnx"
    extra: dict[str, object] = {
        "ActivationSymmetric": config.activation_symmetric,
        "WeightSymmetric": config.weight_symmetric,
        "QDQKeepRemovableActivations": config.keep_removable_activations,
    }
    if config.calibration == "percentile":
        extra["CalibPercentile"] = config.percentile
    exclude = list(dict.fromkeys([*float_nodes(model, config), *nodes_to_exclude]))
    return run_quantizer(
        "quantizer",
        out,
        lambda: quantize_static(
            # A copy: given a ModelProto, quantize_static moves its weights to external data in a temporary folder.
            graph.copy_model(model),
            out,
            reader,
            quant_format=QuantFormat.QDQ if config.format == "qdq" else QuantFormat.QOperator,
            per_channel=config.per_channel,
            reduce_range=config.reduce_range,
            activation_type=QUANT_TYPES[config.activations],
            weight_type=QUANT_TYPES[config.weights],
            calibrate_method=CALIBRATION_METHODS[config.calibration],
            nodes_to_exclude=exclude or None,
            nodes_to_quantize=list(nodes_to_quantize) or None,
            extra_options=extra,
            calibration_cache_path=cache,
        ),
    )


def run_quantizer(what: str, out: Path, call: Callable[[], None]) -> onnx.ModelProto:
    """Runs one onnxruntime quantizer call that writes ``out``, quietly; returns the model it wrote and removes the file.

    The quantizers raise assorted types for graphs they cannot handle: each becomes one CompressionError line
    naming ``what`` failed."""
    with quiet_onnxruntime():
        try:
            call()
        except (Cancelled, CompressionError):
            raise
        except Exception as exc:  # onnxruntime's quantizers raise assorted types
            text = first_line(exc)
            raise CompressionError(f"onnxruntime's {what} failed: {text}") from None
    try:
        return onnx.load(str(out))
    finally:
        out.unlink(missing_ok=True)
        # Some onnxruntime versions leave external-data side files next to it; they are ours to remove.
        for side_file in out.parent.glob(f"{out.name}*"):
            side_file.unlink(missing_ok=True)


def float_nodes(model: onnx.ModelProto, config: Int8StaticConfig) -> list[str]:
    """The nodes the options keep in float: named ones, those of excluded op types, and (by default) the narrow convolutions."""
    narrow = narrow_convs(model) if config.float_narrow_convs else []
    return list(dict.fromkeys([*config.exclude_nodes, *narrow, *_nodes_of_types(model, config.exclude_op_types)]))


def narrow_convs(model: onnx.ModelProto) -> list[str]:
    """Ungrouped convolutions whose weight has a number of input channels that is not a multiple of 4."""
    found = []
    for node, weight in graph.weight_nodes(model, ("Conv",)):
        group = int(graph.attribute(node, "group", 1))
        if group == 1 and weight.dims[1] % 4 != 0 and node.name:
            found.append(node.name)
    return found


def _nodes_of_types(model: onnx.ModelProto, op_types: Sequence[str]) -> list[str]:
    wanted = set(op_types)
    return [n.name for n in model.graph.node if n.op_type in wanted and n.name]


@contextlib.contextmanager
def quiet_onnxruntime() -> Iterator[None]:
    """onnxruntime's quantizer logs warnings through the root logger, its calibrators print() progress, and
    its sessions log to stderr: the CLI's stdout is for results and its stderr for errors."""
    root = logging.getLogger()
    previous = root.level
    root.setLevel(logging.ERROR)
    ort.set_default_logger_severity(3)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            yield
    finally:
        root.setLevel(previous)


def check_quantizable(model: onnx.ModelProto, step: str) -> None:
    graph.require_float_weights(model, step)
    if any(i.data_type == onnx.TensorProto.FLOAT16 for i in model.graph.initializer):
        raise CompressionError(f"step {step!r} needs float32 weights; this model holds float16 ones (put fp16 after int8, or leave it out)")
    if any(n.op_type in ("QuantizeLinear", "DequantizeLinear", "QLinearConv", "ConvInteger", "MatMulInteger") for n in model.graph.node):
        raise CompressionError(f"step {step!r}: the model is already quantized")


def count_ops(model: onnx.ModelProto) -> dict[str, int]:
    counts: dict[str, int] = {}
    for n in model.graph.node:
        counts[n.op_type] = counts.get(n.op_type, 0) + 1
    return dict(sorted(counts.items()))


@register_step
class Int8StaticStep(Step):
    name = "int8-static"
    title = "INT8 static (calibrated)"
    description = "8-bit weights and activations; activation ranges calibrated on frames (MinMax, Entropy or Percentile). QDQ, per-channel weights by default."
    config_type = Int8StaticConfig
    accepts = frozenset({"float32", "shared"})
    produces = "int8"
    needs_calibration = True

    def suffix(self, config: Int8StaticConfig) -> str:
        return "int8"

    def check(self, model: onnx.ModelProto, config: Int8StaticConfig) -> None:
        check_quantizable(model, self.name)

    def apply(self, model: onnx.ModelProto, config: Int8StaticConfig, ctx: StepContext) -> StepOutput:
        calibration = ctx.require_calibration(self.name)
        reader = calibration.reader(ctx.card, ctx.cancel, limit=config.frames)
        ctx.progress(0.05, f"calibrating on {len(reader)} frames ({config.calibration})")
        result = quantize(model, config, reader, ctx.workdir)
        ctx.progress(1.0, "quantized")
        return StepOutput(result, {"calibration_frames": len(reader), "ops": count_ops(result)})
