"""Report export from a session recorded in the test (offscreen Qt)."""

import re

import cv2
import pytest

from recordings import record_session
from segview.errors import SegviewError
from segview.ui.report import HEIGHT, WIDTH, export_report


@pytest.fixture
def recorded(tmp_path, brightness_model, square_video):
    folder = tmp_path / "session"
    record_session(folder, brightness_model, square_video, seconds=2.2, names=("bright", "bright 2"), power=True)
    return folder


def test_report_has_plots_and_html(recorded, tmp_path):
    out = export_report(recorded, tmp_path / "report")
    assert out == tmp_path / "report"
    pngs = sorted(p.name for p in out.glob("*.png"))
    assert {"fps.png", "latency-histogram.png", "cpu.png", "memory.png", "power.png"} <= set(pngs)
    assert {"stages-bright.png", "stages-bright-2.png"} <= set(pngs)
    for name in pngs:
        image = cv2.imread(str(out / name))
        assert image is not None, name
        assert image.shape == (HEIGHT, WIDTH, 3), name
        assert image.std() > 10, f"{name} looks blank"
        # White background: the corners are white.
        assert image[2, 2].min() > 240, name

    page = (out / "report.html").read_text()
    assert set(re.findall(r'<img src="([^"]+)"', page)) == set(pngs)
    assert "bright 2" in page and "Machine" in page and "onnxruntime" in page and "energy per frame" in page
    markdown = (out / "report.md").read_text()
    assert all(f"]({name})" in markdown for name in pngs)
    assert not list(tmp_path.glob(".report.*"))  # no temporary folders left behind


def test_report_defaults_into_the_session_and_replaces_an_earlier_one(recorded):
    first = export_report(recorded)
    assert first == recorded / "report" and (first / "report.html").exists()
    (first / "stale.png").write_bytes(b"old")
    second = export_report(recorded)
    assert second == first and not (second / "stale.png").exists() and (second / "fps.png").exists()


def test_report_will_not_replace_a_folder_of_other_files(recorded, tmp_path):
    other = tmp_path / "photos"
    other.mkdir()
    (other / "holiday.jpg").write_bytes(b"precious")
    with pytest.raises(SegviewError, match="not a segview report"):
        export_report(recorded, other)
    assert (other / "holiday.jpg").read_bytes() == b"precious"


def test_the_child_process_writes_the_same_report_and_passes_its_reason_back(recorded, tmp_path):
    from segview.ui.report_child import export_report_in_child

    out = export_report_in_child(recorded)
    assert out == recorded / "report"
    in_process = export_report(recorded, tmp_path / "in-process")
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in in_process.iterdir())
    assert "bright 2" in (out / "report.html").read_text()

    with pytest.raises(SegviewError, match="is not a recorded session: no such folder") as error:
        export_report_in_child(tmp_path / "nowhere")
    assert "Traceback" not in str(error.value) and not str(error.value).startswith("segview: error")
