"""What the studio's source picker offers: the demo clip and every camera found (phones plug in here)."""

from __future__ import annotations

from collections.abc import Callable

from segview.sources.camera import list_cameras

# Each provider returns (label, source name) pairs; the phone source registers one.
SourceProvider = Callable[[], list[tuple[str, str]]]
_PROVIDERS: list[SourceProvider] = []


def register_provider(provider: SourceProvider) -> None:
    _PROVIDERS.append(provider)


def _cameras() -> list[tuple[str, str]]:
    return [(f"Camera {c.index}: {c.name}", c.source_name) for c in list_cameras()]


def available_sources() -> list[tuple[str, str]]:
    from segview.sources.spec import schemes

    schemes()  # loading the built-in schemes registers their providers (the phone's)
    sources = [("Demo clip", "demo")]
    for provider in [_cameras, *_PROVIDERS]:
        try:
            sources += provider()
        except Exception:  # a broken provider must not empty the picker
            continue
    return sources
