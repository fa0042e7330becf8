"""The main window on the offscreen platform, with the real audio engine on its null output.

The engine is wrapped in a recorder that forwards every call to the real engine and remembers
the ones these tests check (notes, panic, engine, model), so what is tested is the real path.
Settings live in a temporary INI file, never the user's.
"""

import math
import os

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QPoint, QSettings, Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QApplication, QMessageBox

from app.main_window import MainWindow
from iirnn_core.training.worker import TRAINING_NICENESS
from iirnn_core.training.network import analytic_weights
from iirnn_core.models.modelfile import KeyModel, TrainedModel, load_model, save_model
from iirnn_core.dsp.notes import note_range, note_to_hz, note_to_midi
from iirnn_core.dsp.resonator import resonator

NO_DEVICE = "iirnn-tests: no such device"
"""An output name no host has: the real engine falls back to its paced null output."""

RECORDED = ("note_on", "note_off", "panic", "configure", "set_engine", "set_model", "set_settings", "set_master",
            "reopen")


class RecordingEngine:
    """The real AudioEngine, with the calls in RECORDED remembered as (name, args) in ``calls``."""

    def __init__(self, inner):
        self.inner = inner
        self.calls = []

    def __getattr__(self, name):
        attr = getattr(self.inner, name)
        if name not in RECORDED:
            return attr

        def record(*args):
            self.calls.append((name, args))
            return attr(*args)

        return record

    def names(self, name):
        """Arguments of every recorded call of ``name``."""
        return [args for n, args in self.calls if n == name]


def null_config(settings):
    from dataclasses import replace

    from app.main_window import audio_config

    return replace(audio_config(settings), device=NO_DEVICE)


def recording_factory(config, settings, engine, model, polyphony):
    from iirnn_core.audio.engine import AudioEngine

    return RecordingEngine(AudioEngine(config, settings=settings, engine=engine, model=model, polyphony=polyphony))


def analytic_model(notes="C4..C6", rate=8000.0, q=0.995, drive=0.1) -> TrainedModel:
    """A model file's content built from analytic weights (no training needed)."""
    keys = {}
    for note in note_range(notes):
        weights = analytic_weights(resonator(note_to_hz(note), q, rate), 3, drive)
        keys[note] = KeyModel(note, note_to_hz(note), weights, 38.0)
    return TrainedModel(rate=rate, q=q, seconds=0.6, amplitude=0.1, hidden=3, drive=1.0, optimizer="analytic",
                        init="analytic", steps=0, train_seconds=0.0, seed=0, keys=keys)


@pytest.fixture
def model_path(tmp_path):
    path = tmp_path / "model.json"
    save_model(analytic_model(), path)
    return path


@pytest.fixture(scope="session")
def trainer():
    """One training process for every window of the session (as one window keeps one)."""
    from iirnn_core.training.worker import TrainingWorker

    worker = TrainingWorker()
    worker.start()
    yield worker
    worker.close()


@pytest.fixture
def make_window(qtbot, tmp_path, model_path, trainer):
    """Build windows sharing one temporary settings file; each is closed at the end of the test."""
    windows = []

    def make(model=model_path, config_factory=null_config, **kwargs):
        store = QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat)
        kwargs.setdefault("trainer", trainer)
        window = MainWindow(store, model_path=model, engine_factory=recording_factory,
                            config_factory=config_factory, **kwargs)
        qtbot.addWidget(window)
        window.show()
        qtbot.waitExposed(window)
        qtbot.waitUntil(lambda: window.audio_started, timeout=60000)
        windows.append(window)
        return window

    yield make
    for window in windows:
        window.close()


class TrainerLoading:
    """A training process that is alive but never ready (still loading torch)."""

    ready = False
    alive = True

    def start(self):
        pass

    def take(self, job_id):
        return []

    def close(self):
        pass


def test_a_key_before_the_audio_opens_says_why_it_is_silent(qtbot, tmp_path, model_path):
    store = QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat)
    window = MainWindow(store, model_path=model_path, engine_factory=recording_factory, config_factory=null_config,
                        trainer=TrainerLoading())
    qtbot.addWidget(window)
    try:
        assert not window.audio_started
        window._key_pressed(69)  # A4 typed while the trainer still loads
        assert "A4 is silent: the audio starts once the trainer" in window.statusBar().currentMessage()
        assert window.engine.names("note_on") == []  # nothing queued to burst out when the stream opens
        assert 69 not in window.keyboard.lit_notes()
    finally:
        window.close()


