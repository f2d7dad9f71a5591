"""The compression steps' name for segview.graphs.graph (moved there so distillation, a lower layer, can use it)."""

from segview.graphs.graph import *  # noqa: F403
