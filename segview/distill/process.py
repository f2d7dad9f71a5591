"""Distillation in a child process (``python -P -m segview distill --config-json FILE --events``), for the studio.

The parent writes the whole :class:`DistillConfig` as JSON to a temporary file; the
child rebuilds it with ``DistillConfig.from_json_dict``. The child prints one JSON object a line on stdout (stage, progress, finished); a
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
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from segview.child import segview_command
from segview.distill.background import ThreadedRun
from segview.distill.config import DistillConfig
from segview.distill.events import DistillOutcome, Progress


def write_config_json(config: DistillConfig) -> Path:
    """The run as JSON in a temporary file, for ``segview distill --config-json``: the config's own
    form, so a setting cannot be lost between the studio and the child (no argv mirrored by hand)."""
    handle, name = tempfile.mkstemp(prefix="segview-distill-", suffix=".json")
    with os.fdopen(handle, "w", encoding="utf-8") as f:
        json.dump(config.to_json_dict(), f)
    return Path(name)


class DistillProcess(ThreadedRun):
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
        self.python = python
        self.command: list[str] = []  # set by start(), naming the config file it wrote
        self._config_file: Path | None = None
        self._on_progress = on_progress or (lambda p: None)
        self._on_stage = on_stage or (lambda s: None)
        self._on_finished = on_finished or (lambda o: None)
        self._on_failed = on_failed or (lambda m: None)
        self._process: subprocess.Popen[str] | None = None
        self._thread = threading.Thread(target=self._read, name="distill-events", daemon=True)
        self._stderr: list[str] = []

    def start(self) -> None:
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self._config_file = write_config_json(self.config)
        self.command = segview_command("distill", "--config-json", str(self._config_file), "--events", python=self.python)
        try:
            self._process = subprocess.Popen(self.command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1, env=env)
        except OSError:
            self._remove_config_file()
            raise
        threading.Thread(target=self._drain_stderr, name="distill-stderr", daemon=True).start()
        self._thread.start()

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
        self._remove_config_file()
        if finished:
            return
        self._on_failed(self._failure(code))

    def _remove_config_file(self) -> None:
        if self._config_file is not None:
            self._config_file.unlink(missing_ok=True)

    def _failure(self, code: int) -> str:
        errors = [line for line in self._stderr if line.startswith("segview: error: ")]
        if errors:
            return errors[-1].removeprefix("segview: error: ")
        if code in (-9, 137):
            return "the training process was killed (out of memory?): try a smaller batch size or student"
        tail = self._stderr[-1] if self._stderr else ""
        return f"the training process stopped (exit code {code}){': ' + tail if tail else ''}"
