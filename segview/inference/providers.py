"""Execution providers: what onnxruntime offers on this machine, under short names."""

from __future__ import annotations

import onnxruntime as ort

from segview.errors import ModelError

_SHORT_NAMES = {
    "cpu": "CPUExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "tensorrt": "TensorrtExecutionProvider",
    "openvino": "OpenVINOExecutionProvider",
    "dml": "DmlExecutionProvider",
    "coreml": "CoreMLExecutionProvider",
    "rocm": "ROCMExecutionProvider",
    "xnnpack": "XnnpackExecutionProvider",
}


def available_providers() -> list[str]:
    return list(ort.get_available_providers())


def short_name(provider: str) -> str:
    for short, full in _SHORT_NAMES.items():
        if full == provider:
            return short
    return provider


def resolve_provider(name: str) -> str:
    """'cpu', 'cuda', or a full provider name -> the full name, if this machine has it."""
    full = _SHORT_NAMES.get(name.lower(), name)
    available = available_providers()
    if full not in available:
        offered = ", ".join(short_name(p) for p in available)
        raise ModelError(f"execution provider {name!r} is not available here (onnxruntime offers: {offered})")
    return full