def key(window, char_or_key, press=True, auto_repeat=False):
    """Send one key event to the focused widget of ``window`` (as the platform would)."""
    if isinstance(char_or_key, str):
        code, text = ord(char_or_key.upper()) if char_or_key.isalpha() else ord(char_or_key), char_or_key
    else:
        code, text = char_or_key, ""
    kind = QEvent.KeyPress if press else QEvent.KeyRelease
    focused = QApplication.focusWidget()  # another test's window may still hold the application's focus
    target = focused if focused is not None and window.isAncestorOf(focused) else window.keyboard
    QApplication.sendEvent(target, QKeyEvent(kind, code, Qt.NoModifier, text, auto_repeat))


def tap(window, char_or_key):
    key(window, char_or_key, True)
    key(window, char_or_key, False)


def test_opens_with_model_and_shows_engine_status(make_window):
    window = make_window()
    assert window.model is not None and window.model.notes[0] == "C4"
    assert window.sound.engine_box.model().item(window.sound.engine_box.findData("rnn-trained")).isEnabled()
    assert window.statusBar().currentMessage().startswith(str(window.engine.status_line or ""))
    window.refresh_status()
    assert "dropouts" in window.stats_label.text() and "latency" in window.stats_label.text()


def test_missing_or_bad_startup_model_disables_trained_engine(make_window, tmp_path):
    window = make_window(model=tmp_path / "nowhere.json")
    assert window.model is None
    assert "missing" in window.statusBar().currentMessage()
    assert not window.sound.engine_box.model().item(window.sound.engine_box.findData("rnn-trained")).isEnabled()
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    window = make_window(model=bad)
    assert window.model is None
    assert "Trained model not loaded" in window.statusBar().currentMessage()


def test_saved_trained_engine_without_a_model_falls_back(make_window, tmp_path):
    window = make_window()
    window.sound.set_engine("rnn-trained")
    window.flush_sound()
    window.close()
    again = make_window(model=tmp_path / "gone.json")
    assert again.sound.engine == "rnn-analytic" and again.engine.engine == "rnn-analytic"


def test_no_audio_device_still_opens_and_says_so(make_window):
    window = make_window(config_factory=null_config)
    stats = window.engine.stats()
    assert stats.null_output
    window.refresh_status()
    assert "no audio device" in window.stats_label.text()
    assert window.engine.status_line and window.engine.status_line in window.statusBar().currentMessage()


def test_audio_settings_reopen_the_engine(make_window, monkeypatch):
    from app.audio_dialog import AudioDialog

    window = make_window()
    monkeypatch.setattr(AudioDialog, "exec", lambda self: AudioDialog.Accepted)
    monkeypatch.setattr(AudioDialog, "values", lambda self: ("", 44100, 256, "high", False))
    window.audio_settings_dialog()
    assert window.statusBar().currentMessage() == "Reopening audio..."  # the GUI does not wait for the device
    assert window.wait_for_audio()
    assert (window.settings.samplerate, window.settings.blocksize, window.settings.latency) == (44100, 256, "high")
    assert window.settings.cpus_awake is False and window.engine.config.cpus_awake is False
    assert len(window.engine.names("reopen")) == 1
    window.reconnect_audio()
    assert window.wait_for_audio()
    assert len(window.engine.names("reopen")) == 2
    window.apply_audio("", 44100, 5, "high")  # an impossible block size: one line, the output stays
    assert "not applied" in window.statusBar().currentMessage()
    assert window.settings.blocksize == 256 and window.engine.stats().blocksize == 256
    assert window.engine.stats().blocksize == 256  # the real engine runs with the new block size


def test_computer_keys_play_q_z_e_and_light_the_piano(make_window):
    window = make_window()
    window.sound.velocity_slider.setValue(90)
    window.flush_sound()
    key(window, "q")
    assert window.keyboard.lit_notes() == [72]
    key(window, "z")
    key(window, "e")
    assert window.keyboard.lit_notes() == [60, 72, 76]
    for char in "qze":
        key(window, char, press=False)
    assert window.engine.names("note_on") == [(72, 90 / 127), (60, 90 / 127), (76, 90 / 127)]
    assert window.engine.names("note_off") == [(72,), (60,), (76,)]
    assert window.keyboard.lit_notes() == []
    for _ in range(3):
        tap(window, Qt.Key_Right)
    key(window, "i")  # C9: above the Nyquist frequency at 8 kHz
    assert "Nyquist" in window.statusBar().currentMessage() and window.keyboard.lit_notes() == []
    key(window, "i", press=False)
    tap(window, "a")  # unmapped: nothing
    assert len(window.engine.names("note_on")) == 3


def test_auto_repeat_never_retriggers(make_window):
    window = make_window()
    key(window, "x")
    for _ in range(5):  # X11 auto-repeat: release+press pairs flagged as auto-repeat
        key(window, "x", press=False, auto_repeat=True)
        key(window, "x", press=True, auto_repeat=True)
    key(window, "x", press=False)
    assert window.engine.names("note_on") == [(62, window.sound.velocity / 127)]
    assert window.engine.names("note_off") == [(62,)]


