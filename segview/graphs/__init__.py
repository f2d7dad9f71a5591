"""ONNX graph utilities shared by compression and distillation: lookups, copies, sizes, exact rewrites.

Below both segview.compress and segview.distill in the layers (CONTRIBUTING.md), so either may use them.
"""
