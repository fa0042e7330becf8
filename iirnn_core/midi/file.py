"""Standard MIDI files rendered offline through the live renderer (``iirnn render --midi``).

:func:`read_midi` reads a type 0 or 1 file with mido: the tracks merged, every message timed in
seconds with the file's tempo changes honoured (mido's own seconds iteration). :func:`render_midi`
plays it through a :class:`~iirnn_core.synth.renderer.Renderer` with the same
:class:`~iirnn_core.midi.events.MidiState` as live MIDI input: a note-on is an impulse of
``amplitude * velocity / 127`` at model-rate sample ``round(t * rate)``, note-offs release (the
dampers bring a released key down in ``settings.release``), the sustain pedal holds, CC120
silences. Blocks end at every event's sample, so each impulse lands on its exact sample and each
release or silence happens between the right two samples.
The render lasts until the last event plus a tail (``tail`` seconds) in which voices ring out:
:func:`midi_frames` frames, which ``iirnn render`` checks against its length limit before rendering.
"""

from __future__ import annotations

import math
import os

import numpy as np

from iirnn_core.errors import UsageError, one_line
from iirnn_core.midi.events import RELEASE, SILENCE, START, MidiState
from iirnn_core.dsp.notes import NoteError, midi_to_note
from iirnn_core.synth.renderer import RETIRE_LEVEL, Renderer, SynthSettings, finish, patches_for, sample_for
from iirnn_core.dsp.resonator import SettingError

PLAYING = ("note_on", "note_off", "control_change", "reset")
"""The message types that can change what sounds."""

POLYPHONY = 32
"""Voices per bank: the live engine's (stealing then happens as it does live)."""


class MidiFileError(UsageError):
    """A missing, unreadable or empty MIDI file: one line for the person (exit code 2)."""


def read_midi(path: str) -> list[tuple[float, object]]:
    """(seconds from the start, mido message) of every playing message in ``path``, in order.

    Tempo changes are honoured; a type 2 (asynchronous tracks) file, a missing or broken file, or
    one without a note raises MidiFileError."""
    if not os.path.isfile(path):
        raise MidiFileError(f"MIDI file {path!r} does not exist")
    import mido

    try:
        midi = mido.MidiFile(path)
        events, now = [], 0.0
        for msg in midi:  # merged tracks; msg.time is the delta in seconds at the tempo in force
            now += msg.time
            if msg.type in PLAYING:
                events.append((now, msg))
    except Exception as exc:  # noqa: BLE001 - mido raises OSError, EOFError, KeyError, ValueError, TypeError...
        raise MidiFileError(f"{path!r} is not a readable MIDI file: {one_line(exc)}") from None
    if not any(msg.type == "note_on" and msg.velocity > 0 for _, msg in events):
        raise MidiFileError(f"MIDI file {path!r} holds no notes")
    return events


def midi_frames(events, rate: float, tail: float) -> int:
    """Frames :func:`render_midi` renders from ``events`` at ``rate`` Hz: up to the last event's sample,
    plus ``tail`` seconds (> 0; SettingError otherwise). Cheap: for checks made before rendering."""
    if not (math.isfinite(tail) and tail > 0):
        raise SettingError(f"the tail after the last event must be positive, got {tail} s")
    last = int(round(events[-1][0] * rate)) if events else 0
    return last + max(1, int(round(tail * rate)))


def render_midi(events, engine: str, settings: SynthSettings, tail: float, model=None,
                polyphony: int = POLYPHONY, block: int = 128, stage=None) -> tuple[np.ndarray, list[int]]:
    """Render ``events`` ((seconds, mido message), as :func:`read_midi` gives) with ``engine``.

    Returns the audio (frames, settings.channels) float64 at ``settings.rate`` (from 0 s to the last
    event plus ``tail`` s), and the keys that could not sound with this engine and rate (left out,
    e.g. above Nyquist, or missing from the model). With ``settings.raw`` it is the plain sum of the
    voices, otherwise what the live synth plays: loudness compensation, then the master stage ``stage``
    (room, peak limiter; default a new one without room, :func:`iirnn_core.synth.renderer.finish`)."""
    rate = float(settings.rate)
    frames = midi_frames(events, rate, tail)
    timed = [(int(round(t * rate)), msg) for t, msg in events]
    hidden = max([settings.hidden] + ([model.hidden] if model is not None else []))
    renderer = Renderer(settings.channels, max_voices=polyphony, rnn_hidden=hidden, block_max=block,
                        guard=not settings.raw, retire_level=0.0 if settings.raw else RETIRE_LEVEL,
                        rate=rate, release=settings.release, sample=sample_for(engine, settings, model))
    patches: dict[int, tuple | None] = {}

    def start(note: int, velocity: float) -> None:
        if note not in patches:
            try:
                patches[note] = patches_for(engine, midi_to_note(note), settings, model)
            except (SettingError, NoteError, KeyError, ValueError):
                patches[note] = None
        if patches[note] is not None:
            renderer.trigger(patches[note], settings.amplitude * velocity, 0, note)

    out = np.zeros((frames, settings.channels))
    state = MidiState()
    pos, i = 0, 0
    while pos < frames:
        while i < len(timed) and timed[i][0] <= pos:
            for action in state.handle(timed[i][1]):
                if action.kind == START:
                    start(action.note, action.velocity)
                elif action.kind == RELEASE:
                    renderer.release(action.note)
                elif action.kind == SILENCE:
                    renderer.silence()
            i += 1
        stop = min(pos + block, frames, timed[i][0] if i < len(timed) else frames)
        renderer.render_block(out[pos:stop])
        pos = stop
    return finish(out, settings, stage, block), sorted(n for n, p in patches.items() if p is None)
