"""SegmentationSession: one model, loaded into onnxruntime, frame in, mask out."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort

from segview.errors import ModelError
from segview.inference.card import ModelCard
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
        self.path = path
        self.card = card
        self.options = options
        self.name = card.name
        provider = resolve_provider(options.provider)
        so = ort.SessionOptions()
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        so.log_severity_level = 3
        if options.threads:
            so.intra_op_num_threads = options.threads
            so.inter_op_num_threads = 1
            if options.threads == 1:
                # Without a thread pool there is nothing to spin; with one, spinning
                # burns the core the other pipeline threads need.
                so.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            self._session = ort.InferenceSession(os.fspath(path), sess_options=so, providers=[provider])
        except Exception as exc:  # onnxruntime raises several unrelated types for bad graphs
            raise ModelError(f"onnxruntime cannot load {path.name}: {_first_line(exc)}") from None
        self.provider = self._session.get_providers()[0]
        self.preprocess = Preprocessor(card)
        self.postprocess = Postprocessor(card)
        self._input = card.input_name
        self._outputs = [card.output_name]

    def run(self, tensor: np.ndarray) -> np.ndarray:
        """Raw inference on a prepared tensor."""
        try:
            return self._session.run(self._outputs, {self._input: tensor})[0]
        except Exception as exc:
            raise ModelError(f"{self.name} failed while running: {_first_line(exc)}") from None

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


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
