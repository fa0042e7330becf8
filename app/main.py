"""``iirnn-synth`` / ``python -m app``: open the synth window on the default device with the shipped model."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    """Run the window until it closes; returns the exit code (settings in the user's QSettings)."""
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv if argv is None else argv)
    app.setOrganizationName("iirnn-synth")
    app.setApplicationName("iirnn-synth")
    from .main_window import MainWindow

    window = MainWindow(QSettings())
    window.show()
    return app.exec()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
