"""A learned sound in the real window: File > Learn a sound..., then keys across three octaves, heard on the sink.

The window runs as a user meets it (Qt's xcb platform on Xvfb, the real engine on PulseAudio through a null sink
of our own whose monitor ``parec`` records; ``benchmarks/window_training.py``'s session). A note of
``fluid-soundfont-gm`` rendered by ``fluidsynth`` (``--note``, default the marimba C4 of ``bench_learn.py``) is
chosen through File > Learn a sound... (the menu's own action; the file dialog answers with the note's path) with
``--hidden`` states (16). The run measures how long the window took to learn it (the trainer process; the
keyboard keeps playing meanwhile), then strikes C3, C4, C5 (and the A/B engine's C4: the recording on the left,
the network on the right) on the window's keys, records them from the sink, and gives for each key the pitch
heard (the strongest spectral peak within a fifth of the key's frequency)
and its level, the engine's underruns, and a screenshot of the window with the Learned sound tab
(``docs/screens/learned-sound.png``). Usage::

    python benchmarks/window_learn.py [--note marimba] [--hidden 16] [--screenshot docs/screens/learned-sound.png]

The rows also go to ``docs/measurements/window_learn.json`` (``benchmarks/record.py``).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from unittest import mock

import numpy as np

from bench_learn import NOTES, render_note
from record import write_result
from window_training import ROOT, real_window_session

RATE = 48000
KEYS = ("C3", "C4", "C5")
STRIKE_S = 1.2


def heard_pitch(x: np.ndarray, expected: float) -> float:
    """The strongest spectral peak of ``x`` (N,) at 48 kHz within a fifth of ``expected`` (Hz)."""
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x)), 1 << 18))
    hz = np.fft.rfftfreq(1 << 18, 1 / RATE)
    band = (hz > expected / 1.5) & (hz < expected * 1.5)
    return float(hz[band][np.argmax(spectrum[band])])


def main() -> int:
    """Learn in the window, play three octaves, measure, write the JSON and the screenshot."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--note", default="marimba", choices=list(NOTES))
    parser.add_argument("--hidden", type=int, default=16)
    parser.add_argument("--screenshot", default=str(ROOT / "docs" / "screens" / "learned-sound.png"))
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    import pulse
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QFileDialog

    from app.main_window import MainWindow
    from iirnn_core.dsp.notes import note_to_hz, note_to_midi

    with real_window_session() as (app, sink, tmp), tempfile.TemporaryDirectory() as notes:
        wav = render_note(args.note, notes)

        def wait(seconds: float, done=lambda: False) -> bool:
            end = time.monotonic() + seconds
            while time.monotonic() < end and not done():
                app.processEvents()
                time.sleep(0.005)
            return done()

        window = MainWindow(QSettings(str(Path(tmp) / "settings.ini"), QSettings.IniFormat))
        window.resize(1500, 950)
        window.show()
        wait(30.0, lambda: window.audio_started)
        window.training.set_values("C4..C6", "best", "random", 0.0, args.hidden)  # Budget: the trainer's default
        learned: list[bool] = []
        window.learn_control.done.connect(learned.append)
        started = time.perf_counter()
        with mock.patch.object(QFileDialog, "getOpenFileName", return_value=(wav, "")):
            window.learn_control.action.trigger()  # File > Learn a sound...
        while_learning = 0
        for key in ("C4", "E4", "G4"):  # the keyboard plays on while the trainer learns
            window.note_on(note_to_midi(key), 100)
            wait(0.15)
            window.note_off(note_to_midi(key))
            while_learning += 1
        if not wait(180.0, lambda: bool(learned)) or learned != [True]:
            raise SystemExit(f"window_learn: not learned: {window.statusBar().currentMessage()}")
        learn_s = time.perf_counter() - started
        sound = window.model.sound
        report = dict(sound.report)
        engine, rate = window.sound.engine, window.sound.rate
        wait(0.5)
        rows = []
        plays = [(key, "rnn-trained") for key in KEYS] + [("C4", "ab")]
        with pulse.record_monitor(sink, RATE) as take:
            wait(0.3)
            marks = []
            for key, kind in plays:
                if kind != window.sound.engine:
                    window.sound.ab_twin_box.setCurrentIndex(window.sound.ab_twin_box.findData("rnn-trained"))
                    window.sound.set_engine(kind)
                    window.apply_sound()
                    wait(0.2)
                marks.append(time.perf_counter())
                window.note_on(note_to_midi(key), 100)
                wait(0.4)
                window.note_off(note_to_midi(key))
                wait(STRIKE_S - 0.4)
            stats = window.engine.stats()
        x = take[0]
        window.plot_control.show_sound(window.model)
        wait(0.3)
        Path(args.screenshot).parent.mkdir(parents=True, exist_ok=True)
        window.grab().save(args.screenshot)
        window.training.shutdown()
        window.close()
    first = pulse.first_sound(x.mean(axis=1))
    if first is None:
        raise SystemExit("window_learn: nothing was heard on the sink")
    for (key, kind), mark in zip(plays, marks):
        at = first + int((mark - marks[0]) * RATE)
        seg = x[at:at + int(0.35 * RATE)]
        row = {"row": f"{key} {kind}", "key_hz": note_to_hz(key)}
        for c, side in enumerate(("left", "right")):
            row[f"{side}_hz"] = heard_pitch(seg[:, c], note_to_hz(key))
            row[f"{side}_peak_dbfs"] = 20 * np.log10(max(float(np.max(np.abs(seg[:, c]))), 1e-12))
        rows.append(row)
    summary = [f"{args.note} ({os.path.basename(wav)}), H {args.hidden}: learned in the window in {learn_s:.1f} s "
               f"(learn() {report['learn_seconds']:.1f} s, {report['steps']} steps; net SNR {report['snr_db']:.1f} dB "
               f"vs linear {report['linear_snr_db']:.1f} dB), {while_learning} keys played meanwhile; then engine "
               f"{engine} at {rate} Hz; underruns {stats.underruns_timestamps} / {stats.underruns_wallclock}",
               f"screenshot: {os.path.relpath(args.screenshot, ROOT)}"]
    write_result("window_learn", rows, {"summary": summary, "learn_s": learn_s, "report": report})
    for r in rows:
        print(f"{r['row']:<16} key {r['key_hz']:7.2f} Hz: heard left {r['left_hz']:7.2f} Hz "
              f"({r['left_peak_dbfs']:6.1f} dBFS), right {r['right_hz']:7.2f} Hz ({r['right_peak_dbfs']:6.1f} dBFS)")
    print("\n".join(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
