"""The small room: off changes nothing, on gives a decaying, decorrelated tail; its setting reaches the callback
lock-free, the CLI and the Sound panel (no allocation with it on: tests/test_audio_callback.py)."""

import numpy as np
import pytest
import scipy.io.wavfile

from iirnn_core.audio.engine import AudioConfig, AudioEngine
from iirnn_core.cli import main
from iirnn_core.dsp.resonator import SettingError
from iirnn_core.rt.master_layout import ROOM_DEFAULT_WET
from iirnn_core.synth.master import MasterStage
from iirnn_core.synth.renderer import SynthSettings, render_notes

from test_audio_callback import Driver


def impulse_response(rate: float, channels: int, seconds: float = 3.0, wet: float = 1.0) -> np.ndarray:
    """The stage's answer to a 0.5 impulse at frame 0, minus the dry impulse: the room alone."""
    x = np.zeros((int(seconds * rate), channels))
    x[0] = 0.5
    y = MasterStage(rate, channels, room=wet).finish(x.copy())
    return y - x


@pytest.mark.parametrize("rate", [8000.0, 48000.0, 96000.0])
def test_an_impulse_gives_a_tail_that_decays_and_differs_between_the_channels(rate):
    wet = impulse_response(rate, 2)
    assert np.all(np.isfinite(wet))
    energy = (wet ** 2).sum(axis=1)
    assert energy[:int(0.005 * rate)].sum() == 0.0  # the first reflection comes after the shortest line
    assert energy.sum() > 1e-4
    assert energy[int(1.5 * rate):].sum() < 1e-6 * energy.sum()  # 60 dB down after 1.5 s
    remaining = np.cumsum(energy[::-1])[::-1] / energy.sum()  # Schroeder's decay curve
    t60 = 2 * (np.argmax(remaining < 10 ** -3.5) - np.argmax(remaining < 10 ** -0.5)) / rate  # from its -5..-35 dB
    assert 0.4 < t60 < 1.0  # a small room, about 0.6 s
    left, right = wet[:, 0], wet[:, 1]
    assert abs(np.corrcoef(left, right)[0, 1]) < 0.3  # decorrelated channels


def test_mono_takes_the_left_tail():
    np.testing.assert_allclose(impulse_response(8000.0, 1)[:, 0], impulse_response(8000.0, 2)[:, 0], rtol=1e-12,
                               atol=1e-15)


def test_off_is_bit_for_bit_the_output_without_a_room():
    settings = SynthSettings(channels=2)
    stage = MasterStage(settings.rate, 2, room=0.0)
    dry = render_notes("ab", ["A4", "C5"], settings, 0.5, stage=stage)
    assert np.all(stage.lines == 0.0) and np.all(stage.low == 0.0)  # never touched
    np.testing.assert_array_equal(dry, render_notes("ab", ["A4", "C5"], settings, 0.5))
    wet = render_notes("ab", ["A4", "C5"], settings, 0.5, stage=MasterStage(settings.rate, 2, room=0.5))
    assert np.abs(wet - dry).max() > 0.01


def test_turning_the_room_off_live_gives_back_the_dry_output_bit_for_bit():
    def engine(room):
        eng = AudioEngine(AudioConfig(samplerate=48000, blocksize=128), SynthSettings(q=0.9995), "iir", room=room)
        return eng, Driver(eng)

    dry, dry_drv = engine(0.0)
    wet, wet_drv = engine(0.6)
    for e in (dry, wet):
        e.note_on(69, 0.5, when=1000.0)
    a, b = dry_drv.blocks(40), wet_drv.blocks(40)
    assert np.abs(a - b).max() > 0.005 and wet.stats().room == 0.6
    first = np.flatnonzero(np.abs(b - a).max(axis=1) > 0)[0]
    assert first == np.flatnonzero(a[:, 0])[0] + wet.processor.master.lengths.min()  # after the shortest line
    wet.set_room(0.0)
    a, b = dry_drv.blocks(40), wet_drv.blocks(40)
    assert np.abs(a[:5 * 128] - b[:5 * 128]).max() > 0  # faded over 20 ms (8 blocks)
    np.testing.assert_array_equal(a[10 * 128:], b[10 * 128:])
    assert wet.stats().limiter_reduction_db == dry.stats().limiter_reduction_db == 0.0


def test_the_room_setting_reaches_the_callback_through_a_patch_publish():
    eng = AudioEngine(AudioConfig(samplerate=48000, blocksize=128), SynthSettings(), "iir")
    proc = eng.processor
    word = int(proc.sync[0])
    eng.set_room(0.25)
    assert int(proc.sync[0]) != word and eng.room == 0.25  # a new published half, as the master gain's
    eng.configure(master=0.5, room=0.0)
    assert eng.room == 0.0 and eng.master == 0.5
    for bad in (-0.1, 1.5, float("nan"), "much"):
        with pytest.raises(SettingError, match="wet mix"):
            eng.set_room(bad)
        with pytest.raises(SettingError, match="wet mix"):
            eng.configure(room=bad)
    assert eng.room == 0.0 and eng.master == 0.5  # nothing changed


def test_render_room_option(tmp_path, capsys):
    out = tmp_path / "a4.wav"
    assert main(["render", str(out), "--notes", "A4", "--seconds", "1"]) == 0
    _, dry = scipy.io.wavfile.read(out)
    assert main(["render", str(out), "--notes", "A4", "--seconds", "1", "--room"]) == 0
    _, wet = scipy.io.wavfile.read(out)
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert line.endswith(f"room {ROOM_DEFAULT_WET:g}")
    assert np.abs(wet[:80] - dry[:80]).max() == 0.0  # nothing before the first reflection
    assert np.abs(wet - dry).max() > 0.01
    for command, words in ((["render", str(out), "--room", "2"], "wet mix must be 0..1"),
                           (["render", str(out), "--room", "0.5", "--raw"], "takes no --room"),
                           (["play", "--room", "-1"], "wet mix must be 0..1")):
        assert main([*command, "--notes", "A4"]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and words in err[0] and err[0].startswith(f"iirnn {command[0]}: ")


def test_the_sound_panel_toggles_the_room_and_keeps_its_wet_mix(qtbot):
    from app.sound_panel import SoundPanel

    panel = SoundPanel()
    qtbot.addWidget(panel)
    assert panel.choice().room == 0.0 and not panel.room_slider.isEnabled()
    panel.set_values("iir", 0.995, 0.1, 100, 0.8, 8000, room_on=True, room_wet=0.45)
    choice = panel.choice()
    assert (choice.room_on, choice.room_wet, choice.room) == (True, 0.45, 0.45)
    assert panel.room_slider.isEnabled() and panel.room_label.text() == "45 % wet"
    with qtbot.waitSignal(panel.changed):
        panel.room_box.setChecked(False)
    assert panel.choice().room == 0.0 and panel.choice().room_wet == 0.45  # remembered while off


def test_the_room_is_remembered(tmp_path):
    from PySide6.QtCore import QSettings

    from app.settings import AppSettings, load_settings, save_settings

    store = QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat)
    assert (AppSettings().room, AppSettings().room_wet) == (False, ROOM_DEFAULT_WET)
    save_settings(store, AppSettings(room=True, room_wet=0.6))
    loaded = load_settings(store)
    assert (loaded.room, loaded.room_wet) == (True, 0.6)
    store.setValue("room_wet", 7.0)
    assert load_settings(store).room_wet == ROOM_DEFAULT_WET  # out of range: the default
