"""``segview distill``: train a small student from a teacher on frames, export it with a card."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from pathlib import Path

from segview.cli.numbers import MAX_FRAMES, MAX_THREADS, WEEK_S, comma_items, real, whole
from segview.distill.availability import DistillError, require_torch
from segview.distill.config import ARCHS, HINT_KINDS, DataConfig, DistillConfig, LossConfig, SelectConfig, TrainConfig
from segview.interrupts import exit_status, stop_on_signals


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "distill",
        help="train a fast student model from a teacher on unlabeled frames (needs segview[distill])",
        description="Distil a teacher (any registered segmentation model) into a small student network, export it to ONNX with a model card and register it.",
    )
    # The groups are added in the order --help lists them.
    _add_student_options(p)
    frames = p.add_argument_group("frames (at least one)")
    _add_frame_options(frames)
    _add_composite_options(frames)
    _add_validation_options(frames)
    _add_selection_options(p.add_argument_group("unseen selection pool (sources the run never trains on)"))
    _add_training_options(p)
    _add_loss_options(p)
    _add_augment_options(p)
    _add_machine_options(p)
    _add_output_options(p)
    _add_process_options(p)
    p.set_defaults(handler=run, distill_parser=p)


def _add_student_options(p: argparse.ArgumentParser) -> None:
    """The teacher, and the student network: its architecture, width and input size."""
    # --teacher, --arch and --out are required unless --config-json gives the whole run (checked in run()).
    p.add_argument("--teacher", metavar="M", help="teacher: model name or .onnx path (required)")
    p.add_argument(
        "--arch",
        choices=ARCHS,
        help="student architecture: mobilenet, enet, rescaled (the teacher's own network at a lower --resolution, starting from its weights) or slim (rescaled without the teacher's squeeze-excite gates: faster at the same resolution)",
    )
    p.add_argument("--width", type=real(0.1, 4.0), default=1.0, metavar="W", help="width multiplier (default 1.0)")
    p.add_argument(
        "--slim-gates", type=_names, default=None, metavar="T1,T2", help="slim: remove only the squeeze-excite gates producing these tensors (default: all)"
    )
    p.add_argument("--slim-relu", action="store_true", help="slim: Relu instead of HardSwish (faster, starts further from the teacher)")
    p.add_argument(
        "--slim-skip-last-stage",
        action="store_true",
        help="slim: leave out the decoder's last, highest-resolution stage (the mask comes out at half the resolution; much faster)",
    )
    p.add_argument("--resolution", type=whole(32, 4096), default=160, metavar="R", help="student input side in pixels, a multiple of 16 (default 160)")


def _add_frame_options(src: argparse._ArgumentGroup) -> None:
    """The training pool: image folders, videos and recordings, how video is sampled, and the sources' licences."""
    src.add_argument("--images", type=Path, action="append", default=[], metavar="DIR", help="folder of images; repeatable")
    src.add_argument("--masks", type=Path, metavar="DIR", help="0/255 masks named like the (first folder's) images: adds cross-entropy on ground truth")
    src.add_argument("--video", action="append", default=[], metavar="FILE", help="a video file, or any source (camera:0, adb); repeatable")
    src.add_argument(
        "--recording", type=Path, action="append", default=[], metavar="SESSION_DIR", help="a segview recorded session folder: the video it holds; repeatable"
    )
    src.add_argument("--video-every", type=whole(1, 1_000_000), default=5, metavar="N", help="keep every Nth video frame (default 5)")
    src.add_argument("--video-frames", type=whole(1, MAX_FRAMES), default=400, metavar="N", help="at most N frames per video or live source (default 400)")
    src.add_argument(
        "--thin",
        type=real(0.0, 255.0),
        default=4.0,
        metavar="T",
        help="drop a video frame whose 32x32 grey thumbnail differs from the last kept one by less than T grey levels on average (default 4; 0 keeps all)",
    )
    src.add_argument(
        "--licence",
        type=_licence,
        action="append",
        default=[],
        metavar="NAME_OR_PATH=TEXT",
        help="the licence of a source, for the card (default: a LICENSE/NOTICE file in an image folder, else 'not stated'); repeatable",
    )


