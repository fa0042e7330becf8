"""Live audio under training load: underruns (two ways), callback load and key-to-sound latency.

Each row plays 16 RNN voices cycling (one new key every ``--gap`` s through C4..C6, polyphony
16, so 16 voices sound at all times) for ``--seconds`` through the real output device at
128-frame blocks, while the trainer trains the 25 keys C4..C6:

- ``idle``:    no training (the floor);
- ``process``: training in a persistent child process (:class:`iirnn_core.training.worker.TrainingWorker`) at nice 10, as
               the window runs it, the design;
- ``thread``:  the same training in a thread of the audio process (the contrast: the GIL).

A training run that ends early is started again, so the load lasts the whole row. Printed per
row: underruns counted from callback timestamps and from the wall clock (with the frames lost),
the host's ``output_underflow`` flags, mean/max callback load, key-to-sound latency (median,
90th percentile, spread), training steps done, and what the machine let a real-time thread have meanwhile
(``tests/rt_probe.py``, a thread on each CPU: the worst wakeup lateness in ms, wakeups over 2 and over 5 ms late,
CPU steal in %). On its own null sink (no ``--device``) it also records the sink's monitor: ``heard`` counts
the dropouts heard (silences over 5 ms), ``unexp`` those with no probe stall over 5 ms within 50 ms (the
ones the machine does not explain). Run::

    python3 benchmarks/bench_live_audio.py                       # 60 s per row, 5 ms host buffer
    python3 benchmarks/bench_live_audio.py --latency low --rows process
    python3 benchmarks/bench_live_audio.py --cpus-may-sleep         # the peer: idle CPUs may halt

The ``cpus`` column says whether the CPUs were kept awake while the notes sounded
(:mod:`iirnn_core.audio.cpu_wakeup`): 'awake', or 'refused: why' where ``/dev/cpu_dma_latency`` is not writable.
The rows also go to ``docs/measurements/bench_live_audio.json`` (``benchmarks/record.py``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import sys
import threading
import time
from pathlib import Path

import numpy as np

from iirnn_core.audio.engine import AudioConfig, AudioEngine
from iirnn_core.dsp.notes import note_range, note_to_midi
from iirnn_core.synth.renderer import SynthSettings
from iirnn_core.training.run import TrainConfig, Training
from iirnn_core.training.worker import TrainingJob, TrainingWorker
from record import write_result

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))  # the tests' pulse.py, rt_probe.py
import pulse  # noqa: E402
from rt_probe import WakeupProbe  # noqa: E402

RATE = 48000

KEYS = "C4..C6"


class Load:
    """A training load: ``start`` (returns once training really steps), ``poll``, ``stop``; counts steps."""

    def __init__(self, config: TrainConfig | None = None, nice: int | None = None):
        self.config = config
        self.nice = nice
        self.steps = 0
        self.runs = 0
        self.errors: list[str] = []

    def start(self) -> None:
        """Start training and return once it has stepped (at most 60 s); no training: return at once."""
        deadline = time.monotonic() + 60
        while self.config is not None and self.steps == 0 and time.monotonic() < deadline:
            self.poll()
            time.sleep(0.05)

    def poll(self) -> None:
        """Take the training's news (steps done; a run that ended is started again)."""

    def stop(self) -> None:
        """Stop training and wait for it."""


class ProcessLoad(Load):
    """Training in one persistent child process (:class:`TrainingWorker`, started and ready before the
    stream opens, as the window does), job after job until stopped: no process starts while it plays."""

    def start(self) -> None:
        self._worker = TrainingWorker(niceness=self.nice)
        self._worker.start()
        deadline = time.monotonic() + 60
        while not self._worker.ready and time.monotonic() < deadline:
            self._worker.take(0)
            time.sleep(0.02)
        self._finished_steps = 0
        self._next()
        super().start()

    def _next(self) -> None:
        self._job = TrainingJob(self.config, worker=self._worker)
        self._job.start()
        self.runs += 1

    def poll(self) -> None:
        events = self._job.poll()
        if events:
            self.steps = self._finished_steps + events[-1].step
        if not self._job.is_running:
            if self._job.error:
                self.errors.append(self._job.error)
            self._finished_steps = self.steps
            self._next()

    def stop(self) -> None:
        self._job.cancel()
        self._job.join(timeout=10)
        self._worker.close()


