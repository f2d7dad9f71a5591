"""Arguments shared by the commands that run models."""

from __future__ import annotations

import argparse

from segview.cli.numbers import MAX_THREADS, whole
from segview.inference.registry import DEFAULT_MODEL


def add_runtime_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--provider", default="cpu", help="onnxruntime execution provider: cpu (default), cuda, ... (see 'segview models')")
    p.add_argument("--threads", type=whole(1, MAX_THREADS), default=None, help="threads inside one model run (default: cores / workers)")


def default_model_list(models: list[str] | None) -> list[str]:
    return models or [DEFAULT_MODEL]
