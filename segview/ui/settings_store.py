"""What the studio remembers between runs (QSettings): last source, models, overlay."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

from PySide6.QtCore import QSettings

from segview.inference.postprocess import THRESHOLD, clamp_threshold
from segview.render.overlay import OverlayMode

ORGANIZATION = "segview"
APPLICATION = "studio"

_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class StudioPreferences:
    source: str | None = None
    models: tuple[str, ...] = ()
    overlay_mode: OverlayMode = OverlayMode.BLEND
    opacity: float = 0.5
    smoothing: float = 0.0
    mask_threshold: float = THRESHOLD


def _settings() -> QSettings:
    return QSettings(ORGANIZATION, APPLICATION)


def _value(s: QSettings, key: str, default: _T, kind: type[_T]) -> _T:
    """QSettings converts to ``kind`` (``type=``) but is typed to return any object: anything else is the default."""
    value = s.value(key, default, type=kind)
    return value if isinstance(value, kind) else default


def load_preferences() -> StudioPreferences:
    s = _settings()
    models = _value(s, "models", [], list)
    try:
        mode = OverlayMode(str(s.value("overlay/mode", OverlayMode.BLEND.value)))
    except ValueError:
        mode = OverlayMode.BLEND
    return StudioPreferences(
        source=_value(s, "source", "", str) or None,
        models=tuple(str(m) for m in models),
        overlay_mode=mode,
        opacity=_clamp(_value(s, "overlay/opacity", 0.5, float)),
        smoothing=_clamp(_value(s, "overlay/smoothing", 0.0, float), 0.0, 0.95),
        mask_threshold=clamp_threshold(_value(s, "overlay/threshold", THRESHOLD, float)),
    )


def save_preferences(prefs: StudioPreferences) -> None:
    s = _settings()
    if prefs.source:
        s.setValue("source", prefs.source)
    s.setValue("models", list(prefs.models))
    s.setValue("overlay/mode", prefs.overlay_mode.value)
    s.setValue("overlay/opacity", prefs.opacity)
    s.setValue("overlay/smoothing", prefs.smoothing)
    s.setValue("overlay/threshold", prefs.mask_threshold)
    s.sync()


def _clamp(value: float, low: float = 0.0, high: float = 1.0) -> float:
    return max(low, min(high, value))
