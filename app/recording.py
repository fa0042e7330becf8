"""File > Record / Stop recording: what the output plays, to a 32-bit float WAV at the device rate.

A :class:`~iirnn_core.audio.recorder.Recorder` does the work (the callback fills a ring, a thread of its
own writes the file); this puts it in the File menu, asks where to save, and reports in the status
bar: where it records, when it could not keep up or the output stopped calling back, and how long
the finished file is. A recording that ends by itself (the disk nearly full: it leaves 64 MiB free;
the output's rate changed) is finished at once. Closing the window stops the recording, which
finishes a valid file.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QFileDialog, QMenu, QMessageBox, QWidget

from iirnn_core.audio.recorder import Recorder, RecordingError

CHECK_MS = 500
"""How often a running recording is asked whether it keeps up."""


class RecordingControl(QObject):
    """The Record... and Stop recording actions, inserted into ``menu`` before ``before``; ``source()`` returns the
    block processor playing now (``lambda: engine.processor``). ``message(text)`` is for the status bar."""

    message = Signal(str)

    def __init__(self, menu: QMenu, before: QAction, source, parent: QWidget):
        super().__init__(parent)
        self._source = source
        self._parent = parent
        self.recorder: Recorder | None = None
        self.result = None  # the last finished recording's RecordResult
        self.record_action = QAction("&Record...", parent)
        self.record_action.setShortcut(QKeySequence("Ctrl+R"))
        self.record_action.setToolTip("Record what the output plays to a 32-bit float WAV at the device rate")
        self.record_action.triggered.connect(self.choose)
        self.stop_action = QAction("S&top recording", parent)
        self.stop_action.setEnabled(False)
        self.stop_action.triggered.connect(self.stop)
        menu.insertActions(before, [self.record_action, self.stop_action])
        menu.insertSeparator(before)
        self._warned = ""
        self._timer = QTimer(self)
        self._timer.setInterval(CHECK_MS)
        self._timer.timeout.connect(self._check)

    @property
    def active(self) -> bool:
        """True while recording."""
        return self.recorder is not None

    def choose(self) -> None:
        """File > Record...: ask for a file, then record to it."""
        path, _ = QFileDialog.getSaveFileName(self._parent, "Record to", "recording.wav", "WAV files (*.wav)")
        if path:
            self.start(path)

    def start(self, path: str) -> bool:
        """Record to ``path`` (a recording under way is finished first); a file that cannot be written is one
        sentence in a dialog."""
        self.stop()
        try:
            self.recorder = Recorder(path, self._source).start()
        except RecordingError as exc:
            QMessageBox.warning(self._parent, "Not recording", str(exc))
            return False
        self._warned = ""
        self.record_action.setEnabled(False)
        self.stop_action.setEnabled(True)
        self._timer.start()
        self.message.emit(f"Recording to {path} ({self.recorder.rate} Hz, {self.recorder.channels} ch)...")
        return True

    def stop(self):
        """Finish the recording (a valid file); returns its RecordResult (None if none was under way)."""
        recorder, self.recorder = self.recorder, None
        if recorder is None:
            return None
        self._timer.stop()
        self.result = recorder.stop()
        self.record_action.setEnabled(True)
        self.stop_action.setEnabled(False)
        self.message.emit(self.result.summary())
        return self.result

    def _check(self) -> None:
        """Say once when the recording falls behind or the output stops calling back; when it ended by itself
        (the disk nearly full, the output changed its rate), finish it: the file is closed, the summary shown."""
        recorder = self.recorder
        if recorder is None:
            return
        if recorder.error:
            self.stop()
            return
        warning = recorder.warning
        if warning and warning != self._warned:
            self._warned = warning
            self.message.emit(warning)
