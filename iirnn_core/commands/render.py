"""``iirnn render``: notes struck at sample 0, or a MIDI file, rendered offline through the live renderer and the live
output stage (room, peak limiter) to a WAV; one line on stdout says where it went, its peak and how much the
limiter took off."""

from __future__ import annotations

import argparse
import math
import os
import sys

import numpy as np
import scipy.io.wavfile

from iirnn_core.commands.limits import add_max_seconds, check_disk, check_seconds
from iirnn_core.errors import UsageError
from iirnn_core.midi.file import midi_frames, read_midi, render_midi
from iirnn_core.dsp.notes import midi_to_note, parse_notes
from iirnn_core.dsp.resonator import RING_ON, SettingError, check_release
from iirnn_core.rt.master_layout import ROOM_DECAY_SECONDS, ROOM_DEFAULT_WET
from iirnn_core.synth.master import MasterStage
from iirnn_core.synth.renderer import DEFAULT_RELEASE, ENGINES, SynthSettings, render_notes
from iirnn_core.models.what_plays import uses_trained_model

ENGINE_CHOICES = tuple(e for e in ENGINES if e != "ab")


def release_arg(text: str) -> float:
    """``--release``: a T60 in seconds (at least ``RELEASE_MIN``), or ``off`` for ``RING_ON``; anything else is
    argparse's one-line error."""
    if text.strip().lower() == "off":
        return RING_ON
    try:
        value = float(text)
    except ValueError:
        value = math.inf
    if math.isinf(value):
        raise argparse.ArgumentTypeError(f"the release must be a T60 in seconds or off, got {text!r}")
    try:
        return check_release(value)
    except SettingError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_release(parser) -> None:
    """Register ``--release`` (dampers) on ``parser``."""
    parser.add_argument("--release", type=release_arg, default=DEFAULT_RELEASE, metavar="T60",
                        help=f"dampers: seconds a released key takes to fall 60 dB (at least 0.05), or off to let "
                             f"it ring on with its Q; the sustain pedal holds keys (default {DEFAULT_RELEASE:g})")


def add_parser(sub) -> None:
    """Register ``render`` on the ``iirnn`` sub-parsers."""
    p = sub.add_parser("render", help="render notes or a MIDI file to a mono float32 WAV",
                       description="Strike every note at sample 0 (--notes), or play a standard MIDI file (--midi), "
                                   "and write the result as a mono float32 WAV at the model rate.")
    p.add_argument("out", metavar="OUT.wav", help="WAV file to write")
    p.add_argument("--engine", choices=ENGINE_CHOICES, default="iir")
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--notes", nargs="+", metavar="N", help="notes or ranges: A4 C#5 C4..C6")
    what.add_argument("--midi", metavar="FILE.mid",
                      help="a standard MIDI file: each note-on is an impulse at its sample (tempo changes honoured), "
                           "note-offs release, the sustain pedal holds")
    p.add_argument("--rate", type=float, default=None,
                   help="sample rate in Hz (default 8000; a learned sound's --model: its own, 16000)")
    p.add_argument("--q", type=float, default=0.995, help="pole radius, 0 < Q < 1 (default 0.995)")
    p.add_argument("--seconds", type=float, default=0.6,
                   help="duration in seconds; with --midi the tail after the file's last event (default 0.6)")
    p.add_argument("--amplitude", type=float, default=0.1, help="impulse height (default 0.1)")
    p.add_argument("--drive", type=float, default=1.0, help="RNN drive d: input x d, output / d (default 1)")
    p.add_argument("--model", metavar="FILE",
                   help="trained model file (for --engine rnn-trained; default: the shipped model)")
    p.add_argument("--raw", action="store_true",
                   help="plain sum of the voices (no loudness compensation, no limiter), as the seed")
    add_room(p)
    p.add_argument("--hold", type=float, metavar="S",
                   help="with --notes: release the keys after S seconds (default: held to the end)")
    add_release(p)
    add_max_seconds(p)
    p.set_defaults(run=run)


def add_room(parser) -> None:
    """The ``--room [WET]`` option of ``render`` and ``play``."""
    parser.add_argument("--room", type=float, nargs="?", const=ROOM_DEFAULT_WET, default=0.0, metavar="WET",
                        help=f"a small room (reverb of about {ROOM_DECAY_SECONDS:g} s) mixed in at WET, 0..1 "
                             f"(default {ROOM_DEFAULT_WET:g} when given without a value; off without --room)")


def room_arg(command: str, args: argparse.Namespace) -> float:
    """``--room`` checked (0..1, and not with ``--raw``), or UsageError with one line."""
    from iirnn_core.errors import UsageError
    from iirnn_core.synth.master import check_wet

    try:
        wet = check_wet(args.room)
    except SettingError as exc:
        raise UsageError(f"iirnn {command}: --room: {exc}") from None
    if wet > 0 and getattr(args, "raw", False):
        raise UsageError(f"iirnn {command}: --raw is the plain sum of the voices; it takes no --room")
    return wet


