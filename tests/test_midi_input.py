"""Live MIDI input: mido messages through MidiInput reach the engine's event ring and sound; a real MIDI port
through JACK (a dummy-driver server started here, no sound card); one line when there is no MIDI."""

import json
import sys
import threading
import time

import mido
import numpy as np
import pytest

from iirnn_core import cli
from iirnn_core.midi import ports as midi_input
from iirnn_core.audio.engine import AudioConfig, AudioEngine
from iirnn_core.midi.ports import MidiInput, MidiUnavailable, NoSuchPort, same_port
from iirnn_core.synth.renderer import SynthSettings
from test_audio_callback import Driver

NO_DEVICE = "iirnn-tests: no such device"


class Keys:
    """What ``on_key`` heard: (note, sounding, thread id)."""

    def __init__(self):
        self.calls = []

    def __call__(self, note, sounding):
        self.calls.append((note, sounding, threading.get_ident()))

    def heard(self):
        return [(n, s) for n, s, _ in self.calls]


def live_voices(engine, note):
    """Released flags of the voices of ``note`` in the pipeline new notes go to (1: released)."""
    bank = engine.pipeline.renderer.banks["iir"]
    return [int(bank.ints[1, v]) for v in range(bank.count) if bank.notes[v] == note]


def on(note, velocity=127):
    return mido.Message("note_on", note=note, velocity=velocity)


def cc(control, value):
    return mido.Message("control_change", control=control, value=value)


def test_messages_reach_the_ring_and_sound_with_velocity_sustain_and_all_sound_off():
    engine = AudioEngine(AudioConfig(samplerate=48000, blocksize=128), SynthSettings(q=0.999, channels=2), "iir")
    driver, keys = Driver(engine), Keys()
    midi = MidiInput(engine, on_key=keys)
    ring = engine.processor.ring
    midi.handle(on(69, 127))
    assert ring[0] == 1  # in the ring: straight from the handler, no other thread in between
    loud = np.abs(driver.blocks(40)).max()
    assert 0.2 < loud < 0.3 and ring[1] == 1 and live_voices(engine, 69) == [0]
    midi.handle(mido.Message("note_off", note=69))
    driver.blocks(1)
    assert live_voices(engine, 69) == [1]
    midi.handle(on(72, 64))
    driver.blocks(1)
    assert live_voices(engine, 72) == [0]
    midi.handle(cc(64, 127))
    midi.handle(on(72, 0))  # velocity 0: a note-off, held by the pedal
    driver.blocks(1)
    assert live_voices(engine, 72) == [0] and keys.heard()[-1] == (72, True)
    midi.handle(cc(64, 0))
    driver.blocks(1)
    assert live_voices(engine, 72) == [1] and keys.heard()[-1] == (72, False)
    midi.handle(cc(120, 0))
    driver.blocks(2)
    assert np.abs(driver.blocks(4)).max() == 0.0 and keys.heard()[-1] == (-1, False)
    assert engine.stats().notes == 2 and midi.messages == 7 and midi.errors == 0


def test_velocity_sets_the_impulse_height():
    peaks = []
    for velocity in (127, 64, 16):
        engine = AudioEngine(AudioConfig(), SynthSettings(q=0.999, channels=2), "iir")
        driver = Driver(engine)
        MidiInput(engine).handle(on(69, velocity))
        peaks.append(np.abs(driver.blocks(30)).max())
    np.testing.assert_allclose(np.array(peaks) / peaks[0], [1, 64 / 127, 16 / 127], rtol=0.02)


def test_a_bad_message_is_counted_and_the_handler_goes_on():
    class Broken:
        def note_on(self, *args):
            raise RuntimeError("engine gone")

    midi = MidiInput(Broken())
    midi.handle(on(60))
    assert midi.errors == 1 and midi.last_error == "engine gone"


def test_alsa_numbers_do_not_matter_when_a_port_comes_back():
    assert same_port("VMPK Output:out 128:0", "VMPK Output:out 129:0")
    assert not same_port("VMPK Output:out 128:0", "Other:out 128:0")


