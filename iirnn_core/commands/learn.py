"""``iirnn learn``: a recorded note becomes a network of H hidden states that plays on every key.

::

    iirnn learn NOTE.wav --hidden 16 --out sound.json [--seconds 1] [--pitch C4] [--budget 7]

Finds the note's onset and pitch, fits the linear modal anchor, refines the network
(:mod:`iirnn_core.training.learn`) and writes a model file whose every key plays the sound
(``iirnn play --engine rnn-trained --model sound.json``, ``iirnn render``, File > Open model in the window). Prints
the report: the net's waveform SNR and multi-resolution STFT distance beside the linear fit's. Bad input (not
audio, silent, too short, no clear pitch, too long) is one line and exit 2; nothing is written.
"""

from __future__ import annotations

import argparse
import json
import os

from iirnn_core.errors import Failure, UsageError


def add_parser(sub) -> None:
    """Register ``learn`` on the ``iirnn`` sub-parsers."""
    from iirnn_core.training.config import LEARN_BUDGET, LEARN_RATE

    p = sub.add_parser("learn", help="learn a recorded note as an RNN that plays on every key",
                       description="Learn a sound: the RNN becomes the filter of a recorded note (WAV, FLAC, OGG; "
                                   "any rate and channels), starting from a linear modal fit and refined on "
                                   "waveform and multi-resolution STFT error, with tanh in the loop.")
    p.add_argument("sound", metavar="NOTE.wav", help="the recorded note")
    p.add_argument("--hidden", type=int, default=16, metavar="H", help="hidden states, even, 2..64 (default 16)")
    p.add_argument("--out", required=True, metavar="SOUND.json", help="model file to write")
    p.add_argument("--seconds", type=float, default=1.0, help="length of the note learned, from its onset (s)")
    p.add_argument("--pitch", metavar="NOTE|HZ", help="the note's pitch when it is not found right (C4, 261.6)")
    p.add_argument("--rate", type=float, default=LEARN_RATE, help=f"rate learned at (Hz, default {LEARN_RATE:g})")
    p.add_argument("--budget", type=float, default=LEARN_BUDGET,
                   help=f"seconds learning may take, all in (default {LEARN_BUDGET:g})")
    p.add_argument("--json", action="store_true", help="print the report as one JSON line")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Learn and write the model file; returns 0."""
    from iirnn_core.models.modelfile import model_for_sound, save_model
    from iirnn_core.training.learn import check_hidden, learn_file

    if not args.out.strip():
        raise UsageError("iirnn learn: --out needs a file name")
    if not os.path.isfile(args.sound):
        raise UsageError(f"iirnn learn: {args.sound}: no such file")
    if not (0.5 <= args.budget <= 600):
        raise UsageError(f"iirnn learn: --budget must be 0.5 to 600 s, got {args.budget:g}")
    if not (4000 <= args.rate <= 96000):
        raise UsageError(f"iirnn learn: --rate must be 4000 to 96000 Hz, got {args.rate:g}")
    check_hidden(args.hidden)
    learned = learn_file(args.sound, args.hidden, args.seconds, args.pitch, args.rate, args.budget)
    sound = learned.sound
    model = model_for_sound(sound, {"learned_from": sound.source}, sound.report["steps"],
                            sound.report["learn_seconds"])
    try:
        save_model(model, args.out)
    except OSError as exc:
        raise Failure(f"iirnn learn: cannot write {args.out}: {exc.strerror or exc}") from None
    rep = sound.report
    if args.json:
        print(json.dumps({"out": args.out, "source": sound.source, "note": sound.note, **rep}))
        return 0
    print(f"iirnn: learned {sound.source}: {sound.note} ({rep['pitch_hz']:.1f} Hz), {rep['seconds']:g} s at "
          f"{rep['rate']:g} Hz, H {rep['hidden']} ({rep['partials']} partials in the linear fit), "
          f"{rep['steps']} steps in {rep['learn_seconds']:.1f} s")
    print(f"iirnn:   network     waveform SNR {rep['snr_db']:6.2f} dB, STFT distance {rep['stft_db']:5.2f} dB")
    print(f"iirnn:   linear fit  waveform SNR {rep['linear_snr_db']:6.2f} dB, STFT distance "
          f"{rep['linear_stft_db']:5.2f} dB")
    print(f"iirnn: wrote {args.out}: plays on every key (iirnn play --engine rnn-trained --model {args.out})")
    return 0