def test_octave_shift_by_arrows_and_buttons_releases_held_notes(make_window, qtbot):
    window = make_window()
    labels = window.keyboard._labels
    assert (labels[60], labels[61], labels[72], labels[84]) == ("z", "s", "q", "i")  # drawn on the piano
    key(window, "z")
    tap(window, Qt.Key_Right)
    assert window.keyboard._labels[72] == "z" and 60 not in window.keyboard._labels
    assert window.engine.names("note_off") == [(60,)]  # released by the shift
    assert window.keyboard.lit_notes() == []
    key(window, "z", press=False)  # its release no longer ends anything
    assert window.engine.names("note_off") == [(60,)]
    tap(window, "z")
    assert window.engine.names("note_on")[-1][0] == 72
    qtbot.mouseClick(window.octave_down, Qt.LeftButton)
    qtbot.mouseClick(window.octave_down, Qt.LeftButton)
    tap(window, "z")
    assert window.engine.names("note_on")[-1][0] == 48
    assert "C3..C5" in window.octave_label.text()


def test_the_piano_widens_with_the_window_and_follows_the_octave(make_window, qtbot):
    window = make_window()
    piano = window.keyboard
    shown = {}
    for width in (1500, 2600):
        window.resize(width, 900)
        qtbot.waitUntil(lambda: piano.width() > width - 60)  # the piano spans the window
        shown[width] = piano.shown_range()
        assert shown[width][0] <= 60 and 84 <= shown[width][1]  # around the computer keys
    assert shown[1500][1] - shown[1500][0] >= 48 and shown[2600] == (21, 108)  # 4+ octaves; A0..C8
    window.resize(1500, 900)
    qtbot.waitUntil(lambda: piano.width() < 1500)
    for _ in range(3):
        tap(window, Qt.Key_Right)
    assert piano.marked_range() == (96, 120) and piano.shown_range()[1] == 108  # scrolled up to C8
    key(window, "z")
    assert window.engine.names("note_on")[-1][0] == 96 and piano.lit_notes() == [96]
    key(window, "z", press=False)
    piano.set_lit(21, True)  # a MIDI key far off the shown keys
    piano.repaint()
    assert piano.lit_notes() == [21]


def test_focus_loss_releases_every_note(make_window):
    window = make_window()
    key(window, "c")
    key(window, "v")
    QApplication.sendEvent(window, QEvent(QEvent.WindowDeactivate))
    assert sorted(window.engine.names("note_off")) == [(64,), (65,)]
    assert window.keyboard.lit_notes() == [] and window.player.held_notes == []


def test_the_space_bar_holds_computer_keys_until_it_lifts(make_window):
    window = make_window()
    key(window, "z")
    key(window, Qt.Key_Space)
    key(window, "z", press=False)
    tap(window, "x")
    assert window.engine.names("note_off") == [] and window.keyboard.lit_notes() == []  # held, unlit
    key(window, Qt.Key_Space, press=False)
    assert sorted(window.engine.names("note_off")) == [(60,), (62,)]
    key(window, Qt.Key_Space)
    key(window, "c")
    QApplication.sendEvent(window, QEvent(QEvent.WindowDeactivate))  # the space bar's key-up will not come here
    assert window.engine.names("note_off")[-1] == (64,) and not window.keys.sustain_down


def test_the_release_control_reaches_the_engine_and_is_remembered(make_window):
    window = make_window()
    assert window.engine.settings.release == window.sound.release == 0.3
    configured = len(window.engine.names("configure"))
    window.sound.release_slider.setValue(window.sound.release_slider.maximum())
    window.flush_sound()
    assert window.engine.settings.release == math.inf  # ring on
    assert len(window.engine.names("configure")) == configured + 1
    window.sound.release_slider.setValue(0)
    window.flush_sound()
    assert window.engine.settings.release == 0.05
    window.close()
    assert make_window().sound.release == 0.05


def test_escape_is_panic(make_window, qtbot):
    window = make_window()
    key(window, "b")
    qtbot.mousePress(window.keyboard, Qt.LeftButton, pos=window.keyboard.key_rect(69).center().toPoint())
    tap(window, Qt.Key_Escape)
    assert window.engine.names("panic") == [()]
    assert window.keyboard.lit_notes() == [] and window.player.held_notes == []


def test_mouse_on_piano_plays_through_engine(make_window, qtbot):
    window = make_window()
    rect = window.keyboard.key_rect(note_to_midi("A4"))
    qtbot.mousePress(window.keyboard, Qt.LeftButton, pos=QPoint(int(rect.center().x()), int(rect.bottom() - 2)))
    assert window.engine.names("note_on")[-1][0] == 69 and window.engine.names("note_on")[-1][1] > 0.95
    qtbot.mouseRelease(window.keyboard, Qt.LeftButton, pos=rect.center().toPoint())
    assert window.engine.names("note_off")[-1] == (69,)


