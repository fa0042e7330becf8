"""Key-to-sound latency as a player hears it: keys struck at known times, their onsets found on the sink's monitor.

Each server (``--server``; each in a process of its own, as a player's program is) is a private one of
``tests/pulse.py`` (PulseAudio, or PipeWire with ``pipewire-pulse``; real-time as on a desktop) with a null sink.
``--keys`` keys, one every ``--gap`` s, are struck through an ``AudioEngine`` (IIR engine, default settings), each
stamped with ``time.perf_counter()`` (CLOCK_MONOTONIC) as it is struck. Meanwhile this process records the sink's
monitor on that same clock:

- **PulseAudio**: PortAudio through ALSA's pulse plugin (device ``pulse``, ``PULSE_SOURCE`` = the monitor, 64-frame
  blocks); the callback keeps each block with its ``inputBufferAdcTime``, so a sample's time is the block's ADC
  time plus index / rate. PortAudio's ALSA host API takes stream times from ``snd_pcm_status`` (not from
  ``PaUtil_GetTime``, which is CLOCK_MONOTONIC), and through the pulse plugin that is CLOCK_REALTIME: the callback
  reads ``time.time()`` and ``time.perf_counter()`` side by side and moves each ADC time onto the monotonic clock
  (the clock is recognised per block, not assumed).
- **PipeWire**: the same capture through ``pipewire-pulse`` moves by several ms with the capture's block size and
  latency (and its stream can lower the graph's quantum), so a JACK client of PipeWire's own JACK library records
  the monitor instead, each cycle stamped by ``jack_get_cycle_times`` (the null sink's timer, CLOCK_MONOTONIC,
  ``clock.delay`` 0); the monitor reaches a client one cycle late, which the capture measures with clicks of its
  own and takes off (:class:`JackCapture`).

A key's onset is the first sample in ``[strike, strike + gap)`` louder than ``--threshold`` of that window's peak.
It fires a little before the frame where the engine's own figure puts the impulse (the peak of its resampled
impulse); that offset, found per key by rendering it offline through the same block processor, is taken off:
``onset ms`` is what the monitor heard, ``heard ms`` the same less that offset, comparable with the engine's own
figure (``engine.latencies_ms()``, from PortAudio's DAC times). Printed per key, then median, max and spread.

``--play-cli`` measures ``iirnn play --engine iir --notes ... --gap G --json`` run as its own process instead: its
strike times are the stamps its engine puts on each key (``perf_counter`` is CLOCK_MONOTONIC, one clock for
every process), written out with the engine's per-key figures by a shim that wraps ``AudioEngine.note_on`` and
``close`` in the child (its schedule alone cannot be aligned: when it starts counting is not visible from
outside). ``--audio-path P`` sets ``IIRNN_AUDIO_PATH`` (``pulse``: through ``pipewire-pulse`` on PipeWire, not the graph client
the engine is there by default). Usage::

    python benchmarks/onset_latency.py [--server pulseaudio pipewire] [--keys 30] [--gap 0.12] [--play-cli]
                                       [--audio-path pulse]

The rows also go to ``docs/measurements/onset_latency.json`` (``benchmarks/record.py``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # the tests' pulse.py
import pulse  # noqa: E402
from record import write_result  # noqa: E402

RATE = 48000
CAPTURE_BLOCK = 64
"""Frames per capture callback (1.3 ms): each block carries its own ADC time."""
MIDIS = (60, 64, 67, 72, 76, 79)
"""The keys struck in turn (C4 E4 G4 C5 E5 G5): at Q 0.995 each has decayed by about 40 dB when the next sounds."""
NOTES = ("C4", "E4", "G4", "C5", "E5", "G5")
SETTLE_S = 1.0
"""Seconds between the output (and the capture) starting and the first key."""

SHIM = r"""
import json, os, sys, time
from iirnn_core.audio import engine as _engine
log, ready, go, argv = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
strikes, start, note_on, close = {}, _engine.AudioEngine.start, _engine.AudioEngine.note_on, _engine.AudioEngine.close
def starting(self):                                          # the output runs before the capture begins
    start(self)
    open(ready, "w").close()
    deadline = time.monotonic() + 30
    while not os.path.exists(go) and time.monotonic() < deadline:
        time.sleep(0.01)
