"""``iirnn bench``: render load (CPU seconds per second of audio) through the live renderer.

Rows ``iir`` / ``rnn-analytic`` render ``voices`` sounding voices of one engine at ``rate`` (voices
at the device rate) in ``block``-frame blocks and divide the CPU time spent in ``render_block`` by
the audio duration produced; a load of 0.05 is 5 % of one core. Rows ``live-*`` run the live
callback's whole compiled block (``process_block``: voices at the seed's 8 kHz, the resampler to
``rate``, the output stage with its peak limiter) as PortAudio calls it; the row
``live-rnn-analytic+room`` does so with the small room on as well, ``live-rnn-analytic+dampers`` with
every key released (dampers closing, :data:`BENCH_RELEASE`), and ``live-rnn-analytic+dampers+room`` with
both (64 voices each). Rows ``live-rnn-trained-h8`` .. ``-h64`` play 32 trained twins of H hidden states
(:func:`bench_model`: dense ``W_hh``, every entry nonzero) through the same live block; the RNN bank costs
about H^2 multiply-adds a voice and sample. Rows ``...-blocks`` play the same nets in the block-diagonal form a
learned sound has (2x2 rotation blocks; the bank then costs about 2H), ``...-blocks-16k`` at 16 kHz, the rate
``iirnn learn`` keeps a sound at. The reference row ``seed-nn.RNN`` runs the twins the seed's way:
one ``nn.RNN`` call per block (voices batched), carrying the hidden state.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from iirnn_core.dsp.notes import midi_to_hz, midi_to_note
from iirnn_core.dsp.resonator import resonator
from iirnn_core.dsp.weights import RNNWeights, rotation_weights
from iirnn_core.rt.master_layout import ROOM_DEFAULT_WET
from iirnn_core.synth.renderer import Renderer, SynthSettings, patches_for

BENCH_Q = 0.99999
"""Pole radius for the benchmark: decays slowly enough that no voice retires during a run."""

EXTRA_BENCH_VOICES = 64
"""Voices of the rows with the room on or the dampers closing."""
BENCH_RELEASE = 10.0
"""Release T60 (s) of the dampers rows: every released voice is damped (its own T60 at BENCH_Q is 35 s at
8 kHz) and none retires during a run."""
BENCH_HIDDEN = (8, 16, 32, 64)
"""Hidden sizes of the trained-twin rows."""
BENCH_HIDDEN_VOICES = 32
"""Voices of the trained-twin rows."""
FIRST_KEY = 24
"""MIDI key of the live rows' lowest voice (C1; the others upwards, all below the model rate's Nyquist)."""


def _notes(count: int) -> list[str]:
    """``count`` distinct keys upward from C3."""
    return [midi_to_note(48 + i) for i in range(count)]


def renderer_load(engine: str, voices: int, rate: int, block: int, seconds: float) -> float:
    """CPU seconds per audio second for ``voices`` voices of ``engine`` through :class:`Renderer`."""
    settings = SynthSettings(rate=rate, q=BENCH_Q, drive=0.3, channels=2)  # as the renderer below
    renderer = Renderer(channels=2, max_voices=voices, block_max=block)
    for midi_offset, note in enumerate(_notes(voices)):
        renderer.trigger(patches_for(engine, note, settings), settings.amplitude, 0, midi_offset)
    out = np.zeros((block, 2))
    renderer.render_block(out)  # warm-up: numba compilation and caches
    blocks = max(1, int(seconds * rate / block))
    start = time.thread_time()
    for _ in range(blocks):
        renderer.render_block(out)
    spent = time.thread_time() - start
    if renderer.active_voices != voices:
        raise RuntimeError(f"only {renderer.active_voices} of {voices} voices still sounded")
    return spent / (blocks * block / rate)


def bench_model(hidden: int, voices: int, model_rate: int = 8000, seed: int = 0, blocks: bool = False):
    """A :class:`~iirnn_core.models.modelfile.TrainedModel` at ``model_rate`` and :data:`BENCH_Q` of ``voices`` keys
    from :data:`FIRST_KEY` up, each a net of ``hidden`` states with a dense ``W_hh``: a rotation ringing at the
    key's pole (the IIR's impulse response, linearised) and 2x2 rotations decaying at radius 0.9 for the other
    states, all mixed by a random orthogonal matrix (the same poles and linear response, every entry nonzero).
    ``blocks``: not mixed, the 2x2 blocks left on the diagonal (the form of a learned sound)."""
    from iirnn_core.models.modelfile import KeyModel, TrainedModel

    rng = np.random.default_rng(seed)
    keys = {}
    for midi in range(FIRST_KEY, FIRST_KEY + voices):
        note, freq = midi_to_note(midi), midi_to_hz(midi)
        res = resonator(freq, BENCH_Q, model_rate)  # checks the key is below Nyquist
        w = rotation_weights(res.q, 2.0 * np.pi * freq / model_rate, hidden)
        w_hh = w.w_hh.copy()
        for first in range(2, hidden - 1, 2):
            w_hh[first:first + 2, first:first + 2] = rotation_weights(0.9, rng.uniform(0.1, 3.0)).w_hh
        mix = np.eye(hidden) if blocks else np.linalg.qr(rng.standard_normal((hidden, hidden)))[0]
        weights = RNNWeights(mix @ w_hh @ mix.T, mix @ w.w_ih, mix @ w.w_out)
        keys[note] = KeyModel(note, freq, weights, 0.0)
    return TrainedModel(rate=float(model_rate), q=BENCH_Q, seconds=1.0, amplitude=0.1, hidden=hidden, drive=1.0,
                        optimizer="bench", init="pole", steps=0, train_seconds=0.0, seed=seed, keys=keys)


def live_block_load(engine: str, voices: int, rate: int, block: int, seconds: float, model_rate: int = 8000,
                    room: float = 0.0, dampers: bool = False, model=None) -> float:
    """CPU seconds per audio second of the live callback's compiled block (``process_block``: key events,
    voices at ``model_rate``, resampler to ``rate``, output stage with the room at wet mix ``room`` (0: off)
    and the limiter, scope, accounting) with ``voices`` voices of ``engine`` sounding (A/B: ``voices`` keys
    of two voices each; 'rnn-trained' plays ``model``); with ``dampers`` every key is released at once, so every
    voice is damped (release T60 :data:`BENCH_RELEASE`)."""
    from iirnn_core.audio.engine import AudioConfig, AudioEngine

    settings = SynthSettings(rate=model_rate, q=BENCH_Q, drive=0.3, channels=2, release=BENCH_RELEASE)
    eng = AudioEngine(AudioConfig(samplerate=rate, blocksize=block), settings, engine, model=model,
                      polyphony=voices, room=room)
    proc = eng.processor
    for i in range(voices):
        eng.note_on(FIRST_KEY + i, 1.0, when=0.0)  # C1 upwards: every key below the model rate's Nyquist
        if dampers:
            eng.note_off(FIRST_KEY + i)
    out = np.zeros((block, 2), dtype=np.float32)
    now = 1.0
    for _ in range(4):  # warm-up: the keys land, compiled code is loaded
        proc.process(out, block, now, 0.0, 0.0, False)
        now += block / rate
    blocks = max(1, int(seconds * rate / block))
    start = time.thread_time()
    for _ in range(blocks):
        proc.process(out, block, now, 0.0, 0.0, False)
        now += block / rate
    spent = time.thread_time() - start
    sounding = proc.active_voices()
    if sounding != voices * (2 if engine == "ab" else 1):
        raise RuntimeError(f"only {sounding} voices sounded")
    if dampers and not all(np.all(bank.dampers[:bank.count] < 1.0) for bank in eng.pipeline.renderer.banks.values()):
        raise RuntimeError("not every voice was damped")
    return spent / (blocks * block / rate)


def seed_load(voices: int, rate: int, block: int, seconds: float) -> float:
    """CPU seconds per audio second running ``voices`` twins as one ``nn.RNN`` call per block."""
    import torch  # only here: every other ``iirnn`` command starts without torch (about 1.5 s)

    from iirnn_core.training.network import RNNNet

    settings = SynthSettings(rate=rate, q=BENCH_Q, drive=0.3)
    weights = patches_for("rnn-analytic", "A4", settings)[0].weights
    net = RNNNet.from_weights(weights)
    x = torch.zeros(block, voices, 1)
    x[0] = settings.amplitude
    h = torch.zeros(1, voices, weights.hidden)
    out = np.zeros((block, 2))
    blocks = max(1, int(seconds * rate / block))
    with torch.no_grad():
        for warm in range(2):
            y, h = net.rnn(x, h)
        start = time.thread_time()
        for _ in range(blocks):
            y, h = net.rnn(x, h)
            mix = net.fo(y).sum(dim=1).numpy()
            out[:, 0] = mix[:, 0]
            out[:, 1] = mix[:, 0]
        spent = time.thread_time() - start
    return spent / (blocks * block / rate)


def run_bench(rate: int = 48000, block: int = 128, voice_counts=(1, 8, 32, 64), seconds: float = 2.0) -> list[dict]:
    """Rows ``{engine, voices, rate, block, load}`` for each engine and voice count, then the seed's way."""
    rows = []
    for engine in ("iir", "rnn-analytic"):
        for voices in voice_counts:
            rows.append(dict(engine=engine, voices=voices, rate=rate, block=block,
                             load=renderer_load(engine, voices, rate, block, seconds)))
    for engine in ("iir", "rnn-analytic"):
        for voices in voice_counts:
            rows.append(dict(engine=f"live-{engine}", voices=voices, rate=rate, block=block,
                             load=live_block_load(engine, voices, rate, block, seconds)))
    for name, room, dampers in (("+room", ROOM_DEFAULT_WET, False), ("+dampers", 0.0, True),
                                ("+dampers+room", ROOM_DEFAULT_WET, True)):
        rows.append(dict(engine="live-rnn-analytic" + name, voices=EXTRA_BENCH_VOICES, rate=rate, block=block,
                         load=live_block_load("rnn-analytic", EXTRA_BENCH_VOICES, rate, block, seconds, room=room,
                                              dampers=dampers)))
    for hidden in BENCH_HIDDEN:
        for name, blocks, model_rate in (("", False, 8000), ("-blocks", True, 8000), ("-blocks-16k", True, 16000)):
            model = bench_model(hidden, BENCH_HIDDEN_VOICES, model_rate, blocks=blocks)
            rows.append(dict(engine=f"live-rnn-trained-h{hidden}{name}", voices=BENCH_HIDDEN_VOICES, rate=rate,
                             block=block, load=live_block_load("rnn-trained", BENCH_HIDDEN_VOICES, rate, block, seconds,
                                                               model_rate=model_rate, model=model)))
    for voices in voice_counts:
        rows.append(dict(engine="seed-nn.RNN", voices=voices, rate=rate, block=block,
                         load=seed_load(voices, rate, block, seconds / 4)))
    return rows