def _add_composite_options(src: argparse._ArgumentGroup) -> None:
    """Synthetic frames: the pool's people pasted over pictures without people."""
    src.add_argument(
        "--composites",
        type=whole(0, MAX_FRAMES),
        default=0,
        metavar="N",
        help="add N synthetic frames: people cut out of the pool with the teacher's masks, pasted over --backgrounds (default 0)",
    )
    src.add_argument(
        "--backgrounds", type=Path, action="append", default=[], metavar="DIR", help="folder of pictures without people for --composites; repeatable"
    )
    src.add_argument("--composite-seed", type=whole(0, 2**32 - 1), default=0, metavar="N", help="seed of the composites (default 0)")


def _add_validation_options(src: argparse._ArgumentGroup) -> None:
    src.add_argument("--val-images", type=Path, metavar="DIR", help="validation images that training never sees (default: every 10th frame)")
    src.add_argument("--val-masks", type=Path, metavar="DIR", help="masks for the validation images")


def _add_selection_options(sel: argparse._ArgumentGroup) -> None:
    """The unseen pool that picks the exported checkpoint, and how often both validation figures are scored."""
    sel.add_argument(
        "--select-images",
        type=Path,
        action="append",
        default=[],
        metavar="DIR",
        help="folder of frames scored by agreement with the teacher; the best-agreeing checkpoint is exported; repeatable",
    )
    sel.add_argument("--select-video", action="append", default=[], metavar="FILE", help="a video for the selection pool, read like --video; repeatable")
    sel.add_argument(
        "--validate-every",
        type=real(0.0, WEEK_S),
        default=30.0,
        metavar="S",
        help="score both validation figures every S seconds of training (default 30; and at the end)",
    )


def _add_training_options(p: argparse.ArgumentParser) -> None:
    """How long training runs, and its batch and learning rate."""
    length = p.add_mutually_exclusive_group()
    length.add_argument("--epochs", type=whole(1, 1_000_000), metavar="N", help="passes over the frames")
    length.add_argument("--minutes", type=real(0.0, WEEK_S / 60, low_open=True), metavar="T", help="wall-clock budget (default 10)")
    p.add_argument("--steps", type=whole(1, 1_000_000_000), metavar="N", help="stop after N steps at most (smoke runs)")
    p.add_argument("--batch-size", type=whole(1, 4096), default=16, metavar="N")
    p.add_argument("--lr", type=real(0.0, 10.0, low_open=True), default=3e-3, metavar="X", help="peak learning rate (default 3e-3)")


def _add_loss_options(p: argparse.ArgumentParser) -> None:
    """What the student learns from: the teacher's soft targets, ground truth, a teacher tensor."""
    p.add_argument("--temperature", type=real(0.0, 100.0, low_open=True), default=2.0, metavar="T", help="soft-target temperature (default 2)")
    p.add_argument("--hard-weight", type=real(0.0, 1000.0), default=1.0, metavar="X", help="weight of ground-truth cross-entropy (default 1)")
    p.add_argument("--hint", choices=HINT_KINDS, default="attention", help="transfer from a teacher tensor: attention maps (default), a FitNets hint, or none")
    p.add_argument("--hint-layer", metavar="TENSOR", help="teacher tensor for --hint (default: its deepest encoder tensor)")
    p.add_argument("--hint-weight", type=real(0.0, 1000.0), default=1.0, metavar="X")


def _add_augment_options(p: argparse.ArgumentParser) -> None:
    """How training frames are varied: random flips, crops and colour (unless --no-augment), and mosaics."""
    p.add_argument("--no-augment", action="store_true", help="train on the frames as they are")
    p.add_argument(
        "--mosaic",
        type=real(0.0, 1.0),
        default=0.0,
        metavar="P",
        help="chance that a training frame is a 2x2 mosaic of four crops, showing people smaller (default 0)",
    )


def _add_machine_options(p: argparse.ArgumentParser) -> None:
    """Where training runs, on how many threads, from which seed."""
    p.add_argument("--device", default="auto", help="auto (a GPU when present), cpu, cuda, cuda:1 ...")
    p.add_argument("--threads", type=whole(0, MAX_THREADS), default=2, metavar="N", help="CPU threads for PyTorch, 0 = its default (default 2)")
    p.add_argument("--seed", type=whole(0, 2**32 - 1), default=0)


