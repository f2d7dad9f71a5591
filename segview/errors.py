"""Errors that carry a message meant for the user.

The CLI prints ``str(error)`` on one line and exits non-zero; the GUI shows it
in the status bar. Anything else that escapes is a bug and keeps its traceback.
"""


class SegviewError(Exception):
    """Base class: the message is complete and readable on its own."""


class ModelError(SegviewError):
    """A model file is missing, unreadable or unsuitable for segmentation."""


class SourceError(SegviewError):
    """A frame source cannot be opened or stopped delivering frames."""


class DataError(SegviewError):
    """Evaluation or calibration data is missing or malformed."""


class AdbError(SourceError):
    """adb is missing, its server does not answer, or a phone cannot be used; the message says what to do."""


class AdbNotFound(AdbError):
    pass


class CompressionError(SegviewError):
    """A step cannot handle this model or these options; the message says why."""


class Cancelled(SegviewError):
    """The user cancelled the job; nothing was written."""

    def __init__(self, message: str = "compression cancelled; nothing was written") -> None:
        super().__init__(message)


class DistillError(SegviewError):
    """Distillation cannot start or cannot go on; the message says why and what to do."""


class StartupError(SegviewError):
    """The studio cannot start here; the message says what to do."""


def first_line(exc: BaseException) -> str:
    """An exception's first line, for one-line messages (onnxruntime and OpenCV write several)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