def add_parser(sub) -> None:
    """Register ``bench`` on the ``iirnn`` sub-parsers."""
    p = sub.add_parser("bench", help="measure render load per engine and voice count",
                       description="Render load = CPU seconds per second of audio, at 48 kHz with 128-frame "
                                   "blocks, for 1/8/32/64 voices of each engine, through the renderer and the whole "
                                   "live callback (limiter always in; 64 voices with the room on, with every key "
                                   "released (dampers closing), and with both), 32 trained twins of 8/16/32/64 "
                                   "hidden states (dense W_hh, and block-diagonal as a learned sound at 8 and 16 kHz), and the seed's nn.RNN way.")
    p.add_argument("--json", action="store_true", help="print a JSON list of {engine, voices, rate, block, load}")
    p.add_argument("--rate", type=int, default=48000, help="sample rate in Hz (default 48000)")
    p.add_argument("--block", type=int, default=128, help="frames per block (default 128)")
    p.add_argument("--seconds", type=float, default=2.0, help="audio rendered per row (default 2 s)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Print the load table (or JSON); returns 0."""
    from iirnn_core.errors import UsageError

    if args.rate <= 0 or args.block <= 0 or args.seconds <= 0:
        raise UsageError("iirnn bench: --rate, --block and --seconds must be positive")
    import torch

    torch.set_num_threads(1)
    rows = run_bench(args.rate, args.block, seconds=args.seconds)
    if args.json:
        print(json.dumps(rows))
        return 0
    seed = {r["voices"]: r["load"] for r in rows if r["engine"] == "seed-nn.RNN"}
    print(f"render load (CPU s per audio s) at {args.rate} Hz, {args.block}-frame blocks")
    print(f"{'engine':<31}{'voices':>7}{'load':>10}{'vs seed':>10}")
    for r in rows:
        ratio = seed.get(r["voices"], float("nan")) / r["load"] if r["load"] > 0 else float("inf")
        print(f"{r['engine']:<31}{r['voices']:>7}{r['load']:>10.4f}{ratio:>9.1f}x")
    return 0
