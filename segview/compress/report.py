"""The report written beside every result (``NAME.report.json``), and reading them back for the Pareto chart."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from segview.compress.measure import GroundTruth, Latency
from segview.compress.step_record import StepRecord

REPORT_SUFFIX = ".report.json"
# One chart per source model and folder, redrawn whenever a variant is added: "<source>-variants.pareto.png".
CHART_SUFFIX = "-variants.pareto.png"


@dataclass(frozen=True, slots=True)
class CompressionReport:
    name: str
    file: str
    source_name: str
    source_file: str
    source_sha256: str
    steps: list[StepRecord]
    file_bytes: int
    zip_bytes: int
    source_file_bytes: int
    source_zip_bytes: int
    latency: list[Latency]
    agreement_iou: float | None
    agreement_frames: int
    agreement_on: str
    calibration: dict[str, Any] | None
    ground_truth: GroundTruth | None
    machine: dict[str, Any]
    created: str
    recipe: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def size_ratio(self) -> float:
        return self.file_bytes / self.source_file_bytes if self.source_file_bytes else float("nan")

    @property
    def zip_ratio(self) -> float:
        """Zip size against the source's file size (the thesis's measure)."""
        return self.zip_bytes / self.source_file_bytes if self.source_file_bytes else float("nan")

    def latency_for(self, threads: int) -> Latency | None:
        return next((lat for lat in self.latency if lat.threads == threads), None)

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "file": self.file,
            "source": {
                "name": self.source_name,
                "file": self.source_file,
                "sha256": self.source_sha256,
                "file_bytes": self.source_file_bytes,
                "zip_bytes": self.source_zip_bytes,
            },
            "steps": [s.to_json_dict() for s in self.steps],
            "file_bytes": self.file_bytes,
            "zip_bytes": self.zip_bytes,
            "size_ratio": round(self.size_ratio, 4),
            "zip_ratio_to_source_file": round(self.zip_ratio, 4),
            "latency": [lat.to_json_dict() for lat in self.latency],
            "agreement": {
                "iou_vs_source_masks": None if self.agreement_iou is None else round(self.agreement_iou, 6),
                "frames": self.agreement_frames,
                "on": self.agreement_on,
            },
            "calibration": self.calibration,
            "ground_truth": None if self.ground_truth is None else self.ground_truth.to_json_dict(),
            "machine": self.machine,
            "created": self.created,
            "seconds": round(self.seconds, 2),
            "recipe": self.recipe,
        }

    @classmethod
    def from_json_dict(cls, data: dict[str, Any]) -> CompressionReport:
        source = data["source"]
        agreement = data.get("agreement", {})
        gt = data.get("ground_truth")
        return cls(
            name=str(data["name"]),
            file=str(data["file"]),
            source_name=str(source["name"]),
            source_file=str(source["file"]),
            source_sha256=str(source.get("sha256", "")),
            steps=[StepRecord.from_json_dict(s) for s in data.get("steps", [])],
            file_bytes=int(data["file_bytes"]),
            zip_bytes=int(data["zip_bytes"]),
            source_file_bytes=int(source["file_bytes"]),
            source_zip_bytes=int(source["zip_bytes"]),
            latency=[Latency.from_json_dict(x) for x in data.get("latency", [])],
            agreement_iou=agreement.get("iou_vs_source_masks"),
            agreement_frames=int(agreement.get("frames", 0)),
            agreement_on=str(agreement.get("on", "")),
            calibration=data.get("calibration"),
            ground_truth=None if gt is None else GroundTruth.from_json_dict(gt),
            machine=dict(data.get("machine", {})),
            created=str(data.get("created", "")),
            recipe=dict(data.get("recipe", {})),
            seconds=float(data.get("seconds", 0.0)),
        )

    def summary_lines(self) -> list[str]:
        kib = 1024.0
        lines = [
            f"{self.name}  <- {self.source_name}  ({' + '.join(s.step for s in self.steps)})",
            f"  file {self.file_bytes / kib:.1f} KiB ({self.size_ratio:.0%} of source)   zip {self.zip_bytes / kib:.1f} KiB "
            f"({self.zip_ratio:.0%} of the source file; source zip {self.source_zip_bytes / kib:.1f} KiB)",
        ]
        for lat in self.latency:
            threads = "default threads" if lat.threads == 0 else f"{lat.threads} thread{'s' if lat.threads > 1 else ''}"
            lines.append(f"  latency ({threads}): source {lat.source_ms:.3f} ms, result {lat.result_ms:.3f} ms, speed-up {lat.speedup:.2f}x")
        besides = sorted({lat.beside for lat in self.latency if lat.beside})
        if besides:
            lines.append(f"  measured beside: {'; '.join(besides)}")
        if self.agreement_iou is not None:
            lines.append(f"  IoU against the source's masks: {self.agreement_iou:.4f} on {self.agreement_frames} {self.agreement_on}")
        if self.ground_truth is not None:
            gt = self.ground_truth
            lines.append(f"  IoU against ground truth ({gt.images} images): source {gt.source_iou:.4f}, result {gt.iou:.4f} ({-gt.drop_points:+.2f} points)")
        return lines


def report_path_for(model_path: Path) -> Path:
    return model_path.with_name(model_path.stem + REPORT_SUFFIX)


def chart_path_for(folder: Path, source_name: str) -> Path:
    return folder / f"{source_name}{CHART_SUFFIX}"


def load_report(path: Path) -> CompressionReport:
    return CompressionReport.from_json_dict(json.loads(path.read_text(encoding="utf-8")))
