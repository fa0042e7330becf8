"""Dampers: a released key falls 60 dB in the release T60 (IIR, analytic twin, trained net), the sustain pedal
holds it, the damper does not click, "ring on" is the old output bit for bit; the release setting through the
engine's callback, the CLI and ``iirnn bench``."""

import math

import mido
import numpy as np
import pytest
import scipy.io.wavfile
import scipy.signal
from numpy.lib.stride_tricks import sliding_window_view

from iirnn_core.audio.engine import AudioConfig, AudioEngine
from iirnn_core.cli import build_parser, main
from iirnn_core.dsp.resonator import RELEASE_MIN, RING_ON, SettingError
from iirnn_core.midi.file import render_midi
from iirnn_core.midi.ports import MidiInput
from iirnn_core.models.modelfile import DEFAULT_MODEL_PATH, load_model
from iirnn_core.rt.voice_layout import DAMPER_RAMP_SECONDS
from iirnn_core.synth.renderer import Renderer, SynthSettings, patches_for, render_notes
from test_audio_callback import Driver

RATE = 8000.0
WINDOW = 0.0025
"""Seconds of the peak envelope's window: more than one period of every key tested here."""


@pytest.fixture(scope="module")
def model():
    return load_model(DEFAULT_MODEL_PATH)


def envelope(y, rate=RATE):
    """Peak envelope of y (N,) at ``rate``: the largest |y| in a window of WINDOW seconds centred on each sample."""
    width = int(round(WINDOW * rate))
    peaks = sliding_window_view(np.abs(y), width).max(axis=1)
    half = width // 2
    return np.concatenate([np.full(half, peaks[0]), peaks, np.full(width - half - 1, peaks[-1])])


def level_before(y, released, rate=RATE):
    """The envelope's level in the window that ends just before sample ``released``."""
    return envelope(y, rate)[released - int(round(WINDOW * rate))]


def fall_time(y, released, rate=RATE, drop_db=60.0):
    """Seconds after sample ``released`` until the envelope first lies ``drop_db`` below its level just before
    the release (None if it never does); and that level (full scale = 1)."""
    before = level_before(y, released, rate)
    below = np.flatnonzero(envelope(y, rate)[released:] < before * 10.0 ** (-drop_db / 20.0))
    return (below[0] / rate if below.size else None), before


CASES = [  # engine, Q, drive, release T60 (s), held for (s), key
    ("iir", 0.9998, 1.0, 0.3, 0.2, "A4"),
    ("iir", 0.9998, 1.0, 1.0, 0.2, "C3"),
    ("iir", 0.995, 1.0, 0.05, 0.02, "C6"),
    ("rnn-analytic", 0.9998, 0.1, 0.3, 0.2, "A4"),
    ("rnn-analytic", 0.9998, 1.0, 0.3, 0.2, "C6"),  # the seed's drive: tanh colours the tone
    ("rnn-analytic", 0.995, 0.1, 0.05, 0.02, "C3"),
    ("rnn-trained", 0.995, 1.0, 0.05, 0.02, "A4"),  # the shipped model: 8 kHz, Q 0.995 (its own T60 0.17 s)
    ("rnn-trained", 0.995, 1.0, 0.1, 0.02, "C3"),
]


@pytest.mark.parametrize("engine, q, drive, release, hold, note", CASES)
def test_a_released_key_falls_60_db_in_the_release_t60(model, engine, q, drive, release, hold, note):
    settings = SynthSettings(rate=RATE, q=q, drive=drive, release=release)
    y = render_notes(engine, [note], settings, hold + 1.5 * release + 0.05, model, hold=hold)[:, 0]
    released = int(round(hold * RATE))
    seconds, before = fall_time(y, released)
    assert before > 10 ** (-30 / 20)  # 60 dB below it is still above the -90 dBFS where voices retire
    assert seconds is not None and 0.9 * release <= seconds <= 1.1 * release, seconds
    held = render_notes(engine, [note], settings, hold + 1.5 * release + 0.05, model)[:, 0]  # never released
    assert np.array_equal(held[:released], y[:released])  # the same key up to the release
    kept, _ = fall_time(held, released)
    assert kept is None or kept > 1.5 * release  # held, it rings with its Q


