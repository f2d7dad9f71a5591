"""What one step of a run did: its name, options, notes and time, as the card and the report keep it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class StepRecord:
    step: str  # the registered name ("int8-auto")
    title: str  # what a person reads ("int8, automatic float fallback")
    config: dict[str, Any] = field(default_factory=dict)  # the options, as the recipe saves them
    notes: dict[str, Any] = field(default_factory=dict)  # what the step chose or measured on the way
    seconds: float = 0.0

    def to_json_dict(self) -> dict[str, Any]:
        return {"step": self.step, "title": self.title, "config": self.config, "notes": self.notes, "seconds": self.seconds}

    def to_card_dict(self) -> dict[str, Any]:
        """The card keeps what remakes the chain (name and options); the report keeps the rest."""
        return {"step": self.step, "config": self.config}

    @classmethod
    def from_json_dict(cls, data: dict[str, Any]) -> StepRecord:
        return cls(
            step=str(data["step"]),
            title=str(data.get("title", data["step"])),
            config=dict(data.get("config") or {}),
            notes=dict(data.get("notes") or {}),
            seconds=float(data.get("seconds", 0.0)),
        )
