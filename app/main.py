"""``iirnn-synth`` / ``python -m app``: open the synth window on the default device with the shipped model.

Options: ``--settings FILE`` keeps the window's settings in that INI file instead of the user's
QSettings (for trying things out, and for tests); ``--model FILE`` starts with another model.
"""

from __future__ import annotations

import argparse
import sys


def parse_args(argv: list[str]) -> argparse.Namespace:
    """The window's command-line options (Qt's own options are left to Qt)."""
    parser = argparse.ArgumentParser(prog="iirnn-synth", description="The iirnn-synth window.")
    parser.add_argument("--settings", metavar="FILE", help="INI file for the settings (default: the user's)")
    parser.add_argument("--model", metavar="FILE", help="model file to start with (default: the shipped one)")
    args, _qt_args = parser.parse_known_args(argv)
    return args


def install_excepthook(window) -> None:
    """An unexpected error in a slot: the traceback goes to stderr (for a developer) and one line
    to the window's status bar (for the person); the window keeps running."""
    import traceback

    from .texts import one_line

    def hook(kind, value, tb):
        traceback.print_exception(kind, value, tb)
        window.statusBar().showMessage(f"Something went wrong: {one_line(value)}")

    sys.excepthook = hook


def main(argv: list[str] | None = None) -> int:
    """Run the window until it closes; returns the exit code."""
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    from iirnn_core.errors import unsupported_platform

    unsupported = unsupported_platform()
    if unsupported:
        print(f"iirnn-synth: {unsupported}", file=sys.stderr)
        return 1
    import logging

    from iirnn_core.audio import stderr_log

    stderr_log.install()  # PortAudio's, ALSA's and JACK's own lines go to the log, not the terminal

    # The library's log (device trouble, a restarted trainer) for a developer on stderr; a person reads the status bar.
    logging.basicConfig(level=logging.WARNING, format="iirnn-synth: %(name)s: %(message)s")
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([sys.argv[0], *argv])
    app.setOrganizationName("iirnn-synth")
    app.setApplicationName("iirnn-synth")
    from .binding_check import keep_none_alive
    from .main_window import MainWindow

    binding_note = keep_none_alive()
    store = QSettings(args.settings, QSettings.IniFormat) if args.settings else QSettings()
    window = MainWindow(store, model_path=args.model)
    install_excepthook(window)
    if binding_note:
        window.statusBar().showMessage(f"{binding_note}  {window.statusBar().currentMessage()}")
    window.show()
    return app.exec()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
