"""Does training stall the window or the audio? The real window, playing, with and without a training run.

Runs the window (offscreen Qt, the real audio engine on the default device, or the null output
with ``--null``) for two phases of ``--seconds`` each while a timer strikes a key every 150 ms:
first idle (the peer), then with a C4..C6 training job in its child process. Prints, per phase:
loss updates the panel received per second (first to last) and when the first came (the child's
start-up: spawn and imports), the gaps between the window's 30 Hz plot ticks
(median, 99th percentile, max: a stalled UI shows as a long gap), and the engine's underruns and
callback load, and the longest time a Python thread of the window's process could not run (a 1 ms
watchdog: the GIL held by the GUI, or the CPU taken by others; the audio callback waits as long). Usage: ``python benchmarks/window_training.py [--seconds 8] [--null]``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def run_phase(app, window, seconds: float, train: bool) -> dict:
    """Play for ``seconds`` (training if asked); returns the phase's figures."""
    from PySide6.QtCore import QTimer

    from iirnn_core.notes import note_to_midi

    ticks: list[float] = []
    updates: list[float] = []
    window.plot_timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    window.training.progress_received.connect(lambda _n: updates.append(time.perf_counter()))
    keys = [note_to_midi(n) for n in ("C4", "E4", "G4", "C5", "E5", "G5")]
    state = {"i": 0}

    def strike():
        midi = keys[state["i"] % len(keys)]
        window.note_off(keys[(state["i"] - 1) % len(keys)])
        window.note_on(midi, 100)
        state["i"] += 1

    stalls: list[float] = []
    watching = threading.Event()

    def watchdog():  # a Python thread of the window's process that wants to run every millisecond
        last = time.perf_counter()
        while not watching.is_set():
            time.sleep(0.001)
            now = time.perf_counter()
            stalls.append(now - last)
            last = now

    threading.Thread(target=watchdog, daemon=True).start()
    striker = QTimer()
    striker.timeout.connect(strike)
    striker.start(150)
    if train:
        window.training.set_values("C4..C6", "best", "random", seconds + 30.0)
        assert window.training.start(), window.training.status_label.text()
    start = time.perf_counter()
    end: dict = {}

    def finish():
        end["stats"], end["status"] = window.engine.stats(), window.engine.status_line
        app.exit()  # (quit() would also close the window)

    QTimer.singleShot(int(seconds * 1000), finish)
    app.exec()  # the window's own event loop, as in the app (no polling loop of our own)
    first_update = updates[0] - start if updates else float("nan")
    # updates per second once the child runs (its start-up, spawn + imports, is reported apart)
    rate = (len(updates) - 1) / (updates[-1] - updates[0]) if len(updates) > 1 else 0.0
    window.training.shutdown()
    striker.stop()
    after = end["stats"]
    watching.set()
    window.plot_timer.timeout.disconnect()
    window.plot_timer.timeout.connect(window.refresh_plots)
    gaps = np.diff(ticks) * 1000.0 if len(ticks) > 1 else np.array([np.nan])
    return {
        "updates_per_s": rate,
        "first_update_s": first_update,
        "tick_median_ms": float(np.median(gaps)),
        "tick_p99_ms": float(np.percentile(gaps, 99)),
        "tick_max_ms": float(np.max(gaps)),
        "python_stall_max_ms": 1000.0 * max(stalls) if stalls else float("nan"),
        "underruns": after.underruns_timestamps + after.underruns_wallclock,
        "load_mean": after.callback_load_mean,
        "load_max": after.callback_load_max,
        "device": after.device_name,
        "status": end["status"],
    }


def main() -> int:
    """Run both phases and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--null", action="store_true", help="use the null output instead of the default device")
    args = parser.parse_args()
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from app.binding_check import keep_none_alive
    from app.main_window import MainWindow, audio_config

    app = QApplication([sys.argv[0]])
    keep_none_alive()
    config_factory = audio_config
    if args.null:
        from dataclasses import replace

        def config_factory(s):
            return replace(audio_config(s), device="benchmark: no such device")

    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for train in (False, True):  # a fresh window (and audio engine, and its accounting) per phase
            store = QSettings(str(Path(tmp) / "settings.ini"), QSettings.IniFormat)
            window = MainWindow(store, config_factory=config_factory)
            window.show()
            results.append(run_phase(app, window, args.seconds, train))
            window.close()
    idle, training = results
    for phase in results:
        print(phase["status"])
    print(f"window + audio on {idle['device']}, {args.seconds:g} s per phase, a key every 150 ms, "
          f"{os.cpu_count()} CPUs")
    print(f"{'':24}{'idle (peer)':>14}{'training':>14}")
    for key, label, fmt in (("updates_per_s", "loss updates/s", "{:.1f}"), ("first_update_s", "first update after s", "{:.2f}"),
                            ("tick_median_ms", "plot tick median ms", "{:.1f}"),
                            ("tick_p99_ms", "plot tick p99 ms", "{:.1f}"), ("tick_max_ms", "plot tick max ms", "{:.1f}"),
                            ("python_stall_max_ms", "longest Python stall ms", "{:.1f}"),
                            ("underruns", "audio underruns", "{:d}"), ("load_mean", "callback load mean", "{:.3f}"),
                            ("load_max", "callback load max", "{:.3f}")):
        print(f"{label:24}{fmt.format(idle[key]):>14}{fmt.format(training[key]):>14}")
    print(f"plot tick max, training / idle: {training['tick_max_ms'] / idle['tick_max_ms']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
