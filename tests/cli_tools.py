"""Running the real ``segview`` program in tests, and the one-line error rule every CLI test checks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

# `segview distill` options of the smallest student the tests train: an ENet a quarter wide at 32 px,
# a few steps of which run in seconds on two busy cores.
TINY_STUDENT = ("--arch", "enet", "--width", "0.25", "--resolution", "32")
# The batches that student trains on in the CLI tests: four images at a time, on one thread.
SMALL_BATCHES = ("--batch-size", "4", "--threads", "1")


def run_segview(*args, env=None, timeout=180, cwd=None) -> subprocess.CompletedProcess:
    env = dict(os.environ if env is None else env, PYTHONUNBUFFERED="1")
    return subprocess.run([sys.executable, "-m", "segview", *map(str, args)], capture_output=True, text=True, timeout=timeout, cwd=cwd, env=env)


def run_bench_json(out: Path, source, models, *options, timeout=180) -> tuple[subprocess.CompletedProcess, dict]:
    """``segview bench --source SOURCE --model M ... OPTIONS --json OUT``, which must succeed: the process and the JSON it wrote."""
    model_args = [arg for model in models for arg in ("--model", model)]
    proc = run_segview("bench", "--source", source, *model_args, *options, "--json", out, timeout=timeout)
    assert proc.returncode == 0, proc.stderr
    return proc, json.loads(Path(out).read_text())


def assert_one_line_error(proc: subprocess.CompletedProcess, fragment: str) -> None:
    """Bad input: non-zero exit, exactly one line on stderr naming the problem, no traceback."""
    assert proc.returncode != 0, proc.stdout
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("segview: error: "), lines[0]
    assert fragment in lines[0], lines[0]
