"""The studio window's tool windows (Distill, Compress, Profile, Sessions), each opened from the toolbar.

Each is imported on first use (Distill pulls in the distill package) and kept
one per window, so reopening it finds its last state. StudioTools is the
studio window's base class: the window gives it its registry, engine and
model choosing.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtWidgets import QMainWindow

from segview.inference.registry import ModelRegistry
from segview.ui.engine import StudioEngine
from segview.ui.recording_control import DEFAULT_SESSIONS_DIR
from segview.ui.sessions_dialog import open_session
from segview.ui.user_action import reports_problems

if TYPE_CHECKING:
    from segview.ui.compress_wizard import CompressWizard
    from segview.ui.distill_dialog import DistillDialog
    from segview.ui.profile_view import ProfileView
    from segview.ui.session_browser import SessionBrowser


class StudioTools(QMainWindow):
    """A main window with the toolbar's tool windows; StudioWindow sets what is declared here."""

    registry: ModelRegistry
    engine: StudioEngine
    if TYPE_CHECKING:  # StudioWindow's own; declared for the type checker only

        def open_model_file(self, path: Path) -> bool: ...
        def refresh_models(self) -> None: ...
        def choose_models(self, references: list[str]) -> bool: ...

    _distill_dialog: DistillDialog | None = None
    _compress_wizard: CompressWizard | None = None
    _profile_view: ProfileView | None = None
    _session_browser: SessionBrowser | None = None

    @reports_problems("Opening Distill", failed=None)
    def open_distill(self):
        """The distillation page (imported on first use: it pulls in the distill package)."""
        from segview.ui.distill_dialog import DistillDialog

        if self._distill_dialog is None:
            self._distill_dialog = DistillDialog(self.registry, self)
            self._distill_dialog.page.student_registered.connect(self.open_model_file)
            running = self._running_model()
            if running:
                self._distill_dialog.page.teacher_combo.setCurrentText(running)
        self._distill_dialog.page.refresh_teachers()
        self._distill_dialog.show()
        return self._distill_dialog

    def _running_model(self) -> str | None:
        """The first model the studio runs: what the Distill and Compress pages start from
        (rather than whichever name sorts first, often a variant)."""
        return self.engine.models[0].name if self.engine.models else None

    @reports_problems("Opening Compress", failed=None)
    def open_compress(self):
        """The compression wizard (imported on first use); its results join the model picker as they finish."""
        from segview.ui.compress_wizard import CompressWizard

        if self._compress_wizard is None:
            self._compress_wizard = CompressWizard(self.registry, engine=self.engine, parent=self)
            self._compress_wizard.result_registered.connect(lambda _name: self.refresh_models())
            self._compress_wizard.compare_requested.connect(self.choose_models)
            running = self._running_model()
            if running:
                self._compress_wizard.steps_page.set_model(running)
        elif not self._compress_wizard.isVisible():
            self._compress_wizard.reopen()  # one wizard per window: the fields of its last use are kept
        self._compress_wizard.show()
        return self._compress_wizard

    @reports_problems("Opening Profile", failed=None)
    def open_profile(self):
        """The Profile view (imported on first use); one per window, its last profile kept."""
        from segview.ui.profile_view import ProfileView

        if self._profile_view is None:
            self._profile_view = ProfileView(self, parent=self)
        self._profile_view.refresh_models()
        self._profile_view.show()
        self._profile_view.raise_()
        return self._profile_view

    @reports_problems("Opening Sessions", failed=None)
    def _on_open_session(self):
        """The Sessions browser over the folder recordings go to (imported on first use)."""
        from segview.ui.session_browser import SessionBrowser

        if self._session_browser is None:
            self._session_browser = SessionBrowser(DEFAULT_SESSIONS_DIR, self)
        else:  # one browser per window: reopened, it lists its folder again (a recording may have been added)
            self._session_browser.show_folder(self._session_browser.root)
        self._session_browser.show()
        self._session_browser.raise_()
        return self._session_browser

    @reports_problems("Opening the session", failed=None)
    def show_session(self, folder: Path):
        """Open a recorded session in a dialog; a bad folder is reported in the status bar."""
        dialog = open_session(folder, self)
        dialog.show()
        return dialog
