"""``segview eval``: mean IoU of a model against labelled masks."""

from __future__ import annotations

import argparse
from pathlib import Path

from segview.cli.options import add_runtime_options
from segview.cli.progress import ProgressBar
from segview.evaluation import evaluate
from segview.fileio import atomic_write_json
from segview.inference.registry import DEFAULT_MODEL, ModelRegistry
from segview.inference.session import SegmentationSession, SessionOptions


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("eval", help="mean IoU of a model against 0/255 mask PNGs")
    p.add_argument("--model", default=DEFAULT_MODEL, help="model name or .onnx path (default: selfie-general)")
    p.add_argument("--images", type=Path, required=True, help="folder of images")
    p.add_argument("--masks", type=Path, required=True, help="folder of masks with the same file stems")
    p.add_argument("--json", type=Path, default=None, metavar="FILE", help="also write the results as JSON")
    add_runtime_options(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    entry = ModelRegistry().resolve(args.model)
    # Two images are scored at once, one thread each, unless told otherwise.
    session = SegmentationSession(entry.path, entry.card, SessionOptions(provider=args.provider, threads=args.threads or 1))
    progress = ProgressBar("eval")
    report = evaluate(session, args.images, args.masks, progress=progress)
    progress.close()
    print(f"model {report.model}  images {report.images}  mean IoU {report.mean_iou:.4f}")
    if report.per_class_iou:
        for name, value in report.per_class_iou.items():
            print(f"  {name}: {'n/a' if value is None else f'{value:.4f}'}")
    if report.skipped:
        print(f"skipped {len(report.skipped)}: {', '.join(report.skipped[:5])}{' ...' if len(report.skipped) > 5 else ''}")
    if args.json is not None:
        atomic_write_json(args.json, report.as_dict())
    return 0