def test_a_damped_iir_voice_is_the_iir_with_its_poles_scaled():
    """The kernel's damper factor g scales the state matrix, so every pole: y[n] = x[n] + g k1 y[n-1] + g^2 k2
    y[n-2] for a constant g (scipy's lfilter as the reference); a held voice beside it is untouched."""
    from iirnn_core.rt import bank_kernels

    k1, k2, g = 1.8, -0.95, 0.97
    x = np.random.default_rng(5).standard_normal((500, 2))
    w_hh = np.repeat(np.array([[k1, k2], [1.0, 0.0]])[:, :, None], 2, axis=2).copy()
    ones = np.array([[1.0, 1.0], [0.0, 0.0]])
    y = np.zeros_like(x)
    damp, target = np.array([g, 1.0]), np.array([g, 1.0])
    bank_kernels.advance_iir_bank(w_hh, ones, ones.copy(), np.zeros((2, 2)), np.zeros((2, 2)), x, y, 2, damp, target,
                                  np.zeros(2))
    np.testing.assert_allclose(y[:, 0], scipy.signal.lfilter([1], [1, -g * k1, -g * g * k2], x[:, 0]),
                               rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(y[:, 1], scipy.signal.lfilter([1], [1, -k1, -k2], x[:, 1]), rtol=1e-10, atol=1e-12)
    assert np.array_equal(damp, [g, 1.0])  # a factor at its target stays there


@pytest.mark.parametrize("engine, q, drive", [("iir", 0.9998, 1.0), ("rnn-analytic", 0.9998, 0.3),
                                              ("rnn-trained", 0.995, 1.0)])
def test_the_damper_does_not_click(model, engine, q, drive):
    """The shortest release: no sample-to-sample step after the release is larger than the largest before it."""
    settings = SynthSettings(rate=RATE, q=q, drive=drive, release=RELEASE_MIN)
    hold = 0.05
    y = render_notes(engine, ["E5"], settings, hold + 0.2, model, hold=hold)[:, 0]
    released = int(round(hold * RATE))
    steps = np.abs(np.diff(y))
    assert steps[released:].max() <= steps[released - 200:released].max()
    assert fall_time(y, released)[0] is not None  # and it was damped


@pytest.mark.parametrize("engine", ["iir", "rnn-analytic", "rnn-trained"])
def test_ring_on_is_the_undamped_output_bit_for_bit(model, engine):
    """With the release off a key up changes nothing: the same samples as a key never released (the old output)."""
    settings = SynthSettings(rate=RATE, q=0.995, release=RING_ON)
    hold = 8 * 128 / RATE  # on a block boundary: voices retire at the end of a block, so blocks must line up
    released = render_notes(engine, ["A4", "C5"], settings, 0.5, model, hold=hold)
    held = render_notes(engine, ["A4", "C5"], settings, 0.5, model)
    assert np.abs(held).max() > 0.1
    assert np.array_equal(released, held)


def test_a_release_longer_than_the_keys_own_decay_changes_nothing():
    """Dampers only damp: a key whose Q already decays faster than the release keeps its own decay, bit for bit."""
    settings = SynthSettings(rate=RATE, q=0.995, release=0.5)  # the key's own T60 is 0.17 s
    released = render_notes("iir", ["A4"], settings, 0.4, hold=4 * 128 / RATE)
    held = render_notes("iir", ["A4"], settings, 0.4)
    assert np.array_equal(released, held)


@pytest.mark.parametrize("engine", ["iir", "rnn-analytic", "rnn-trained", "ab"])
def test_every_voice_ends_at_the_release_radius(model, engine):
    """After the ramp, each voice's damper factor puts the spectral radius of its scaled w_hh at the release
    radius: the IIR's and the analytic twin's at r_rel / Q, a trained net's at r_rel / rho(W_hh); both twins of
    A/B by the same rule."""
    settings = SynthSettings(rate=RATE, q=0.995, channels=2, release=0.06)
    r_rel = 10.0 ** (-3.0 / (0.06 * RATE))
    renderer = Renderer(2, max_voices=4, rate=RATE, release=0.06)
    patches = patches_for(engine, "A4", settings, model)
    renderer.trigger(patches, 0.1, 0, 69)
    renderer.render(64)
    renderer.release(69)
    out = np.zeros((128, 2))
    for bank in renderer.banks.values():
        assert np.all(bank.dampers[:bank.count] == 1.0)
    renderer.render_block(out[:int(DAMPER_RAMP_SECONDS * RATE) // 2])
    ramping = [bank.dampers[0] for bank in renderer.banks.values() if bank.count]
    assert all(r_rel / 0.995 < g < 1.0 for g in ramping)  # half-way down the ramp
    renderer.render_block(out)
    for patch in patches:
        bank = renderer.banks[patch.bank]
        factor = bank.dampers[0]
        assert factor == pytest.approx(r_rel / patch.radius, rel=1e-12)
        radius = np.max(np.abs(np.linalg.eigvals(factor * patch.weights.w_hh)))
        assert radius == pytest.approx(r_rel, rel=1e-9)
        if patch.bank == "iir" or engine == "rnn-analytic":
            assert patch.radius == pytest.approx(0.995, rel=1e-12)


def midi_events(lift: float, pedal: bool):
    """A4 struck at 0 and lifted at ``lift`` s; with ``pedal`` the sustain pedal goes down before and stays down."""
    events = [(0.0, mido.Message("note_on", note=69, velocity=100))]
    if pedal:
        events.append((lift / 2, mido.Message("control_change", control=64, value=127)))
    events.append((lift, mido.Message("note_off", note=69)))
    return events


@pytest.mark.parametrize("engine, q, release, lift", [("iir", 0.9998, 0.3, 0.2), ("rnn-analytic", 0.9998, 0.3, 0.2),
                                                      ("rnn-trained", 0.995, 0.05, 0.02)])
def test_the_sustain_pedal_holds_a_key_in_a_midi_file(model, engine, q, release, lift):
    settings = SynthSettings(rate=RATE, q=q, drive=0.3, release=release)
    released = int(round(lift * RATE))
    free, _ = render_midi(midi_events(lift, False), engine, settings, 1.5 * release, model)
    pedalled, _ = render_midi(midi_events(lift, True), engine, settings, 1.5 * release, model)
    seconds, before = fall_time(free[:, 0], released)
    assert 0.9 * release <= seconds <= 1.1 * release
    after = envelope(pedalled[:, 0])[released + int(1.1 * release * RATE)]
    assert after > before * 10 ** (-30 / 20)  # well above -60 dB: the pedal holds it


def test_the_live_callback_damps_a_midi_note_off_and_the_pedal_holds():
    """Through the engine's compiled callback (model rate 8 kHz, resampled to 48 kHz): MIDI note-offs damp at
    the published release; a key held by the pedal rings on; set_release publishes a new T60 at once."""
    engine = AudioEngine(AudioConfig(samplerate=48000, blocksize=128),
                         SynthSettings(rate=RATE, q=0.9998, channels=2, release=0.2), "ab")
    driver, midi = Driver(engine), MidiInput(engine)
    device_rate = 48000.0

    def play(seconds):
        return driver.blocks(int(round(seconds * device_rate / 128)))

    def fall(release):
        """Seconds the left (IIR) and right (twin) channels take to fall 60 dB after a note-off."""
        midi.handle(mido.Message("note_on", note=69, velocity=127))
        before = play(0.1)  # the note-off is handled at the start of the next block
        midi.handle(mido.Message("note_off", note=69))
        y = np.concatenate([before, play(1.5 * release)])
        return [fall_time(y[:, c], len(before), device_rate)[0] for c in (0, 1)]

    assert all(0.9 * 0.2 <= t <= 1.1 * 0.2 for t in fall(0.2))
    engine.set_release(0.5)
    assert engine.settings.release == 0.5
    assert all(0.9 * 0.5 <= t <= 1.1 * 0.5 for t in fall(0.5))
    play(0.8)
    assert engine.stats().active_voices == 0
    midi.handle(mido.Message("control_change", control=64, value=127))
    midi.handle(mido.Message("note_on", note=69, velocity=127))
    before = play(0.1)
    midi.handle(mido.Message("note_off", note=69))  # held by the pedal
    y = np.concatenate([before, play(0.6)])
    assert envelope(y[:, 0], device_rate)[-200] > level_before(y[:, 0], len(before), device_rate) * 10 ** (-30 / 20)
    midi.handle(mido.Message("control_change", control=64, value=0))  # the pedal lifts: damped now
    y = play(1.0)
    assert engine.stats().active_voices == 0 and np.abs(y[-128:]).max() == 0.0


@pytest.mark.parametrize("bad", [0.0, 0.01, -1.0, math.nan, "x", None])
def test_impossible_releases_are_refused(bad):
    engine = AudioEngine(AudioConfig(samplerate=48000, blocksize=128), SynthSettings(release=0.3), "iir")
    with pytest.raises(SettingError, match="release"):
        engine.set_release(bad)
    assert engine.settings.release == 0.3
    with pytest.raises(SettingError, match="release"):
        SynthSettings(release=bad)
    with pytest.raises(SettingError, match="release"):
        Renderer(release=bad)


def test_iirnn_render_release_and_hold(tmp_path):
    out = tmp_path / "damped.wav"
    args = ["render", str(out), "--notes", "A4", "--q", "0.9998", "--seconds", "0.8", "--hold", "0.2"]
    assert main(args + ["--release", "0.25"]) == 0
    rate, y = scipy.io.wavfile.read(out)
    seconds, _ = fall_time(y.astype(np.float64), int(0.2 * rate), float(rate))
    assert 0.9 * 0.25 <= seconds <= 1.1 * 0.25
    assert main(args + ["--release", "off"]) == 0
    _, ringing = scipy.io.wavfile.read(out)
    assert main(args[:-2] + ["--release", "0.25"]) == 0  # never released: the release does not matter
    _, held = scipy.io.wavfile.read(out)
    assert np.array_equal(ringing, held)


@pytest.mark.parametrize("value, words", [("0.01", "at least 0.05 s"), ("nan", "at least 0.05 s"),
                                          ("soon", "seconds or off"), ("-1", "at least 0.05 s"),
                                          ("inf", "seconds or off")])
@pytest.mark.parametrize("command", [["render", "o.wav", "--notes", "A4"], ["play", "--notes", "A4"]])
def test_bad_release_is_one_line_and_exit_2(tmp_path, monkeypatch, capsys, command, value, words):
    monkeypatch.chdir(tmp_path)
    assert main(command + ["--release", value]) == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and words in lines[0] and "--release" in lines[0], err
    assert not (tmp_path / "o.wav").exists()


@pytest.mark.parametrize("command", [["render", "o.wav", "--notes", "A4"], ["play", "--notes", "A4"]])
def test_release_values_parse(command):
    parser = build_parser()
    assert parser.parse_args(command + ["--release", "0.5"]).release == 0.5
    assert parser.parse_args(command + ["--release", "off"]).release == RING_ON
    assert parser.parse_args(command + ["--release", "OFF"]).release == RING_ON
    assert parser.parse_args(command).release == SynthSettings().release


def test_bench_row_with_dampers_runs():
    from iirnn_core.commands.bench import live_block_load

    assert live_block_load("rnn-analytic", 8, 48000, 128, 0.02, dampers=True) > 0


# ---- the window's keys and controls -------------------------------------------------------------------------


class Calls:
    """An engine that remembers note_on / note_off / panic calls as (name, args)."""

    def __init__(self):
        self.calls = []

    def note_on(self, *args):
        self.calls.append(("on",) + args)

    def note_off(self, *args):
        self.calls.append(("off",) + args)

    def panic(self):
        self.calls.append(("panic",))


def test_a_pedal_holds_the_windows_keys_as_it_holds_midi_keys():
    """The window's keys go through the MIDI state on channel 1: its own pedal (the space bar) and a MIDI
    keyboard's pedal on channel 1 hold them until the pedal lifts; without a pedal a key up releases at once."""
    engine = Calls()
    midi = MidiInput(engine)
    midi.key_down(60, 0.5)
    midi.key_up(60)
    assert engine.calls == [("on", 60, 0.5), ("off", 60)]
    midi.sustain(True)
    midi.key_down(64, 1.0)
    midi.key_up(64)
    assert engine.calls[-1] == ("on", 64, 1.0)  # held
    midi.sustain(False)
    assert engine.calls[-1] == ("off", 64)
    midi.handle(mido.Message("control_change", channel=0, control=64, value=127))  # a MIDI keyboard's pedal
    midi.key_down(67, 1.0)
    midi.key_up(67)
    midi.handle(mido.Message("note_on", channel=0, note=72, velocity=64))
    midi.handle(mido.Message("note_off", channel=0, note=72))
    assert engine.calls[-1] == ("on", 72, 64 / 127)  # both held
    midi.handle(mido.Message("control_change", channel=0, control=64, value=0))
    assert engine.calls[-2:] == [("off", 67), ("off", 72)]
    assert midi.errors == 0


def test_the_space_bar_is_the_windows_sustain_pedal(qtbot):
    from PySide6.QtCore import QEvent, Qt
    from PySide6.QtGui import QKeyEvent
    from PySide6.QtWidgets import QWidget

    from app.key_input import KeyInput

    window = QWidget()
    qtbot.addWidget(window)
    keys = KeyInput(window)
    heard = []
    keys.sustain.connect(heard.append)

    def space(pressed, auto_repeat=False):
        kind = QEvent.KeyPress if pressed else QEvent.KeyRelease
        return keys.key(QKeyEvent(kind, Qt.Key_Space, Qt.NoModifier, " ", auto_repeat), pressed)

    assert space(True) and keys.sustain_down
    assert space(False, auto_repeat=True) and space(True, auto_repeat=True)  # auto-repeat: nothing
    assert space(False) and not keys.sustain_down
    space(False)  # a second let-go says nothing
    assert heard == [True, False]


def test_the_release_control_offers_0_05_s_to_ring_on_and_says_when_q_decays_sooner(qtbot):
    from app.sound_panel import RELEASE_CHOICES, SoundPanel, release_text

    panel = SoundPanel()
    qtbot.addWidget(panel)
    assert panel.release == SynthSettings().release and panel.choice().release == panel.release
    assert RELEASE_CHOICES[0] == RELEASE_MIN and RELEASE_CHOICES[-1] == RING_ON
    panel.release_slider.setValue(panel.release_slider.maximum())
    assert panel.release == RING_ON and panel.release_label.text() == "ring on"
    panel.set_values("iir", 0.9998, 0.1, 100, 0.8, 8000, 0.42)  # a remembered value between the choices
    assert panel.release == 0.42 and panel.release_label.text() == "0.42 s"
    panel.set_values("iir", 0.995, 0.1, 100, 0.8, 8000, 0.3)  # the key's own T60 is 0.17 s
    assert panel.release_label.text() == "0.3 s  (Q decays sooner)"
    assert release_text(0.1, 0.995, 8000) == "0.1 s"


def test_the_release_is_remembered_and_a_bad_stored_one_falls_back(tmp_path):
    from PySide6.QtCore import QSettings

    from app.settings import AppSettings, load_settings, save_settings

    for release in (RING_ON, 0.05, 2.0):
        store = QSettings(str(tmp_path / f"{release}.ini"), QSettings.IniFormat)
        save_settings(store, AppSettings(release=release))
        assert load_settings(QSettings(str(tmp_path / f"{release}.ini"), QSettings.IniFormat)).release == release
    for text in ("0.01", "nan", "soon", "-inf"):
        path = tmp_path / "bad.ini"
        path.write_text(f"[General]\nrelease={text}\nq=0.999\n")
        loaded = load_settings(QSettings(str(path), QSettings.IniFormat))
        assert loaded.release == AppSettings().release and loaded.q == 0.999


@pytest.mark.parametrize("engine", ["rnn-analytic", "rnn-trained"])
def test_the_pole_plot_shows_where_the_dampers_move_both_twins(qtbot, model, engine):
    from app.comparison import compare
    from app.plots import TwinView

    q = 0.995
    released = compare("A4", SynthSettings(rate=RATE, q=q, release=0.06), engine, model)
    r_rel = 10.0 ** (-3.0 / (0.06 * RATE))
    assert released.release_radius == pytest.approx(r_rel, rel=1e-12)
    for before, after in ((released.iir_poles, released.iir_released), (released.rnn_poles, released.rnn_released)):
        assert np.max(np.abs(after)) == pytest.approx(r_rel, rel=1e-9)  # the trained net's too: no radius error
        np.testing.assert_allclose(after, before * r_rel / np.max(np.abs(before)))
    view = TwinView()
    qtbot.addWidget(view)
    view.show_comparison(released)
    x, y = view.release_circle.getData()
    assert np.allclose(np.hypot(x, y), r_rel) and "radius 0.9" in view.caption.text()
    for release in (RING_ON, 0.5):  # off, or longer than the key's own 0.17 s: nothing moves
        kept = compare("A4", SynthSettings(rate=RATE, q=q, release=release), engine, model)
        assert math.isnan(kept.release_radius) and len(kept.rnn_released) == 0 and len(kept.iir_released) == 0
        view.show_comparison(kept)
        x, _ = view.release_circle.getData()
        assert (x is None or len(x) == 0) and "radius" not in view.caption.text()
