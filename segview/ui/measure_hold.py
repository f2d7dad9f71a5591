"""Pausing the studio's models while another process measures speed (a compress job, a distillation's export).

Two cores shared with the live pipeline made the wizard's figures five times the
command line's; paused, the measurement has the machine to itself. Holds nest (the
Compress wizard and the Distill page may measure at once): the first pauses, the
last resumes, and only what was playing before is played again. GUI thread only.
"""

from __future__ import annotations

import weakref

PAUSED = "nothing (studio paused)"
NOTE = "Models paused while a model's speed is measured; they resume when it is done."
IDLE = "nothing (studio idle)"

# engine -> [holds, was it playing when the first hold came]
_holds: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def hold(engine, window=None) -> str:
    """Pause the engine (if it plays) for a measurement; returns what still runs beside it, for the report."""
    state = _holds.setdefault(engine, [0, False])
    if state[0] == 0:
        state[1] = bool(engine.running)
        if state[1]:
            engine.pause()
    state[0] += 1
    if engine.running:  # could not pause (it should always): say honestly what runs
        return "the studio's models: " + ", ".join(e.name for e in engine.models)
    if state[1]:
        _say(window, NOTE)
        return PAUSED
    return IDLE


def release(engine, window=None) -> None:
    """End one hold; the last one plays the engine again if it played before the first."""
    state = _holds.get(engine)
    if not state or state[0] == 0:
        return
    state[0] -= 1
    if state[0] == 0 and state[1]:
        state[1] = False
        engine.play()
        _say(window, None)


def held(engine) -> bool:
    state = _holds.get(engine)
    return bool(state and state[0])


def _say(window, text: str | None) -> None:
    """Show the note in the window's status bar; None takes it away again (only if it is still ours)."""
    bar = getattr(window, "statusBar", None)
    if bar is None:
        return
    if text is not None:
        bar().showMessage(text)
    elif bar().currentMessage() == NOTE:
        bar().clearMessage()