class ThreadLoad(Load):
    """The same training in a thread of this (the audio) process, run after run until stopped."""

    def start(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-training", daemon=True)
        self._thread.start()
        super().start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.runs += 1
            try:
                for _ in Training(self.config).run(self._stop.is_set):
                    self.steps += 1
            except Exception as exc:  # noqa: BLE001 - reported in the table
                self.errors.append(str(exc))
                return

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)


def play_row(kind: str, args, sink: str | None) -> dict:
    """One row: start the load, open the device, play for ``args.seconds``, return the figures. On our own
    null ``sink`` its monitor is recorded too, for the dropouts heard and when they came."""
    # One run spans the whole row (its final stage repeats), so the row measures training, not the
    # start of a training process (torch's import in a new process is a burst of its own).
    config = TrainConfig(notes=(KEYS,), optimizer=args.optimizer, seed=0, steps=10_000_000,
                         budget=args.seconds + 60)
    load = {"idle": Load(), "process": ProcessLoad(config, args.training_nice), "thread": ThreadLoad(config)}[kind]
    load.start()
    latency = args.latency if args.latency in ("low", "high") else float(args.latency)
    engine = AudioEngine(AudioConfig(device=args.device, samplerate=RATE, blocksize=args.blocksize, latency=latency,
                                     cpus_awake=not args.cpus_may_sleep),
                         SynthSettings(q=0.9999, drive=0.3), "rnn-analytic", polyphony=16)
    probe = WakeupProbe(args.seconds + 60)
    heard = None
    try:
        engine.start()
        keys = [note_to_midi(n) for n in note_range(KEYS)]
        steps_before = load.steps
        recording = pulse.record_monitor(sink, RATE) if sink else contextlib.nullcontext([])
        with recording as take, probe:
            start = time.perf_counter()
            i = 0
            while True:
                due = start + i * args.gap
                if due >= start + args.seconds:
                    break
                while time.perf_counter() < due:
                    time.sleep(min(0.005, max(0.0, due - time.perf_counter())))
                engine.note_on(keys[i % len(keys)], 0.8)
                if i % 20 == 0:
                    load.poll()
                i += 1
            remaining = start + args.seconds - time.perf_counter()
            if remaining > 0:
                time.sleep(remaining)
            load.poll()
            stats = engine.stats()
        if take:
            heard = heard_dropouts(take[0].mean(axis=1), start, args.seconds, probe)
        status = engine.status_line + (" Nothing was heard on the sink." if take and heard is None else "")
        cpus = stats.cpu_wakeup
        latencies = engine.latencies_ms()
        steps = load.steps - steps_before
    finally:
        engine.close()
        load.stop()
    return dict(row=kind, status=status, cpus=cpus, device=stats.device_name, null_output=stats.null_output, latency_setting=str(args.latency),
                output_latency_ms=stats.output_latency_ms, seconds=args.seconds, blocksize=args.blocksize,
                underruns_timestamps=stats.underruns_timestamps, underruns_wallclock=stats.underruns_wallclock,
                frames_lost=stats.frames_lost_wallclock, underflow_flags=stats.underflow_flags,
                load_mean=stats.callback_load_mean, load_max=stats.callback_load_max,
                latency_ms_median=stats.latency_ms_median,
                latency_ms_p90=float(np.percentile(latencies, 90)) if latencies.size else math.nan,
                latency_ms_spread=stats.latency_ms_spread, notes=stats.notes, voices=stats.active_voices,
                training_steps=steps, training_runs=load.runs, training_errors=list(load.errors),
                rt_late_ms=probe.result["worst_ms"], rt_over_2ms=probe.result["over_2ms"],
                rt_over_5ms=probe.result["over_5ms"],
                dropouts=heard["dropouts"] if heard else None, dropouts_beside_stall=heard["beside"] if heard else None,
                steal_percent=probe.result["steal_percent"])


def heard_dropouts(x: np.ndarray, start: float, seconds: float, probe) -> dict | None:
    """Dropouts in the recording ``x`` (mono) of a row whose first key was struck at ``start``
    (``time.perf_counter``) and which lasted ``seconds``, and how many came beside a real-time probe
    stall; None if nothing was heard."""
    first = pulse.first_sound(x)  # the first key, found by its sound (16 voices sound from then on)
    if first is None:
        return None
    gaps = pulse.silences(x, first, min(len(x), first + int((seconds - 0.1) * RATE)), RATE)
    return {"dropouts": len(gaps), "beside": sum(probe.beside(start + at for at, _ in gaps))}


