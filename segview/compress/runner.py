"""Running a recipe: steps in a chain, then measurement, then an all-or-nothing write.

Everything is built in a hidden work folder inside the output folder (same
file system, so the final renames are atomic); the model, its card, its report
and its chart are moved into place only when all of them exist, and restored
to what was there before if a move fails. A cancel, a failing step or a full
disk leaves the output folder as it was and the source untouched.

A run goes in stages, each a method of :class:`CompressionRun`: the steps, *stage*
(the result and a provisional card into the work folder, checked as the registry
will load it), *measure* (against the source), *report* (report, final card and
chart into the work folder) and *commit* (all of it into place, then registered).
"""

from __future__ import annotations

import datetime as _dt
import os
import re
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from segview.compress import chart, graph, measure
from segview.compress.calibration import CalibrationSet, load_calibration, read_frames
from segview.compress.events import JobEvent, JobEvents
from segview.compress.measure import Measurement
from segview.compress.paths import default_output_dir
from segview.compress.recipe import Recipe, StepSpec
from segview.compress.report import CompressionReport, chart_path_for, report_path_for
from segview.compress.result_card import card_json, embed_card, measured_json
from segview.compress.step import CancelToken, StepContext
from segview.compress.step_record import StepRecord
from segview.compress.workdir import WORKDIR_PREFIX, make_workdir, remove_stale_workdirs, temporary_files_in
from segview.errors import CompressionError, DataError, ModelError, SegviewError
from segview.fileio import missing_folders, move_all_into_place, remove_empty_folders
from segview.inference.card import ModelCard, card_path_for
from segview.inference.inspect import describe_model, load_onnx
from segview.inference.preprocess import Preprocessor
from segview.inference.registry import ModelEntry, ModelRegistry
from segview.inference.session import SegmentationSession, SessionOptions
from segview.interrupts import raise_on_signals
from segview.jsonsafe import json_bytes
from segview.metrics.process import machine_info

__all__ = ["WORKDIR_PREFIX", "CompressionRun", "JobEvent", "RunResult", "output_path", "run_recipe", "write_file"]

# Shares of the progress bar: calibration frames, the steps, then measuring.
_LOAD, _STEPS = 0.05, 0.70


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
        return cls(
            Path(data["model_path"]),
            Path(data["card_path"]),
            Path(data["report_path"]),
            Path(data["chart_path"]),
            CompressionReport.from_json_dict(data["report"]),
        )


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
    events = JobEvents(on_event)
    registry = registry or ModelRegistry()
    entry = registry.resolve(recipe.model)
    source_model, source_bytes = _read_source(entry)
    target = output_path(recipe, entry)
    if target.resolve() == entry.path.resolve():
        raise CompressionError(f"the output {target} is the source model itself; choose another name or folder")
    created = missing_folders(target.parent)
    finished = False
    workdir: Path | None = None
    # SIGTERM unwinds like Ctrl+C from before the work folder exists (a terminate that comes just as
    # it appears must still remove it), and onnxruntime's own temporary folders (ort.quant.*) go into
    # the work folder: whatever ends the run, the finally below leaves nothing behind.
    with raise_on_signals():
        try:
            workdir = _open_workdir(target.parent, created, events)
            job = CompressionRun(
                recipe=recipe,
                entry=entry,
                source_model=source_model,
                source_bytes=source_bytes,
                target=target,
                workdir=workdir,
                registry=registry,
                cancel=cancel or CancelToken(),
                events=events,
                started=started,
            )
            with temporary_files_in(workdir):
                result = job.run()
            finished = True
            return result
        finally:
            if workdir is not None:
                shutil.rmtree(workdir, ignore_errors=True)
            if not finished:
                remove_empty_folders(created)  # a failed run leaves no output folder it made


def _read_source(entry: ModelEntry) -> tuple[onnx.ModelProto, bytes]:
    """The source as a graph (its external data read from the model's folder, not the current one) and as bytes."""
    model = load_onnx(entry.path, external_data=True)
    try:
        return model, entry.path.read_bytes()
    except OSError as exc:
        raise ModelError(f"cannot read model file {entry.path}: {exc.strerror or exc}") from None


