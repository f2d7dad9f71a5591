"""Measurements: latency statistics, IoU, and process samplers. Plain numpy, no Qt."""
