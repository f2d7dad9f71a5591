"""Running a recipe: steps in a chain, then measurement, then an all-or-nothing write.

Everything is built in a hidden work folder inside the output folder (same
file system, so the final renames are atomic); the model, its card, its report
and its chart are moved into place only when all of them exist, and restored
to what was there before if a move fails. A cancel, a failing step or a full
disk leaves the output folder as it was and the source untouched.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import onnx
import onnxruntime as ort

from segview.compress import chart, graph, measure
from segview.compress.calibration import CalibrationSet, load_calibration, read_frames
from segview.compress.paths import default_output_dir
from segview.compress.recipe import Recipe
from segview.compress.report import CompressionReport, chart_path_for, report_path_for
from segview.compress.step import CancelToken, CompressionError, StepContext
from segview.errors import DataError, ModelError, SegviewError
from segview.fileio import missing_folders, remove_empty_folders
from segview.inference.card import ModelCard, card_path_for
from segview.inference.inspect import METADATA_CARD_KEY, describe_model, load_onnx
from segview.inference.preprocess import Preprocessor
from segview.inference.registry import ModelEntry, ModelRegistry
from segview.inference.session import SegmentationSession, SessionOptions
from segview.interrupts import raise_on_signals
from segview.metrics.process import machine_info

WORKDIR_PREFIX = ".segview-compress-"
# Shares of the progress bar: calibration frames, the steps, then measuring.
_LOAD, _STEPS = 0.05, 0.70


@dataclass(frozen=True, slots=True)
class JobEvent:
    kind: Literal["progress", "log", "workdir"]
    fraction: float
    message: str


@dataclass(frozen=True, slots=True)
class RunResult:
    model_path: Path
    card_path: Path
    report_path: Path
    chart_path: Path
    report: CompressionReport

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "model_path": str(self.model_path),
            "card_path": str(self.card_path),
            "report_path": str(self.report_path),
            "chart_path": str(self.chart_path),
            "report": self.report.to_json_dict(),
        }

    @classmethod
    def from_json_dict(cls, data: dict[str, Any]) -> RunResult:
        return cls(Path(data["model_path"]), Path(data["card_path"]), Path(data["report_path"]), Path(data["chart_path"]), CompressionReport.from_json_dict(data["report"]))


class _Events:
    def __init__(self, sink: Callable[[JobEvent], None] | None) -> None:
        self.sink = sink
        self.fraction = 0.0

    def progress(self, fraction: float, message: str) -> None:
        self.fraction = max(self.fraction, min(1.0, fraction))
        if self.sink is not None:
            self.sink(JobEvent("progress", self.fraction, message))

    def log(self, message: str) -> None:
        if self.sink is not None:
            self.sink(JobEvent("log", self.fraction, message))

    def workdir(self, path: Path) -> None:
        if self.sink is not None:
            self.sink(JobEvent("workdir", self.fraction, str(path)))


def run_recipe(
    recipe: Recipe,
    *,
    registry: ModelRegistry | None = None,
    on_event: Callable[[JobEvent], None] | None = None,
    cancel: CancelToken | None = None,
) -> RunResult:
    """Run the recipe to the end; raises SegviewError (Cancelled when cancelled) with nothing written."""
    started = time.perf_counter()
    recipe.validate()
    cancel = cancel or CancelToken()
    events = _Events(on_event)
    registry = registry or ModelRegistry()
    entry = registry.resolve(recipe.model)
    source_model = load_onnx(entry.path, external_data=True)  # external data from the model's folder, not the current one
    try:
        source_bytes = entry.path.read_bytes()
    except OSError as exc:
        raise ModelError(f"cannot read model file {entry.path}: {exc.strerror or exc}") from None
    card = entry.card
    target = output_path(recipe, entry)
    if target.resolve() == entry.path.resolve():
        raise CompressionError(f"the output {target} is the source model itself; choose another name or folder")
    folder = target.parent
    created = missing_folders(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        workdir = Path(tempfile.mkdtemp(prefix=WORKDIR_PREFIX, dir=folder))
    except OSError as exc:
        remove_empty_folders(created)
        raise SegviewError(f"cannot write into {folder}: {exc.strerror or exc}") from None
    events.workdir(workdir)
    finished = False
    # SIGTERM unwinds like Ctrl+C, and onnxruntime's own temporary folders (ort.quant.*) go into
    # the work folder: whatever ends the run, the finally below leaves nothing behind.
    with raise_on_signals(), _temporary_files_in(workdir):
        try:
            events.progress(0.0, f"compressing {entry.name}")
            calibration = _calibration(recipe, cancel, events)
            model, records = _run_steps(recipe, source_model, card, workdir, calibration, cancel, events)
            result = _finish(recipe, entry, source_bytes, model, records, target, workdir, calibration, registry, cancel, events, started)
            finished = True
            return result
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
            if not finished:
                remove_empty_folders(created)  # a failed run leaves no output folder it made


@contextmanager
def _temporary_files_in(folder: Path) -> Iterator[None]:
    previous = tempfile.tempdir
    tempfile.tempdir = str(folder)
    try:
        yield
    finally:
        tempfile.tempdir = previous


def output_path(recipe: Recipe, entry: ModelEntry) -> Path:
    """The .onnx file the recipe writes: --out as a file, or a file named after the source and the steps in --out."""
    out = Path(recipe.out).expanduser() if recipe.out else default_output_dir()
    if out.suffix.lower() == ".onnx":
        return out.with_name(f"{recipe.name}.onnx") if recipe.name else out
    name = recipe.name or "-".join([_plain(entry.card.name), *(s.step.suffix(s.config) for s in recipe.steps)])
    return out / f"{name}.onnx"


def _plain(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-") or "model"


def _calibration(recipe: Recipe, cancel: CancelToken, events: _Events) -> CalibrationSet | None:
    if recipe.calibration is None:
        return None
    spec = recipe.calibration
    events.progress(0.0, f"reading calibration frames from {spec.source}")
    calibration = load_calibration(spec, cancel=cancel, progress=lambda done, total: events.progress(_LOAD * done / max(1, total), f"calibration frames {done}/{total}"))
    events.log(f"{len(calibration.calibration_frames)} calibration frames, {len(calibration.held_out_frames)} held out for measuring")
    return calibration


def _run_steps(recipe, source_model, card, workdir, calibration, cancel, events) -> tuple[onnx.ModelProto, list[dict[str, Any]]]:
    model = source_model
    records = []
    share = _STEPS / len(recipe.steps)
    for i, spec in enumerate(recipe.steps):
        cancel.check()
        step = spec.step
        base = _LOAD + i * share
        step.check(model, spec.config)
        events.log(f"step {i + 1}/{len(recipe.steps)}: {step.title}")
        ctx = StepContext(
            card=card,
            workdir=workdir,
            cancel=cancel,
            calibration=calibration,
            source=source_model,
            progress=lambda f, m, base=base, name=step.name: events.progress(base + share * min(1.0, max(0.0, f)), f"{name}: {m}"),
            log=lambda m, name=step.name: events.log(f"{name}: {m}"),
        )
        t0 = time.perf_counter()
        # The step gets its own copy: whatever it does to it, the previous model stays as it was.
        output = step.apply(graph.copy_model(model), spec.config, ctx)
        cancel.check()
        graph.session(output.model)  # a step must hand on a model onnxruntime can load
        records.append({"step": step.name, "title": step.title, "config": spec.config.to_json_dict(), "notes": output.notes, "seconds": round(time.perf_counter() - t0, 2)})
        model = output.model
    return model, records


def _finish(recipe, entry, source_bytes, model, records, target, workdir, calibration, registry, cancel, events, started) -> RunResult:
    card: ModelCard = entry.card
    name = target.stem
    card_data = _card_json(card, entry, name, records)
    model = graph.copy_model(model)
    _set_metadata_card(model, card_data)
    data = graph.model_bytes(model)
    staged = workdir / target.name
    _write(staged, data, target)
    # describe_model reads the card beside the file: write a provisional one, so the result is checked as the registry will see it.
    _write(card_path_for(staged), _json_bytes(card_data), target)
    try:
        describe_model(staged)
    except ModelError as exc:
        raise CompressionError(f"the result is not a usable model: {exc}") from None

    events.progress(_LOAD + _STEPS, "measuring")
    frames, frames_on = _measure_frames(recipe, calibration, card, cancel)
    source_path = entry.path
    # Any frame will do for timing; a grey one when no frames could be found.
    tensor = Preprocessor(card)(frames[0] if frames else np.full((card.height, card.width, 3), 128, np.uint8))
    latencies = []
    threads_list = recipe.measure.threads or (1,)
    for k, threads in enumerate(threads_list):
        cancel.check()
        events.progress(0.75 + 0.15 * k / len(threads_list), f"latency side by side ({'default' if threads == 0 else threads} threads)")
        latencies.append(measure.measure_latency(source_path, staged, card, tensor, threads=threads, options=recipe.measure, cancel=cancel))
    events.progress(0.9, "IoU against the source's masks")
    src_session = SegmentationSession(source_path, card, SessionOptions(threads=1))
    res_session = SegmentationSession(staged, card, SessionOptions(threads=1))
    agreement = measure.agreement_iou(src_session, res_session, frames, cancel=cancel) if frames else None
    truth = None
    if recipe.eval_images and recipe.eval_masks:
        cancel.check()
        events.progress(0.93, "IoU against ground truth")
        truth = measure.ground_truth(src_session, res_session, Path(recipe.eval_images).expanduser(), Path(recipe.eval_masks).expanduser())
    cancel.check()

    file_bytes, zip_bytes = measure.sizes(data, target.name)
    source_file_bytes, source_zip_bytes = measure.sizes(source_bytes, entry.path.name)
    source_sha = graph.sha256_bytes(source_bytes)
    report = CompressionReport(
        name=name,
        file=target.name,
        source_name=card.name,
        source_file=str(entry.path),
        source_sha256=source_sha,
        steps=records,
        file_bytes=file_bytes,
        zip_bytes=zip_bytes,
        source_file_bytes=source_file_bytes,
        source_zip_bytes=source_zip_bytes,
        latency=latencies,
        agreement_iou=agreement,
        agreement_frames=len(frames),
        agreement_on=frames_on,
        calibration=None
        if calibration is None
        else {"source": calibration.source, "frames": len(calibration.calibration_frames), "held_out": len(calibration.held_out_frames)},
        ground_truth=truth,
        machine=machine_info(),
        created=_dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        recipe=recipe.to_json_dict(),
        seconds=time.perf_counter() - started,
    )
    card_data["compression"]["measured"] = _measured(report)
    card_data["sha256"] = graph.sha256_bytes(data)
    events.progress(0.97, "writing")
    report_file = report_path_for(staged)
    chart_file = chart_path_for(workdir, _plain(card.name))
    chart_target = chart_path_for(target.parent, _plain(card.name))
    _write(card_path_for(staged), _json_bytes(card_data), target)
    _write(report_file, _json_bytes(report.to_json_dict()), target)
    siblings = chart.variant_reports(target.parent, source_sha, warn=lambda m: events.log(f"warning: {m}"))
    variants = [r for r in siblings if r.name != name] + [report]
    points, accuracy = chart.points_from_reports(variants)
    image = chart.render(points, accuracy_label=accuracy, title=f"{card.name} and its compressed variants (green: Pareto front, circled: newest)", highlight=name)
    _write(chart_file, chart.encode_png(image), target)
    cancel.check()
    # The model goes last: the registry lists *.onnx, and its card must already be beside it.
    moves = [(card_path_for(staged), card_path_for(target)), (report_file, report_path_for(target)), (chart_file, chart_target), (staged, target)]
    _commit(moves, workdir)
    try:
        registry.add_file(target)
    except ModelError as exc:  # written and valid a moment ago; say so rather than fail the whole job
        events.log(f"registered nothing: {exc}")
    events.progress(1.0, f"wrote {target}")
    return RunResult(target, card_path_for(target), report_path_for(target), chart_target, report)


def _measure_frames(recipe: Recipe, calibration: CalibrationSet | None, card: ModelCard, cancel: CancelToken) -> tuple[list, str]:
    count = recipe.measure.agreement_frames
    if calibration is not None and calibration.held_out_frames:
        return list(calibration.held_out_frames[:count]), "held-out calibration frames"
    if recipe.eval_images:
        return read_frames(str(Path(recipe.eval_images).expanduser()), count, cancel=cancel), "evaluation images"
    try:
        return read_frames("demo", count, cancel=cancel), "frames of the demo clip"
    except DataError:
        return [], "no frames"


def _card_json(card: ModelCard, entry: ModelEntry, name: str, records: list[dict[str, Any]]) -> dict[str, Any]:
    data = card.to_json_dict()
    source_sha = data.pop("sha256", None)
    source_made_by = data.pop("made_by", None)
    data.pop("compression", None)
    titles = " + ".join(r["title"] for r in records)
    data["name"] = name
    data["title"] = f"{card.title or card.name}, {titles}"
    data["source"] = f"{entry.path.name} ({card.source or card.name}), compressed by segview compress"
    data["made_by"] = {"tool": "segview compress", "onnx": onnx.__version__, "onnxruntime": ort.__version__}
    data["compression"] = {
        "source_model": card.name,
        "source_file": entry.path.name,
        "source_sha256": source_sha,
        "source_made_by": source_made_by,
        "steps": [{"step": r["step"], "config": r["config"]} for r in records],
        "report": f"{name}.report.json",
    }
    # The bundled cards' key order, so a compressed card reads like its source's.
    first = ("name", "title", "task", "source", "license", "license_holder", "input", "output", "made_by", "compression")
    return {**{k: data[k] for k in first if k in data}, **{k: v for k, v in data.items() if k not in first}}


def _measured(report: CompressionReport) -> dict[str, Any]:
    out: dict[str, Any] = {
        "file_bytes": report.file_bytes,
        "zip_bytes": report.zip_bytes,
        "size_ratio": round(report.size_ratio, 4),
        "zip_ratio_to_source_file": round(report.zip_ratio, 4),
        "latency": [lat.to_json_dict() for lat in report.latency],
        "iou_vs_source_masks": None if report.agreement_iou is None else round(report.agreement_iou, 6),
        "iou_vs_source_masks_on": f"{report.agreement_frames} {report.agreement_on}",
    }
    if report.ground_truth is not None:
        out["ground_truth"] = report.ground_truth.to_json_dict()
    return out


def _set_metadata_card(model: onnx.ModelProto, card_data: dict[str, Any]) -> None:
    """The card also travels inside the file, so the model describes itself wherever it is copied."""
    embedded = {k: v for k, v in card_data.items() if k != "compression"}
    embedded["compression"] = {k: v for k, v in card_data["compression"].items() if k != "measured"}
    for i, prop in enumerate(model.metadata_props):
        if prop.key == METADATA_CARD_KEY:
            del model.metadata_props[i]
            break
    entry = model.metadata_props.add()
    entry.key = METADATA_CARD_KEY
    entry.value = json.dumps(embedded, sort_keys=True)


def _json_bytes(data: Any) -> bytes:
    return (json.dumps(data, indent=2, allow_nan=False, default=_jsonable) + "\n").encode("utf-8")


def _jsonable(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def write_file(path: Path, data: bytes) -> None:
    """Write and flush to disk (a module-level function so tests can make the disk full)."""
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _write(path: Path, data: bytes, target: Path) -> None:
    try:
        write_file(path, data)
    except OSError as exc:
        raise SegviewError(f"cannot write {path.name} into {target.parent}: {exc.strerror or exc}") from None


def _commit(moves: list[tuple[Path, Path]], workdir: Path) -> None:
    """Move each staged file into place; if one move fails, undo the others and put back what they replaced."""
    done: list[Path] = []
    backups: list[tuple[Path, Path]] = []
    try:
        for staged, final in moves:
            if final.exists():
                backup = workdir / f"{final.name}.previous"
                os.replace(final, backup)
                backups.append((backup, final))
            os.replace(staged, final)
            done.append(final)
    except BaseException as exc:  # a full disk, or a signal between two moves: all or nothing either way
        for final in done:
            final.unlink(missing_ok=True)
        for backup, final in backups:
            try:
                os.replace(backup, final)
            except OSError:
                pass
        if isinstance(exc, OSError):
            raise SegviewError(f"cannot write into {moves[0][1].parent}: {exc.strerror or exc}") from None
        raise