def test_typing_in_a_text_field_does_not_play(make_window, qtbot):
    window = make_window()
    window.training.keys_edit.setFocus()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is window.training.keys_edit)
    window.training.keys_edit.clear()
    qtbot.keyClicks(window.training.keys_edit, "e4")
    assert window.training.keys_edit.text() == "e4"
    assert window.engine.names("note_on") == []


def test_engine_switch_reaches_the_engine(make_window):
    window = make_window()
    for name in ("rnn-analytic", "ab", "rnn-trained", "iir"):
        window.sound.set_engine(name)
        window.flush_sound()
        assert window.engine.engine == name  # the real engine's choice for new notes
    window.sound.set_engine("ab")
    window.flush_sound()
    assert window.engine.names("configure")[-1][1].channels == 2


def test_last_key_plot_shows_iir_rnn_difference_and_snr(make_window):
    window = make_window()
    window.sound.set_engine("rnn-trained")
    window.flush_sound()
    tap(window, "n")  # A4
    window.refresh_plots()
    comparison = window.twins.comparison
    assert comparison.note == "A4" and comparison.twin == "rnn-trained"
    assert abs(comparison.snr - 38.2) < 0.5  # drive 0.1 analytic weights, as in the seed's figures
    assert "A4" in window.twins.caption.text() and "dB" in window.twins.caption.text()
    x, y = window.twins.diff_curve.xData, window.twins.diff_curve.yData  # the data, not the clipped view
    scale = 10.0 ** window.twins.diff_scale  # a difference too small to see is drawn magnified, and labelled so
    assert len(x) == len(comparison.time)
    assert math.isclose(float(max(abs(y))), scale * float(max(abs(comparison.difference))))


def test_scope_reads_the_engine(make_window, qtbot):
    window = make_window()
    tap(window, "n")
    qtbot.waitUntil(lambda: max(abs(window.scope.buffer)) > 1e-3, timeout=3000)


def test_model_tied_to_rate_and_q_offers_training(make_window):
    window = make_window()
    window.sound.set_engine("rnn-trained")
    window.flush_sound()
    assert not window.sound.mismatch_label.isVisible()
    window.sound.q_slider.setValue(window.sound.q_slider.value() + 1)
    window.flush_sound()
    assert window.sound.mismatch_label.isVisible() and window.sound.train_button.isVisible()
    assert "Q 0.995" in window.sound.mismatch()
    assert window.engine.engine == "rnn-analytic"  # plays the analytic twin meanwhile
    window.sound.q_slider.setValue(window.sound.q_slider.value() - 1)
    window.flush_sound()
    assert not window.sound.mismatch_label.isVisible()
    assert window.engine.engine == "rnn-trained"


def test_bad_model_file_is_one_sentence_and_model_stays(make_window, tmp_path, monkeypatch):
    window = make_window()
    before = window.model
    changes_before = len(window.engine.names("configure"))
    shown = []
    monkeypatch.setattr(QMessageBox, "warning", lambda parent, title, text, *a: shown.append(text))
    for content in (b"\x00\x01garbage", b'{"format": "iirnn-model", "version": 99}', b""):
        bad = tmp_path / "broken.json"
        bad.write_bytes(content)
        assert not window.open_model_file(str(bad))
        assert window.model is before
    assert not window.open_model_file(str(tmp_path / "missing.json"))
    assert len(shown) == 4
    for text in shown:
        assert "\n" not in text and "Traceback" not in text and 10 < len(text) < 300
    assert len(window.engine.names("configure")) == changes_before  # the engine was not touched


def test_open_and_save_model(make_window, tmp_path):
    window = make_window()
    window.sound.set_engine("rnn-trained")
    window.flush_sound()
    other = tmp_path / "a4.json"
    save_model(analytic_model("A4..C5", q=0.999), other)
    assert window.open_model_file(str(other))  # trained at another Q than the controls'
    assert window.model.notes == ["A4", "A#4", "B4", "C5"]
    assert window.engine.model is window.model and window.engine.engine == "rnn-analytic"
    assert window.sound.mismatch()
    window.sound.q_slider.setValue(window.sound._q_choices.index(0.999))
    window.flush_sound()
    assert window.engine.engine == "rnn-trained" and window.engine.settings.q == 0.999
    assert window.engine.playable(60)  # a key the model lacks plays the analytic twin (the default)...
    window.sound.untrained_box.setCurrentIndex(window.sound.untrained_box.findData("silent"))
    window.flush_sound()  # ...or nothing, if the player chose that
    assert window.engine.playable(69) and not window.engine.playable(60)  # only the model's keys sound
    key(window, "z")  # C4: not in the model, one status line instead of a note
    assert "cannot sound" in window.statusBar().currentMessage()
    assert window.keyboard.lit_notes() == []  # and no key lit for it
    key(window, "z", press=False)
    saved = tmp_path / "saved.json"
    assert window.save_model_file(str(saved))
    assert load_model(saved).notes == window.model.notes


