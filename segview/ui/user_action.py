"""Every failure of a user action shows in the window, and the studio keeps running.

Slots run from Qt's event loop: an exception escaping one is printed to stderr by
PySide and the user sees nothing. ``@reports_problems("Opening the model")`` on a
slot turns a SegviewError into its own message and anything else (a bug) into
"Opening the model failed: <first line>" in the window's problem label, with the
traceback still printed to stderr for whoever reports the bug.
"""

from __future__ import annotations

import functools
import sys
import traceback
from collections.abc import Callable
from typing import Any, TypeVar

from segview.errors import SegviewError, first_line

Method = TypeVar("Method", bound=Callable[..., Any])


def reports_problems(what: str, *, failed: Any = False) -> Callable[[Method], Method]:
    """Decorate a QWidget method run by a user: its failure is shown, and ``failed`` is returned instead.

    ``what`` names the action as a subject ("Choosing the source"); the message is shown by the
    widget's own ``show_problem`` or else by its top-level window's (the studio window's).
    """

    def decorate(method: Method) -> Method:
        @functools.wraps(method)
        def run(widget, *args: Any, **kwargs: Any) -> Any:
            try:
                return method(widget, *args, **kwargs)
            except SegviewError as exc:
                _report(widget, str(exc))
            except Exception as exc:  # noqa: BLE001 - the point: no failure of a user action goes unseen
                print(f"segview: {what} failed:", file=sys.stderr)
                traceback.print_exception(exc, file=sys.stderr)
                _report(widget, f"{what} failed: {first_line(exc)}")
            return failed

        return run  # type: ignore[return-value]

    return decorate


def _report(widget: Any, text: str) -> None:
    """In the widget's problem label, else its window's; on stderr when neither has one (a bare widget)."""
    for target in (widget, _window_of(widget)):
        show = getattr(target, "show_problem", None)
        if callable(show):
            show(text)
            return
    print(f"segview: {text}", file=sys.stderr)


def _window_of(widget: Any) -> Any:
    window = getattr(widget, "window", None)
    return window() if callable(window) else None