def test_without_python_rtmidi_midi_is_one_line_and_the_rest_works(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "rtmidi", None)  # import rtmidi now fails
    with pytest.raises(MidiUnavailable) as err:
        midi_input.list_input_ports()
    assert "python-rtmidi" in str(err.value) and "\n" not in str(err.value)
    cli.main(["devices", "--json"])
    report = json.loads(capsys.readouterr().out)
    assert report["midi_inputs"] == [] and "python-rtmidi" in report["midi_error"]
    assert cli.main(["play", "--midi-in", "any", "--seconds", "0.2"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "python-rtmidi" in err[0]


def test_no_midi_system_or_no_such_port_is_one_line(monkeypatch, capsys):
    monkeypatch.setenv("JACK_DEFAULT_SERVER", "iirnn-no-such-server")
    code = cli.main(["play", "--midi-in", "iirnn: no such port", "--seconds", "0.2"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code in (1, 2) and len(err) == 1, err  # 1: no MIDI system answers; 2: it does, without that port
    assert "no MIDI system answers" in err[0] or "no MIDI input port" in err[0]


# ---- a real MIDI port: JACK with its dummy driver (conftest's jack_server) -------------------------------


def wait_for(condition, seconds=3.0):
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.01)
    return condition()


def test_a_real_jack_port_plays_the_engine(midi_keyboard, capsys):
    port = midi_keyboard.port
    assert port in midi_input.list_input_ports()
    assert cli.main(["devices", "--json"]) in (0, 1)  # 1 only where there is no audio output at all
    assert port in json.loads(capsys.readouterr().out)["midi_inputs"]
    engine = AudioEngine(AudioConfig(device=NO_DEVICE), SynthSettings(q=0.999, channels=2), "iir")
    engine.start()
    keys = Keys()
    midi = MidiInput(engine, on_key=keys)
    try:
        assert midi.open(port) == port and midi.api == "jack"
        with pytest.raises(NoSuchPort):
            MidiInput(engine).open("iirnn: no such port")
        time.sleep(0.2)  # JACK connects the ports at its next cycle
        midi_keyboard.send(0x90, 69, 127)
        assert wait_for(lambda: engine.stats().notes == 1), "the note never reached the engine"
        scope = np.zeros(4096)
        assert wait_for(lambda: engine.read_scope(scope) and np.abs(scope).max() > 0.1), "no sound"
        assert keys.heard() == [(69, True)] and keys.calls[0][2] != threading.get_ident()  # on rtmidi's thread
        midi_keyboard.send(0xB0, 64, 127)
        midi_keyboard.send(0x80, 69, 0)
        time.sleep(0.2)
        assert live_voices(engine, 69) == [0], "the pedal did not hold the key"
        midi_keyboard.send(0xB0, 64, 0)
        assert wait_for(lambda: live_voices(engine, 69) == [1]), "lifting the pedal did not release the key"
        assert keys.heard() == [(69, True), (69, False)] and midi.errors == 0
    finally:
        midi.close()
        engine.close()


def test_jack_loses_no_message_while_the_handler_waits(midi_keyboard):
    """The handler may wait (for the GIL, say): JACK's thread never does, and no message is lost."""
    port = midi_keyboard.port
    notes = []

    class Slow:
        def note_on(self, note, velocity):
            notes.append(note)
            if len(notes) == 1:
                time.sleep(1.0)

        def note_off(self, note):
            pass

    midi = MidiInput(Slow())
    midi.open(port)
    try:
        time.sleep(0.2)
        for note in range(60, 70):
            midi_keyboard.send(0x90, note, 100)
            time.sleep(0.05)
        assert wait_for(lambda: len(notes) == 10), notes
        assert notes == list(range(60, 70))
    finally:
        midi.close()


def test_iirnn_play_midi_in_plays_a_real_port(midi_keyboard, capsys):
    port = midi_keyboard.port
    stop = threading.Event()

    def play_keys():  # a note every 0.1 s until the command ends (it opens the port once its output runs)
        while not stop.wait(0.1):
            midi_keyboard.send(0x90, 72, 100)
            midi_keyboard.send(0x80, 72, 0)

    thread = threading.Thread(target=play_keys)
    thread.start()
    try:
        code = cli.main(["play", "--midi-in", port, "--seconds", "2", "--json", "--device", "default"]
                        if "default" in _outputs() else ["play", "--midi-in", port, "--seconds", "2", "--json"])
    finally:
        stop.set()
        thread.join()
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert report["notes"] >= 3, report


def _outputs():
    from iirnn_core.audio.engine import list_output_devices

    return list_output_devices()