def _open_workdir(folder: Path, created: list[Path], events: JobEvents) -> Path:
    """Make the output folder if needed, clear the work folders killed runs left in it, and make this run's."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for stale in remove_stale_workdirs(folder):
            events.log(f"removed {stale.name}, left in {folder} by a compression that was killed")
        workdir = make_workdir(folder)
    except OSError as exc:
        remove_empty_folders(created)
        raise SegviewError(f"cannot write into {folder}: {exc.strerror or exc}") from None
    events.workdir(workdir)
    return workdir


def output_path(recipe: Recipe, entry: ModelEntry) -> Path:
    """The .onnx file the recipe writes: --out as a file, or a file named after the source and the steps in --out."""
    out = Path(recipe.out).expanduser() if recipe.out else default_output_dir()
    if out.suffix.lower() == ".onnx":
        return out.with_name(f"{recipe.name}.onnx") if recipe.name else out
    name = recipe.name or "-".join([_plain(entry.card.name), *(s.step.suffix(s.config) for s in recipe.steps)])
    return out / f"{name}.onnx"


def _plain(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-") or "model"


@dataclass(slots=True)
class _Staged:
    """The result in the work folder: the model file, its bytes, and its card (completed by the report stage)."""

    model_file: Path
    model_bytes: bytes
    card_data: dict[str, Any]
    records: list[StepRecord]

    @property
    def card_file(self) -> Path:
        return card_path_for(self.model_file)


@dataclass(kw_only=True)
class CompressionRun:
    """One run of a recipe, in stages; all it writes goes into ``workdir`` until :meth:`commit`."""

    recipe: Recipe
    entry: ModelEntry
    source_model: onnx.ModelProto
    source_bytes: bytes
    target: Path
    workdir: Path
    registry: ModelRegistry
    cancel: CancelToken
    events: JobEvents
    started: float  # time.perf_counter() when the run began, for the report's seconds
    calibration: CalibrationSet | None = field(default=None, init=False)

    @property
    def card(self) -> ModelCard:
        return self.entry.card

    def run(self) -> RunResult:
        self.events.progress(0.0, f"compressing {self.entry.name}")
        self.calibration = self.load_calibration()
        model, records = self.run_steps()
        staged = self.stage(model, records)
        report = self.report(staged, self.measure(staged))
        return self.commit(staged, report)

    def load_calibration(self) -> CalibrationSet | None:
        spec = self.recipe.calibration
        if spec is None:
            return None
        events = self.events
        events.progress(0.0, f"reading calibration frames from {spec.source}")
        calibration = load_calibration(
            spec, cancel=self.cancel, progress=lambda done, total: events.progress(_LOAD * done / max(1, total), f"calibration frames {done}/{total}")
        )
        events.log(f"{len(calibration.calibration_frames)} calibration frames, {len(calibration.held_out_frames)} held out for measuring")
        return calibration

    def run_steps(self) -> tuple[onnx.ModelProto, list[StepRecord]]:
        """Each step on the previous one's result; every result must load in onnxruntime."""
        model = self.source_model
        records = []
        for i, spec in enumerate(self.recipe.steps):
            self.cancel.check()
            step = spec.step
            step.check(model, spec.config)
            self.events.log(f"step {i + 1}/{len(self.recipe.steps)}: {step.title}")
            t0 = time.perf_counter()
            # The step gets its own copy: whatever it does to it, the previous model stays as it was.
            output = step.apply(graph.copy_model(model), spec.config, self._step_context(i, spec))
            self.cancel.check()
            graph.session(output.model)  # a step must hand on a model onnxruntime can load
            records.append(StepRecord(step.name, step.title, spec.config.to_json_dict(), output.notes, round(time.perf_counter() - t0, 2)))
            model = output.model
        return model, records

    def _step_context(self, index: int, spec: StepSpec) -> StepContext:
        share = _STEPS / len(self.recipe.steps)
        base, name, events = _LOAD + index * share, spec.step.name, self.events
        return StepContext(
            card=self.card,
            workdir=self.workdir,
            cancel=self.cancel,
            calibration=self.calibration,
            source=self.source_model,
            progress=lambda f, m: events.progress(base + share * min(1.0, max(0.0, f)), f"{name}: {m}"),
            log=lambda m: events.log(f"{name}: {m}"),
        )

    def stage(self, model: onnx.ModelProto, records: list[StepRecord]) -> _Staged:
        """Write the result and a provisional card into the work folder, and check it loads as a segmentation model."""
        card_data = card_json(self.card, self.entry.path.name, self.target.stem, records)
        model = graph.copy_model(model)
        embed_card(model, card_data)
        staged = _Staged(self.workdir / self.target.name, graph.model_bytes(model), card_data, records)
        _write(staged.model_file, staged.model_bytes, self.target)
        # describe_model reads the card beside the file: a provisional one, so the result is checked as the registry will see it.
        _write(staged.card_file, json_bytes(card_data), self.target)
        try:
            describe_model(staged.model_file)
        except ModelError as exc:
            raise CompressionError(f"the result is not a usable model: {exc}") from None
        return staged

    def measure(self, staged: _Staged) -> Measurement:
        """The staged result against its source: latency side by side, mask agreement, and ground truth if given."""
        recipe, card, cancel, events = self.recipe, self.card, self.cancel, self.events
        events.progress(_LOAD + _STEPS, "measuring")
        frames, frames_on = _measure_frames(recipe, self.calibration, cancel)
        # Any frame will do for timing; a grey one when no frames could be found.
        tensor = Preprocessor(card)(frames[0] if frames else np.full((card.height, card.width, 3), 128, np.uint8))
        latencies = []
        threads_list = recipe.measure.threads or (1,)
        for k, threads in enumerate(threads_list):
            cancel.check()
            events.progress(0.75 + 0.15 * k / len(threads_list), f"latency side by side ({'default' if threads == 0 else threads} threads)")
            latencies.append(measure.measure_latency(self.entry.path, staged.model_file, card, tensor, threads=threads, options=recipe.measure, cancel=cancel))
        events.progress(0.9, "IoU against the source's masks")
        src_session = SegmentationSession(self.entry.path, card, SessionOptions(threads=1))
        res_session = SegmentationSession(staged.model_file, card, SessionOptions(threads=1))
        agreement = measure.agreement_iou(src_session, res_session, frames, cancel=cancel) if frames else None
        truth = None
        if recipe.eval_images and recipe.eval_masks:
            cancel.check()
            events.progress(0.93, "IoU against ground truth")
            truth = measure.ground_truth(src_session, res_session, Path(recipe.eval_images).expanduser(), Path(recipe.eval_masks).expanduser())
        cancel.check()
        return Measurement(latencies, agreement, len(frames), frames_on, truth)

    def report(self, staged: _Staged, measured: Measurement) -> CompressionReport:
        """Write the report, the final card and the Pareto chart into the work folder."""
        report = self._report_of(staged, measured)
        staged.card_data["compression"]["measured"] = measured_json(report)
        staged.card_data["sha256"] = graph.sha256_bytes(staged.model_bytes)
        self.events.progress(0.97, "writing")
        _write(staged.card_file, json_bytes(staged.card_data), self.target)
        _write(report_path_for(staged.model_file), json_bytes(report.to_json_dict()), self.target)
        siblings = chart.variant_reports(self.target.parent, report.source_sha256, warn=lambda m: self.events.log(f"warning: {m}"))
        points, accuracy = chart.points_from_reports([r for r in siblings if r.name != report.name] + [report])
        title = f"{self.card.name} and its compressed variants (green: Pareto front, circled: newest)"
        image = chart.render(points, accuracy_label=accuracy, title=title, highlight=report.name)
        _write(chart_path_for(self.workdir, _plain(self.card.name)), chart.encode_png(image), self.target)
        self.cancel.check()
        return report

    def _report_of(self, staged: _Staged, measured: Measurement) -> CompressionReport:
        file_bytes, zip_bytes = measure.sizes(staged.model_bytes, self.target.name)
        source_file_bytes, source_zip_bytes = measure.sizes(self.source_bytes, self.entry.path.name)
        calibration = self.calibration
        return CompressionReport(
            name=self.target.stem,
            file=self.target.name,
            source_name=self.card.name,
            source_file=str(self.entry.path),
            source_sha256=graph.sha256_bytes(self.source_bytes),
            steps=staged.records,
            file_bytes=file_bytes,
            zip_bytes=zip_bytes,
            source_file_bytes=source_file_bytes,
            source_zip_bytes=source_zip_bytes,
            latency=measured.latency,
            agreement_iou=measured.agreement_iou,
            agreement_frames=measured.agreement_frames,
            agreement_on=measured.agreement_on,
            calibration=None
            if calibration is None
            else {"source": calibration.source, "frames": len(calibration.calibration_frames), "held_out": len(calibration.held_out_frames)},
            ground_truth=measured.ground_truth,
            machine=machine_info(),
            created=_dt.datetime.now().astimezone().isoformat(timespec="seconds"),
            recipe=self.recipe.to_json_dict(),
            seconds=time.perf_counter() - self.started,
        )

    def commit(self, staged: _Staged, report: CompressionReport) -> RunResult:
        """Move everything staged into place, all or nothing, and register the result."""
        target, chart_name = self.target, _plain(self.card.name)
        chart_target = chart_path_for(target.parent, chart_name)
        # The model goes last: the registry lists *.onnx, and its card must already be beside it.
        _commit(
            [
                (staged.card_file, card_path_for(target)),
                (report_path_for(staged.model_file), report_path_for(target)),
                (chart_path_for(self.workdir, chart_name), chart_target),
                (staged.model_file, target),
            ]
        )
        try:
            self.registry.add_file(target)
        except ModelError as exc:  # written and valid a moment ago; say so rather than fail the whole job
            self.events.log(f"registered nothing: {exc}")
        self.events.progress(1.0, f"wrote {target}")
        return RunResult(target, card_path_for(target), report_path_for(target), chart_target, report)


def _measure_frames(recipe: Recipe, calibration: CalibrationSet | None, cancel: CancelToken) -> tuple[list, str]:
    count = recipe.measure.agreement_frames
    if calibration is not None and calibration.held_out_frames:
        return list(calibration.held_out_frames[:count]), "held-out calibration frames"
    if recipe.eval_images:
        return read_frames(str(Path(recipe.eval_images).expanduser()), count, cancel=cancel), "evaluation images"
    try:
        return read_frames("demo", count, cancel=cancel), "frames of the demo clip"
    except DataError:
        return [], "no frames"


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


def _commit(moves: list[tuple[Path, Path]]) -> None:
    """Move each staged file into place; if one move fails, the others are undone and what they replaced is put back."""
    try:
        move_all_into_place(moves)
    except OSError as exc:  # a full disk; a signal between two moves is undone too, and goes on as it is
        raise SegviewError(f"cannot write into {moves[0][1].parent}: {exc.strerror or exc}") from None
