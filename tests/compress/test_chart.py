"""The comparison chart's axes: tick labels that read differently however narrow the range."""

import numpy as np
import pytest

from segview.compress.chart import tick_labels


@pytest.mark.parametrize("values", [(0.9993, 1.0), (0.88, 0.95), (0.2, 0.9), (3.4, 5.6), (120.0, 880.0), (0.99995, 1.0)])
def test_neighbouring_ticks_never_share_a_label(values):
    lo, hi = min(values) - 0.12 * (max(values) - min(values)), max(values) + 0.12 * (max(values) - min(values))
    labels = tick_labels(lo, hi)
    assert len(labels) == 6
    assert len(set(labels)) == 6, labels
    # And each label says its tick's value to within half a step.
    step = (hi - lo) / 5
    for label, value in zip(labels, np.linspace(lo, hi, 6), strict=True):
        assert abs(float(label) - value) <= step / 2


def test_wide_ranges_keep_short_labels():
    assert tick_labels(100, 900) == ["100", "260", "420", "580", "740", "900"]
    assert tick_labels(0.985, 1.137)[0] == "0.985"
