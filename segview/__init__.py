"""segview: a desktop studio and command line for real-time segmentation."""

__version__ = "0.1.0"
