"""What a finished run's card records, in a few lines for the Distill page: every source with
its count (and licence), the composites, the labelled IoU and the unseen-pool agreement."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def _figure(value: Any) -> str:
    return "not scored" if value is None else f"{value:.3f}"


def source_lines(distillation: Mapping[str, Any]) -> list[str]:
    lines = []
    for r in (distillation.get("data") or {}).get("sources", []):
        label = r["name"] if r["name"] == r["kind"] else f"{r['name']} ({r['kind']})"
        text = f"{label}: {r['count']} frames"
        if r.get("thinned"):
            text += f", {r['thinned']} near-duplicates thinned"
        if r.get("licence") and r["kind"] != "composites":
            text += f"; licence: {r['licence']}"
        lines.append(text)
    return lines


def figure_lines(distillation: Mapping[str, Any]) -> list[str]:
    v = distillation.get("validation") or {}
    labelled, pool = v.get("labelled") or {}, v.get("unseen_pool")
    lines = [f"labelled IoU {_figure(labelled.get('iou'))} on {labelled.get('frames', 0)} frames (against {labelled.get('against', 'the teacher')})"]
    if pool:
        lines.append(f"unseen-pool agreement with the teacher {_figure(pool.get('agreement'))} on {pool.get('frames', 0)} frames")
    if v.get("chosen_step") is not None:
        lines.append(f"exported step {v['chosen_step']} (chosen by {v.get('chosen_by', 'the last step')})")
    return lines


def card_summary(card_extra: Mapping[str, Any] | None) -> str:
    """Empty when the card says nothing (a cancelled run writes none)."""
    distillation = (card_extra or {}).get("distillation") or {}
    if not distillation:
        return ""
    sources = source_lines(distillation)
    parts = ["The card records:"]
    parts += [f"  • {line}" for line in sources] or ["  • (no sources named)"]
    parts += [f"  • {line}" for line in figure_lines(distillation)]
    return "\n".join(parts)
