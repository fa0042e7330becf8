"""MIDI messages to synth actions: one small state machine for live MIDI input and for MIDI files.

:class:`MidiState` turns mido messages into :class:`Action` s (start a key with a velocity 0..1,
release a key, silence everything). Live input (:mod:`iirnn_core.midi.ports`) sends them to an
:class:`~iirnn_core.audio.engine.AudioEngine`; ``iirnn render --midi`` (:mod:`iirnn_core.midi.file`)
sends them to a :class:`~iirnn_core.synth.renderer.Renderer` at exact model-rate samples. Rules:

- **note-on** with velocity v > 0 starts the key with velocity ``v / 127``; a note-on with
  velocity 0 is a note-off (running status, as most keyboards send).
- **note-off** releases the key (its voices are stolen first, and the dampers bring them down
  in the release T60, or they ring on, a resonator's tail, with the release off), unless the
  sustain pedal of that channel is down: then the key is *held* until the pedal lifts.
- **A key struck again while it sounds** (held by the pedal, or a second note-on without a
  note-off) first releases its old voices, then starts a new impulse: the old tail rings on
  under the new one and is the first to be stolen, and the key is down again (the pedal holds
  it again only when it is released again).
- **CC64** (sustain, damper): value >= 64 is down, < 64 up; lifting it releases every held key.
- **CC123** (all notes off) and CC124..127 (mode changes, which imply it): every key down on the
  channel is released *as if its note-off came*: the sustain pedal is respected (the MIDI 1.0
  rule), so with the pedal down they are held until it lifts.
- **CC120** (all sound off): everything stops at once (the engine's panic); no key is down or
  held afterwards, on any channel (the engine silences every voice).
- **CC121** (reset all controllers): the pedal lifts.

State is kept per channel (0..15); the engine's keys are MIDI note numbers shared by all
channels (omni). The rules are also public methods (:meth:`MidiState.strike`, :meth:`~MidiState.lift`,
:meth:`~MidiState.set_pedal`), so keys that are not MIDI messages (the window's computer keyboard
and mouse) go through the same state and a pedal holds them too. Not thread-safe: one thread feeds
one state (live input serialises it).
"""

from __future__ import annotations

from typing import NamedTuple

START, RELEASE, SILENCE = "start", "release", "silence"
"""Action kinds."""

CHANNELS = 16
SUSTAIN, RESET_CONTROLLERS, ALL_SOUND_OFF, ALL_NOTES_OFF = 64, 121, 120, 123
MODE_CHANGES = (124, 125, 126, 127)
"""Omni off/on, mono, poly: the MIDI 1.0 spec says each also turns all notes off."""


class Action(NamedTuple):
    """What to do: ``kind`` START (key ``note`` 0..127 with ``velocity`` 0..1], RELEASE (key ``note``)
    or SILENCE (every voice, ``note`` -1)."""

    kind: str
    note: int = -1
    velocity: float = 0.0


class MidiState:
    """Keys down, keys held by the pedal and the pedal of each channel; :meth:`handle` one message at a time."""

    def __init__(self):
        self.down: list[set[int]] = [set() for _ in range(CHANNELS)]
        self.held: list[set[int]] = [set() for _ in range(CHANNELS)]
        self.pedal = [False] * CHANNELS

    def sounding(self) -> set[int]:
        """Keys started and not yet released (down, or held by a pedal), on any channel."""
        keys: set[int] = set()
        for ch in range(CHANNELS):
            keys |= self.down[ch] | self.held[ch]
        return keys

    def handle(self, msg) -> list[Action]:
        """The actions one mido message causes (an empty list for messages that do not play)."""
        kind = msg.type
        if kind == "note_on" and msg.velocity > 0:
            return self.strike(msg.channel, msg.note, msg.velocity / 127.0)
        if kind in ("note_on", "note_off"):
            return self.lift(msg.channel, msg.note)
        if kind == "control_change":
            return self._control(msg.channel, msg.control, msg.value)
        if kind == "reset":  # system reset: sound off, controllers reset
            return self._sound_off() + [a for ch in range(CHANNELS) for a in self.set_pedal(ch, False)]
        return []

    def reset(self) -> None:
        """Forget every key (after a panic that did not come through :meth:`handle`); pedals stay as they are."""
        for ch in range(CHANNELS):
            self.down[ch].clear()
            self.held[ch].clear()

    # ---- the rules ---------------------------------------------------------------------------

    def strike(self, ch: int, note: int, velocity: float) -> list[Action]:
        """Key ``note`` goes down on channel ``ch`` with ``velocity`` 0..1: the actions it causes."""
        actions = []
        if note in self.down[ch] or note in self.held[ch]:
            actions.append(Action(RELEASE, note))
            self.held[ch].discard(note)
        self.down[ch].add(note)
        actions.append(Action(START, note, velocity))
        return actions

    def lift(self, ch: int, note: int) -> list[Action]:
        """Key ``note`` goes up on channel ``ch``: released, or held while that channel's pedal is down."""
        if note not in self.down[ch]:
            return []  # never struck (or silenced since): nothing sounds to release
        self.down[ch].discard(note)
        if self.pedal[ch]:
            self.held[ch].add(note)
            return []
        return [Action(RELEASE, note)]

    def _control(self, ch: int, control: int, value: int) -> list[Action]:
        if control == SUSTAIN:
            return self.set_pedal(ch, value >= 64)
        if control == ALL_SOUND_OFF:
            return self._sound_off()
        if control == ALL_NOTES_OFF or control in MODE_CHANGES:
            return [a for note in sorted(self.down[ch]) for a in self.lift(ch, note)]
        if control == RESET_CONTROLLERS:
            return self.set_pedal(ch, False)
        return []

    def set_pedal(self, ch: int, down: bool) -> list[Action]:
        """The sustain pedal of channel ``ch`` goes down or up (up releases every key it held)."""
        self.pedal[ch] = down
        if down:
            return []
        released = sorted(self.held[ch])
        self.held[ch].clear()
        return [Action(RELEASE, note) for note in released]

    def _sound_off(self) -> list[Action]:
        self.reset()
        return [Action(SILENCE)]
