"""Distillation: train small, fast student networks from any registered ONNX teacher.

PyTorch is an optional extra (``pip install "segview[distill]"``). This package's
``__init__`` and :mod:`segview.distill.availability` import without it, so the
studio and CLI can say how to install it instead of failing; every module that
needs torch imports it at its top and is only imported once torch is known to exist.
"""

from segview.distill.availability import INSTALL_HINT, torch_available

__all__ = ["INSTALL_HINT", "torch_available"]
