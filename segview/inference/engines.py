"""Inference engines behind one small interface, so a sweep can set a second engine beside onnxruntime.

An :class:`Engine` makes sessions with the :class:`SegmentationSession` interface (``run`` for
a prepared tensor, ``segment`` for a frame), so the pipeline and bench use any engine alike.
onnxruntime is built in; OpenVINO joins only where ``openvino`` is importable, LiteRT (for ``.tflite``
files, segview.inference.litert_engine) where ``ai-edge-litert`` is: neither is a dependency (measured
here, neither beats onnxruntime on these models; see benchmarks/README.md).
"""

from __future__ import annotations

import importlib.util
import os
import threading
from pathlib import Path
from typing import Protocol

import numpy as np

from segview.errors import ModelError
from segview.inference.card import ModelCard
from segview.inference.litert_engine import LiteRtEngine
from segview.inference.session import SegmentationSession, SessionOptions, first_line

DEFAULT_ENGINE = "ort"


class Engine(Protocol):
    name: str
    model_suffix: str  # the model files it reads: ".onnx" or ".tflite"

    def available(self) -> bool: ...

    def absent_reason(self) -> str: ...

    def version(self) -> str: ...

    def make_session(self, path: Path, card: ModelCard, threads: int | None, provider: str = "cpu") -> SegmentationSession: ...


class OrtEngine:
    """onnxruntime, the built-in engine: its sessions are segview's own."""

    name = "ort"
    model_suffix = ".onnx"

    def available(self) -> bool:
        return True

    def absent_reason(self) -> str:
        return ""

    def version(self) -> str:
        import onnxruntime

        return onnxruntime.__version__

    def make_session(self, path: Path, card: ModelCard, threads: int | None, provider: str = "cpu") -> SegmentationSession:
        return SegmentationSession(path, card, SessionOptions(provider=provider, threads=threads))


class OpenVinoEngine:
    """OpenVINO's runtime on its CPU device, reading the ONNX file itself."""

    name = "openvino"
    model_suffix = ".onnx"

    def available(self) -> bool:
        return importlib.util.find_spec("openvino") is not None

    def absent_reason(self) -> str:
        return "openvino is not installed: pip install openvino"

    def version(self) -> str:
        import openvino

        return openvino.__version__

    def make_session(self, path: Path, card: ModelCard, threads: int | None, provider: str = "cpu") -> SegmentationSession:
        if not self.available():
            raise ModelError(self.absent_reason())
        if provider.lower() not in ("cpu", "cpuexecutionprovider"):
            raise ModelError(f"the openvino engine runs on its CPU device; provider {provider!r} is onnxruntime's")
        return OpenVinoSession(path, card, threads)


class OpenVinoSession(SegmentationSession):
    """A SegmentationSession whose inference is OpenVINO's; preprocessing, postprocessing and the
    first-output check are the base class's. One infer request per thread: a request is not
    safe to share, and the pipeline's workers run frames at once."""

    def __init__(self, path: Path, card: ModelCard, threads: int | None) -> None:  # noqa: D107 - no ort session to build
        import openvino

        self._bind(path, card, SessionOptions(provider="cpu", threads=threads))
        # f32 as the model is written: on CPUs with bf16 OpenVINO would otherwise compute in bf16 (masks
        # off by ~1e-2, and a speed comparison against onnxruntime's fp32 that is not like for like).
        config: dict[str, object] = {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_PRECISION_HINT": "f32"}
        if threads:
            config["INFERENCE_NUM_THREADS"] = threads
        try:
            self._compiled = openvino.Core().compile_model(os.fspath(path), "CPU", config)
            self._output = self._compiled.output(card.output_name)
        except Exception as exc:  # OpenVINO raises RuntimeError and its own types for graphs it cannot take
            raise ModelError(f"openvino cannot load {path.name}: {first_line(exc)}") from None
        self.provider = "OpenVINO CPU"
        self._requests = threading.local()

    _engine_label = " (openvino)"

    def _infer(self, tensor: np.ndarray) -> np.ndarray:
        request = getattr(self._requests, "request", None)
        if request is None:
            request = self._requests.request = self._compiled.create_infer_request()
        request.infer({self._input: tensor})
        return np.array(request.get_tensor(self._output).data)  # a copy: the request reuses its buffer


ENGINES: dict[str, Engine] = {"ort": OrtEngine(), "openvino": OpenVinoEngine(), "litert": LiteRtEngine()}
_ALIASES = {"onnxruntime": "ort", "ov": "openvino", "ai-edge-litert": "litert"}


def get_engine(name: str) -> Engine:
    """The engine by name ('ort', 'onnxruntime', 'openvino', 'litert'); one clear line when unknown or absent."""
    key = _ALIASES.get(name.strip().lower(), name.strip().lower())
    if key not in ENGINES:
        raise ModelError(f"unknown engine {name!r}: give {', '.join(ENGINES)}")
    engine = ENGINES[key]
    if not engine.available():
        raise ModelError(engine.absent_reason())
    return engine