def test_settings_persist_between_runs(make_window):
    window = make_window()
    window.sound.set_engine("ab")
    window.flush_sound()
    window.sound.velocity_slider.setValue(42)
    window.flush_sound()
    tap(window, Qt.Key_Left)
    window.close()
    again = make_window()
    assert (again.sound.engine, again.sound.velocity, again.player.shift) == ("ab", 42, -1)


def test_short_training_run_delivers_loss_points_and_swaps_the_model(make_window, qtbot):
    window = make_window()
    window.sound.set_engine("rnn-trained")
    window.flush_sound()
    window.training.set_values("A4 C5", "adam", "random", 2.0)
    received = []
    window.training.progress_received.connect(received.append)
    with qtbot.waitSignal(window.training.model_trained, timeout=60000) as blocker:
        assert window.training.start()
        pid = window.training.job.pid
        qtbot.waitUntil(lambda: os.getpriority(os.PRIO_PROCESS, pid) >= TRAINING_NICENESS, timeout=20000)
        tap(window, "n")  # playing while it trains
    model = blocker.args[0]
    assert window.model is model and set(model.notes) == {"A4", "C5"}
    assert window.engine.names("configure")[-1][2] is model
    assert sum(received) >= 2, received  # a loss curve, not a single point
    assert window.training.points_received == sum(received)
    steps, logs = window.training.curves.data
    assert len(steps) == sum(received) and logs.shape == (len(steps), 2) and np.isfinite(logs[-1]).all()
    assert window.training.table.item(0, 2).text().endswith("dB")
    assert window.sound.mismatch() == ""
    assert window.engine.engine == "rnn-trained" and window.engine.model is model


def test_unexpected_errors_are_one_line_in_the_status_bar(make_window, monkeypatch, capsys):
    import sys

    from app.main import install_excepthook

    window = make_window()
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)  # put back after the test
    install_excepthook(window)
    try:
        raise RuntimeError("boom\nsecond line")
    except RuntimeError:
        sys.excepthook(*sys.exc_info())
    assert window.statusBar().currentMessage() == "Something went wrong: boom"
    assert "Traceback" in capsys.readouterr().err  # the developer's copy


def test_command_line_options():
    from app.main import parse_args

    args = parse_args(["--settings", "s.ini", "--model", "m.json", "-platform", "offscreen"])
    assert (args.settings, args.model) == ("s.ini", "m.json")  # Qt's own options are left to Qt
    assert parse_args([]).settings is None


def test_training_with_bad_keys_does_not_start(make_window):
    window = make_window()
    window.training.set_values("H9 C4", "best", "random", 5.0)
    assert not window.training.start()
    assert window.training.job is None and window.training.start_button.isEnabled()
    assert window.statusBar().currentMessage().startswith("Training not started: ")


def test_stop_ends_training_early_and_keeps_the_best_so_far(make_window, qtbot):
    window = make_window()
    window.training.set_values("A4", "adam", "random", 600.0)
    assert window.training.start()
    qtbot.waitUntil(lambda: window.training.points_received >= 2, timeout=60000)
    with qtbot.waitSignal(window.training.model_trained, timeout=30000) as blocker:
        qtbot.mouseClick(window.training.stop_button, Qt.LeftButton)
    assert window.model is blocker.args[0] and window.model.notes == ["A4"]
    assert "stopped" in window.training.status_label.text()
    qtbot.waitUntil(lambda: window.training.job is None, timeout=5000)
    assert window.training.start_button.isEnabled() and not window.training.stop_button.isEnabled()


def test_status_counts_each_dropout_once_and_shows_troubles():
    from dataclasses import replace

    from app.main_window import stats_text
    from iirnn_core.audio.engine import EngineStats

    stats = EngineStats(underruns_timestamps=3, underruns_wallclock=2, muted_blocks=0, callback_load_mean=0.01,
                        callback_load_max=0.05, latency_ms_median=9.2, null_output=False, device_name="pulse",
                        samplerate=48000, blocksize=128, priority="SCHED_FIFO 60")
    text = stats_text(stats)
    assert "dropouts 3 |" in text and "SCHED_FIFO 60" in text and "muted" not in text
    text = stats_text(replace(stats, muted_blocks=2, callback_errors=1, events_dropped=4))
    assert "2 blocks muted" in text and "1 callback errors" in text and "4 key events dropped" in text
    assert "CPU" not in text
    assert "SCHED_FIFO 60, CPUs kept awake" in stats_text(replace(stats, cpu_wakeup="awake"))
    assert "CPU wake-up request refused: Permission denied" in stats_text(
        replace(stats, cpu_wakeup="refused: Permission denied"))
    assert "| dropouts 3 (sound server not real-time) |" in stats_text(
        replace(stats, dropout_cause="sound server not real-time"))


