"""``segview eval``: mean IoU of one or more models against labelled masks, in one table."""

from __future__ import annotations

import argparse
from pathlib import Path

from segview.cli.options import add_runtime_options, default_model_list, refuse_twin_models
from segview.cli.progress import ProgressBar
from segview.cli.table import print_table
from segview.evaluation import EvalReport, evaluate_models
from segview.fileio import atomic_write_json
from segview.inference.registry import ModelRegistry
from segview.inference.session import SegmentationSession, SessionOptions


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "eval",
        help="mean IoU of models against labelled masks",
        description="Mean IoU of each model against masks that share the images' file stems. A mask is person where it is at "
        "least half its range (128 and above in 8 bits, so JPEG-saved and anti-aliased masks read right), or holds class indices "
        "(every value below the model's class count); a colour mask is read by its luminance, an RGBA mask of one colour by its "
        "alpha. Two masks for one image, or a mask of another aspect ratio than its image, are refused.",
    )
    p.add_argument("--model", action="append", dest="models", metavar="MODEL", help="model name or .onnx path; repeat to compare (default: selfie-general)")
    p.add_argument("--images", type=Path, required=True, help="folder of images")
    p.add_argument("--masks", type=Path, required=True, help="folder of masks with the same file stems (person: 128 and above of 255; or class indices)")
    p.add_argument("--json", type=Path, default=None, metavar="FILE", help="also write the results as JSON: {images, masks, models: [one report per model]}")
    add_runtime_options(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    registry = ModelRegistry()
    references = default_model_list(args.models)
    refuse_twin_models(registry, references)
    # Every model is opened before the first is scored, so a typo fails at once.
    entries = [registry.resolve(ref) for ref in references]
    # Two images are scored at once, one thread each, unless told otherwise.
    options = SessionOptions(provider=args.provider, threads=args.threads or 1)
    sessions = [SegmentationSession(e.path, e.card, options) for e in entries]
    progress = ProgressBar("eval", unit="images")
    try:
        reports = evaluate_models(sessions, args.images, args.masks, progress=progress)
    finally:
        progress.close()
    print_reports(reports)
    if args.json is not None:
        atomic_write_json(args.json, {"images": str(args.images), "masks": str(args.masks), "models": [r.as_dict() for r in reports]})
    return 0


def print_reports(reports: list[EvalReport]) -> None:
    classes = list(dict.fromkeys(name for r in reports for name in (r.per_class_iou or {})))
    rows = []
    for r in reports:
        per_class = r.per_class_iou or {}
        rows.append([r.model, r.images, f"{r.mean_iou:.4f}", *(_iou(per_class.get(name)) for name in classes)])
    print_table(["model", "images", "mean IoU", *(f"IoU {name}" for name in classes)], rows)
    skipped = list(dict.fromkeys(name for r in reports for name in r.skipped))
    if skipped:
        print(f"skipped {len(skipped)}: {', '.join(skipped[:5])}{' ...' if len(skipped) > 5 else ''}")


def _iou(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"
