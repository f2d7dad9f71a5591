import math

from segview.metrics.live import LiveStats
from segview.types import StageTimings


def _t(ms):
    return StageTimings(1.0, 0.5, 0.5, ms, 0.5, ms + 2)


def test_rate_and_latency_per_whole_second():
    live = LiveStats()
    for i in range(30):
        live.add("m", 100.0 + i / 30, _t(3.0))
    # 101.5: second 100 is over, though no frame of second 101 has arrived yet.
    assert live.current("m", now=101.5) == (30.0, 5.0)
    series = live.series("m", now=101.5)
    assert series.fps[-1] == 30 and series.latency_p50[-1] == 5.0
    assert series.stage_medians["inference_ms"][-1] == 3.0
    assert math.isnan(series.fps[0])  # before the first frame: nothing to show, not zero


def test_a_stall_is_zero_not_a_gap():
    live = LiveStats()
    live.add("m", 100.2, _t(3.0))
    live.add("m", 103.2, _t(3.0))
    series = live.series("m", now=103.5)
    assert list(series.fps[-3:]) == [1.0, 0.0, 0.0]
    fps, latency = live.current("m", now=105.0)
    assert fps == 0.0 and math.isnan(latency)
