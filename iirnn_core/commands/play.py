"""``iirnn play``: play notes, or a MIDI keyboard, live through an audio device and report the accounting.

With ``--gap 0`` every note is struck at once; otherwise one note every ``--gap`` seconds,
cycling through the list until ``--seconds`` have passed (each note is released when the next
one starts; its dampers bring it down in ``--release`` seconds, or it rings on with ``--release
off``). ``--midi-in NAME`` plays from a MIDI input port (velocity, note-off, sustain pedal; see
:mod:`iirnn_core.midi.ports`), for ``--seconds`` or until Ctrl-C; it can go with ``--notes``.
``--record OUT.wav`` writes what the device played, at the device rate, as a 32-bit float WAV
(:mod:`iirnn_core.audio.recorder`); it ends before the disk is full, and says so when the output
played less than the wall clock held (it stopped calling back). ``--seconds`` over
``--max-seconds`` (one hour by default), or a recording larger than the free disk space, is refused
before any sound (:mod:`iirnn_core.commands.limits`); a recording of unknown length (``--midi-in``
until Ctrl-C) stops at ``--max-seconds``. ``--json`` prints underruns (counted from callback
timestamps and from the wall clock), mean and max callback load and the median key-to-sound latency.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time

from iirnn_core.midi.ports import APIS
from iirnn_core.dsp.notes import note_to_midi, parse_notes
from iirnn_core.synth.renderer import ENGINES, SynthSettings
from iirnn_core.commands.limits import add_max_seconds, check_disk, check_seconds
from iirnn_core.commands.render import add_release, add_room, default_rate, model_for_engine, room_arg


def add_parser(sub) -> None:
    """Register ``play`` on the ``iirnn`` sub-parsers."""
    p = sub.add_parser("play", help="play notes or a MIDI keyboard live through an audio device",
                       description="Play notes, or a MIDI input port, through the audio device (or a silent null "
                                   "output when there is none) and report underruns, callback load and key-to-sound "
                                   "latency.")
    p.add_argument("--engine", choices=ENGINES, default="iir")
    p.add_argument("--notes", nargs="+", metavar="N", help="notes or ranges: A4 C#5 C4..C6")
    p.add_argument("--midi-in", metavar="NAME", help="play from this MIDI input port (see `iirnn devices`)")
    p.add_argument("--midi-api", choices=tuple(APIS), help="the MIDI system of --midi-in (default: any that answers)")
    p.add_argument("--record", metavar="OUT.wav", help="record what the device plays to a 32-bit float WAV")
    p.add_argument("--gap", type=float, default=0.25, help="seconds between notes; 0 strikes all at once (default 0.25)")
    p.add_argument("--seconds", type=float,
                   help="how long to play (default 2; with --midi-in alone: until Ctrl-C)")
    p.add_argument("--velocity", type=float, default=1.0, help="key velocity 0..1 (default 1)")
    p.add_argument("--device", metavar="NAME", help="output device by name (see `iirnn devices`; default: the host's)")
    p.add_argument("--model", metavar="FILE", help="trained model file for rnn-trained (default: the shipped one)")
    p.add_argument("--samplerate", type=int, default=48000, help="device sample rate in Hz (default 48000)")
    p.add_argument("--blocksize", type=int, default=128, help="frames per callback (default 128)")
    p.add_argument("--latency", default="0.005",
                   help="host buffer: seconds, or the device's 'low' / 'high' (default 0.005)")
    p.add_argument("--cpus-may-sleep", action="store_true",
                   help="let idle CPUs halt while notes sound (less power; on some machines, dropouts). By default "
                        "the CPUs are kept awake while notes sound, where /dev/cpu_dma_latency is writable")
    p.add_argument("--rate", type=float, default=None,
                   help="model sample rate in Hz (default 8000; a learned sound's --model: its own, 16000)")
    p.add_argument("--q", type=float, default=0.995, help="pole radius, 0 < Q < 1 (default 0.995)")
    p.add_argument("--drive", type=float, default=1.0, help="RNN drive d (default 1)")
    p.add_argument("--polyphony", type=int, default=32, help="voices per bank (default 32)")
    add_room(p)
    add_release(p)
    p.add_argument("--json", action="store_true", help="print the accounting as one JSON object")
    add_max_seconds(p)
    p.set_defaults(run=run)


def _latency(text: str):
    from iirnn_core.errors import UsageError

    if text in ("low", "high"):
        return text
    try:
        return float(text)
    except ValueError:
        raise UsageError(f"iirnn play: --latency must be low, high or seconds, got {text!r}") from None


def schedule(midis: list[int], gap: float, seconds: float) -> list[tuple[float, int]]:
    """(time in s from the start, key) of every strike: all at 0 when ``gap`` is 0, else cycling every ``gap`` s."""
    if gap == 0 or not midis:
        return [(0.0, m) for m in midis]
    count = int(math.ceil(seconds / gap - 1e-9))
    return [(i * gap, midis[i % len(midis)]) for i in range(count)]


def _play(engine, midis: list[int], args: argparse.Namespace) -> None:
    """Strike ``midis`` on the schedule of ``--gap``, then wait until ``--seconds`` have passed (MIDI input plays
    meanwhile on its own thread)."""
    start = time.perf_counter()
    previous = None
    for offset, midi in schedule(midis, args.gap, args.seconds):
        delay = start + offset - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        if previous is not None and args.gap > 0 and previous != midi:
            engine.note_off(previous)
        engine.note_on(midi, args.velocity)
        previous = midi
    while time.perf_counter() < start + args.seconds:
        time.sleep(min(0.2, max(0.0, start + args.seconds - time.perf_counter())))


def run(args: argparse.Namespace) -> int:
    """Play, then print the accounting (one line, or JSON)."""
    from iirnn_core.audio.engine import AudioConfig, AudioEngine, find_output_device, list_output_devices
    from iirnn_core.errors import UsageError
    from iirnn_core.midi.ports import MidiInput, find_port
    from iirnn_core.audio.recorder import Recorder
    from iirnn_core.audio.wav_writer import KEEP_FREE_BYTES

    if args.notes is None and args.midi_in is None:
        raise UsageError("iirnn play: give --notes, --midi-in, or both")
    if args.seconds is None:
        args.seconds = math.inf if args.notes is None else 2.0
    if not (args.seconds > 0 and (math.isfinite(args.seconds) or args.notes is None)):
        raise UsageError("iirnn play: --seconds must be positive")
    if not (math.isfinite(args.gap) and args.gap >= 0):
        raise UsageError("iirnn play: --gap must be 0 or more seconds")
    if not (math.isfinite(args.velocity) and 0 < args.velocity <= 1):
        raise UsageError("iirnn play: --velocity must be in (0, 1]")
    check_seconds("play", "the take", args.seconds, args.max_seconds)
    if args.record is not None and math.isfinite(args.seconds):  # 2 channels: the most an output here has
        check_disk("play", args.record, math.ceil(args.seconds * args.samplerate), 2, KEEP_FREE_BYTES)
    room = room_arg("play", args)
    midis = [note_to_midi(n) for n in parse_notes(args.notes)] if args.notes is not None else []
    loaded = default_rate(args)
    settings = SynthSettings(rate=args.rate, q=args.q, drive=args.drive, release=args.release)
    cfg = AudioConfig(device=args.device, samplerate=args.samplerate, blocksize=args.blocksize,
                      latency=_latency(args.latency), cpus_awake=not args.cpus_may_sleep)
    if args.device is not None:
        list_output_devices()
        try:
            find_output_device(args.device)
        except LookupError as exc:
            raise UsageError(f"iirnn play: {exc}") from None
    model = model_for_engine(args.engine, args.model, settings, loaded)
    engine = AudioEngine(cfg, settings, args.engine, model, polyphony=args.polyphony, room=room)
    silent = [n for n in midis if not engine.playable(n)]
    if silent:
        raise UsageError(f"iirnn play: {len(silent)} of the notes cannot sound with this engine and model rate")
    midi_in = MidiInput(engine)
    if args.midi_in is not None:
        find_port(args.midi_in, args.midi_api)  # a missing port or MIDI system: one line, before any sound
    engine.start()
    recorder = None
    try:
        if engine.is_null_output:
            print(f"iirnn: {engine.status_line}", file=sys.stderr)
        if args.record is not None:
            recorder = Recorder(args.record, lambda: engine.processor, max_seconds=args.max_seconds,
                                limit_hint=" (iirnn play --max-seconds S raises it)").start()
        if args.midi_in is not None:
            midi_in.open(args.midi_in, args.midi_api)
            if not math.isfinite(args.seconds):
                print(f"iirnn: playing from MIDI input {midi_in.port_name}; Ctrl-C ends", file=sys.stderr)
        try:
            _play(engine, midis, args)
        except KeyboardInterrupt:
            if args.midi_in is None or args.notes is not None:
                raise
        stats = engine.stats()
    finally:
        midi_in.close()
        result = recorder.stop() if recorder is not None else None
        engine.close()
    if engine.supervisor.events:
        print(f"iirnn: audio output: {'; '.join(engine.supervisor.events)}.", file=sys.stderr)
    if result is not None:
        print(f"iirnn: {result.summary()}", file=sys.stderr)
    if args.json:
        print(json.dumps(stats.as_dict()))
    else:
        print(f"{stats.notes} notes on {stats.device_name}: underruns {stats.underruns_timestamps} (timestamps) / "
              f"{stats.underruns_wallclock} (wall clock)"
              + (f" ({stats.dropout_cause})" if stats.dropout_cause else "")
              + f", callback load mean {stats.callback_load_mean:.3f} "
              f"max {stats.callback_load_max:.3f}, key-to-sound latency median {stats.latency_ms_median:.1f} ms, "
              f"limiter reduced up to {stats.limiter_reduction_db:.1f} dB"
              + ("" if stats.null_output else f"; CPU wake-up request: {stats.cpu_wakeup}"))
    return 0
