"""``segview compress``: FP16, INT8, pruning and weight sharing, each result measured against its source.

The same recipe and runner as the studio's wizard: ``--recipe FILE`` replays a
recipe the wizard saved.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from segview.cli.numbers import real, thread_list, whole
from segview.compress.calibration import CalibrationSpec
from segview.compress.int8_note import int8_note, makes_int8
from segview.compress.measure import MeasureOptions
from segview.compress.paths import default_output_dir
from segview.compress.recipe import Recipe, StepSpec
from segview.compress.runner import JobEvent, run_recipe
from segview.compress.step import all_steps, describe_options, parse_step_text
from segview.errors import SegviewError
from segview.fileio import atomic_write_json
from segview.inference.registry import ModelRegistry, default_search_dirs


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "compress",
        help="compress a model (fp16, int8, pruning, weight sharing) and measure the result against it",
        description="Chain compression steps on a model; write the result with its card, report and Pareto chart. "
        "STEP is a name with optional options, e.g. int8-auto:max_iou_drop=0.02 or cluster:clusters=16 (see --list-steps).",
    )
    p.add_argument("--model", help="model name or .onnx path")
    p.add_argument("--step", action="append", default=[], metavar="STEP", help="a compression step; repeat to chain them in order")
    p.add_argument("--calib", metavar="SRC", help="calibration frames: an image folder, a video file, or a live source (camera:0, demo)")
    p.add_argument("--calib-frames", type=whole(1, 1_000_000), default=100, metavar="N", help="at most N calibration frames (default 100)")
    p.add_argument(
        "--held-out", type=real(0.0, 0.95), default=0.3, metavar="F", help="share of calibration frames kept out of calibration to measure on (default 0.3)"
    )
    p.add_argument("--eval-images", type=Path, metavar="DIR", help="labelled images: also report IoU against ground truth")
    p.add_argument("--eval-masks", type=Path, metavar="DIR", help="0/255 masks with the images' file names")
    p.add_argument("--out", metavar="PATH", help=f"output folder or .onnx file (default: {default_output_dir()})")
    p.add_argument("--name", help="name of the result (default: the source's name and the steps, e.g. selfie-general-int8)")
    p.add_argument("--recipe", type=Path, metavar="FILE", help="run a saved recipe (JSON); --out overrides its output")
    p.add_argument("--save-recipe", type=Path, metavar="FILE", help="also save this run's recipe as JSON")
    p.add_argument("--rounds", type=whole(1, 10_000), default=None, metavar="N", help="latency: alternating rounds per model (default 15)")
    p.add_argument("--runs", type=whole(1, 1_000_000), default=None, metavar="N", help="latency: runs per round (default 20)")
    p.add_argument(
        "--threads",
        type=thread_list,
        default=None,
        metavar="LIST",
        help="latency: thread counts to measure, comma-separated, 0 = onnxruntime's default (default 1,0)",
    )
    p.add_argument("--json", type=Path, metavar="FILE", help="also write the report as JSON here")
    p.add_argument("--list-steps", action="store_true", help="list the steps and their options, then exit")
    p.add_argument("--verbose", action="store_true", help="print the job's log on stderr")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.list_steps:
        _list_steps()
        return 0
    recipe = _recipe(args)
    if args.save_recipe is not None:
        recipe.save(args.save_recipe)
    # Before any work: the chain checked against the model's weights, and a result name no other model has.
    registry = ModelRegistry()
    recipe = recipe.settled(registry)
    status = _Status(verbose=args.verbose)
    try:
        result = run_recipe(recipe, registry=registry, on_event=status)
    finally:
        status.close()
    for line in result.report.summary_lines():
        print(line)
    print(f"wrote {result.model_path}")
    print(f"  card {result.card_path.name}, report {result.report_path.name}, chart {result.chart_path.name}")
    folder = result.model_path.parent.resolve()
    if folder not in {d.expanduser().resolve() for d in default_search_dirs()}:
        print(f"  (segview finds it by path; to list it by name, add {folder} to $SEGVIEW_MODEL_PATH)")
    if args.json is not None:
        atomic_write_json(args.json, result.report.to_json_dict())
    return 0


def _recipe(args: argparse.Namespace) -> Recipe:
    if args.recipe is not None:
        recipe = Recipe.load(args.recipe)
        if args.out:
            recipe = Recipe(**{**{f: getattr(recipe, f) for f in recipe.__dataclass_fields__}, "out": args.out})
        return recipe
    if not args.model:
        raise SegviewError("compress needs --model (or --recipe FILE)")
    if not args.step:
        raise SegviewError("compress needs at least one --step (see 'segview compress --list-steps')")
    steps = []
    for text in args.step:
        step, config = parse_step_text(text)
        steps.append(StepSpec(step.name, config))
    base = MeasureOptions()
    measure = MeasureOptions(
        rounds=args.rounds or base.rounds,
        runs_per_round=args.runs or base.runs_per_round,
        warmup=base.warmup,
        threads=args.threads or base.threads,
        agreement_frames=base.agreement_frames,
    )
    calibration = CalibrationSpec(args.calib, max_frames=args.calib_frames, held_out=args.held_out) if args.calib else None
    if calibration is not None:
        calibration.validate()
    recipe = Recipe(
        model=args.model,
        steps=tuple(steps),
        calibration=calibration,
        eval_images=str(args.eval_images) if args.eval_images else None,
        eval_masks=str(args.eval_masks) if args.eval_masks else None,
        out=args.out,
        name=args.name,
        measure=measure,
    )
    recipe.validate()
    return recipe


def _list_steps() -> None:
    for step in all_steps():
        calib = " (needs --calib)" if step.needs_calibration else ""
        print(f"{step.name}{calib}: {step.description}")
        if makes_int8(step):
            print(f"  note: {int8_note()}")
        for name, kind, default, help_text in describe_options(step):
            shown = ",".join(default) if isinstance(default, tuple) else default
            print(f"    {name}={shown}  ({kind})" + (f": {help_text}" if help_text else ""))


class _Status:
    """A one-line progress display on a terminal; log lines only with --verbose. Quiet when stderr is a pipe."""

    def __init__(self, *, verbose: bool) -> None:
        self.verbose = verbose
        self.tty = sys.stderr.isatty()
        self._drawn = False

    def __call__(self, event: JobEvent) -> None:
        if event.kind == "log" and (self.verbose or event.message.startswith("warning: ")):
            self._clear()
            print(event.message if self.verbose else f"segview: {event.message}", file=sys.stderr)
        if event.kind == "progress" and self.tty:
            width = 30
            filled = int(round(width * event.fraction))
            text = f"\rcompress [{'#' * filled}{'-' * (width - filled)}] {event.fraction:4.0%} {event.message[:60]}"
            sys.stderr.write(text.ljust(110))
            sys.stderr.flush()
            self._drawn = True

    def _clear(self) -> None:
        if self._drawn:
            sys.stderr.write("\r\033[K")
            self._drawn = False

    def close(self) -> None:
        self._clear()
        sys.stderr.flush()