def test_scope_time_axis_follows_the_device_rate(make_window):
    window = make_window(config_factory=lambda s: replace_config(null_config(s), samplerate=44100))
    window.refresh_plots()
    assert window.engine.config.samplerate == 44100
    assert abs(window.scope.rate - 44100) < 1e-9


def replace_config(config, **changes):
    from dataclasses import replace

    return replace(config, **changes)


def test_a_slider_drag_reaches_the_engine_once_when_it_rests(make_window, qtbot):
    window = make_window()
    before = len(window.engine.names("configure"))
    for step in range(10):  # a drag: ten steps within the debounce
        window.sound.q_slider.setValue(window.sound.q_slider.value() + 1)
    assert len(window.engine.names("configure")) == before
    qtbot.waitUntil(lambda: len(window.engine.names("configure")) == before + 1, timeout=2000)
    assert window.engine.settings.q == window.sound.q


def test_the_trained_engine_plays_the_network_while_it_learns(make_window, qtbot):
    """During a run the trained engine takes each key's best net so far, several times, before the run ends;
    the model in use changes only at the end."""
    window = make_window()  # the analytic C4..C6 model at 8 kHz, Q 0.995: the run's rate and Q
    window.sound.set_engine("rnn-trained")
    window.flush_sound()
    before = window.model
    window.training.set_values("A4", "adam", "random", 60.0)  # the seed's loop: long enough to watch
    played = []
    window.training.model_snapshot.connect(lambda m: played.append(window.engine.model))
    assert window.training.start()
    qtbot.waitUntil(lambda: len(played) >= 3, timeout=60000)
    assert window.training.is_running and window.model is before  # the run goes on; the file's model stays
    assert all(m.metadata.get("snapshot") for m in played)
    nets = [m.keys["A4"].weights.w_hh for m in played]
    assert sum(not np.array_equal(a, b) for a, b in zip(nets, nets[1:])) >= 2  # A4's patch changed twice
    assert played[-1].keys["C5"] is before.keys["C5"]  # keys not in the run keep their nets
    assert window.engine.playable(69) and window.engine.engine == "rnn-trained"
    tap(window, "n")  # A4: its plots follow the nets being learned
    window.refresh_plots()
    during = window.twins.comparison
    assert during.twin == "rnn-trained" and len(during.rnn_poles) == 3 and len(during.iir_poles) == 2
    with qtbot.waitSignal(window.training.model_trained, timeout=60000) as blocker:
        window.training.stop()
    assert window.engine.model is blocker.args[0] is window.model and window.snapshot_playing is None
    window.refresh_plots()
    poles = window.twins.rnn_poles.getData()
    assert np.allclose(poles[0] + 1j * poles[1], window.twins.comparison.rnn_poles)  # what the plot shows


def test_the_pole_plot_shows_the_twins_poles_and_a_trained_net_sits_on_the_iirs():
    from app.comparison import compare
    from iirnn_core.models.modelfile import DEFAULT_MODEL_PATH, load_model
    from iirnn_core.synth.renderer import SynthSettings

    c = compare("A4", SynthSettings(), "rnn-trained", load_model(DEFAULT_MODEL_PATH))  # 63 dB nets
    w = 2 * np.pi * 440.0 / 8000.0
    np.testing.assert_allclose(sorted(c.iir_poles, key=np.imag), 0.995 * np.exp([-1j * w, 1j * w]), atol=1e-12)
    for pole in c.iir_poles:  # the learned net has a pole on each of the filter's
        assert np.min(np.abs(c.rnn_poles - pole)) < 2e-3
    analytic = compare("A4", SynthSettings(), "rnn-analytic")
    assert np.min(np.abs(analytic.rnn_poles[:, None] - analytic.iir_poles[None, :]), axis=0).max() < 1e-9


def test_a_tiny_difference_gets_its_own_scale():
    from app.plots import difference_scale

    ref = np.sin(np.arange(100) / 5.0)
    assert difference_scale(0.5 * ref, ref) == 0  # visible as it is
    assert difference_scale(3e-7 * ref, ref) == 5  # 3e-7 * 1e5 = 0.03 ... 0.3 of the reference
    assert 0.025 <= 3e-7 * 10 ** difference_scale(3e-7 * ref, ref) <= 0.25
    assert difference_scale(np.zeros(100), ref) == 0


def test_the_twin_plot_labels_a_scaled_difference(make_window):
    window = make_window()
    tap(window, "n")  # A4 on the analytic twin at drive 0.1: the twins agree to a small fraction
    window.refresh_plots()
    labels = [text.text for sample, text in window.twins.legend.items]
    scale = window.twins.diff_scale
    assert scale > 0 and f"RNN - IIR (x1e{scale})" in labels


