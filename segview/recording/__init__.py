"""Recording a run to a session folder, reading it back and comparing two. No Qt."""

from segview.recording.recorder import SessionRecorder
from segview.recording.session_compare import ComparisonRow, compare_sessions
from segview.recording.session_file import RecordedSession, SessionSummary
from segview.recording.session_reader import load_session

__all__ = ["ComparisonRow", "RecordedSession", "SessionRecorder", "SessionSummary", "compare_sessions", "load_session"]
