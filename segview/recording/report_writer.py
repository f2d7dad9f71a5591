"""Writing a recorded session's report folder: report.html and report.md around the plots. No Qt here.

The plots themselves are drawn by whoever calls :func:`write_report` (the
studio draws them with pyqtgraph, see ``segview.ui.report``) into the folder
being staged; this module writes the text that shows them and makes the
folder appear whole or not at all: everything is written to a temporary
folder beside it, which is then moved into place.
"""

from __future__ import annotations

import html
import math
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from segview.errors import SegviewError
from segview.fileio import move_all_into_place
from segview.metrics.samplers import describe_key
from segview.recording.session_file import RecordedSession
from segview.recording.session_reader import load_session
from segview.types import StageTimings

# The size every plot is drawn at, and shown at in report.html.
WIDTH, HEIGHT = 900, 400
REPORT_FILES = ("report.html", "report.md")


@dataclass(frozen=True, slots=True)
class Figure:
    file: str
    caption: str


FigureDrawer = Callable[[RecordedSession, Path], list[Figure]]


def write_report(session_folder: Path, out_folder: Path | None = None, draw_figures: FigureDrawer | None = None) -> Path:
    """Write the report of ``session_folder`` into ``out_folder`` (default: ``<session>/report``); returns it.

    ``draw_figures(session, folder)`` saves the plots into the staged folder and
    says what it saved; without it the report holds the tables only. An existing
    ``out_folder`` is replaced only if it is empty or holds an earlier report.
    """
    session = load_session(session_folder)
    out = Path(out_folder) if out_folder is not None else Path(session_folder) / "report"
    check_replaceable(out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    except OSError as exc:
        raise SegviewError(f"cannot write the report to {out}: {exc.strerror or exc}") from None
    try:
        figures = draw_figures(session, tmp) if draw_figures is not None else []
        (tmp / "report.html").write_text(report_html(session, figures), encoding="utf-8")
        (tmp / "report.md").write_text(report_markdown(session, figures), encoding="utf-8")
        # A folder cannot be atomically replaced by another: the old one is parked, the new moved in.
        move_all_into_place([(tmp, out)])
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise SegviewError(f"cannot write the report to {out}: {exc.strerror or exc}") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def check_replaceable(out: Path) -> None:
    if not out.exists():
        return
    if not out.is_dir():
        raise SegviewError(f"cannot write the report to {out}: it is a file")
    entries = list(out.iterdir())
    if entries and not any((out / name).exists() for name in REPORT_FILES):
        raise SegviewError(f"{out} already holds files that are not a segview report; choose another folder")


def stage_name(stage: str) -> str:
    return stage.removesuffix("_ms")


# -- tables -------------------------------------------------------------------------


def _fmt(value: Any, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    return str(value)


def _model_table(session: RecordedSession) -> tuple[list[str], list[list[str]]]:
    header = ["model", "frames", "fps", "latency p50 / p95 / p99 (ms)", "inference p50 / p95 / p99 (ms)"]
    header += [f"{stage_name(s)} (ms)" for s in StageTimings.STAGES]
    rows = []
    for m in session.summary.models:
        lat, inf = m.latency_ms, m.inference_ms
        rows.append(
            [
                m.model,
                str(m.frames),
                _fmt(m.fps),
                f"{_fmt(lat.p50, 2)} / {_fmt(lat.p95, 2)} / {_fmt(lat.p99, 2)}",
                f"{_fmt(inf.p50, 2)} / {_fmt(inf.p95, 2)} / {_fmt(inf.p99, 2)}",
            ]
            + [_fmt(m.stage_medians_ms.get(s), 2) for s in StageTimings.STAGES]
        )
    return header, rows


def _run_rows(session: RecordedSession) -> list[tuple[str, str]]:
    s = session.summary
    rows = [
        ("source", _fmt(session.settings.get("source"))),
        ("duration", f"{_fmt(s.duration_s)} s"),
        ("frames dropped", _fmt(s.frames_dropped)),
    ]
    for key, mean in s.metrics_mean.items():
        label, unit = describe_key(key)
        rows.append((f"{label}, mean", f"{_fmt(mean)} {unit}" if mean is not None else "not available on this machine"))
    for key, mj in s.energy_per_frame_mj.items():
        rows.append((f"energy per frame, from {describe_key(key)[0]}", f"{_fmt(mj)} mJ (all models)"))
    if s.reconstructed:
        rows.append(("note", "the recording did not stop cleanly; this summary was computed from the rows"))
    if s.problem:
        rows.append(("problem", s.problem))
    return rows


def _key_values(values: dict[str, Any]) -> list[tuple[str, str]]:
    return [(k, _fmt(v)) for k, v in values.items()]


# -- HTML ---------------------------------------------------------------------------


def _html_table(header: Sequence[str] | None, rows: Sequence[Sequence[str]]) -> str:
    out = ["<table>"]
    if header:
        out.append("<tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in header) + "</tr>")
    for row in rows:
        cells = "".join(f"<td>{html.escape(str(c))}</td>" for c in row)
        out.append(f"<tr>{cells}</tr>")
    out.append("</table>")
    return "\n".join(out)


_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; color: #222; max-width: 960px; margin: 2em auto; padding: 0 1em; }
h1 { font-size: 1.6em; } h2 { font-size: 1.2em; margin-top: 1.8em; border-bottom: 1px solid #ddd; padding-bottom: .2em; }
table { border-collapse: collapse; margin: .5em 0; font-size: .92em; }
th, td { border: 1px solid #d5d8de; padding: .3em .6em; text-align: left; vertical-align: top; }
th { background: #f3f5f8; }
figure { margin: 1.2em 0; } figure img { max-width: 100%; border: 1px solid #e3e6ea; }
figcaption { color: #555; font-size: .9em; margin-top: .3em; }
"""


def report_html(session: RecordedSession, figures: Sequence[Figure]) -> str:
    title = f"segview session: {session.folder.name}"
    header, rows = _model_table(session)
    parts = [
        "<!DOCTYPE html>",
        f'<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title><style>{_CSS}</style></head><body>',
        f"<h1>{html.escape(title)}</h1>",
        "<h2>Models</h2>",
        _html_table(header, rows),
        "<h2>Run</h2>",
        _html_table(None, _run_rows(session)),
        "<h2>Plots</h2>",
    ]
    for figure in figures:
        parts.append(
            f'<figure><img src="{html.escape(figure.file)}" width="{WIDTH}" height="{HEIGHT}" alt="{html.escape(figure.caption)}">'
            f"<figcaption>{html.escape(figure.caption)}</figcaption></figure>"
        )
    parts += [
        "<h2>Machine</h2>",
        _html_table(None, _key_values(session.machine)),
        "<h2>Settings</h2>",
        _html_table(None, _key_values(session.settings)),
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"


# -- Markdown -----------------------------------------------------------------------


def _md_cell(value: str) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def _md_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(_md_cell(h) for h in header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def report_markdown(session: RecordedSession, figures: Sequence[Figure]) -> str:
    header, rows = _model_table(session)
    parts = [
        f"# segview session: {session.folder.name}",
        "## Models",
        _md_table(header, rows),
        "## Run",
        _md_table(("", ""), _run_rows(session)),
        "## Plots",
    ]
    parts += [f"![{Path(f.file).stem}]({f.file})\n\n{f.caption}" for f in figures]
    parts += [
        "## Machine",
        _md_table(("", ""), _key_values(session.machine)),
        "## Settings",
        _md_table(("", ""), _key_values(session.settings)),
    ]
    return "\n\n".join(parts) + "\n"