def test_the_loss_plot_names_its_keys_and_marks_the_one_played_or_picked(make_window, qtbot):
    window = make_window()
    window.training.set_values("A4 C5", "adam", "random", 30.0)
    assert window.training.start()
    panel = window.training
    assert panel.curves.notes == ["A4", "C5"]
    tap(window, "n")  # A4 played
    assert panel.selected == "A4" and panel.curves.pen(0).width() == 3
    assert panel.curves.pen(1).width() == 1 and "bold: A4" in panel.loss_plot.getPlotItem().titleLabel.text
    panel.table.cellClicked.emit(1, 0)  # C5 picked in the table
    assert panel.selected == "C5" and panel.curves.pen(1).width() == 3 and panel.curves.pen(0).width() == 1
    assert window.last_note == note_to_midi("C5")
    window.refresh_plots()
    assert window.twins.comparison.note == "C5"
    with qtbot.waitSignal(panel.model_trained, timeout=60000):
        panel.stop()


def test_panels_hand_the_window_one_value_each(make_window):
    from app.sound_panel import SoundChoice
    from app.training_panel import TrainingChoice

    window = make_window()
    window.training.set_values("A4 C5", "randdir", "warm", 12.0, 24)
    sound, form = window.sound.choice(), window.training.choice()
    assert isinstance(sound, SoundChoice) and sound.engine == window.sound.engine and sound.rate == 8000
    assert form == TrainingChoice("A4 C5", "randdir", "warm", 12.0, 24)
    saved = window.current_settings()
    assert (saved.train_keys, saved.optimizer, saved.init, saved.budget, saved.hidden) == (
        "A4 C5", "randdir", "warm", 12.0, 24)
    assert window.selected_settings().q == sound.q and window.selected_settings().untrained == sound.untrained


# ---- MIDI input and recording -------------------------------------------------------------------------


def from_midi_thread(window, *messages):
    """Hand ``messages`` to the window's MIDI handler on a thread of its own, as rtmidi does."""
    import threading

    thread = threading.Thread(target=lambda: [window.midi.input.handle(m) for m in messages])
    thread.start()
    thread.join()


def test_midi_keys_light_sound_and_sustain_in_the_window(make_window, qtbot):
    import mido

    window = make_window()
    engine = window.engine
    from_midi_thread(window, mido.Message("note_on", note=69, velocity=100))
    assert engine.names("note_on")[-1] == (69, 100 / 127)  # in the engine already, from the MIDI thread
    qtbot.waitUntil(lambda: window.keyboard.lit_notes() == [69])  # the light comes through the GUI thread
    assert window.last_note == 69
    qtbot.waitUntil(lambda: engine.stats().notes == 1)
    scope = np.zeros(1 << 16)  # the last 1.4 s the output played: the note (it rings about 0.2 s) is there
    assert engine.read_scope(scope) > 0 and np.abs(scope).max() > 0.05
    from_midi_thread(window, mido.Message("control_change", control=64, value=127),
                     mido.Message("note_off", note=69))
    qtbot.wait(200)
    assert window.keyboard.lit_notes() == [69] and engine.names("note_off") == []  # the pedal holds it
    from_midi_thread(window, mido.Message("control_change", control=64, value=0))
    assert engine.names("note_off") == [(69,)]
    qtbot.waitUntil(lambda: window.keyboard.lit_notes() == [])
    from_midi_thread(window, mido.Message("note_on", note=72, velocity=90))
    qtbot.waitUntil(lambda: window.keyboard.lit_notes() == [72])
    from_midi_thread(window, mido.Message("control_change", control=120, value=0))  # all sound off
    qtbot.waitUntil(lambda: window.keyboard.lit_notes() == [])
    assert len(engine.names("panic")) == 1


