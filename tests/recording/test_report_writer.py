"""The report's text and folder (segview.recording.report_writer), written without Qt."""

import re
import subprocess
import sys

import pytest

from recordings import record_session
from segview.errors import SegviewError
from segview.recording.report_writer import Figure, write_report


@pytest.fixture
def recorded(tmp_path, brightness_model, square_video):
    folder = tmp_path / "session"
    # Names with characters HTML and Markdown tables would otherwise take as markup.
    record_session(folder, brightness_model, square_video, seconds=1.2, names=("bright <b>", "bright|2"))
    return folder


def test_writes_the_tables_without_qt(recorded, tmp_path):
    out = tmp_path / "tables"
    script = (
        "import sys\n"
        "sys.modules['PySide6'] = None\n"  # any import of Qt now fails
        "sys.modules['pyqtgraph'] = None\n"
        "from segview.recording.report_writer import write_report\n"
        f"print(write_report({str(recorded)!r}, {str(out)!r}))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(out)
    assert sorted(p.name for p in out.iterdir()) == ["report.html", "report.md"]
    page = (out / "report.html").read_text()
    assert "<td>bright &lt;b&gt;</td>" in page and "<b>" not in page  # the name is shown, not taken as markup
    assert "Machine" in page and "onnxruntime" in page and "<img" not in page
    markdown = (out / "report.md").read_text()
    assert "| bright\\|2 |" in markdown and "](" not in markdown


def test_shows_the_figures_it_is_given(recorded, tmp_path):
    drawn = []

    def draw(session, folder):
        drawn.append(list(session.models))
        (folder / "one.png").write_bytes(b"png")
        return [Figure("one.png", "One <plot> & its caption")]

    out = write_report(recorded, tmp_path / "report", draw_figures=draw)
    assert drawn == [["bright <b>", "bright|2"]]
    assert (out / "one.png").read_bytes() == b"png"
    page = (out / "report.html").read_text()
    assert re.findall(r'<img src="([^"]+)"', page) == ["one.png"]
    assert "<figcaption>One &lt;plot&gt; &amp; its caption</figcaption>" in page
    assert "![one](one.png)\n\nOne <plot> & its caption" in (out / "report.md").read_text()


def test_a_failing_drawer_leaves_no_folder_behind(recorded, tmp_path):
    def draw(session, folder):
        (folder / "half.png").write_bytes(b"half")
        raise OSError(28, "No space left on device")

    before = sorted(tmp_path.iterdir())
    with pytest.raises(SegviewError, match="cannot write the report to .*No space left on device"):
        write_report(recorded, tmp_path / "report", draw_figures=draw)
    assert sorted(tmp_path.iterdir()) == before  # neither the report nor its staging folder


def test_replaces_an_earlier_report_only(recorded, tmp_path):
    first = write_report(recorded)
    assert first == recorded / "report"
    (first / "stale.txt").write_text("old")
    assert not (write_report(recorded) / "stale.txt").exists()
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "mine.txt").write_text("precious")
    with pytest.raises(SegviewError, match="not a segview report"):
        write_report(recorded, tmp_path / "notes")
    assert (tmp_path / "notes" / "mine.txt").read_text() == "precious"
    with pytest.raises(SegviewError, match="it is a file"):
        write_report(recorded, tmp_path / "notes" / "mine.txt")
