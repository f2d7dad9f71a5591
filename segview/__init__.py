"""segview: a desktop studio and command line for real-time segmentation."""

import os

# FFmpeg (inside OpenCV) would print its own complaints about damaged files on
# stderr, around our one-line messages. It reads this once, when first used.
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")

__version__ = "0.1.0"
