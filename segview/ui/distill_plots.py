"""The Distill page's two live plots: training loss per step and validation IoU per validation.

A widget of its own so the page only hands it the points it has collected; how they are drawn
(pens, titles, axes) stays here.
"""

from __future__ import annotations

import pyqtgraph as pg


class TrainingPlots(pg.GraphicsLayoutWidget):
    """Loss on the left, validation IoU (sparser: a dot per validation) on the right."""

    def __init__(self) -> None:
        super().__init__()
        self.loss_plot = self.addPlot(row=0, col=0, title="training loss")
        self.loss_plot.setLabel("bottom", "step")
        self.iou_plot = self.addPlot(row=0, col=1, title="validation IoU")
        self.iou_plot.setLabel("bottom", "step")
        self.loss_curve = self.loss_plot.plot([], [], pen=pg.mkPen((31, 119, 180), width=1))
        self.iou_curve = self.iou_plot.plot([], [], pen=pg.mkPen((44, 160, 44), width=2), symbol="o", symbolSize=5)
        self.setMinimumHeight(200)

    def show_points(self, losses: list[tuple[int, float]], ious: list[tuple[int, float]]) -> None:
        """Draws (step, value) pairs; an empty list leaves its curve as it was."""
        for points, curve in ((losses, self.loss_curve), (ious, self.iou_curve)):
            if points:
                steps, values = zip(*points, strict=True)
                curve.setData(list(steps), list(values))
