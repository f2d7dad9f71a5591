"""Distillation in a child process (``python -m segview distill ... --events``), for the studio.

The child prints one JSON object a line on stdout (stage, progress, finished); a
``cancel`` line on its stdin stops it at the next step, leaving its checkpoint. The
studio never imports torch, keeps its GIL and its cores' share, and survives the
child running out of memory. No torch and no Qt here: callbacks run on the reader
thread, and a GUI hops them to its own thread.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from typing import Any

from segview.child import segview_command
from segview.distill.config import DistillConfig
from segview.distill.events import DistillOutcome, Progress


def config_to_argv(config: DistillConfig) -> list[str]:
    """The ``segview distill`` arguments that make this run: the CLI is the one way in."""
    d, t, lo = config.data, config.train, config.loss
    argv = ["--teacher", config.teacher, "--arch", config.arch, "--width", repr(config.width), "--resolution", str(config.resolution)]
    if config.slim_gates is not None:
        argv += ["--slim-gates", ",".join(config.slim_gates)]
    if config.slim_relu:
        argv.append("--slim-relu")
    if config.slim_skip_last_stage:
        argv.append("--slim-skip-last-stage")
    for folder in d.images:
        argv += ["--images", str(folder)]
    if d.masks is not None:
        argv += ["--masks", str(d.masks)]
    for video in d.videos:
        argv += ["--video", video]
    for recording in d.recordings:
        argv += ["--recording", str(recording)]
    argv += ["--video-every", str(d.video_every), "--video-frames", str(d.video_max_frames), "--thin", repr(d.thin)]
    for key, text in d.licences:
        argv += ["--licence", f"{key}={text}"]
    if d.composites:
        argv += ["--composites", str(d.composites)]
    if d.composite_seed:
        argv += ["--composite-seed", str(d.composite_seed)]
    for folder in d.backgrounds:
        argv += ["--backgrounds", str(folder)]
    if d.val_images is not None:
        argv += ["--val-images", str(d.val_images)]
    if d.val_masks is not None:
        argv += ["--val-masks", str(d.val_masks)]
    if t.epochs is not None:
        argv += ["--epochs", str(t.epochs)]
    elif t.minutes is not None:
        argv += ["--minutes", repr(t.minutes)]
    if t.max_steps is not None:
        argv += ["--steps", str(t.max_steps)]
    argv += ["--batch-size", str(t.batch_size), "--lr", repr(t.learning_rate), "--device", t.device, "--threads", str(t.threads), "--seed", str(t.seed)]
    if not t.augment:
        argv.append("--no-augment")
    if t.mosaic:
        argv += ["--mosaic", repr(t.mosaic)]
    argv += ["--temperature", repr(lo.temperature), "--hard-weight", repr(lo.hard_weight), "--hint", lo.hint, "--hint-weight", repr(lo.hint_weight)]
    if lo.hint_layer:
        argv += ["--hint-layer", lo.hint_layer]
    argv += ["--validate-every", repr(t.validate_every_s)]
    for folder in config.select.images:
        argv += ["--select-images", str(folder)]
    for video in config.select.videos:
        argv += ["--select-video", video]
    argv += ["--out", str(config.out)]
    if config.name:
        argv += ["--name", config.name]
    if config.checkpoint is not None:
        argv += ["--checkpoint", str(config.checkpoint)]
    if config.resume:
        argv.append("--resume")
    if config.init_from is not None:
        argv += ["--init-from", str(config.init_from)]
    return argv


class DistillProcess:
    """Same callbacks as :class:`segview.distill.runner.DistillJob`, but the work runs in a child process."""

    def __init__(
        self,
        config: DistillConfig,
        *,
        on_progress: Callable[[Progress], None] | None = None,
        on_stage: Callable[[str], None] | None = None,
        on_finished: Callable[[DistillOutcome], None] | None = None,
        on_failed: Callable[[str], None] | None = None,
        python: str = sys.executable,
    ) -> None:
        self.config = config
        self.command = segview_command("distill", *config_to_argv(config), "--events", python=python)
        self._on_progress = on_progress or (lambda p: None)
        self._on_stage = on_stage or (lambda s: None)
        self._on_finished = on_finished or (lambda o: None)
        self._on_failed = on_failed or (lambda m: None)
        self._process: subprocess.Popen[str] | None = None
        self._reader = threading.Thread(target=self._read, name="distill-events", daemon=True)
        self._stderr: list[str] = []

    def start(self) -> None:
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self._process = subprocess.Popen(
            self.command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1, env=env
        )
        threading.Thread(target=self._drain_stderr, name="distill-stderr", daemon=True).start()
        self._reader.start()

    def cancel(self) -> None:
        """The child stops at its next step and writes its checkpoint (a line on its stdin)."""
        process = self._process
        if process is None or process.poll() is not None or process.stdin is None:
            return
        try:
            process.stdin.write("cancel\n")
            process.stdin.flush()
        except (BrokenPipeError, OSError):
            pass

    @property
    def running(self) -> bool:
        return self._reader.is_alive()

    def wait(self, timeout: float | None = None) -> bool:
        self._reader.join(timeout)
        return not self._reader.is_alive()

    def _drain_stderr(self) -> None:
        assert self._process is not None and self._process.stderr is not None
        for line in self._process.stderr:
            if line.strip():
                self._stderr.append(line.rstrip())
                del self._stderr[:-20]

    def _read(self) -> None:
        assert self._process is not None and self._process.stdout is not None
        finished = False
        for line in self._process.stdout:
            try:
                event: dict[str, Any] = json.loads(line)
            except json.JSONDecodeError:
                continue  # stray output from a library; not ours
            kind = event.pop("event", None)
            if kind == "progress":
                self._on_progress(Progress(**event))
            elif kind == "stage":
                self._on_stage(str(event.get("text", "")))
            elif kind == "finished":
                finished = True
                self._on_finished(DistillOutcome.from_json_dict(event))
        code = self._process.wait()
        if finished:
            return
        self._on_failed(self._failure(code))

    def _failure(self, code: int) -> str:
        errors = [line for line in self._stderr if line.startswith("segview: error: ")]
        if errors:
            return errors[-1].removeprefix("segview: error: ")
        if code in (-9, 137):
            return "the training process was killed (out of memory?): try a smaller batch size or student"
        tail = self._stderr[-1] if self._stderr else ""
        return f"the training process stopped (exit code {code}){': ' + tail if tail else ''}"
