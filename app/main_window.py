"""The main window: piano, sound controls, plots, training panel, menus and status bar.

The window holds the views, the menus and the key handling, and wires them to its controllers:
:class:`app.sound_controller.SoundController` (the controls to the engine),
:class:`app.audio_controller.AudioController` (the audio engine's lifecycle and the status figures, 2 Hz),
:class:`app.model_controller.ModelController` (the model in use, its files, training snapshots),
:class:`app.training_controller.TrainingController` (the training process and jobs) and
:class:`app.plot_controller.PlotController` (scope and last key's twins, about 30 Hz). It forwards every key
to the engine; nothing here touches samples. The computer keyboard plays through :class:`app.key_input.KeyInput`,
a MIDI keyboard through :class:`app.midi_menu.MidiMenu` (Audio > MIDI input); File > Record is
:class:`app.recording.RecordingControl`, File > Export network... :class:`app.export_control.ExportControl`,
File > Learn a sound... (or a sound file dropped on the training panel) :class:`app.learn_control.LearnControl`,
whose learned sound the plots' "Learned sound" tab shows.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QSettings, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (QHBoxLayout, QLabel, QMainWindow, QPushButton, QSplitter, QTabWidget, QVBoxLayout,
                               QWidget)

from iirnn_core.dsp.notes import midi_to_hz, midi_to_note, note_to_midi
from iirnn_core.synth.renderer import SynthSettings

from .audio_controller import AudioController, audio_config, default_engine_factory, stats_text
from .export_control import ExportControl, net_to_export
from .keyboard import PianoKeyboard
from .key_input import KeyInput
from .keymap import key_labels
from .learn_control import LearnControl
from .midi_menu import MidiMenu
from .model_controller import ModelController
from .plot_controller import PlotController
from .plots import ScopeView, SoundView, TwinView
from .recording import RecordingControl
from .settings import AppSettings, load_settings, save_settings
from .sound_controller import SoundController
from .sound_panel import SoundPanel
from .training_controller import TrainingController
from .training_panel import TrainingPanel

__all__ = ["MainWindow", "audio_config", "central_widget", "default_engine_factory", "stats_text"]


class MainWindow(QMainWindow):
    """The synth window.

    ``store``: the QSettings to read and write (tests pass a temporary INI file). ``model_path``:
    the model loaded at start (a missing or bad file leaves the trained engine off, with one line in
    the status bar). ``engine_factory(config, settings, engine, model, polyphony)`` and
    ``config_factory(app_settings)`` make the audio engine; ``job_factory(config)`` a training job;
    ``trainer``: a training process to share (None: one of the window's own).
    """

    def __init__(self, store: QSettings, model_path=None, engine_factory=None, config_factory=None,
                 job_factory=None, trainer=None, parent: QWidget | None = None):
        super().__init__(parent)
        # The training process starts first and loads torch before any audio plays (no process start and no
        # torch import may overlap playing); the stream opens once it is ready.
        self.training_control = TrainingController(self, trainer, job_factory)
        self.trainer = self.training_control.trainer
        self.setWindowTitle("iirnn-synth")
        self.store = store
        self.settings = load_settings(store)
        self.model_control = ModelController(self)
        self.sound_control = SoundController(self)
        self.plot_control = PlotController(self)
        self.plot_timer = self.plot_control.timer
        self._closed = False
        self.keys = KeyInput(self, self.settings.octave)
        self.player = self.keys.player
        self.keys.pressed.connect(self._key_pressed)
        self.keys.released.connect(self._key_released)
        self.keys.sustain.connect(self.sustain)
        self.keys.panic_requested.connect(self._escape)
        self.keys.octave_requested.connect(self.shift_octave)
        self.keys.deactivated.connect(self.focus_lost)

        self._build_widgets()
        self._build_menus()
        startup_message = self.model_control.load_startup_model(model_path)
        self.sound.set_values(self.settings.engine, self.settings.q, self.settings.drive, self.settings.velocity,
                              self.settings.master, self.settings.model_rate, self.settings.release,
                              self.settings.room, self.settings.room_wet)
        self.sound.set_trained_available(self.model is not None)  # a saved trained engine needs a model
        self.training.set_values(self.settings.train_keys, self.settings.optimizer, self.settings.init,
                                 self.settings.budget, self.settings.hidden)
        if self.settings.geometry:
            self.restoreGeometry(self.settings.geometry)

        # The first comparison loads numba's kernels and numpy's FFT (holding the GIL a while): done here,
        # before the audio starts, it cannot starve the audio callback later.
        self.plot_control.show_comparison(note_to_midi("A4"))

        self.audio_control = AudioController(self.trainer, self.settings, config_factory or audio_config,
                                             self.stats_label, self.release_all_keys, self)
        self.audio_control.message.connect(self.statusBar().showMessage)
        playing = self.sound_control.playing()
        self.engine = self.audio_control.make_engine(engine_factory or default_engine_factory, playing.settings,
                                                     playing.engine, self.model)
        self.sound_control.start()  # controls move in bursts (a slider drag): one engine change when they rest
        self.recording = RecordingControl(self._file_menu, self._quit_action, lambda: self.engine.processor, self)
        self.recording.message.connect(self.statusBar().showMessage)
        self.midi = MidiMenu(self._audio_menu, self.engine, self.settings.midi_input, self, start_now=False)
        self.midi.key.connect(self.midi_key)
        self.midi.message.connect(self.statusBar().showMessage)
        self.audio_control.open(self.midi, startup_message)
        self.plot_control.start()
        self.keys.install()
        self.keyboard.setFocus()

    # ---- construction -------------------------------------------------------------------------
    def _build_widgets(self) -> None:
        self.keyboard = PianoKeyboard()  # A0..C8, as much of it as the width fits
        self.keyboard.note_on.connect(self.note_on)
        self.keyboard.note_off.connect(self.note_off)
        self.octave_down = QPushButton("Octave -")
        self.octave_up = QPushButton("Octave +")
        self.octave_label = QLabel()
        self.panic_button = QPushButton("Panic (Esc)")
        for button in (self.octave_down, self.octave_up, self.panic_button):
            button.setFocusPolicy(Qt.NoFocus)
        self.octave_down.clicked.connect(lambda: self.shift_octave(-1))
        self.octave_up.clicked.connect(lambda: self.shift_octave(1))
        self.panic_button.clicked.connect(self.panic)
        self._update_octave_label()

        self.sound = SoundPanel()
        self.sound.train_requested.connect(self.training_control.train_for_current_settings)
        self.scope = ScopeView()
        self.twins = TwinView()
        self.sound_view = SoundView()
        self.plot_tabs = QTabWidget()
        self.plot_tabs.setFocusPolicy(Qt.NoFocus)
        self.plot_tabs.addTab(self.twins, "Last key")
        self.plot_tabs.addTab(self.sound_view, "Learned sound")
        self.plot_tabs.setTabEnabled(1, False)
        self.training = TrainingPanel(self.training_control.training_context, self.training_control.job_factory)
        self.training.model_trained.connect(self.model_control.use_trained_model)
        self.training.model_snapshot.connect(self.model_control.play_snapshot)
        self.training.run_ended.connect(self.model_control.end_snapshots)
        self.training.key_picked.connect(self.pick_key)
        self.training.message.connect(lambda text: self.statusBar().showMessage(text))

        self.setCentralWidget(central_widget(self))
        self.stats_label = QLabel()
        self.statusBar().addPermanentWidget(self.stats_label)
        self.resize(1500, 900)

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        open_action = QAction("&Open model...", self)
        open_action.setShortcut(QKeySequence.Open)
        open_action.triggered.connect(self.model_control.open_model_dialog)
        save_action = QAction("&Save model as...", self)
        save_action.setShortcut(QKeySequence.Save)
        save_action.triggered.connect(self.model_control.save_model_dialog)
        quit_action = QAction("&Quit", self)
        quit_action.setShortcut(QKeySequence.Quit)
        quit_action.triggered.connect(self.close)
        file_menu.addActions([open_action, save_action])
        self.export_control = ExportControl(
            file_menu, self.trainer, lambda note: net_to_export(note, self.sound.engine, self.sound_control.playing(),
                                                                self.model, self.model_control.source),
            lambda: self.last_note, lambda: self.training.is_running, self)
        self.export_control.message.connect(self.statusBar().showMessage)
        self.learn_control = LearnControl(
            file_menu, self.trainer, lambda: (self.training.hidden_spin.value(), self.training.budget_spin.value()),
            lambda: self.training.is_running, self)
        self.learn_control.started.connect(self.training.show_learning)
        self.learn_control.progress.connect(self.training.learning_progress)
        self.learn_control.learned.connect(self.model_control.use_learned)
        self.learn_control.message.connect(self._learn_message)
        self.learn_control.done.connect(self._learn_done)
        self.training.sound_dropped.connect(self.learn_control.start)
        self.training.learn_stop_requested.connect(self.learn_control.cancel)
        file_menu.addSeparator()
        file_menu.addAction(quit_action)
        self.save_action = save_action
        audio_menu = self.menuBar().addMenu("&Audio")
        settings_action = QAction("Audio &settings...", self)
        settings_action.triggered.connect(self.audio_settings_dialog)
        reconnect_action = QAction("&Reconnect output", self)
        reconnect_action.setToolTip("Open the configured device again (after it was lost or busy)")
        reconnect_action.triggered.connect(self.reconnect_audio)
        panic_action = QAction("&Panic (Esc)", self)
        panic_action.triggered.connect(self.panic)
        audio_menu.addActions([settings_action, reconnect_action, panic_action])
        self._file_menu, self._audio_menu, self._quit_action = file_menu, audio_menu, quit_action

    # ---- what the controllers hold ------------------------------------------------------------
    @property
    def model(self):
        """The model in use (None when there is none): :attr:`ModelController.model`."""
        return self.model_control.model

    @property
    def snapshot_playing(self):
        """The training snapshot the engine plays during a run, else None."""
        return self.model_control.snapshot_playing

    @property
    def audio_started(self) -> bool:
        """Whether the stream has opened (once the training process was ready)."""
        return self.audio_control.started

    @property
    def last_note(self) -> int | None:
        """The MIDI key the twins show (the last played or picked), None before the first."""
        return self.plot_control.last_note

    def open_model_file(self, path: str) -> bool:
        """Load the model file ``path`` and use it (:meth:`ModelController.open_model_file`)."""
        return self.model_control.open_model_file(path)

    def save_model_file(self, path: str) -> bool:
        """Save the model in use to ``path`` (:meth:`ModelController.save_model_file`)."""
        return self.model_control.save_model_file(path)

    # ---- sound (the tests' and benchmarks' handles on the SoundController) --------------------------
    def selected_settings(self) -> SynthSettings:
        """The SynthSettings the controls select (:meth:`SoundController.selected_settings`)."""
        return self.sound_control.selected_settings()

    def effective_engine(self) -> str:
        """The engine that sounds (:meth:`SoundController.effective_engine`)."""
        return self.sound_control.effective_engine()

    def apply_sound(self) -> None:
        """Send the controls and the model to the engine now (:meth:`SoundController.apply_sound`)."""
        self.sound_control.apply_sound()

    def flush_sound(self) -> None:
        """Apply a control change still waiting out its debounce now."""
        self.sound_control.flush_sound()

    # ---- keys ---------------------------------------------------------------------------------
    def note_on(self, midi: int, velocity: int) -> bool:
        """Start ``midi`` at ``velocity`` (1..127); False (and one status line) when it cannot sound:
        above the model rate's Nyquist frequency, or a key the trained model lacks."""
        if midi_to_hz(midi) >= self.sound.rate / 2.0:
            self.statusBar().showMessage(f"{midi_to_note(midi)} is above the Nyquist frequency at "
                                         f"{self.sound.rate} Hz; raise the model rate to play it.")
            return False
        if not self.audio_started:  # the stream opens once the trainer has loaded torch (a few seconds after launch)
            self.statusBar().showMessage(f"{midi_to_note(midi)} is silent: the audio starts once the trainer has "
                                         "loaded, a few seconds after launch.")
            return False
        if not self.engine.playable(midi):
            self.statusBar().showMessage(f"{midi_to_note(midi)} cannot sound with this engine "
                                         "(the trained model has no such key).")
            return False
        self.midi.input.key_down(midi, velocity / 127.0)  # through the MIDI state: a pedal holds the window's keys too
        self._follow_key(midi, midi_to_note(midi))
        return True

    def _follow_key(self, midi: int, note: str) -> None:
        """The plots show key ``midi`` next and the training table selects ``note``, its name."""
        self.plot_control.follow(midi)
        self.training.select_key(note)

    def pick_key(self, note: str) -> None:
        """A key picked in the training table: its curve is drawn bold and the plots show it."""
        self._follow_key(note_to_midi(note), note)

    def note_off(self, midi: int) -> None:
        """Let ``midi`` go: released (its dampers bring it down in the Release time), or held while a sustain
        pedal is down (the space bar, or a MIDI keyboard's on channel 1)."""
        self.midi.input.key_up(midi)

    def sustain(self, down: bool) -> None:
        """The computer keyboard's sustain pedal (the space bar) goes down or up; up releases the keys it held."""
        self.midi.input.sustain(down)

    def panic(self) -> None:
        """Silence everything at once and forget every held key."""
        self.keyboard.release_mouse_note()
        self.player.release_all()
        self.keyboard.clear_lit()
        self.midi.reset()
        self.engine.panic()

    def release_all_keys(self) -> None:
        """End every note held from the computer keyboard or the mouse (octave shift, focus loss)."""
        self.keyboard.release_mouse_note()
        for midi in self.player.release_all():
            self.keyboard.set_lit(midi, False)
            self.note_off(midi)

    def focus_lost(self) -> None:
        """The window no longer hears the keys: every held key ends, and a space bar held down (the pedal) is let
        go, as its key-up will not come here."""
        self.release_all_keys()
        if self.keys.sustain_down:
            self.keys.sustain_down = False
            self.sustain(False)

    def shift_octave(self, step: int) -> None:
        """Move the computer keyboard by ``step`` octaves; every held note is released first."""
        self.release_all_keys()
        self.player.shift_octave(step)
        self._update_octave_label()

    def midi_key(self, midi: int, sounding: bool) -> None:
        """A MIDI key started (lit; the plots follow it) or ended (unlit); ``midi`` -1: every key ended."""
        if midi < 0:
            self.keyboard.clear_lit()
            return
        self.keyboard.set_lit(midi, sounding)
        if sounding:
            self._follow_key(midi, midi_to_note(midi))

    def _key_pressed(self, midi: int) -> None:
        if self.note_on(midi, self.sound.velocity):
            self.keyboard.set_lit(midi, True)

    def _key_released(self, midi: int) -> None:
        self.keyboard.set_lit(midi, False)
        self.note_off(midi)

    def _learn_message(self, text: str) -> None:
        """A line about a sound being learned: in the status bar and the training panel."""
        self.training.show_line(text)
        self.statusBar().showMessage(text)

    def _learn_done(self, _ok: bool) -> None:
        """A learning ended, or one was refused: the panel is free again once none runs."""
        if self.learn_control.learning is None and self.training.learning is not None:
            self.training.learning_ended()

    def _escape(self) -> None:
        self.panic()
        self.keyboard.setFocus()  # out of a text field: the keys play again

    def _update_octave_label(self) -> None:
        shift = self.player.shift
        self.octave_label.setText(f"Computer keys {self.player.range_label()} ({shift:+d} oct)")
        self.keyboard.set_key_labels(key_labels(shift))

    def event(self, event: QEvent) -> bool:  # noqa: D102 - Qt override
        if event.type() == QEvent.WindowDeactivate:
            self.focus_lost()
        return super().event(event)

    # ---- audio and plots ----------------------------------------------------------------------
    def audio_settings_dialog(self) -> None:
        """Audio > Settings (:meth:`AudioController.audio_settings_dialog`)."""
        self.audio_control.audio_settings_dialog()

    def apply_audio(self, device: str, samplerate: int, blocksize: int, latency: str,
                    cpus_awake: bool | None = None) -> None:
        """Reopen the output with these settings, off the GUI thread (:meth:`AudioController.apply_audio`)."""
        self.audio_control.apply_audio(device, samplerate, blocksize, latency, cpus_awake)

    def wait_for_audio(self, timeout: float = 30.0) -> bool:
        """Wait up to ``timeout`` seconds until a reopen has ended; True if none is under way."""
        return self.audio_control.wait_for_audio(timeout)

    def reconnect_audio(self) -> None:
        """Audio > Reconnect: reopen the configured output (:meth:`AudioController.reconnect_audio`)."""
        self.audio_control.reconnect_audio()

    def refresh_status(self) -> None:
        """Callback load, underruns and latency from the engine's stats, into the status bar."""
        self.audio_control.refresh_status()

    def refresh_plots(self) -> None:
        """Scope from the engine; the last key's twins when a key or a control changed."""
        self.plot_control.refresh_plots()

    # ---- shutdown -----------------------------------------------------------------------------
    def current_settings(self) -> AppSettings:
        """The settings to save: the controls as they are now."""
        s, sound, form = self.settings, self.sound.choice(), self.training.choice()
        s.engine, s.q, s.drive = sound.engine, sound.q, sound.drive
        s.velocity, s.master, s.model_rate, s.release = sound.velocity, sound.master, sound.rate, sound.release
        s.room, s.room_wet = sound.room_on, sound.room_wet
        s.octave = self.player.shift
        s.midi_input = self.midi.wanted
        s.train_keys, s.optimizer, s.init, s.budget = form.keys, form.optimizer, form.init, form.budget
        s.hidden = form.hidden
        s.geometry = bytes(self.saveGeometry().data())
        return s

    def closeEvent(self, event) -> None:  # noqa: D102 - Qt override
        if self._closed:
            return super().closeEvent(event)
        self._closed = True
        self.keys.uninstall()
        self.plot_control.stop()
        self.audio_control.stop()
        self.learn_control.cancel()
        self.training_control.shutdown()
        save_settings(self.store, self.current_settings())
        self.midi.close()
        self.recording.stop()
        self.audio_control.close()
        self.training_control.close()
        super().closeEvent(event)


def central_widget(window: MainWindow) -> QWidget:
    """The window's layout: sound panel over scope, twins and training panel side by side, then the octave and
    panic row and the piano along the bottom."""
    left = QSplitter(Qt.Vertical)
    left.addWidget(window.sound)
    left.addWidget(window.scope)
    left.setStretchFactor(0, 3)
    left.setStretchFactor(1, 2)

    keys_row = QHBoxLayout()
    keys_row.addWidget(window.octave_down)
    keys_row.addWidget(window.octave_label)
    keys_row.addWidget(window.octave_up)
    keys_row.addStretch(1)
    keys_row.addWidget(QLabel("Keys: z s x d c v g b h n j m ,  and  q 2 w 3 e r 5 t 6 y 7 u i"))
    keys_row.addStretch(1)
    keys_row.addWidget(window.panic_button)

    splitter = QSplitter(Qt.Horizontal)
    splitter.addWidget(left)
    splitter.addWidget(window.plot_tabs)
    splitter.addWidget(window.training)
    splitter.setStretchFactor(0, 2)
    splitter.setStretchFactor(1, 5)
    splitter.setStretchFactor(2, 3)
    splitter.setSizes([360, 760, 400])

    central = QWidget()
    layout = QVBoxLayout(central)
    layout.addWidget(splitter, 1)
    layout.addLayout(keys_row)
    layout.addWidget(window.keyboard)
    return central
