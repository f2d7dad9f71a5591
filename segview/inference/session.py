"""SegmentationSession: one model, loaded into onnxruntime, frame in, mask out."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort

from segview.errors import ModelError, first_line  # first_line: also imported from here (pipeline, engines, profiling)
from segview.inference.card import ModelCard
from segview.inference.inspect import format_shape
from segview.inference.postprocess import Postprocessor
from segview.inference.preprocess import Preprocessor
from segview.inference.providers import resolve_provider


@dataclass(frozen=True, slots=True)
class SessionOptions:
    provider: str = "cpu"
    # Threads inside one run. None lets onnxruntime use every core, which is
    # best for one run at a time; the pipeline runs several frames at once
    # and asks for fewer.
    threads: int | None = None


@dataclass(frozen=True, slots=True)
class SegmentOutput:
    mask: np.ndarray
    probability: np.ndarray
    preprocess_ms: float
    inference_ms: float
    postprocess_ms: float


class SegmentationSession:
    """Thread-safe: several threads may call :meth:`segment` at once.

    onnxruntime's ``run`` is documented thread-safe on one session, and the
    pre/postprocessors hold no per-call state.
    """

    def __init__(self, path: Path, card: ModelCard, options: SessionOptions = SessionOptions()) -> None:
        self._bind(path, card, options)
        self._session = load_ort_session(path, options)
        self.provider = self._session.get_providers()[0]
        self._outputs = [card.output_name]

    def _bind(self, path: Path, card: ModelCard, options: SessionOptions) -> None:
        """What a session holds whatever runs the graph (engines.OpenVinoSession shares it): model, card, pre/postprocessing."""
        self.path, self.card, self.options, self.name = path, card, options, card.name
        self.preprocess = Preprocessor(card)
        self.postprocess = Postprocessor(card)
        self._input = card.input_name
        # A graph's declared output shape can lie: the first real output is checked once.
        self._output_checked = False

    # Named in a run's error after "failed while running" (LiteRtSession: " (litert)"); onnxruntime's says nothing.
    _engine_label = ""

    def run(self, tensor: np.ndarray) -> np.ndarray:
        """Raw inference on a prepared tensor; the engine's own failure becomes one ModelError line."""
        try:
            output = self._infer(tensor)
        except ModelError:
            raise  # already one line of ours (LiteRT building a thread's interpreter)
        except Exception as exc:
            raise ModelError(f"{self.name} failed while running{self._engine_label}: {first_line(exc)}") from None
        if not self._output_checked:
            self._check_output(np.shape(output))
        return output

    def _infer(self, tensor: np.ndarray) -> np.ndarray:
        """The engine's run of one prepared tensor (onnxruntime's here; LiteRtSession overrides it)."""
        return self._session.run(self._outputs, {self._input: tensor})[0]

    def _check_output(self, actual: tuple[int, ...]) -> None:
        problem = output_shape_problem(actual, self.card)
        if problem:
            raise ModelError(self._output_shape_message(actual, problem))
        self._output_checked = True

    def _output_shape_message(self, actual: tuple[int, ...], problem: str) -> str:
        declared = declared_output_shape(self.path, self.card.output_name)
        return f"{self.name}: output {self.card.output_name!r} is declared {declared} but the graph returns {format_shape(actual)}: {problem}"

    def segment(self, image: np.ndarray) -> SegmentOutput:
        """BGR uint8 image -> mask at the image's resolution, with stage timings."""
        t0 = time.perf_counter()
        tensor = self.preprocess(image)
        t1 = time.perf_counter()
        output = self.run(tensor)
        t2 = time.perf_counter()
        mask, probability = self.postprocess(output, (image.shape[1], image.shape[0]))
        t3 = time.perf_counter()
        return SegmentOutput(mask, probability, (t1 - t0) * 1e3, (t2 - t1) * 1e3, (t3 - t2) * 1e3)

    def input_tensor_shape(self) -> tuple[int, ...]:
        c = self.card
        return (1, 3, c.height, c.width) if c.layout == "NCHW" else (1, c.height, c.width, 3)


def ort_options(threads: int | None = None, *, optimize: bool = True, log_severity: int = 3) -> ort.SessionOptions:
    """onnxruntime's options as segview sets them everywhere: ``threads`` threads inside one run
    (None: onnxruntime's choice, every core) and none across runs, all graph optimisations unless
    ``optimize`` is False (a probe of intermediate tensors wants the graph as written), and errors
    only in onnxruntime's own log (``log_severity`` 3), as segview words them itself."""
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL if optimize else ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    so.log_severity_level = log_severity
    if threads:
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
    return so


def cpu_session(model: bytes | str | os.PathLike[str], *, threads: int | None = 1, optimize: bool = True) -> ort.InferenceSession:
    """An onnxruntime session on the CPU for segview's own work on a graph (the compress steps' checks,
    the distillation teacher, speed and gate probes): serialized bytes or a file. onnxruntime's
    exceptions go on unchanged; each caller words them as its own error."""
    data = model if isinstance(model, bytes) else os.fspath(model)
    return ort.InferenceSession(data, sess_options=ort_options(threads, optimize=optimize), providers=["CPUExecutionProvider"])


def ort_session_options(options: SessionOptions) -> ort.SessionOptions:
    """onnxruntime's options for a segview session (also the profiler's, so both run the same way)."""
    # Fatal only: a node failing at run time is an exception segview reports in its own line;
    # at 3 (errors) onnxruntime also printed it first, in colour, once per worker.
    so = ort_options(options.threads, log_severity=4)
    if options.threads == 1:
        # Without a thread pool there is nothing to spin; with one, spinning
        # burns the core the other pipeline threads need.
        so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return so


def load_ort_session(path: Path, options: SessionOptions, so: ort.SessionOptions | None = None) -> ort.InferenceSession:
    """The onnxruntime session for a model file; ModelError (one line) when onnxruntime refuses it."""
    provider = resolve_provider(options.provider)
    try:
        return ort.InferenceSession(os.fspath(path), sess_options=so or ort_session_options(options), providers=[provider])
    except Exception as exc:  # onnxruntime raises several unrelated types for bad graphs
        raise ModelError(f"onnxruntime cannot load {path.name}: {first_line(exc)}") from None


def output_shape_problem(actual: tuple[int, ...], card: ModelCard) -> str | None:
    """Why a real output cannot be this card's mask, or None when it can."""
    if len(actual) not in (3, 4) or actual[0] < 1:
        return "that is not a mask (N,C,H,W, N,H,W,C or N,H,W)"
    channels = 1 if card.is_binary else len(card.classes)
    if len(actual) == 4 and channels not in (actual[1], actual[3]):
        return f"its card expects {channels} output channel(s) ({card.output_kind})"
    spatial = actual[1:] if len(actual) == 3 else (actual[2:] if actual[1] == channels else actual[1:3])
    if min(spatial) < 1:
        return "the mask is empty"
    return None


def declared_output_shape(path: Path, output: str) -> str:
    """The output shape the graph file declares, as text; "unknown" when it cannot be read."""
    try:
        model = onnx.load(os.fspath(path), load_external_data=False)
    except Exception:  # only for a message: the model already ran, so this is not expected
        return "unknown"
    for value in model.graph.output:
        if value.name == output:
            dims = value.type.tensor_type.shape.dim
            return format_shape([d.dim_value if d.HasField("dim_value") else (d.dim_param or None) for d in dims])
    return "unknown"
