"""Writing a session's report in a child process, so the studio's GUI thread never waits for it.

The report's plots are drawn with pyqtgraph widgets, and Qt allows widgets
only on a process's GUI thread: a worker thread cannot draw them, a child
process can (offscreen), and it does not hold the studio's GIL either.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from segview.errors import SegviewError

TIMEOUT_S = 600


def export_report_in_child(session_folder: Path, out_folder: Path | None = None) -> Path:
    """Same answer as ``report.export_report`` (the report folder), or SegviewError with the child's reason."""
    out = Path(out_folder) if out_folder is not None else Path(session_folder) / "report"
    # -P: the child must import the installed segview, not a "segview" folder that happens to be the cwd.
    command = [sys.executable, "-P", "-m", "segview.ui.report_child", str(session_folder), str(out)]
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    try:
        done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SegviewError(f"cannot write the report to {out}: {exc}") from None
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        reason = lines[-1].removeprefix("segview: error: ") if lines else f"the report writer exited with {done.returncode}"
        raise SegviewError(reason)
    return out


def main(argv: list[str]) -> int:
    from segview.ui.report import export_report

    if len(argv) != 2:
        print("segview: error: usage: python -m segview.ui.report_child SESSION_FOLDER OUT_FOLDER", file=sys.stderr)
        return 2
    try:
        export_report(Path(argv[0]), Path(argv[1]))
    except SegviewError as exc:
        print(f"segview: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
