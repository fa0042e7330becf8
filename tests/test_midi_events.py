"""The MIDI state machine, fed mido messages: velocity, note-off, sustain, all notes off, all sound off."""

import mido

from iirnn_core.midi.events import RELEASE, SILENCE, START, Action, MidiState


def on(note, velocity=100, channel=0):
    return mido.Message("note_on", note=note, velocity=velocity, channel=channel)


def off(note, channel=0):
    return mido.Message("note_off", note=note, velocity=64, channel=channel)


def cc(control, value, channel=0):
    return mido.Message("control_change", control=control, value=value, channel=channel)


def test_note_on_starts_with_velocity_over_127_and_note_off_releases():
    s = MidiState()
    assert s.handle(on(69, 127)) == [Action(START, 69, 1.0)]
    assert s.handle(on(64, 64)) == [Action(START, 64, 64 / 127)]
    assert s.sounding() == {69, 64}
    assert s.handle(off(69)) == [Action(RELEASE, 69)]
    assert s.handle(on(64, 0)) == [Action(RELEASE, 64)]  # velocity 0 is a note-off
    assert s.sounding() == set()
    assert s.handle(off(60)) == []  # never struck: nothing to release


def test_sustain_holds_released_keys_until_the_pedal_lifts():
    s = MidiState()
    s.handle(on(60))
    assert s.handle(cc(64, 127)) == []
    s.handle(on(64))
    assert s.handle(off(60)) == [] and s.handle(on(64, 0)) == []  # both held
    assert s.sounding() == {60, 64}
    s.handle(on(67))  # still down when the pedal lifts: not released by it
    assert s.handle(cc(64, 10)) == [Action(RELEASE, 60), Action(RELEASE, 64)]
    assert s.sounding() == {67}
    assert s.handle(off(67)) == [Action(RELEASE, 67)]  # pedal up: released at once


def test_a_held_key_struck_again_releases_its_old_voice_and_starts_anew():
    s = MidiState()
    s.handle(cc(64, 100))
    s.handle(on(60))
    s.handle(off(60))
    assert s.handle(on(60, 50)) == [Action(RELEASE, 60), Action(START, 60, 50 / 127)]
    assert s.handle(on(60, 70)) == [Action(RELEASE, 60), Action(START, 60, 70 / 127)]  # no note-off between
    s.handle(off(60))
    assert s.handle(cc(64, 0)) == [Action(RELEASE, 60)]  # released once, by the pedal


def test_pedal_and_keys_are_per_channel():
    s = MidiState()
    s.handle(cc(64, 127, channel=1))
    s.handle(on(60, channel=0))
    s.handle(on(62, channel=1))
    assert s.handle(off(60, channel=0)) == [Action(RELEASE, 60)]  # channel 0 has no pedal down
    assert s.handle(off(62, channel=1)) == []
    assert s.handle(cc(64, 0, channel=0)) == []  # the other channel's pedal
    assert s.handle(cc(64, 0, channel=1)) == [Action(RELEASE, 62)]


def test_all_notes_off_releases_every_key_down_and_respects_the_pedal():
    s = MidiState()
    for note in (60, 64, 67):
        s.handle(on(note))
    assert s.handle(cc(123, 0)) == [Action(RELEASE, 60), Action(RELEASE, 64), Action(RELEASE, 67)]
    assert s.sounding() == set()
    s.handle(cc(64, 127))
    s.handle(on(72))
    assert s.handle(cc(123, 0)) == []  # held by the pedal, as if its note-off came
    assert s.handle(cc(64, 0)) == [Action(RELEASE, 72)]


def test_all_sound_off_silences_and_forgets_every_key_but_not_the_pedal():
    s = MidiState()
    s.handle(cc(64, 127, channel=2))
    s.handle(on(60, channel=2))
    s.handle(on(61, channel=0))
    assert s.handle(cc(120, 0, channel=5)) == [Action(SILENCE)]
    assert s.sounding() == set()
    assert s.handle(off(60, channel=2)) == [] and s.handle(off(61)) == []
    assert s.pedal[2]
    s.handle(on(62, channel=2))
    s.handle(off(62, channel=2))
    assert s.handle(cc(121, 0, channel=2)) == [Action(RELEASE, 62)]  # reset all controllers lifts the pedal


def test_messages_that_do_not_play_do_nothing():
    s = MidiState()
    for msg in (mido.Message("pitchwheel", pitch=100), mido.Message("clock"), cc(7, 100),
                mido.Message("program_change", program=3), mido.Message("sysex", data=[1, 2])):
        assert s.handle(msg) == []