def stamped(self, midi, velocity=1.0, when=None):
    when = time.perf_counter() if when is None else when   # the stamp the engine would put on it itself
    strikes.setdefault(id(self), []).append(when)
    return note_on(self, midi, velocity, when)
def closing(self):                                           # the engine that played (not warm_up's)
    with open(log, "w") as f:
        json.dump({"strikes": strikes.get(id(self), []), "latencies_ms": self.latencies_ms().tolist()}, f)
    return close(self)
_engine.AudioEngine.start, _engine.AudioEngine.note_on, _engine.AudioEngine.close = starting, stamped, closing
from iirnn_core import cli
sys.exit(cli.main(argv))
"""
"""Run in the child for ``--play-cli``: ``iirnn``'s own ``main``; once its output runs it says so (the file named
second) and waits for the go (the file named third) before it plays, and it writes each strike's stamp and the
engine's per-key latencies to the file named first."""


class PulseCapture:
    """The sink's monitor recorded in this process through ALSA's pulse plugin (``PULSE_SOURCE`` must name the
    monitor before :meth:`start`), each block kept with its ADC time moved onto ``time.perf_counter()``'s clock."""

    def __init__(self, sink: str, blocksize: int = CAPTURE_BLOCK, latency: str | float = "low"):
        self.sink, self.blocksize, self.latency = sink, blocksize, latency
        self.blocks: list[tuple[float, np.ndarray]] = []
        self.clocks: set[str] = set()
        self.overflows = 0
        self.stream = None

    def _callback(self, indata, frames, time_info, status) -> None:
        perf, real = time.perf_counter(), time.time()
        if status.input_overflow:
            self.overflows += 1
        current, adc = time_info.currentTime, time_info.inputBufferAdcTime
        if abs(current - perf) < 1.0:  # CLOCK_MONOTONIC already (PaUtil_GetTime's clock)
            clock, adc_perf = "monotonic", adc
        elif abs(current - real) < 1.0:  # CLOCK_REALTIME: snd_pcm_status's default timestamps
            clock, adc_perf = "realtime", adc - (real - perf)
        else:
            clock, adc_perf = "unknown", float("nan")
        self.clocks.add(clock)
        self.blocks.append((adc_perf, indata[:, 0].copy()))

    def start(self) -> "PulseCapture":
        """Open and start the capture stream (PortAudio's ALSA device ``pulse``); RuntimeError if there is none."""
        import sounddevice as sd

        from iirnn_core.audio import devices

        apis = sd.query_hostapis()
        with devices._portaudio:  # PortAudio is not thread-safe; the engine's supervisor takes this lock too
            index = next((i for i, d in enumerate(sd.query_devices()) if d["name"] == "pulse"
                          and "ALSA" in apis[d["hostapi"]]["name"] and d["max_input_channels"] > 0), None)
            if index is None:
                raise RuntimeError("PortAudio lists no ALSA device 'pulse' to record the monitor with")
            self.stream = sd.InputStream(device=index, channels=1, samplerate=RATE, blocksize=self.blocksize,
                                         latency=self.latency, dtype="float32", callback=self._callback)
            self.stream.start()
        return self

    def stop(self) -> None:
        """Stop and close the capture stream."""
        from iirnn_core.audio import devices

        if self.stream is not None:
            with devices._portaudio:
                self.stream.close()
            self.stream = None

    def timeline(self) -> tuple[np.ndarray, np.ndarray]:
        """The samples recorded (mono float64) and the ``perf_counter`` time (s) of each."""
        return _timeline(self.blocks)

    def describe(self) -> str:
        """How it captured, in a few words."""
        return (f"pulse plugin capture ({self.blocksize}-frame blocks, latency {self.latency}; ADC clock "
                f"{'/'.join(sorted(self.clocks)) or '-'}), {self.overflows} overflows")


