"""The live pipeline: capture, inference workers and consumers on their own threads. No Qt here."""

from segview.pipeline.pipeline import FrameResults, Pipeline, PipelineStats

__all__ = ["FrameResults", "Pipeline", "PipelineStats"]
