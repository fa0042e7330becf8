"""Hear it learn: how close the trained engine's A4 sounds to the IIR's while a training run goes on.

The real window on Xvfb (xcb) plays through PulseAudio into a null sink of our own whose monitor is
recorded (as ``window_training.py`` does). First A4 is struck on the IIR engine (the reference),
then the trained engine is selected and a C4..C6 run from random init is started from the
training panel; A4 is struck every ``--every`` seconds while it runs and once after it ends. Each
strike heard is compared with the IIR's: ``10 log10(sum ref^2 / sum (played - ref)^2)`` over
``--window`` seconds from its onset (aligned to the sample). Prints one row per strike: its time
since Start and the SNR in dB. Usage::

    python benchmarks/hear_it_learn.py [--every 0.3] [--window 0.15] [--optimizer best]

The rows also go to ``docs/measurements/hear_it_learn.json`` (``benchmarks/record.py``).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from record import write_result  # noqa: E402
from window_training import RATE, real_window_session  # noqa: E402 - the same real-window set-up

A4 = 69


def onsets(x: np.ndarray, threshold: float) -> list[int]:
    """Sample indices where |x| first rises above ``threshold`` after 50 ms below a tenth of it (the last
    5 ms before the rise excepted: the note's own attack and the resampler's pre-ringing)."""
    quiet, attack = int(0.05 * RATE), int(0.005 * RATE)
    loud = np.flatnonzero(np.abs(x) > threshold)
    out = []
    for i in loud:
        if not out or i - out[-1] > quiet and np.abs(x[i - quiet:i - attack]).max() < threshold / 10:
            out.append(int(i))
    return out


def snr_db(ref: np.ndarray, played: np.ndarray, max_shift: int = 48) -> float:
    """SNR (dB) of ``played`` against ``ref`` at the best alignment within +-max_shift samples."""
    n = len(ref)
    best = -np.inf
    for shift in range(-max_shift, max_shift + 1):
        seg = played[max_shift + shift:max_shift + shift + n]
        if len(seg) < n:
            continue
        err = np.sum((seg - ref) ** 2)
        best = max(best, 10 * np.log10(np.sum(ref ** 2) / err) if err > 0 else np.inf)
    return float(best)


def main() -> int:
    """Run once, write the SNR of every A4 heard to ``docs/measurements/hear_it_learn.json`` and print it."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--every", type=float, default=0.3, help="seconds between A4 strikes (default 0.3)")
    parser.add_argument("--window", type=float, default=0.15, help="seconds compared per strike (default 0.15)")
    parser.add_argument("--optimizer", default="best")
    args = parser.parse_args()
    with real_window_session() as (app, sink, tmp):
        import pulse
        from PySide6.QtCore import QSettings

        from app.main_window import MainWindow

        window = MainWindow(QSettings(str(Path(tmp) / "s.ini"), QSettings.IniFormat))
        window.show()
        while not window.audio_started:
            app.processEvents()
            time.sleep(0.01)

        def pump(seconds):
            end = time.perf_counter() + seconds
            while time.perf_counter() < end:
                app.processEvents()
                time.sleep(0.005)

        strikes = []  # (seconds since Start, or -1 for the IIR reference)
        with pulse.record_monitor(sink, RATE) as take:
            window.sound.set_engine("iir")
            window.flush_sound()
            pump(0.3)
            window.note_on(A4, 127)
            strikes.append(-1.0)
            pump(0.6)
            window.sound.set_engine("rnn-trained")
            window.flush_sound()
            window.training.set_values("C4..C6", args.optimizer, "random", 60.0)
            started = time.perf_counter()
            assert window.training.start(), window.training.status_label.text()
            while window.training.is_running:
                window.note_on(A4, 127)
                strikes.append(time.perf_counter() - started)
                pump(args.every)
            pump(0.5)
            window.note_on(A4, 127)
            strikes.append(time.perf_counter() - started)
            pump(0.6)
        window.close()
    x = take[0].mean(axis=1)
    heard = onsets(x, 0.02)
    n = int(args.window * RATE)
    summary = []
    if len(heard) != len(strikes):
        summary.append(f"heard {len(heard)} strikes of {len(strikes)}; the table pairs them in order")
    ref = x[heard[0]:heard[0] + n]
    summary.append(f"A4 on the trained engine against the IIR's A4, heard from the sink ({args.window:g} s per strike), "
                   f"while C4..C6 trains ({args.optimizer}, random init)")
    rows = [{"since_start_s": t, "snr_db": snr_db(ref, x[i - 48:i + n + 48])} for t, i in zip(strikes[1:], heard[1:])]
    write_result("hear_it_learn", rows, {"summary": summary})
    for line in summary:
        print(line)
    print(f"{'since Start s':>14}{'SNR dB':>10}")
    for r in rows:
        print(f"{r['since_start_s']:>14.2f}{r['snr_db']:>10.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