def _timeline(blocks: list[tuple[float, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """Samples (mono float64) and the time (s) of each, from (time of the first sample, samples) blocks."""
    blocks = list(blocks)  # (a capture callback may append meanwhile)
    if not blocks:
        return np.zeros(0), np.zeros(0)
    x = np.concatenate([b for _, b in blocks]).astype(np.float64)
    t = np.concatenate([at + np.arange(len(b)) / RATE for at, b in blocks])
    return x, t


PIPEWIRE_LIBJACK = "/usr/lib/*/pipewire-0.3/jack/libjack.so.0"
"""PipeWire's JACK library (``pipewire-jack``)."""


def pipewire_libjack():
    """PipeWire's ``libjack.so.0``, loaded ``RTLD_GLOBAL`` (as ``pw-jack`` would have it; PortAudio's JACK host API
    then uses it too) before anything loads another; RuntimeError where another libjack is loaded already or
    ``pipewire-jack`` is not installed."""
    import ctypes
    import glob

    with open("/proc/self/maps") as maps:
        loaded = {line.split()[-1] for line in maps if "libjack.so" in line}
    if any("pipewire" not in path for path in loaded):
        raise RuntimeError(f"another libjack is loaded already: {sorted(loaded)}")
    paths = sorted(glob.glob(PIPEWIRE_LIBJACK))
    if not paths:
        raise RuntimeError("pipewire-jack is not installed")
    return ctypes.CDLL(paths[0], mode=ctypes.RTLD_GLOBAL)


class JackCapture:
    """The sink's monitor (``<sink>:monitor_FL``) recorded by a JACK client of PipeWire's own JACK library in this
    process, each cycle's samples kept with the cycle's time from ``jack_get_cycle_times`` (the null sink's timer,
    CLOCK_MONOTONIC: ``time.perf_counter()``'s clock). Its clients ask for the largest quantum (8192 frames), so
    the graph runs at the quantum the player asks for.

    Which cycle the monitor's samples reach a client in is the graph's business, so the capture calibrates itself:
    :meth:`click` has a second client write one full-scale sample at the start of a cycle into the sink
    (``playback_FL``), as a player's client writes its sound, which the null sink plays at that cycle's time (its
    ``clock.delay`` is 0); how many cycles later the capture finds it is :attr:`lag`, and :meth:`timeline` gives
    each block the time of the cycle that many blocks earlier (so a quantum that changes meanwhile is no matter)."""

    def __init__(self, sink: str):
        import ctypes as c

        self.sink = sink
        self.lib = lib = pipewire_libjack()
        self.blocks: list[tuple[float, np.ndarray]] = []
        self.late: list[float] = []
        self.quanta: set[int] = set()
        self.clicks: list[float] = []
        self.lag = 0
        self._click = False
        self.clients: dict[str, int] = {}
        self.ports: dict[str, int] = {}
        lib.jack_client_open.restype = c.c_void_p
        lib.jack_port_register.restype = c.c_void_p
        lib.jack_port_register.argtypes = [c.c_void_p, c.c_char_p, c.c_char_p, c.c_ulong, c.c_ulong]
        lib.jack_port_get_buffer.restype = c.POINTER(c.c_float)
        lib.jack_port_get_buffer.argtypes = [c.c_void_p, c.c_uint32]
        lib.jack_get_cycle_times.argtypes = [c.c_void_p, c.POINTER(c.c_uint32), c.POINTER(c.c_uint64),
                                             c.POINTER(c.c_uint64), c.POINTER(c.c_float)]
        lib.jack_get_time.restype = c.c_uint64
        lib.jack_port_name.restype = c.c_char_p
        lib.jack_port_name.argtypes = [c.c_void_p]
        lib.jack_set_process_callback.argtypes = [c.c_void_p, c.c_void_p, c.c_void_p]
        for name in ("jack_activate", "jack_deactivate", "jack_client_close"):
            getattr(lib, name).argtypes = [c.c_void_p]
        lib.jack_connect.argtypes = [c.c_void_p, c.c_char_p, c.c_char_p]
        self._times = {name: (c.c_uint32(), c.c_uint64(), c.c_uint64(), c.c_float()) for name in ("in", "click")}
        callback = c.CFUNCTYPE(c.c_int, c.c_uint32, c.c_void_p)
        self._callbacks = {"in": callback(self._capture), "click": callback(self._write_click)}

    def _cycle_time(self, name: str) -> float:
        """Seconds (CLOCK_MONOTONIC) at which this cycle's first frame plays, as client ``name`` is told."""
        import ctypes

        position, now_us, next_us, period_us = self._times[name]
        self.lib.jack_get_cycle_times(self.clients[name], ctypes.byref(position), ctypes.byref(now_us),
                                      ctypes.byref(next_us), ctypes.byref(period_us))
        return now_us.value * 1e-6

    def _buffer(self, name: str, frames: int) -> np.ndarray:
        return np.ctypeslib.as_array(self.lib.jack_port_get_buffer(self.ports[name], frames), (frames,))

    def _capture(self, frames: int, _arg) -> int:
        at = self._cycle_time("in")
        self.blocks.append((at, self._buffer("in", frames).copy()))
        self.late.append(self.lib.jack_get_time() * 1e-6 - at)
        self.quanta.add(frames)
        return 0

    def _write_click(self, frames: int, _arg) -> int:
        out = self._buffer("click", frames)
        out[:] = 0.0
        if self._click:
            out[0], self._click = 1.0, False
            self.clicks.append(self._cycle_time("click"))
        return 0

    def _open(self, name: str, flags: int) -> None:
        """Open client ``iirnn-onset-<name>`` with one port ``name`` (``flags``: 1 input, 2 output) and start it."""
        import ctypes

        saved = os.environ.get("PIPEWIRE_LATENCY")
        os.environ["PIPEWIRE_LATENCY"] = f"8192/{RATE}"  # read when a client opens: never the smallest request
        try:
            status = ctypes.c_int()
            client = self.lib.jack_client_open(f"iirnn-onset-{name}".encode(), 1, ctypes.byref(status))  # no start
        finally:
            os.environ.pop("PIPEWIRE_LATENCY") if saved is None else os.environ.update(PIPEWIRE_LATENCY=saved)
        if not client:
            raise RuntimeError(f"PipeWire's JACK library could not open a client (status {status.value:#x})")
        self.clients[name] = client
        self.ports[name] = self.lib.jack_port_register(client, name.encode(), b"32 bit float mono audio", flags, 0)
        self.lib.jack_set_process_callback(client, self._callbacks[name], None)
        if self.lib.jack_activate(client) != 0:
            raise RuntimeError(f"PipeWire's JACK library could not activate the {name} client")

    def _connect(self, source: bytes, sink: bytes) -> None:
        if self.lib.jack_connect(self.clients["in"], source, sink) != 0:
            raise RuntimeError(f"could not connect {source.decode()} to {sink.decode()}")

    def start(self) -> "JackCapture":
        """Open the two clients, connect them to the sink and start; RuntimeError if PipeWire refuses."""
        self._open("in", 1)
        self._open("click", 2)
        self._connect(f"{self.sink}:monitor_FL".encode(), self.lib.jack_port_name(self.ports["in"]))
        self._connect(self.lib.jack_port_name(self.ports["click"]), f"{self.sink}:playback_FL".encode())
        return self

    def click(self, times: int = 5, every: float = 0.1) -> None:
        """Write ``times`` clicks, ``every`` s apart, and set :attr:`lag` (cycles) from where the capture found them;
        RuntimeError if it found none, or not all at the same lag."""
        for _ in range(times):
            self._click = True
            time.sleep(every)
        blocks = list(self.blocks)
        stamps = np.array([at for at, _ in blocks])
        loud = [i for i, (_, b) in enumerate(blocks) if np.abs(b).max() > 0.5]
        lags = {j - int(np.argmin(np.abs(stamps - at))) for at in self.clicks
                for j in loud if 0 <= stamps[j] - at < every / 2}
        if len(lags) != 1:
            raise RuntimeError(f"the capture found its clicks on the sink's monitor at lags {sorted(lags)} (cycles)")
        self.lag = lags.pop()

    def stop(self) -> None:
        """Deactivate and close the clients."""
        for client in self.clients.values():
            self.lib.jack_deactivate(client)
            self.lib.jack_client_close(client)
        self.clients.clear()

    def timeline(self) -> tuple[np.ndarray, np.ndarray]:
        """The samples recorded (mono float64) and the ``perf_counter`` time (s) of each: a block at the time of the
        cycle :attr:`lag` blocks before it (the first blocks, of cycles before the capture began, left out)."""
        blocks = list(self.blocks)
        return _timeline([(at, b) for (at, _), (_, b) in zip(blocks, blocks[self.lag:])])

    def gaps(self) -> int:
        """Cycles the capture missed: consecutive blocks whose stamps are not one block apart (to 0.1 ms)."""
        blocks = list(self.blocks)
        return sum(abs(b - a - len(x) / RATE) > 1e-4 for (a, x), (b, _) in zip(blocks, blocks[1:]))

    def describe(self) -> str:
        """How it captured, in a few words."""
        late = 1000 * max(self.late) if self.late else float("nan")
        return (f"JACK client capture on the graph clock (quantum {'/'.join(map(str, sorted(self.quanta))) or '-'} "
                f"frames; its clicks found {self.lag} cycle(s) after theirs, taken off; {self.gaps()} cycles missed; "
                f"callbacks up "
                f"to {late:.2f} ms into their cycle)")


def onsets(x: np.ndarray, t: np.ndarray, strikes: list[float], gap: float, threshold: float) -> list[float | None]:
    """``perf_counter`` time (s) of each key's onset: the first sample in ``[strike, strike + gap)`` louder than
    ``threshold`` times the window's peak; None where the window holds no sound (or was not recorded)."""
    found = []
    for strike in strikes:
        window = np.flatnonzero((t >= strike) & (t < strike + gap))
        if window.size == 0 or np.abs(x[window]).max() < 1e-3:
            found.append(None)
            continue
        level = np.abs(x[window])
        found.append(float(t[window[np.argmax(level > threshold * level.max())]]))
    return found


def detector_offsets(midis: set[int], threshold: float) -> dict[int, float]:
    """Per key, seconds from where the engine's figure puts its impulse (the resampled impulse's peak) to where the
    onset detector of :func:`onsets` fires: the key rendered offline through an engine's block processor with
    made-up stream times (each block's DAC time ``LEAD`` s after its callback)."""
    from iirnn_core.audio.engine import AudioConfig, AudioEngine
    from iirnn_core.synth.renderer import SynthSettings

    cfg, lead, offsets = AudioConfig(), 0.01, {}
    frames, period = cfg.blocksize, cfg.blocksize / cfg.samplerate
    for midi in sorted(midis):
        engine = AudioEngine(cfg, SynthSettings(), "iir")  # never started: this process drives its processor
        proc = engine.processor
        out = np.zeros((frames, proc.channels), np.float32)
        when = 10.3 * period
        engine.note_on(midi, 1.0, when=when)
        blocks = []
        for k in range(1, 60):  # block k: callback at k periods, its first frame at the DAC LEAD s later
            proc.process(out, frames, k * period, 1.0, 1.0 + lead, False)
            blocks.append(out[:, 0].astype(np.float64))
        latency = float(engine.latencies_ms()[-1]) / 1000.0
        x = np.concatenate(blocks)  # x[0] is block 1's first frame, at DAC time period + lead
        landing = (when + latency - lead - period) * cfg.samplerate
        level = np.abs(x)
        offsets[midi] = (int(np.argmax(level > threshold * level.max())) - landing) / cfg.samplerate
        engine.close()
    return offsets


def calibrate(capture) -> None:
    """Let a capture that calibrates itself (:meth:`JackCapture.click`) do so; a pulse capture waits 0.5 s."""
    if hasattr(capture, "click"):
        capture.click()
    else:
        time.sleep(0.5)


def strike_keys(engine, count: int, gap: float) -> list[float]:
    """Strike ``count`` keys of :data:`MIDIS` in turn, about every ``gap`` s, each stamped with the
    ``time.perf_counter()`` at which it is struck (as a key event is); returns those times."""
    start = time.perf_counter() + 0.05
    strikes = []
    for i in range(count):
        time.sleep(max(0.0, start + i * gap - time.perf_counter()))
        at = time.perf_counter()
        engine.note_on(MIDIS[i % len(MIDIS)], 1.0, when=at)
        strikes.append(at)
    time.sleep(gap + 0.1)
    return strikes


def in_process(count: int, gap: float, capture) -> dict:
    """Keys struck through an ``AudioEngine`` of this process, its sink's monitor captured by ``capture``."""
    from iirnn_core.audio.engine import AudioConfig, AudioEngine
    from iirnn_core.synth.renderer import SynthSettings

    with AudioEngine(AudioConfig(), SynthSettings(), "iir") as engine:  # (started on entering)
        if engine.is_null_output:
            raise RuntimeError(f"the engine did not reach the device: {engine.status_line}")
        capture.start()
        try:
            time.sleep(SETTLE_S)
            calibrate(capture)
            notes_before = engine.stats().notes
            strikes = strike_keys(engine, count, gap)
        finally:
            capture.stop()
        stats, status = engine.stats(), engine.status_line
        latencies = list(engine.latencies_ms()[-count:]) if stats.notes - notes_before == count else []
    return {"strikes": strikes, "latencies_ms": latencies, "status": status,
            "path": getattr(stats, "audio_path", ""),
            "underruns": (stats.underruns_timestamps, stats.underruns_wallclock)}


def child_play(count: int, gap: float, capture) -> dict:
    """Keys struck by ``iirnn play`` run as its own process (through :data:`SHIM`), its sink's monitor captured
    by ``capture`` here from when its output runs (as in :func:`in_process`)."""
    with tempfile.TemporaryDirectory() as tmp:
        log, ready, go = (f"{tmp}/{name}" for name in ("log.json", "ready", "go"))
        argv = ["play", "--engine", "iir", "--notes", *NOTES, "--gap", str(gap), "--seconds", str(count * gap),
                "--json"]
        child = subprocess.Popen([sys.executable, "-c", SHIM, log, ready, go, *argv], stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True, cwd=ROOT)
        try:
            deadline = time.monotonic() + 30
            while not os.path.exists(ready) and child.poll() is None and time.monotonic() < deadline:
                time.sleep(0.01)
            capture.start()
            time.sleep(SETTLE_S)
            calibrate(capture)
            open(go, "w").close()
            out, err = child.communicate(timeout=60 + count * gap)
            time.sleep(0.2)
        finally:
            capture.stop()
            if child.poll() is None:
                child.kill()
                child.wait()
        if child.returncode != 0:
            raise RuntimeError(f"iirnn play exited {child.returncode}: {(err.strip().splitlines() or [''])[-1]}")
        shimmed = json.loads(Path(log).read_text())
    report = json.loads(out.strip().splitlines()[-1])
    strikes, latencies = shimmed["strikes"], shimmed["latencies_ms"]
    return {"strikes": strikes, "latencies_ms": latencies if len(latencies) == len(strikes) else [],
            "status": f"iirnn play: {report.get('notes')} notes on {report.get('device_name')}",
            "path": report.get("audio_path", ""),
            "underruns": (report.get("underruns_timestamps"), report.get("underruns_wallclock"))}


def one_server(kind: str, args: argparse.Namespace) -> tuple[list[dict], list[str]]:
    """Measure on a private server of ``kind`` (in this process); the rows (one per key) and summary lines."""
    sys.setswitchinterval(0.0005)  # a capture callback waits for the GIL at most this long
    server = pulse.private_server(kind, sink=f"iirnn_onset_{os.getpid()}")
    how = args.capture if args.capture != "auto" else ("jack" if kind == "pipewire" else "pulse")
    saved = dict(os.environ)
    try:
        server.start()
        os.environ.update(server.env, PULSE_SOURCE=f"{server.sink}.monitor")
        if args.audio_path:
            os.environ["IIRNN_AUDIO_PATH"] = args.audio_path  # the engine's own switch (audio.sound_server)
        capture = (JackCapture(server.sink) if how == "jack"  # (its library before PortAudio loads another)
                   else PulseCapture(server.sink, args.capture_block, args.capture_latency))
        from iirnn_core.audio.devices import refresh_devices

        refresh_devices()  # PortAudio lists devices once; this server started after it did
        run = (child_play if args.play_cli else in_process)(args.keys, args.gap, capture)
    finally:
        os.environ.clear()
        os.environ.update(saved)
        from iirnn_core.audio.devices import refresh_devices

        refresh_devices()  # leave the server (PortAudio's JACK client, where it joined PipeWire) before it goes
        server.close()
    x, t = capture.timeline()
    heard = onsets(x, t, run["strikes"], args.gap, args.threshold)
    offsets = detector_offsets(set(MIDIS), args.threshold)
    mode = "iirnn play" if args.play_cli else "engine"
    rows = []
    for i, (strike, onset) in enumerate(zip(run["strikes"], heard)):
        midi = MIDIS[i % len(MIDIS)]
        onset_ms = None if onset is None else 1000.0 * (onset - strike)
        rows.append({"server": kind, "mode": mode, "path": run["path"], "capture": how, "key": i + 1, "midi": midi,
                     "engine_ms": run["latencies_ms"][i] if run["latencies_ms"] else None,
                     "onset_ms": onset_ms, "detector_ms": 1000.0 * offsets[midi],
                     "heard_ms": None if onset_ms is None else onset_ms - 1000.0 * offsets[midi]})
    what = f"{kind}, {mode}, {run['path'] or '-'}"
    lines = [f"{what}: {run['status'].rstrip('.')}; underruns (timestamps / wall clock) {run['underruns'][0]} / "
             f"{run['underruns'][1]}; {capture.describe()}; {len(run['strikes'])} keys every {args.gap:g} s",
             spread_line(f"{what}: engine's figure", [r["engine_ms"] for r in rows]),
             spread_line(f"{what}: heard on the monitor", [r["heard_ms"] for r in rows]),
             spread_line(f"{what}: heard minus engine",
                         [None if r["heard_ms"] is None or r["engine_ms"] is None else r["heard_ms"] - r["engine_ms"]
                          for r in rows])]
    return rows, lines


def spread_line(what: str, values: list) -> str:
    """``what``: median, max and spread (max - min) of ``values`` in ms (those that are None left out)."""
    v = np.array([x for x in values if x is not None], dtype=float)
    if v.size == 0:
        return f"{what}: none"
    missing = f" ({len(values) - v.size} missing)" if v.size < len(values) else ""
    return f"{what}: median {np.median(v):.2f} ms, max {v.max():.2f} ms, spread {np.ptp(v):.2f} ms{missing}"


def in_a_child(kind: str, argv: list[str]) -> tuple[list[dict], list[str]]:
    """:func:`one_server` for ``kind`` in a fresh process of this script (each server in a process of its own, as a
    player's program is: the audio path and the JACK library are chosen once per process)."""
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        done = subprocess.run([sys.executable, __file__, *argv, "--server", kind, "--worker", out.name], cwd=ROOT)
        if done.returncode != 0:
            return [], [f"{kind}: not measured (the measuring process exited {done.returncode})"]
        got = json.loads(Path(out.name).read_text())
    return got["rows"], got["summary"]


def main() -> int:
    """Measure on each ``--server`` (each in a process of its own), print one row per key and the summaries, write
    the rows."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", nargs="+", choices=pulse.SERVER_KINDS, default=list(pulse.SERVER_KINDS))
    parser.add_argument("--keys", type=int, default=30)
    parser.add_argument("--gap", type=float, default=0.12, help="seconds between keys (default 0.12)")
    parser.add_argument("--threshold", type=float, default=0.1, help="onset: this fraction of the key's peak")
    parser.add_argument("--capture", choices=("auto", "pulse", "jack"), default="auto",
                        help="how the monitor is recorded (auto: jack on PipeWire, pulse on PulseAudio)")
    parser.add_argument("--capture-block", type=int, default=CAPTURE_BLOCK, help="frames per pulse capture block")
    parser.add_argument("--capture-latency", type=latency_arg, default="low",
                        help="the pulse capture stream's latency: low, high or seconds")
    parser.add_argument("--play-cli", action="store_true", help="measure `iirnn play` run as its own process")
    parser.add_argument("--audio-path", metavar="PATH",
                        help="IIRNN_AUDIO_PATH for the engine (pulse: pipewire-pulse on PipeWire, not its graph)")
    parser.add_argument("--worker", metavar="OUT", help=argparse.SUPPRESS)  # one server, rows to OUT (in_a_child)
    args, argv = parser.parse_args(), [a for a in sys.argv[1:]]
    if args.worker:
        rows, summary = one_server(args.server[0], args)
        Path(args.worker).write_text(json.dumps({"rows": rows, "summary": summary}))
        return 0
    passed = strip_option(argv, "--server")
    rows, summary = [], []
    for kind in args.server:
        missing = pulse.missing_programs(kind)
        got, lines = ([], [f"{kind}: not measured ({', '.join(missing)} missing)"]) if missing else \
            in_a_child(kind, passed)
        rows += got
        summary += lines
    write_result("onset_latency", rows, {"summary": summary})
    print(f"{'server':>11}{'mode':>11}{'capture':>8}{'key':>5}{'midi':>5}{'engine':>9}{'onset':>9}{'detector':>10}"
          f"{'heard':>9}")
    for r in rows:
        print(f"{r['server']:>11}{r['mode']:>11}{r['capture']:>8}{r['key']:>5}{r['midi']:>5}{cell(r['engine_ms'])}"
              f"{cell(r['onset_ms'])}{cell(r['detector_ms'], 10)}{cell(r['heard_ms'])}")
    for line in summary:
        print(line)
    return 0 if rows and all(r["onset_ms"] is not None for r in rows) else 1


def strip_option(argv: list[str], option: str) -> list[str]:
    """``argv`` without ``option`` and the values that follow it (up to the next option)."""
    out, skipping = [], False
    for a in argv:
        if a == option or a.startswith(option + "="):
            skipping = a == option
            continue
        if skipping and not a.startswith("-"):
            continue
        skipping = False
        out.append(a)
    return out


def latency_arg(text: str) -> str | float:
    """``--capture-latency``: 'low', 'high' or seconds."""
    return text if text in ("low", "high") else float(text)


def cell(value: float | None, width: int = 9) -> str:
    """``value`` (ms) right-aligned in ``width`` characters, ``-`` for None."""
    return f"{'-':>{width}}" if value is None else f"{value:>{width}.2f}"


if __name__ == "__main__":
    sys.exit(main())