def summary(out: str, audio: np.ndarray, rate: float, stage) -> str:
    """The line ``iirnn render`` prints: the file, its length, its peak (dBFS) and the limiter's most reduction."""
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    level = f"{20.0 * math.log10(peak):.2f} dBFS" if peak > 0 else "silent"
    line = f"{out}: {audio.shape[0] / rate:.3g} s at {rate:g} Hz, peak {level}"
    if stage is None:
        return line + " (raw: no limiter)"
    return (line + f", limiter reduced up to {stage.reduction_db:.1f} dB"
            + (f", room {stage.room:g}" if stage.room > 0 else ""))


def load_model_arg(path: str | None):
    """The model named by ``--model`` (None when not given); a missing file is a usage error."""
    if path is None:
        return None
    if not os.path.isfile(path):
        raise UsageError(f"iirnn: model file {path!r} does not exist")
    from iirnn_core.models.modelfile import load_model

    return load_model(path)


def trained_model_path(path: str | None, instead: str = "--model FILE") -> str:
    """``path``, or the shipped model's when it is None (a missing shipped model is a Failure, one line, that asks
    for ``instead``)."""
    if path is not None:
        return path
    from iirnn_core.errors import Failure
    from iirnn_core.models.modelfile import DEFAULT_MODEL_PATH

    if not DEFAULT_MODEL_PATH.is_file():
        raise Failure(f"iirnn: the shipped model {DEFAULT_MODEL_PATH} is missing; pass {instead}")
    return str(DEFAULT_MODEL_PATH)


def model_for_engine(engine: str, path: str | None, settings: SynthSettings, loaded=None):
    """The trained model ``engine`` plays (None when it plays none): the file ``path``, or the shipped
    model when ``path`` is None. ``loaded``: the file ``path`` already read (by :func:`default_rate`), not read
    again."""
    if loaded is not None:
        return loaded
    if not uses_trained_model(engine, settings):
        return load_model_arg(path)
    return load_model_arg(trained_model_path(path))


DEFAULT_RATE = 8000.0
"""The model rate when none is given: the seed's."""


def default_rate(args: argparse.Namespace):
    """Fill in ``args.rate`` when it was not given: a learned sound's own rate when ``args.model`` is one (it is
    learned and best heard there), else :data:`DEFAULT_RATE`. Returns the model it read to know (None when it
    read none), for :func:`model_for_engine`."""
    if args.rate is not None:
        return None
    args.rate = DEFAULT_RATE
    model = load_model_arg(getattr(args, "model", None))
    if model is not None and model.sound is not None:
        args.rate = model.sound.rate
    return model


def run(args: argparse.Namespace) -> int:
    """Render and write the WAV; returns 0. A WAV longer than ``--max-seconds`` or larger than the free disk
    space is refused before rendering (:mod:`iirnn_core.commands.limits`)."""
    notes = parse_notes(args.notes) if args.midi is None else None
    events = read_midi(args.midi) if args.midi is not None else None
    loaded = default_rate(args)
    settings = SynthSettings(rate=args.rate, q=args.q, drive=args.drive, amplitude=args.amplitude, raw=args.raw,
                             release=args.release)
    room = room_arg("render", args)
    if args.hold is not None and args.midi is not None:
        raise UsageError("iirnn render: --hold goes with --notes (a MIDI file says when its keys go up)")
    if events is None:
        frames = int(round(args.seconds * args.rate)) if math.isfinite(args.seconds) else 0
    else:
        frames = midi_frames(events, args.rate, args.seconds)
    what = args.out if events is None else f"{args.out} (from {args.midi})"
    check_seconds("render", what, frames / args.rate, args.max_seconds)
    check_disk("render", args.out, frames, 1)
    model = model_for_engine(args.engine, args.model, settings, loaded)
    stage = None if args.raw else MasterStage(settings.rate, settings.channels, room)
    if events is None:
        audio = render_notes(args.engine, notes, settings, args.seconds, model, stage=stage, hold=args.hold)
    else:
        audio, silent = render_midi(events, args.engine, settings, args.seconds, model, stage=stage)
        if silent:
            names = " ".join(midi_to_note(n) for n in silent)
            print(f"iirnn: {len(silent)} keys of {args.midi} cannot sound with {args.engine} at {args.rate:g} Hz "
                  f"and were left out: {names}", file=sys.stderr)
    mono = audio[:, 0].astype(np.float32)
    scipy.io.wavfile.write(args.out, int(round(args.rate)), mono)
    print(f"iirnn: wrote {summary(args.out, mono, args.rate, stage)}")
    return 0
