"""Sticky plot ranges: round numbers, and no change while the data stays comfortably inside."""

import pytest

from segview.ui.plot_ranges import StickyRange, nice_ceil


@pytest.mark.parametrize(("value", "expected"), [(0.9, 1.0), (1.0, 1.0), (1.1, 2.0), (2.2, 2.5), (3.0, 5.0), (7.0, 10.0), (430.0, 500.0), (0.013, 0.02)])
def test_nice_ceil_rounds_up_to_1_2_2_5_or_5(value, expected):
    assert nice_ceil(value) == pytest.approx(expected)


def test_range_from_zero_moves_only_when_data_leaves_it_or_shrinks():
    axis = StickyRange(from_zero=True)
    assert axis.update(0.0, 380.0) == (0.0, 500.0)
    assert axis.update(10.0, 420.0) is None  # still fits: the axis (and its cached picture) stays
    assert axis.update(0.0, 480.0) is None
    assert axis.update(0.0, 520.0) == (0.0, 1000.0)  # left the range
    assert axis.update(0.0, 400.0) is None  # 40% of the range: kept
    assert axis.update(0.0, 200.0) == (0.0, 250.0)  # 20%: shrinks to fit again


def test_range_not_from_zero_follows_both_ends_with_margins():
    axis = StickyRange(from_zero=False)
    low, high = axis.update(280.0, 284.0)
    assert low < 280.0 and high > 284.0 and high - low < 20.0  # memory growth stays visible, not squashed against 0
    assert axis.update(281.0, 284.0) is None
    moved = axis.update(281.0, 300.0)
    assert moved is not None and moved[1] >= 300.0


def test_non_finite_bounds_change_nothing():
    axis = StickyRange()
    assert axis.update(float("nan"), 3.0) is None and axis.current is None


def test_range_of_a_ratio_near_one_fits_it_and_then_stays():
    axis = StickyRange(from_zero=False)
    low, high = axis.update(0.93, 0.99)  # IoU of two close models
    assert 0.85 <= low < 0.93 and 0.99 < high <= 1.05
    assert axis.update(0.94, 0.985) is None  # the same picture while the data moves inside
    assert axis.update(0.95, 0.99) is None
