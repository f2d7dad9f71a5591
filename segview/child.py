"""The command line of a child ``segview`` process (a distillation run, any tool the studio starts).

``python -m segview`` puts the current folder first on ``sys.path``; started from a
folder that holds a clone named ``segview``, the clone's top folder (no
``__init__.py``) then wins as a namespace package and the child fails with
"cannot import name '__version__' from 'segview' (unknown location)". Python's
``-P`` (3.11+, which segview requires) leaves the current folder out, so the child
imports the same segview as the studio, wherever the studio was started.
"""

from __future__ import annotations

import sys


def segview_command(*args: str, python: str | None = None) -> list[str]:
    """``[python, "-m", "segview", *args]``: the installed segview, whatever the child's working folder."""
    return [python or sys.executable, "-P", "-m", "segview", *args]
