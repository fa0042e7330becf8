"""Does the window drop audio while you play and it trains? The real window, painted, heard from the sink.

The window runs as a user meets it: Qt's xcb platform on a real X server (Xvfb, started here when
there is no ``DISPLAY``), the real audio engine on PulseAudio (started here when none runs) through
a null sink of our own (``norewinds=1``) whose monitor ``parec`` records. The engine is A/B at
Q 0.999; a key is struck every 125 ms for ``--seconds`` (20); at 4 s a training run of ``--keys`` (C4..C6) starts
from the training panel. With ``--hold-gil`` the window's own GUI thread also holds the GIL for
300 ms every 2 s. Per run it prints the dropouts heard (runs of silence longer than 5 ms in the
recording, between the first and the last key, and when: s from the run's start), the engine's underruns (timestamps / wall clock:
two estimates of the same dropouts), loss updates per second, the 30 Hz plot ticks and the longest
time a Python thread could not run (a 1 ms watchdog). A real-time probe (``tests/rt_probe.py``: a compiled
SCHED_FIFO 60 thread on each CPU, the callback's priority, sleeping 1 ms at a time) gives the worst lateness the
machine itself imposed on such a thread during the run, how often it was over 5 ms, and the CPU steal
(a virtual machine's host taking the CPUs); a dropout within 50 ms of such a stall is marked ``*``
(the machine's, not the audio code's doing), and "not beside" counts the dropouts that are not. The window
keeps the CPUs awake while notes sound (``iirnn_core.audio.cpu_wakeup``) unless ``--cpus-may-sleep``. Usage::

    python benchmarks/window_training.py [--seconds 20] [--runs 3] [--hold-gil] [--no-training] [--latency low]
                                         [--keys KEYS] [--cpus-may-sleep] [--profile]

The rows also go to ``docs/measurements/window_training.json`` (``benchmarks/record.py``).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from record import write_result

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # the tests' pulse.py, rt_probe.py

RATE = 48000
KEY_PERIOD_MS = 125
TRAIN_AT_S = 4.0


def start_xvfb() -> subprocess.Popen | None:
    """Start Xvfb and set DISPLAY when there is no display; returns the server (None if one was there)."""
    if os.environ.get("DISPLAY"):
        return None
    read_fd, write_fd = os.pipe()
    server = subprocess.Popen(["Xvfb", "-displayfd", str(write_fd), "-screen", "0", "1600x1000x24", "-nolisten", "tcp"],
                              pass_fds=(write_fd,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write_fd)
    with os.fdopen(read_fd) as pipe:
        os.environ["DISPLAY"] = ":" + pipe.readline().strip()
    return server


@contextlib.contextmanager
def sound_server(kind: str):
    """``pulseaudio``: PulseAudio (started when none runs) with a null sink of our own; ``pipewire``: a PipeWire
    stack of our own (``tests/pulse.py``'s ``PrivatePipeWire``) whose null sink is the default. This process
    plays into the sink from then on; yields the sink's name."""
    import pulse

    if kind == "pulseaudio":
        with pulse.server_and_sink(f"iirnn_bench_{os.getpid()}") as sink:
            yield sink
        return
    with pulse.private_server(kind) as server, server.serving_this_process():
        yield server.sink


@contextlib.contextmanager
def real_window_session(server: str = "pulseaudio"):
    """Qt on xcb (Xvfb when there is no display) and the sound ``server`` (:func:`sound_server`) with a null sink
    this process plays into; yields (QApplication, sink name, a temporary folder)."""
    os.environ["QT_QPA_PLATFORM"] = "xcb"
    xvfb = start_xvfb()
    try:
        with sound_server(server) as sink, tempfile.TemporaryDirectory() as tmp:
            from PySide6.QtWidgets import QApplication

            from app.binding_check import keep_none_alive
            from iirnn_core.audio.devices import refresh_devices

            refresh_devices()
            app = QApplication([sys.argv[0]])
            keep_none_alive()
            yield app, sink, tmp
    finally:
        if xvfb is not None:
            xvfb.terminate()


def run(app, args, sink: str, tmp: str, index: int) -> dict:
    """One run: a fresh window, played and (unless --no-training) training, recorded from the sink."""
    import ctypes

    import pulse
    from PySide6.QtCore import QSettings, QTimer

    from app.main_window import MainWindow
    from iirnn_core.dsp.notes import note_to_midi

    libc = ctypes.PyDLL(None)  # a PyDLL call keeps the GIL: usleep then holds it for the whole sleep

    def hold_the_gil(seconds):
        libc.usleep(int(seconds * 1e6))

    store = QSettings(str(Path(tmp) / f"settings{index}.ini"), QSettings.IniFormat)
    if args.latency is not None:
        store.setValue("latency", args.latency)
    store.setValue("cpus_awake", not args.cpus_may_sleep)
    started = time.perf_counter()
    window = MainWindow(store)
    window.show()
    while not window.audio_started:
        app.processEvents()
        time.sleep(0.01)
    audio_after = time.perf_counter() - started
    window.sound.set_values("ab", 0.999, 1.0, 100, 0.8, 8000)
    window.apply_sound()

    ticks: list[float] = []
    updates: list[float] = []
    stalls: list[float] = []
    window.plot_timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    window.training.progress_received.connect(lambda _n: updates.append(time.perf_counter()))
    keys = [note_to_midi(n) for n in ("C4", "E4", "G4", "C5", "E5", "G5", "C6")]
    state = {"i": 0, "first": None, "last": None}
    watching = threading.Event()

    def watchdog():
        last = time.perf_counter()
        while not watching.is_set():
            time.sleep(0.001)
            now = time.perf_counter()
            stalls.append(now - last)
            last = now

    def strike():
        window.note_off(keys[(state["i"] - 1) % len(keys)])
        window.note_on(keys[state["i"] % len(keys)], 100)
        now = time.perf_counter()
        state["first"] = state["first"] or now
        state["last"] = now
        state["i"] += 1

    def train():
        window.training.set_values(args.keys, "best", "random", args.seconds + 30.0)
        assert window.training.start(), window.training.status_label.text()

    end: dict = {}

    def finish():
        end["stats"], end["status"] = window.engine.stats(), window.engine.status_line
        app.exit()

    from rt_probe import WakeupProbe

    probe = WakeupProbe(args.seconds + 60.0)
    with pulse.record_monitor(sink, RATE) as take, probe:
        t0 = time.perf_counter()
        threading.Thread(target=watchdog, daemon=True).start()
        striker = QTimer()
        striker.timeout.connect(strike)
        striker.start(KEY_PERIOD_MS)
        if not args.no_training:
            QTimer.singleShot(int(TRAIN_AT_S * 1000), train)
        holder = QTimer()
        if args.hold_gil:
            holder.timeout.connect(lambda: hold_the_gil(0.3))
            holder.start(2000)
        QTimer.singleShot(int(args.seconds * 1000), finish)
        if args.profile:  # where the GUI thread's time goes (cProfile sees only the thread that runs it)
            import cProfile
            import pstats

            profiler = cProfile.Profile()
            profiler.runcall(app.exec)
            pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
        else:
            app.exec()
        striker.stop()
        holder.stop()
        watching.set()
    window.training.shutdown()
    window.close()
    x = take[0].mean(axis=1)
    # The recording started t0 - (its own start) before the first key: find the first key by its sound.
    first = pulse.first_sound(x)
    if first is None:
        raise SystemExit(f"run {index + 1}: nothing was heard on {sink}; the window's status: {end['status']}")
    span = int((state["last"] - state["first"]) * RATE)
    gaps = pulse.silences(x, first, first + span, RATE)  # a ringing A/B note is far above 1e-6 for its whole tail
    stats = end["stats"]
    # A dropout beside a probe stall over 5 ms on either CPU (within 50 ms: the recording's alignment) was the machine's.
    host = probe.beside(state["first"] + at for at, _ in gaps)
    tick_gaps = np.diff(ticks) * 1000.0 if len(ticks) > 1 else np.array([np.nan])
    return {
        "audio_after_s": audio_after,
        "keys": state["i"],
        "heard_s": span / RATE,
        "dropouts": len(gaps),
        "silence_s": sum(length for _, length in gaps),
        # from the window's t0 (training starts TRAIN_AT_S after it), as the stalls are
        "dropouts_at_s": [round(state["first"] - t0 + at, 2) for at, _ in gaps],
        "dropouts_host": host,
        "stalls_at_s": [round(at - t0, 2) for at, _, _ in probe.long_stalls()],
        "underruns": f"{stats.underruns_timestamps} / {stats.underruns_wallclock}",
        "updates_per_s": (len(updates) - 1) / (updates[-1] - updates[0]) if len(updates) > 1 else 0.0,
        "first_update_s": (updates[0] - t0 - TRAIN_AT_S) if updates else float("nan"),
        "tick_p99_ms": float(np.percentile(tick_gaps, 99)),
        "tick_max_ms": float(np.max(tick_gaps)),
        "python_stall_max_ms": 1000.0 * max(stalls) if stalls else float("nan"),
        "load_max": stats.callback_load_max,
        "priority": stats.priority,
        "cpus": stats.cpu_wakeup,
        "status": end["status"],
        "rt_late_ms": probe.result["worst_ms"],
        "rt_over_5ms": probe.result["over_5ms"],
        "steal_percent": probe.result["steal_percent"],
    }


def main() -> int:
    """Run the window ``--runs`` times, write the rows to ``docs/measurements/window_training.json`` and print
    one row per run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--hold-gil", action="store_true", help="the GUI thread holds the GIL 300 ms every 2 s")
    parser.add_argument("--no-training", action="store_true", help="play only (the peer)")
    parser.add_argument("--latency", default=None, help="the window's latency choice (default: the window's own)")
    parser.add_argument("--cpus-may-sleep", action="store_true",
                        help="untick the window's 'Keep the CPUs awake while notes sound' (the peer)")
    parser.add_argument("--keys", default="C4..C6", help="the keys trained, as typed in the panel (e.g. 'whole keyboard')")
    parser.add_argument("--profile", action="store_true", help="print where the GUI thread's time went (cProfile)")
    parser.add_argument("--server", choices=("pulseaudio", "pipewire"), default="pulseaudio",
                        help="the sound server (pipewire: a stack of our own; the window takes its fast path)")
    args = parser.parse_args()
    with real_window_session(args.server) as (app, sink, tmp):
        rows = [run(app, args, sink, tmp, i) for i in range(args.runs)]
    what = "no training" if args.no_training else f"{args.keys} training from {TRAIN_AT_S:g} s"
    title = [rows[0]["status"],
             f"real window (xcb on {os.environ['DISPLAY']}), A/B at Q 0.999, a key every {KEY_PERIOD_MS} ms for "
             f"{args.seconds:g} s, {what}{', GIL held 300 ms every 2 s' if args.hold_gil else ''}; "
             f"{os.cpu_count()} CPUs; audio thread {rows[0]['priority']}; CPUs at the end: "
             f"{', '.join(r['cpus'] for r in rows)}"]
    write_result("window_training", rows, {"summary": title}, steal=[r["steal_percent"] for r in rows])
    for line in title:
        print(line)
    header = ("run", "dropouts>5ms", "silence s", "underruns ts/wall", "loss upd/s", "1st upd s", "tick p99",
              "tick max", "py stall ms", "load max", "audio at s", "RT late ms", "RT >5ms", "steal %", "not beside")
    print("  ".join(f"{h:>12}" for h in header))
    for i, r in enumerate(rows):
        cells = (i + 1, r["dropouts"], f"{r['silence_s']:.3f}", r["underruns"], f"{r['updates_per_s']:.1f}",
                 f"{r['first_update_s']:.2f}", f"{r['tick_p99_ms']:.1f}", f"{r['tick_max_ms']:.1f}",
                 f"{r['python_stall_max_ms']:.1f}", f"{r['load_max']:.3f}", f"{r['audio_after_s']:.2f}",
                 f"{r['rt_late_ms']:.1f}", r["rt_over_5ms"], f"{r['steal_percent']:.1f}",
                 r["dropouts"] - sum(r["dropouts_host"]))
        print("  ".join(f"{c!s:>12}" for c in cells)
              + (f"  at {', '.join(f'{t:g}' + ('*' if h else '') for t, h in zip(r['dropouts_at_s'][:12], r['dropouts_host']))} s"
                 if r["dropouts"] else "")
              + (f"; stalls at {', '.join(f'{t:g}' for t in r['stalls_at_s'][:12])} s" if r["stalls_at_s"] else ""))
    print("not beside: dropouts with no real-time probe stall over 5 ms on any CPU within 50 ms "
          "(* marks those beside one: the machine's, not the audio code's)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