def _add_output_options(p: argparse.ArgumentParser) -> None:
    """The exported student, its registry name, and the checkpoint a run saves, resumes or starts from."""
    p.add_argument("--out", type=Path, metavar="PATH", help="the student's .onnx file, its card beside it (required)")
    p.add_argument("--name", help="registry name (default: the file's stem)")
    p.add_argument("--checkpoint", type=Path, metavar="FILE", help="checkpoint file (default: beside --out, STEM.ckpt.pt)")
    p.add_argument("--resume", action="store_true", help="go on from the checkpoint")
    p.add_argument(
        "--init-from",
        type=Path,
        metavar="FILE",
        help="start from the student weights in another run's checkpoint (same architecture; the resolution may differ)",
    )


def _add_process_options(p: argparse.ArgumentParser) -> None:
    """How the studio runs distillation as a child process: the run as one JSON file, JSON lines out, 'cancel' in."""
    p.add_argument("--events", action="store_true", help="print JSON lines (stage, progress, finished) and stop on a 'cancel' line on stdin; for the studio")
    p.add_argument(
        "--config-json",
        type=Path,
        metavar="FILE",
        help="the whole run as the JSON a DistillConfig writes (the studio's child process); the other options then stay unset",
    )


def config_from_args(args: argparse.Namespace, argv: list[str] | None = None) -> DistillConfig:
    if not args.images and not args.video and not args.recording:
        raise DistillError("no frames to learn from: give --images DIR, --video FILE or --recording SESSION_DIR")
    minutes = args.minutes if args.minutes is not None else (None if args.epochs or args.steps else 10.0)
    return DistillConfig(
        teacher=args.teacher,
        arch=args.arch,
        width=args.width,
        resolution=args.resolution,
        slim_gates=args.slim_gates,
        slim_relu=args.slim_relu,
        slim_skip_last_stage=args.slim_skip_last_stage,
        data=DataConfig(
            images=tuple(args.images),
            masks=args.masks,
            videos=tuple(args.video),
            recordings=tuple(args.recording),
            video_every=args.video_every,
            video_max_frames=args.video_frames,
            thin=args.thin,
            licences=tuple(args.licence),
            composites=args.composites,
            backgrounds=tuple(args.backgrounds),
            composite_seed=args.composite_seed,
            val_images=args.val_images,
            val_masks=args.val_masks,
        ),
        loss=LossConfig(temperature=args.temperature, hard_weight=args.hard_weight, hint=args.hint, hint_weight=args.hint_weight, hint_layer=args.hint_layer),
        train=TrainConfig(
            epochs=args.epochs,
            minutes=minutes,
            max_steps=args.steps,
            batch_size=args.batch_size,
            learning_rate=args.lr,
            seed=args.seed,
            device=args.device,
            threads=args.threads,
            augment=not args.no_augment,
            mosaic=args.mosaic,
            validate_every_s=args.validate_every,
        ),
        select=SelectConfig(images=tuple(args.select_images), videos=tuple(args.select_video)),
        out=args.out,
        name=args.name,
        checkpoint=args.checkpoint,
        resume=args.resume,
        init_from=args.init_from,
        command=tuple(["segview", *(argv if argv is not None else sys.argv[1:])]),
    )


def config_from_json_file(path: Path) -> DistillConfig:
    """The run a parent process wrote (``DistillConfig.to_json_dict``): nothing is mirrored flag by flag."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DistillError(f"cannot read the distillation config {path}: {exc}") from None
    return DistillConfig.from_json_dict(data)


def _check_required(args: argparse.Namespace) -> None:
    """argparse's own one-line message, for the options only --config-json may leave out."""
    given = [f"--{name.replace('_', '-')}" for name in ("teacher", "arch", "out") if getattr(args, name) is not None]
    parser = getattr(args, "distill_parser", None)
    if args.config_json is not None and given and parser is not None:
        parser.error(f"--config-json holds the whole run: leave out {', '.join(given)}")
    missing = [f"--{name}" for name in ("teacher", "arch", "out") if getattr(args, name) is None]
    if args.config_json is None and missing and parser is not None:
        parser.error(f"the following arguments are required: {', '.join(missing)}")


