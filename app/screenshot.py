"""``python -m app.screenshot OUT.png [SECONDS] [--learn NOTE.wav [--hidden H]]``: the README's picture of the real
window.

Opens the window (shipped model, settings in a temporary file), selects A/B with the trained
twin, trains C4..C6 for 30 steps (at most ``SECONDS``, default 20), then holds A4 on the computer
keyboard and, once the note is in the scope, saves the window's own ``grab()``. Run it on a display (Xvfb works).

With ``--learn NOTE.wav`` it learns that recorded note instead (File > Learn a sound..., ``H`` hidden states,
default 16, a budget of ``SECONDS``), so the picture shows the Learned sound tab (recording against network,
spectra, poles), the report in the training panel and the learned sound playing on A4.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    """Make the screenshot; returns the exit code."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args is None:
        return 2
    out, seconds = args.out, args.seconds
    from PySide6.QtCore import QEvent, QSettings, Qt
    from PySide6.QtGui import QKeyEvent
    from PySide6.QtWidgets import QApplication

    from .main_window import MainWindow

    app = QApplication.instance() or QApplication([sys.argv[0]])
    with tempfile.TemporaryDirectory() as tmp:
        window = MainWindow(QSettings(str(Path(tmp) / "settings.ini"), QSettings.IniFormat))
        window.resize(1500, 900)
        window.show()

        def wait(duration: float, done=lambda: False) -> None:
            end = time.monotonic() + duration
            while time.monotonic() < end and not done():
                app.processEvents()
                time.sleep(0.005)

        if args.learn:
            window.training.set_values("C4..C6", "best", "random", seconds, args.hidden)
            learned = []
            window.learn_control.done.connect(learned.append)
            if not window.learn_control.start(str(args.learn)):
                print(window.statusBar().currentMessage(), file=sys.stderr)
                window.close()
                return 1
            wait(seconds + 120.0, lambda: bool(learned))  # the trainer loads torch and the kernels first
            if learned != [True]:
                print(window.statusBar().currentMessage() or "the sound was not learned in time", file=sys.stderr)
                window.close()
                return 1
            wait(30.0, lambda: window.audio_started)
        else:
            window.sound.set_engine("ab")
            window.sound.ab_twin_box.setCurrentIndex(window.sound.ab_twin_box.findData("rnn-trained"))
            window.flush_sound()
            window.training.set_values("C4..C6", "best", "random", max(seconds + 5.0, 10.0))
            window.training.start()
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


def parse_args(argv: list[str]):
    """The command line as a namespace (``out``, ``seconds``, ``learn``, ``hidden``), None (with a usage line on
    stderr) when it is wrong."""
    parser = argparse.ArgumentParser(prog="python -m app.screenshot", description="A picture of the real window.")
    parser.add_argument("out", type=Path, metavar="OUT.png")
    parser.add_argument("seconds", type=float, nargs="?", default=20.0, metavar="SECONDS",
                        help="training (or learning) budget in s (default 20)")
    parser.add_argument("--learn", type=Path, metavar="NOTE.wav", help="learn this recorded note and show it")
    parser.add_argument("--hidden", type=int, default=16, metavar="H", help="hidden states to learn with (16)")
    try:
        args = parser.parse_args(argv)
    except SystemExit:
        return None
    if args.learn is not None and not args.learn.is_file():
        print(f"python -m app.screenshot: {args.learn}: no such file", file=sys.stderr)
        return None
    return args


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
