"""``python -m app.screenshot OUT.png [SECONDS]``: the README's picture of the real window.

Opens the window (shipped model, settings in a temporary file), selects A/B with the trained
twin, trains C4..C6 for 30 steps (at most ``SECONDS``, default 20), then holds A4 on the computer
keyboard and, once the note is in the scope, saves the window's own ``grab()``. Run it on a display (Xvfb works).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    """Make the screenshot; returns the exit code."""
    argv = sys.argv[1:] if argv is None else argv
    if not argv:
        print("usage: python -m app.screenshot OUT.png [SECONDS]", file=sys.stderr)
        return 2
    out, seconds = Path(argv[0]), float(argv[1]) if len(argv) > 1 else 20.0
    from PySide6.QtCore import QEvent, QSettings, Qt
    from PySide6.QtGui import QKeyEvent
    from PySide6.QtWidgets import QApplication

    from .main_window import MainWindow

    app = QApplication.instance() or QApplication([sys.argv[0]])
    with tempfile.TemporaryDirectory() as tmp:
        window = MainWindow(QSettings(str(Path(tmp) / "settings.ini"), QSettings.IniFormat))
        window.resize(1500, 900)
        window.show()
        window.sound.set_engine("ab")
        window.sound.ab_twin_box.setCurrentIndex(window.sound.ab_twin_box.findData("rnn-trained"))
        window.flush_sound()
        window.training.set_values("C4..C6", "best", "random", max(seconds + 5.0, 10.0))
        window.training.start()

        def wait(duration: float, done=lambda: False) -> None:
            end = time.monotonic() + duration
            while time.monotonic() < end and not done():
                app.processEvents()
                time.sleep(0.005)

        wait(seconds, lambda: len(window.training.curves) >= 30)  # a loss curve worth seeing
        QApplication.sendEvent(window.keyboard, QKeyEvent(QEvent.KeyPress, Qt.Key_N, Qt.NoModifier, "n"))
        wait(1.0, lambda: float(abs(window.scope.buffer).max()) > 0.02)  # the note is in the scope
        wait(0.04)  # and painted
        out.parent.mkdir(parents=True, exist_ok=True)
        ok = window.grab().save(str(out))
        QApplication.sendEvent(window.keyboard, QKeyEvent(QEvent.KeyRelease, Qt.Key_N, Qt.NoModifier, "n"))
        window.close()
    print(f"saved {out}" if ok else f"could not save {out}", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
