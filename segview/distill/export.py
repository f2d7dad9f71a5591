"""A trained student -> ONNX file + model card, measured side by side with its teacher.

The ONNX graph takes what the teacher takes (NCHW, RGB scaled to [0, 1]) at the
student's own size and returns a sigmoid person probability named "probability";
segview's preprocessing resizes frames to whatever size the card gives.
Exported in eval mode at a static batch of 1, opset 17: onnxruntime then folds
BatchNorm into the convolutions and fuses Conv+ReLU.
"""

from __future__ import annotations

import io
import json
import os
import platform
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import torch
from torch import nn

from segview.distill.architectures import Exportable, count_parameters
from segview.distill.data import Sample
from segview.errors import DistillError
from segview.fileio import move_all_into_place
from segview.inference.card import ModelCard, card_path_for
from segview.inference.inspect import METADATA_CARD_KEY
from segview.inference.postprocess import Postprocessor
from segview.inference.preprocess import Preprocessor
from segview.inference.registry import ModelEntry
from segview.inference.session import cpu_session
from segview.metrics.iou import binary_iou

OPSET = 17
INPUT_NAME = "input"
OUTPUT_NAME = "probability"


def student_card(
    name: str, resolution: int, *, title: str, source: str, extra: dict[str, Any], input_name: str = INPUT_NAME, output_name: str = OUTPUT_NAME
) -> ModelCard:
    return ModelCard(
        name=name,
        title=title,
        task="person-segmentation",
        source=source,
        license="",
        input_name=input_name,
        width=resolution,
        height=resolution,
        layout="NCHW",
        color_order="RGB",
        output_name=output_name,
        output_kind="sigmoid",
        extra=extra,
    )


def onnx_bytes(student: nn.Module, resolution: int) -> bytes:
    model = Exportable(student).cpu().eval()
    buffer = io.BytesIO()
    with torch.no_grad(), warnings.catch_warnings():
        # The TorchScript exporter is deprecated in favour of torch.export, which needs onnxscript;
        # it still writes the plain static graph wanted here.
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(
            model,
            (torch.zeros(1, 3, resolution, resolution),),
            buffer,  # type: ignore[arg-type]  # a file object works; torch's hint names paths only
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            opset_version=OPSET,
            do_constant_folding=True,
            dynamo=False,  # the TorchScript exporter: no onnxscript dependency, a plain static graph
        )
    return buffer.getvalue()


def write_student(data: bytes, card: ModelCard, out: Path) -> None:
    """Model and card appear together or not at all: both go to temporary files first.

    The card also travels inside the ONNX metadata, so the model stays
    self-describing if the JSON file is lost or the model is copied alone.
    """
    folder = out.parent
    if not folder.is_dir():
        raise DistillError(f"cannot write {out}: folder {folder} does not exist")
    model = onnx.load_from_string(data)
    card_json = json.dumps(card.to_json_dict(), indent=2) + "\n"
    del model.metadata_props[:]
    model.metadata_props.add(key=METADATA_CARD_KEY, value=card_json)
    tmp_model = folder / f".{out.name}.tmp"
    tmp_card = folder / f".{card_path_for(out).name}.tmp"
    try:
        tmp_model.write_bytes(model.SerializeToString())
        tmp_card.write_text(card_json, encoding="utf-8")
        # All or nothing: a model move that fails puts the previous card back too.
        move_all_into_place([(tmp_card, card_path_for(out)), (tmp_model, out)])
    except OSError as exc:
        raise DistillError(f"cannot write {out}: {exc.strerror or exc}") from None
    finally:
        tmp_model.unlink(missing_ok=True)
        tmp_card.unlink(missing_ok=True)


@dataclass(frozen=True, slots=True)
class Speed:
    student_ms: float
    teacher_ms: float
    threads: int
    rounds: int

    @property
    def speedup(self) -> float:
        return self.teacher_ms / self.student_ms


def measure_speed(student_onnx: bytes, student_card: ModelCard, teacher: ModelEntry, *, threads: int = 1, rounds: int = 400) -> Speed:
    """Raw session.run, student and teacher alternating in one process, medians:
    both see the same machine state, so the ratio holds even on a busy machine.

    One thread by default: with more, each session's idle onnxruntime pool spins on
    into the other's run, and on a two-core machine the same pair measured 2.84x
    and 3.23x in two exports (benchmarks/bench_students.py says more)."""
    sessions = [(cpu_session(student_onnx, threads=threads), student_card), (cpu_session(teacher.path, threads=threads), teacher.card)]
    feeds = []
    for _, card in sessions:
        shape = (1, 3, card.height, card.width) if card.layout == "NCHW" else (1, card.height, card.width, 3)
        feeds.append({card.input_name: np.random.default_rng(0).random(shape, dtype=np.float32)})
    times: list[list[float]] = [[], []]
    for i in range(rounds + 10):
        for k, ((session, card), feed) in enumerate(zip(sessions, feeds, strict=True)):
            t0 = time.perf_counter()
            session.run([card.output_name], feed)
            if i >= 10:  # the first runs allocate and warm caches
                times[k].append((time.perf_counter() - t0) * 1e3)
    return Speed(float(np.median(times[0])), float(np.median(times[1])), threads, rounds)


def measure_iou(model: bytes | str, card: ModelCard, frames: tuple[Sample, ...], truths: list[np.ndarray] | None = None) -> float | None:
    """segview eval's protocol on in-memory frames (their masks, or given truths)."""
    if not frames:
        return None
    session = cpu_session(model, threads=2)
    pre, post = Preprocessor(card), Postprocessor(card)
    scores = []
    for i, sample in enumerate(frames):
        truth = truths[i] if truths is not None else sample.mask
        if truth is None:
            continue
        output = session.run([card.output_name], {card.input_name: pre(sample.image)})[0]
        mask, _ = post(output, (sample.image.shape[1], sample.image.shape[0]))
        scores.append(binary_iou(mask, truth > 0))
    return float(np.mean(scores)) if scores else None


def describe_machine() -> str:
    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} logical CPUs, onnxruntime {ort.__version__}"


def parameters(student: nn.Module) -> int:
    return count_parameters(student)


def teacher_masks(teacher_entry: ModelEntry, frames: tuple[Sample, ...]) -> list[np.ndarray]:
    """The teacher's own masks on frames without ground truth (agreement, not accuracy)."""
    session = cpu_session(teacher_entry.path, threads=2)
    pre, post = Preprocessor(teacher_entry.card), Postprocessor(teacher_entry.card)
    out = []
    for s in frames:
        mask, _ = post(session.run([teacher_entry.card.output_name], {teacher_entry.card.input_name: pre(s.image)})[0], (s.image.shape[1], s.image.shape[0]))
        out.append(mask.astype(bool))
    return out
