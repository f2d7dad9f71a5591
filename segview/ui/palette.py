"""One colour per model, the same in every tile, legend and plot; and the dashboard's other colours.

Colours come from Okabe & Ito's colour-blind-safe set (Okabe, Ito: "Color Universal
Design", 2008), ordered so that the first four, the most the studio shows at once,
stay apart for protanopes, deuteranopes and tritanopes alike. Its yellow is left out:
a yellow line on the dashboard's white is hard to see for anyone.

A model keeps its colour for the whole session while others are ticked and unticked;
two models shown together never share one. No Qt here: plain RGB tuples, asked by
the plots (pyqtgraph pens), the video tiles (style sheets) and the status bar.
"""

from __future__ import annotations

from collections.abc import Iterable

RGB = tuple[int, int, int]

# Okabe-Ito without yellow. The first four are the four of the set that stay furthest apart
# under simulated protanopia, deuteranopia and tritanopia (Machado et al. 2009) without black;
# tests/ui/test_dashboard.py checks it. Black is the last resort.
MODEL_COLOURS: tuple[RGB, ...] = (
    (0, 114, 178),  # blue
    (230, 159, 0),  # orange
    (86, 180, 233),  # sky blue
    (213, 94, 0),  # vermillion
    (0, 158, 115),  # bluish green
    (204, 121, 167),  # reddish purple
    (0, 0, 0),  # black
)

# Paul Tol's "muted" set (also colour-blind safe) for what is not a model, so a stage or a
# power rail is never read as one of the models.
STAGE_COLOURS: dict[str, RGB] = {
    "capture_ms": (221, 204, 119),  # sand
    "queue_ms": (204, 102, 119),  # rose
    "preprocess_ms": (136, 204, 238),  # cyan
    "inference_ms": (51, 34, 136),  # indigo
    "postprocess_ms": (68, 170, 153),  # teal
}
SERIES_COLOURS: tuple[RGB, ...] = ((136, 34, 85), (153, 153, 51), (68, 170, 153), (51, 34, 136))  # wine, olive, teal, indigo
PROBLEM_STYLE = "color:#b00020"  # style sheet of what went wrong: problem labels, failed status lines
NEUTRAL: RGB = (70, 76, 86)  # one-curve plots of the machine or the window (CPU, memory, clock, event loop)


def css(colour: RGB) -> str:
    red, green, blue = colour
    return f"#{red:02x}{green:02x}{blue:02x}"


class ModelPalette:
    """Hands out MODEL_COLOURS by model name, stably (see the module's docstring)."""

    def __init__(self, colours: tuple[RGB, ...] = MODEL_COLOURS) -> None:
        self.colours = colours
        self._given: dict[str, int] = {}
        self._shown: tuple[str, ...] = ()

    def show(self, names: Iterable[str]) -> dict[str, RGB]:
        """The colours of the models now shown, keeping each one's colour where it can.

        Models that were already shown keep theirs first; a model shown again gets its
        old colour back unless another shown model holds it; a new model gets a colour
        no model has had yet, if one is left, so it is not mistaken for an earlier one.
        """
        names = tuple(dict.fromkeys(names))
        taken: dict[str, int] = {}
        for name in sorted(names, key=lambda n: n not in self._shown):  # stable: shown-before first
            index = self._given.get(name)
            if index is not None and index not in taken.values():
                taken[name] = index
        for name in names:
            if name not in taken:
                taken[name] = self._given[name] = self._free(set(taken.values()))
        self._shown = names
        return {name: self.colours[taken[name]] for name in names}

    def colour(self, name: str) -> RGB:
        """A shown model's colour; a model not shown gets one no shown model has."""
        if name not in self._given:
            self._given[name] = self._free({self._given[n] for n in self._shown})
        return self.colours[self._given[name]]

    def _free(self, taken: set[int]) -> int:
        count = len(self.colours)
        unused = [i for i in range(count) if i not in taken and i not in self._given.values()]
        if unused:
            return unused[0]
        free = [i for i in range(count) if i not in taken]
        return free[0] if free else len(taken) % count  # more models than colours: only then do two share