def run(args: argparse.Namespace) -> int:
    _check_required(args)
    require_torch()
    config = config_from_json_file(args.config_json) if args.config_json is not None else config_from_args(args)
    if args.events:
        return _run_with_events(config)
    from segview.distill.runner import distill

    last_print = [0.0]

    def on_progress(p) -> None:  # noqa: ANN001 - a trainer Progress
        # One line every 10 s, and one for each validation: a log, not a redraw.
        if p.val_iou is not None or p.elapsed_s - last_print[0] >= 10:
            last_print[0] = p.elapsed_s
            iou = f"  val IoU {p.val_iou:.4f}" if p.val_iou is not None else ""
            print(f"step {p.step:6d}  epoch {p.epoch:7.2f}  {p.elapsed_s:7.1f}s  {100 * p.fraction:5.1f}%  loss {p.loss:.4f}{iou}", flush=True)

    # Ctrl+C or SIGTERM stops the run at the next step, which saves a checkpoint; a second one stops at once.
    with stop_on_signals() as stop:
        try:
            outcome = distill(config, on_progress=on_progress, on_stage=lambda s: print(f"distill: {s}", flush=True), cancelled=stop.is_set)
        except KeyboardInterrupt:
            print(f"segview: interrupted; {_saved(config.checkpoint_path)}", file=sys.stderr)
            return 130
    if outcome.cancelled:
        print(f"segview: cancelled; {_saved(outcome.checkpoint)}", file=sys.stderr)
        return exit_status(stop.signum or signal.SIGINT)
    m = (outcome.card_extra or {}).get("distillation", {}).get("measured", {})
    print(f"wrote {outcome.model_path} (registered as {outcome.name}) after {outcome.steps} steps, {outcome.seconds:.0f} s")
    if m:
        print(
            f"speed: student {m['student_ms']:.3f} ms, teacher {m['teacher_ms']:.3f} ms, {m['speedup']:.2f}x  (session.run, {m['threads']} thread{'s' if m['threads'] != 1 else ''}, medians)"
        )
        if m.get("val_iou") is not None:
            print(f"validation IoU ({m['val_frames']} frames, against {m['val_against']}): student {m['val_iou']:.4f}, teacher {m['teacher_val_iou']:.4f}")
    pool = ((outcome.card_extra or {}).get("distillation", {}).get("validation") or {}).get("unseen_pool")
    if pool and pool.get("agreement") is not None:
        v = outcome.card_extra["distillation"]["validation"]  # type: ignore[index]
        print(
            f"unseen-pool agreement with the teacher ({pool['frames']} frames): {pool['agreement']:.4f}; exported step {v['chosen_step']} (chosen by {v['chosen_by']})"
        )
    return 0


def _saved(checkpoint: Path | None) -> str:
    """What a stopped run leaves, truthfully: a checkpoint to go on from, or nothing."""
    if checkpoint is not None and checkpoint.is_file():
        return f"checkpoint {checkpoint}; go on with --resume"
    return "nothing was saved (training had not started)"


def _licence(text: str) -> tuple[str, str]:
    from segview.distill.pool import parse_licence

    try:
        return parse_licence(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _names(text: str) -> tuple[str, ...]:
    return comma_items(text, "tensor names")


def _emit(kind: str, data: dict) -> None:
    print(json.dumps({"event": kind, **data}, default=str), flush=True)


def _run_with_events(config: DistillConfig) -> int:
    """Machine-readable mode for a parent process: JSON lines out, 'cancel' (or EOF) in."""
    from segview.distill.runner import distill

    cancel = threading.Event()

    def watch_stdin() -> None:
        # A closed stdin means the parent went away: stop too, keeping the checkpoint.
        for line in sys.stdin:
            if line.strip() == "cancel":
                break
        cancel.set()

    threading.Thread(target=watch_stdin, name="cancel-watch", daemon=True).start()
    with stop_on_signals() as stop:  # SIGTERM from the parent: a cancel too, the checkpoint saved
        outcome = distill(
            config,
            on_progress=lambda p: _emit("progress", p.to_json_dict()),
            on_stage=lambda text: _emit("stage", {"text": text}),
            cancelled=lambda: cancel.is_set() or stop.is_set(),
        )
    _emit("finished", outcome.to_json_dict())
    return 0
