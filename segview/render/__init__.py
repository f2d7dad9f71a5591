"""Turning frames and masks into pictures: overlays, comparisons. Plain numpy/OpenCV, no Qt."""