def with_sound_server(args, body):
    """Run ``body(sink)``; without ``--device``, on a null sink of our own (``norewinds=1``) of a PulseAudio
    server (started here, real-time as on a desktop, when none runs), as the tests and the window benchmark do;
    with it, ``body(None)``."""
    if args.device is not None:
        return body(None)
    from iirnn_core.audio.devices import refresh_devices

    with pulse.server_and_sink(f"iirnn_bench_{os.getpid()}") as sink:
        refresh_devices()
        return body(sink)


def main(argv=None) -> int:
    """Run the rows, write them to ``docs/measurements/bench_live_audio.json`` and print the table (or JSON)."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=60.0, help="seconds per row (default 60)")
    p.add_argument("--rows", default="idle,process,thread", help="comma-separated rows: idle, process, thread")
    p.add_argument("--latency", default="0.005", help="'low', 'high' or seconds (default 0.005, the engine's)")
    p.add_argument("--blocksize", type=int, default=128)
    p.add_argument("--gap", type=float, default=0.05, help="seconds between keys (default 0.05)")
    p.add_argument("--optimizer", default="best", help="trainer optimizer (default best)")
    p.add_argument("--training-nice", type=int, default=10,
                   help="nice value the training child gives itself (default 10, as in the window; -1: inherit)")
    p.add_argument("--device", default=None, help="output device by name (default: the host's)")
    p.add_argument("--cpus-may-sleep", action="store_true",
                   help="do not keep the CPUs awake while notes sound (the engine's default keeps them awake)")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    if args.training_nice < 0:
        args.training_nice = None
    rows = with_sound_server(args, lambda sink: [play_row(kind.strip(), args, sink) for kind in args.rows.split(",")
                                                  if kind.strip()])
    first = rows[0]
    title = (f"live audio: 16 voices cycling {args.seconds:g} s on {first['device']} "
             f"({'NULL OUTPUT' if first['null_output'] else 'device'}), 48 kHz, {args.blocksize}-frame blocks, "
             f"latency {args.latency} ({first['output_latency_ms']:.1f} ms output), training {KEYS} ({args.optimizer})")
    by_row = {r["row"]: r for r in rows}
    contrast = []
    if "process" in by_row and "thread" in by_row:
        a, b = by_row["process"], by_row["thread"]
        contrast.append(f"thread vs process: underruns {b['underruns_wallclock']} vs {a['underruns_wallclock']} "
                        f"(wall clock), max load {b['load_max'] / max(a['load_max'], 1e-9):.1f}x, "
                        f"training steps {b['training_steps']} vs {a['training_steps']}")
    write_result("bench_live_audio", rows, {"summary": [title, *contrast]}, steal=[r["steal_percent"] for r in rows])
    if args.json:
        print(json.dumps(rows))
        return 0
    print(title)
    print(f"{'row':<8}{'ur_ts':>6}{'ur_wc':>6}{'lost%':>8}{'flags':>6}{'load':>7}{'max':>7}"
          f"{'lat50':>7}{'lat90':>7}{'spread':>7}{'notes':>6}{'steps':>7}{'RTlate':>7}{'RT>2':>5}{'RT>5':>5}{'steal':>6}{'heard':>6}{'unexp':>6}  cpus")
    for r in rows:
        lost = 100.0 * r["frames_lost"] / (r["seconds"] * RATE)
        print(f"{r['row']:<8}{r['underruns_timestamps']:>6}{r['underruns_wallclock']:>6}{lost:>8.2f}"
              f"{r['underflow_flags']:>6}{r['load_mean']:>7.3f}{r['load_max']:>7.3f}{r['latency_ms_median']:>7.2f}"
              f"{r['latency_ms_p90']:>7.2f}{r['latency_ms_spread']:>7.2f}{r['notes']:>6}{r['training_steps']:>7}"
              f"{r['rt_late_ms']:>7.2f}{r['rt_over_2ms']:>5}{r['rt_over_5ms']:>5}{r['steal_percent']:>6.1f}"
              f"{r['dropouts'] if r['dropouts'] is not None else '-':>6}"
              f"{r['dropouts'] - r['dropouts_beside_stall'] if r['dropouts'] is not None else '-':>6}  {r['cpus']}")
        print(f"  {r['status']}")
        for err in r["training_errors"]:
            print(f"  training error: {err}")
    for line in contrast:
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
