"""The window's process never imports torch (the weights it plays are numpy, training runs in a child), nor
numba and llvmlite (the audio code comes compiled ahead of time, iirnn_core.rt.build, which ./run builds)."""

import os
import subprocess
import sys

SCRIPT = r"""
import os, sys, tempfile, time
os.environ["QT_QPA_PLATFORM"] = "offscreen"
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication
from app.main_window import MainWindow, audio_config
from dataclasses import replace

app = QApplication([])
store = QSettings(os.path.join(tempfile.mkdtemp(), "s.ini"), QSettings.IniFormat)
window = MainWindow(store, config_factory=lambda s: replace(audio_config(s), device="no such device"))
window.show()
window.training.keys_edit.setText("A4")
assert window.training.start()
deadline = time.monotonic() + 120
while window.training.is_running and time.monotonic() < deadline:
    app.processEvents()
    time.sleep(0.02)
window.engine.note_on(69)
time.sleep(0.1)
from iirnn_core.rt import library as rt
print(rt.backend().split()[0], "numba" in sys.modules, "llvmlite" in sys.modules)
print("trained" if window.model is not None else "no model", "torch" in sys.modules)
window.close()
"""


def test_the_window_trains_and_plays_without_importing_torch_or_numba():
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    proc = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=300, env=env,
                          cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split()[-2:] == ["trained", "False"], proc.stdout + proc.stderr[-1000:]
    assert proc.stdout.split()[-5:-2] == ["library", "False", "False"], proc.stdout + proc.stderr[-1000:]
