"""Per-operator profiles of models (onnxruntime's profiler) and their diff. No Qt."""

from segview.profiling.op_profile import NodeTime, OpProfile, profile_model
from segview.profiling.profile_diff import DiffRow, OpTypeDelta, ProfileDiff, diff_profiles

__all__ = ["DiffRow", "NodeTime", "OpProfile", "OpTypeDelta", "ProfileDiff", "diff_profiles", "profile_model"]