def test_a_real_midi_keyboard_plays_in_the_window_is_remembered_and_comes_back(make_window, qtbot, midi_keyboard):
    port = midi_keyboard.port
    window = make_window()
    window.midi.submenu.aboutToShow.emit()  # the menu lists the ports as it opens
    actions = {a.data(): a for a in window.midi.group.actions()}
    assert set(actions) >= {"", port} and actions[""].text() == "None" and actions[""].isChecked()
    actions[port].trigger()
    assert window.midi.port_name == port and "MIDI input: " in window.statusBar().currentMessage()
    qtbot.wait(200)  # JACK connects the ports at its next cycle
    midi_keyboard.send(0x90, 64, 127)
    qtbot.waitUntil(lambda: window.keyboard.lit_notes() == [64])
    qtbot.waitUntil(lambda: window.engine.stats().notes == 1)
    midi_keyboard.send(0xB0, 64, 127)
    midi_keyboard.send(0x80, 64, 0)
    qtbot.wait(300)
    assert window.keyboard.lit_notes() == [64] and window.engine.names("note_off") == []
    midi_keyboard.send(0xB0, 64, 0)
    qtbot.waitUntil(lambda: window.keyboard.lit_notes() == [])
    assert window.engine.names("note_off") == [(64,)]
    window.close()
    again = make_window()  # the choice was saved and the port opens again
    assert again.midi.wanted == port and again.midi.port_name == port
    midi_keyboard.unplug()  # the keyboard is unplugged ...
    again.midi.poll()
    assert again.midi.port_name is None and "gone" in again.statusBar().currentMessage()
    labels = [a.text() for a in again.midi.group.actions()]
    assert f"{port} (not connected)" in labels
    midi_keyboard.plug()  # ... and plugged in again
    again.midi.poll()
    assert again.midi.port_name == port
    qtbot.wait(200)
    midi_keyboard.send(0x90, 67, 100)
    qtbot.waitUntil(lambda: again.keyboard.lit_notes() == [67])
    again.midi.choose("")
    assert again.midi.port_name is None and again.current_settings().midi_input == ""


def test_a_remembered_midi_port_opens_once_the_audio_does(qtbot, tmp_path, model_path, midi_keyboard):
    store = QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat)
    store.setValue("midi_input", midi_keyboard.port)
    trainer = TrainerLoading()
    window = MainWindow(store, model_path=model_path, engine_factory=recording_factory, config_factory=null_config,
                        trainer=trainer)
    qtbot.addWidget(window)
    try:
        window.midi.poll()
        assert not window.audio_started and window.midi.wanted == midi_keyboard.port
        assert window.midi.port_name is None  # its notes would go to a processor the stream replaces
        trainer.ready = True                   # torch has loaded: the audio opens, then the port
        qtbot.waitUntil(lambda: window.audio_started)
        assert window.midi.port_name == midi_keyboard.port
        qtbot.wait(200)  # JACK connects the ports at its next cycle
        midi_keyboard.send(0x90, 64, 127)
        qtbot.waitUntil(lambda: window.engine.names("note_on") != [])
    finally:
        window.close()


def test_file_record_writes_a_valid_file_and_closing_the_window_finishes_one(make_window, qtbot, tmp_path,
                                                                             monkeypatch):
    import soundfile
    from PySide6.QtWidgets import QFileDialog

    window = make_window()
    first, second = tmp_path / "take.wav", tmp_path / "closing.wav"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *args, **kwargs: (str(first), ""))
    window.recording.record_action.trigger()
    assert window.recording.active and window.recording.stop_action.isEnabled()
    assert not window.recording.record_action.isEnabled() and "Recording to" in window.statusBar().currentMessage()
    window.note_on(69, 100)
    qtbot.wait(500)
    window.recording.stop_action.trigger()
    assert not window.recording.active and window.statusBar().currentMessage().startswith("Recorded")
    info = soundfile.info(first)
    assert (info.samplerate, info.channels, info.subtype) == (window.engine.stats().samplerate, 2, "FLOAT")
    y, _ = soundfile.read(first)
    assert info.frames == window.recording.result.frames > 0.3 * info.samplerate and np.abs(y).max() > 0.05
    assert window.recording.start(str(second))
    window.note_on(72, 100)
    qtbot.wait(300)
    window.close()
    info = soundfile.info(second)
    assert info.frames > 0.2 * info.samplerate and info.subtype == "FLOAT"


def test_the_trained_engine_plays_every_key_the_octave_shift_reaches(make_window):
    from iirnn_core.models.modelfile import DEFAULT_MODEL_PATH
    from iirnn_core.dsp.notes import midi_to_hz

    window = make_window(model=DEFAULT_MODEL_PATH)  # the shipped model: A0..B7 at 8 kHz
    window.sound.set_values("rnn-trained", 0.995, 1.0, 100, 0.8, 8000)
    window.apply_sound()
    window.flush_sound()
    reached = set(window.keyboard._labels)
    for step in (-1,) * 6 + (1,) * 12:
        window.shift_octave(step)
        reached |= set(window.keyboard._labels)
    assert min(reached) <= 21 and max(reached) >= 107  # A0 and B7 are within reach
    sounding = [m for m in reached if midi_to_hz(m) < 4000.0]
    assert sounding and all(window.engine.playable(m) for m in sounding)
    assert window.effective_engine() == "rnn-trained"


def test_the_training_panel_offers_the_whole_keyboard(make_window):
    window = make_window()
    window.training.whole_button.click()
    assert window.training.keys_edit.text() == "whole keyboard"
    config = window.training.make_config()
    assert config.notes[0] == "A0" and config.notes[-1] == "B7" and len(config.notes) == 87  # at 8 kHz
