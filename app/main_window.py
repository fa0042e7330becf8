"""The main window: piano, sound controls, plots, training panel, menus and status bar.

It owns one audio engine (:class:`iirnn_core.audio.engine.AudioEngine`, or what ``engine_factory``
makes) and forwards every key and control to it; nothing here touches samples. Timers: plots at
about 30 Hz (scope, last key's twins), status at 2 Hz (callback load, underruns, latency).
The computer keyboard plays through :class:`app.key_input.KeyInput`, a MIDI keyboard through
:class:`app.midi_menu.MidiMenu` (Audio > MIDI input); File > Record is :class:`app.recording.RecordingControl`.
"""

from __future__ import annotations

import math
import os
import threading
import time
from dataclasses import replace

from PySide6.QtCore import QEvent, QSettings, Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (QFileDialog, QHBoxLayout, QLabel, QMainWindow, QMessageBox, QPushButton, QSplitter,
                               QVBoxLayout, QWidget)

from iirnn_core.models.what_plays import Playing, model_fits, uses_trained_model, what_plays
from iirnn_core.training.worker import TrainingJob, TrainingWorker
from iirnn_core.dsp.notes import midi_to_hz, midi_to_note, note_to_midi
from iirnn_core.synth.renderer import SynthSettings

from .audio_dialog import AudioDialog
from .comparison import compare
from .keyboard import PianoKeyboard
from .key_input import KeyInput
from .keymap import BOTTOM_ROW, TOP_ROW, midi_for
from .midi_menu import MidiMenu
from .plots import ScopeView, TwinView
from .recording import RecordingControl
from .settings import AppSettings, latency_for_stream, load_settings, save_settings
from .sound_panel import SoundPanel
from .texts import one_line
from .training_panel import TrainingPanel

PLOT_MS = 33
"""Plot refresh period (about 30 Hz)."""

STATUS_MS = 500
"""Status bar refresh period (2 Hz)."""

POLYPHONY = 32
"""Voices per bank of the live engine."""

COMPARISON_CACHE = 64
"""Comparisons of the last key kept for reuse (one per key and settings)."""

SOUND_DEBOUNCE_MS = 30
"""A control change reaches the engine once the controls have rested this long."""

TRAINER_POLL_MS = 50
"""How often the window looks whether the training process is ready (then the audio opens)."""

TRAINER_WAIT_SECONDS = 20.0
"""The audio opens after this long even if the training process is not ready."""

IMPULSE_AMPLITUDE = 0.1
"""Impulse height at full velocity (the seed's 0.1)."""



def default_engine_factory(config, settings, engine, model, polyphony):
    """The real audio engine (imported here so the window module loads without the audio stack)."""
    from iirnn_core.audio.engine import AudioEngine

    return AudioEngine(config, settings=settings, engine=engine, model=model, polyphony=polyphony)


def audio_config(s: AppSettings):
    """The AudioConfig for the saved audio settings (device "" means the system default)."""
    from iirnn_core.audio.engine import AudioConfig

    return AudioConfig(device=s.device or None, samplerate=s.samplerate, blocksize=s.blocksize,
                       latency=latency_for_stream(s.latency), cpus_awake=s.cpus_awake)


def list_devices() -> list[str]:
    """Output device names (empty when the audio stack cannot list them)."""
    try:
        from iirnn_core.audio.engine import list_output_devices

        return list(list_output_devices())
    except Exception:  # a broken audio stack must not stop the dialog from opening
        return []


class MainWindow(QMainWindow):
    """The synth window.

    ``store``: the QSettings to read and write (tests pass a temporary INI file). ``model_path``:
    the model loaded at start (a missing or bad file leaves the trained engine off, with one line in
    the status bar). ``engine_factory(config, settings, engine, model, polyphony)`` and
    ``config_factory(app_settings)`` make the audio engine; ``job_factory(config)`` a training job.
    """

    def __init__(self, store: QSettings, model_path=None, engine_factory=None, config_factory=None,
                 job_factory=None, trainer=None, parent: QWidget | None = None):
        super().__init__(parent)
        # The training process starts first and loads torch before any audio plays (no process start
        # and no torch import may overlap playing); the stream opens once it is ready.
        self._own_trainer = trainer is None
        self.trainer = TrainingWorker() if trainer is None else trainer
        self.trainer.start()
        if job_factory is None:
            def job_factory(config):
                return TrainingJob(config, worker=self.trainer)
        self.setWindowTitle("iirnn-synth")
        self.store = store
        self.settings = load_settings(store)
        self.model = None
        self.model_source = ""
        self.last_note: int | None = None
        self._comparison_pending = False
        self.snapshot_playing = None  # the training snapshot the engine plays during a run
        self._comparisons: dict = {}  # (key, settings, engine) -> (model, Comparison), oldest first
        self._closed = False
        self.keys = KeyInput(self, self.settings.octave)
        self.player = self.keys.player
        self.keys.pressed.connect(self._key_pressed)
        self.keys.released.connect(self._key_released)
        self.keys.panic_requested.connect(self._escape)
        self.keys.octave_requested.connect(self.shift_octave)
        self.keys.deactivated.connect(self.release_all_keys)

        self._build_widgets(job_factory)
        self._build_menus()
        startup_message = self._load_startup_model(model_path)
        self.sound.set_values(self.settings.engine, self.settings.q, self.settings.drive, self.settings.velocity,
                              self.settings.master, self.settings.model_rate)
        self.sound.set_trained_available(self.model is not None)  # a saved trained engine needs a model
        self.training.set_values(self.settings.train_keys, self.settings.optimizer, self.settings.init,
                                 self.settings.budget)
        if self.settings.geometry:
            self.restoreGeometry(self.settings.geometry)

        # The first comparison loads numba's kernels and numpy's FFT (about 0.2 s holding the GIL):
        # done here, before the audio starts, it cannot starve the audio callback later.
        self._show_comparison(note_to_midi("A4"))

        factory = engine_factory or default_engine_factory
        self._config_factory = config_factory or audio_config
        self.engine = factory(self._config_factory(self.settings), self.synth_settings(), self.effective_engine(),
                              self.model, POLYPHONY)
        # Controls move in bursts (a slider drag): one engine change when they rest, not one per step.
        self._sound_timer = QTimer(self)
        self._sound_timer.setSingleShot(True)
        self._sound_timer.setInterval(SOUND_DEBOUNCE_MS)
        self._sound_timer.timeout.connect(self.apply_sound)
        self.sound.changed.connect(self._sound_timer.start)
        self.apply_sound()
        self.recording = RecordingControl(self._file_menu, self._quit_action, lambda: self.engine.processor, self)
        self.recording.message.connect(self.statusBar().showMessage)
        self.midi = MidiMenu(self._audio_menu, self.engine, self.settings.midi_input, self, start_now=False)
        self.midi.key.connect(self.midi_key)
        self.midi.message.connect(self.statusBar().showMessage)
        self.audio_started = False
        self._startup_message = startup_message
        self._reopening: threading.Thread | None = None
        self._reopen_timer = QTimer(self)
        self._reopen_timer.setInterval(TRAINER_POLL_MS)
        self._reopen_timer.timeout.connect(self._reopen_done)
        self._trainer_wait = QTimer(self)
        self._trainer_wait.setInterval(TRAINER_POLL_MS)
        self._trainer_wait.timeout.connect(self._start_audio_when_trainer_ready)
        self._trainer_deadline = time.monotonic() + TRAINER_WAIT_SECONDS
        self.statusBar().showMessage("  ".join(m for m in ("Starting the trainer, then the audio...",
                                                           startup_message) if m))
        self._start_audio_when_trainer_ready()

        self.plot_timer = QTimer(self)
        self.plot_timer.setInterval(PLOT_MS)
        self.plot_timer.timeout.connect(self.refresh_plots)
        self.plot_timer.start()
        self.status_timer = QTimer(self)
        self.status_timer.setInterval(STATUS_MS)
        self.status_timer.timeout.connect(self.refresh_status)
        self.status_timer.start()
        self.refresh_status()
        self.keys.install()
        self.keyboard.setFocus()

    def _start_audio_when_trainer_ready(self) -> None:
        """Open the audio once the training process has loaded torch (or it takes too long)."""
        if self.audio_started or self._closed:
            return
        self.trainer.take(0)  # reads its "ready"
        if not self.trainer.ready and self.trainer.alive and time.monotonic() < self._trainer_deadline:
            self._trainer_wait.start()
            return
        self._trainer_wait.stop()
        self.engine.start()
        self.audio_started = True
        self.midi.start()  # the remembered MIDI port plays into the stream that now runs
        messages = [m for m in (str(self.engine.status_line or ""), self._startup_message) if m]
        self.statusBar().showMessage("  ".join(messages))

    # ---- construction -------------------------------------------------------------------------
    def _build_widgets(self, job_factory) -> None:
        self.keyboard = PianoKeyboard("C4", "C6")
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
        self.sound.train_requested.connect(self.train_for_current_settings)
        self.scope = ScopeView()
        self.twins = TwinView()
        self.training = TrainingPanel(self.training_context, job_factory)
        self.training.model_trained.connect(self.use_trained_model)
        self.training.model_snapshot.connect(self.play_snapshot)
        self.training.run_ended.connect(self.end_snapshots)
        self.training.key_picked.connect(self.pick_key)
        self.training.message.connect(lambda text: self.statusBar().showMessage(text))

        left = QSplitter(Qt.Vertical)
        left.addWidget(self.sound)
        left.addWidget(self.scope)
        left.setStretchFactor(0, 3)
        left.setStretchFactor(1, 2)

        keys_row = QHBoxLayout()
        keys_row.addWidget(self.octave_down)
        keys_row.addWidget(self.octave_label)
        keys_row.addWidget(self.octave_up)
        keys_row.addStretch(1)
        keys_row.addWidget(QLabel("Keys: z s x d c v g b h n j m ,  and  q 2 w 3 e r 5 t 6 y 7 u i"))
        keys_row.addStretch(1)
        keys_row.addWidget(self.panic_button)

        splitter = QSplitter(Qt.Horizontal)
        splitter.addWidget(left)
        splitter.addWidget(self.twins)
        splitter.addWidget(self.training)
        splitter.setStretchFactor(0, 2)
        splitter.setStretchFactor(1, 5)
        splitter.setStretchFactor(2, 3)
        splitter.setSizes([360, 760, 400])

        central = QWidget()
        layout = QVBoxLayout(central)
        layout.addWidget(splitter, 1)
        layout.addLayout(keys_row)
        layout.addWidget(self.keyboard)
        self.setCentralWidget(central)
        self.stats_label = QLabel()
        self.statusBar().addPermanentWidget(self.stats_label)
        self.resize(1500, 900)

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        open_action = QAction("&Open model...", self)
        open_action.setShortcut(QKeySequence.Open)
        open_action.triggered.connect(self.open_model_dialog)
        save_action = QAction("&Save model as...", self)
        save_action.setShortcut(QKeySequence.Save)
        save_action.triggered.connect(self.save_model_dialog)
        quit_action = QAction("&Quit", self)
        quit_action.setShortcut(QKeySequence.Quit)
        quit_action.triggered.connect(self.close)
        file_menu.addActions([open_action, save_action])
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

    def _load_startup_model(self, path) -> str:
        """Load the shipped model; returns a status line when it is missing or bad."""
        from iirnn_core.models.modelfile import DEFAULT_MODEL_PATH, ModelFileError, load_model

        path = DEFAULT_MODEL_PATH if path is None else path
        if not os.path.isfile(path):
            self._set_model(None, f"no model file at {path}")
            return f"No trained model ({path} is missing): the trained engine is off."
        try:
            model = load_model(path)
        except (ModelFileError, OSError, ValueError) as exc:
            self._set_model(None, "the shipped model could not be read")
            return f"Trained model not loaded: {one_line(exc)} The trained engine is off."
        self._set_model(model, os.path.basename(str(path)))
        return ""

    # ---- sound --------------------------------------------------------------------------------
    def selected_settings(self) -> SynthSettings:
        """The SynthSettings the controls select (stereo, so A/B puts the IIR left and the RNN right)."""
        c = self.sound.choice()
        return SynthSettings(rate=float(c.rate), q=c.q, drive=c.drive, amplitude=IMPULSE_AMPLITUDE, channels=2,
                             ab_twin=c.ab_twin, untrained=c.untrained)

    def playing(self, model=None) -> Playing:
        """What sounds for the controls with ``model`` (default: the model in use), by the core's one rule
        (:func:`iirnn_core.models.what_plays.what_plays`): a trained twin without a fitting model plays the
        analytic twin (the sound panel says why)."""
        return what_plays(self.sound.engine, self.selected_settings(), self.model if model is None else model)

    def synth_settings(self) -> SynthSettings:
        """The settings that sound (the A/B twin resolved by :meth:`playing`)."""
        return self.playing().settings

    def effective_engine(self) -> str:
        """The engine that sounds (:meth:`playing`)."""
        return self.playing().engine

    def apply_sound(self) -> None:
        """Send the controls and the model to the engine as one change (one patch table, whatever moved);
        a refused change is one status line."""
        from iirnn_core.dsp.resonator import SettingError

        self._sound_timer.stop()
        try:
            playing = self.playing()
            self.engine.configure(playing.engine, playing.settings, self.model, self.sound.master)
        except SettingError as exc:
            self.statusBar().showMessage(f"Not applied: {one_line(exc)}")
        self._comparison_pending = self.last_note is not None

    def flush_sound(self) -> None:
        """Apply a control change still waiting out its debounce now."""
        if self._sound_timer.isActive():
            self.apply_sound()

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
        self.engine.note_on(midi, velocity / 127.0)
        self.last_note = midi
        self._comparison_pending = True
        self.training.select_key(midi_to_note(midi))
        return True

    def pick_key(self, note: str) -> None:
        """A key picked in the training table: its curve is drawn bold and the plots show it."""
        self.last_note = note_to_midi(note)
        self._comparison_pending = True
        self.training.select_key(note)

    def note_off(self, midi: int) -> None:
        """End ``midi`` (its tail rings on)."""
        self.engine.note_off(midi)

    def panic(self) -> None:
        """Silence everything at once and forget every held key."""
        self.keyboard.release_mouse_note()
        self.player.release_all()
        self.keyboard.clear_lit()
        self.midi.reset()
        self.engine.panic()

    def release_all_keys(self) -> None:
        """End every note held from the computer keyboard or the mouse (focus loss, octave shift)."""
        self.keyboard.release_mouse_note()
        for midi in self.player.release_all():
            self.keyboard.set_lit(midi, False)
            self.note_off(midi)

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
            self.last_note = midi
            self._comparison_pending = True
            self.training.select_key(midi_to_note(midi))

    def _key_pressed(self, midi: int) -> None:
        if self.note_on(midi, self.sound.velocity):
            self.keyboard.set_lit(midi, True)

    def _key_released(self, midi: int) -> None:
        self.keyboard.set_lit(midi, False)
        self.note_off(midi)

    def _escape(self) -> None:
        self.panic()
        self.keyboard.setFocus()  # out of a text field: the keys play again

    def _update_octave_label(self) -> None:
        shift = self.player.shift
        self.octave_label.setText(f"Computer keys {self.player.range_label()} ({shift:+d} oct)")
        self.keyboard.set_key_labels(key_labels(shift))

    def event(self, event: QEvent) -> bool:  # noqa: D102 - Qt override
        if event.type() == QEvent.WindowDeactivate:
            self.release_all_keys()
        return super().event(event)

    # ---- models -------------------------------------------------------------------------------
    def _set_model(self, model, source: str) -> None:
        self.model = model
        self.model_source = source
        self.sound.set_trained_available(model is not None)
        self.sound.show_model(model, source)

    def play_snapshot(self, snapshot) -> None:
        """During a run: the trained engine (and a trained A/B twin) play each trained key's best net so far.

        Played when the trained engine is selected and the run is for the rate and Q the controls are
        at. The snapshot's keys replace those of the model in use when that was trained at the same
        rate and Q (its other keys sound as before). Published like every engine change: sounding
        notes keep their weights, new notes take the new nets. The model in use, and its file, stay
        as they are until the run ends."""
        from iirnn_core.dsp.resonator import SettingError

        if not uses_trained_model(self.sound.engine, self.selected_settings()):
            return
        model = self.model
        if model is not None and not model_fits(model, snapshot.rate, snapshot.q):
            snapshot = replace(snapshot, keys={**model.keys, **snapshot.keys},
                               hidden=max(model.hidden, snapshot.hidden))
        playing = self.playing(snapshot)
        if playing.reason:  # the run is for other settings than the controls'
            return
        try:
            self.engine.configure(playing.engine, playing.settings, snapshot)
        except SettingError as exc:
            self.statusBar().showMessage(f"Snapshot not played: {one_line(exc)}")
            return
        self.snapshot_playing = snapshot
        self._comparison_pending = self.last_note is not None  # the last key's plots follow the learning

    def end_snapshots(self) -> None:
        """A run ended: the engine goes back to the model in use (a trained result follows through
        :meth:`use_trained_model`)."""
        if self.snapshot_playing is not None:
            self.snapshot_playing = None
            self.apply_sound()

    def use_trained_model(self, model) -> None:
        """Swap a freshly trained model into the engine (while notes play)."""
        self._set_model(model, "trained just now, not saved")
        self.apply_sound()

    def open_model_file(self, path: str) -> bool:
        """Load ``path`` and use it; a bad file shows a one-sentence dialog and the model in use stays."""
        from iirnn_core.models.modelfile import ModelFileError, load_model

        try:
            model = load_model(path)
        except (ModelFileError, OSError, ValueError) as exc:
            QMessageBox.warning(self, "Model not loaded", f"{one_line(exc)}")
            return False
        self._set_model(model, os.path.basename(path))
        self.apply_sound()
        self.statusBar().showMessage(f"Loaded {path}.")
        return True

    def save_model_file(self, path: str) -> bool:
        """Save the model in use to ``path``; a failure shows a one-sentence dialog."""
        from iirnn_core.models.modelfile import ModelFileError, save_model

        if self.model is None:
            QMessageBox.information(self, "No model", "There is no trained model to save yet.")
            return False
        try:
            save_model(self.model, path)
        except (ModelFileError, OSError, ValueError) as exc:
            QMessageBox.warning(self, "Model not saved", f"{one_line(exc)}")
            return False
        self.model_source = os.path.basename(path)
        self.sound.show_model(self.model, self.model_source)
        self.statusBar().showMessage(f"Saved {path}.")
        return True

    def open_model_dialog(self) -> None:
        """File > Open model."""
        path, _ = QFileDialog.getOpenFileName(self, "Open model", "", "iirnn models (*.json);;All files (*)")
        if path:
            self.open_model_file(path)

    def save_model_dialog(self) -> None:
        """File > Save model as."""
        path, _ = QFileDialog.getSaveFileName(self, "Save model", "model.json", "iirnn models (*.json)")
        if path:
            self.save_model_file(path)

    def training_context(self):
        """(model rate Hz, Q, model in use) for the training panel."""
        return self.sound.rate, self.sound.q, self.model

    def train_for_current_settings(self) -> None:
        """Train the model's keys (or the panel's) at the current rate and Q."""
        if self.model is not None:
            self.training.keys_edit.setText(self.model.describe_keys().replace(",", ""))
        self.training.start()

    # ---- audio --------------------------------------------------------------------------------
    def audio_settings_dialog(self) -> None:
        """Audio > Settings: pick device, rate, block size, latency and reopen the stream."""
        s = self.settings
        dialog = AudioDialog(list_devices(), s.device, s.samplerate, s.blocksize, s.latency, s.cpus_awake, self)
        if dialog.exec() == AudioDialog.Accepted:
            self.apply_audio(*dialog.values())

    def apply_audio(self, device: str, samplerate: int, blocksize: int, latency: str,
                    cpus_awake: bool | None = None) -> None:
        """Reopen the output with these settings (``cpus_awake`` None: as it is), off the GUI thread (a device
        can take seconds to start); the engine reports trouble in its status line, shown when the reopen has ended."""
        from iirnn_core.dsp.resonator import SettingError

        if self._reopening is not None and self._reopening.is_alive():
            self.statusBar().showMessage("Audio is still reopening; try again in a moment.")
            return
        self.release_all_keys()
        s = self.settings
        previous = (s.device, s.samplerate, s.blocksize, s.latency, s.cpus_awake)
        s.device, s.samplerate, s.blocksize, s.latency = device, samplerate, blocksize, latency
        s.cpus_awake = s.cpus_awake if cpus_awake is None else bool(cpus_awake)
        try:
            config = self._config_factory(s)
        except SettingError as exc:  # an impossible configuration: the output in use stays
            s.device, s.samplerate, s.blocksize, s.latency, s.cpus_awake = previous
            self.statusBar().showMessage(f"Audio settings not applied: {one_line(exc)}")
            return
        self.statusBar().showMessage("Reopening audio...")
        self._reopening = threading.Thread(target=self.engine.reopen, args=(config,), name="iirnn-reopen",
                                           daemon=True)
        self._reopening.start()
        self._reopen_timer.start()

    def _reopen_done(self) -> None:
        """Show how a reopen ended, once it has."""
        if self._reopening is None or self._reopening.is_alive():
            return
        self._reopen_timer.stop()
        self._reopening = None
        self.statusBar().showMessage(str(self.engine.status_line or ""))
        self.refresh_status()

    def wait_for_audio(self, timeout: float = 30.0) -> bool:
        """Wait until a reopen has ended (tests, shutdown); True if none is under way."""
        thread = self._reopening
        if thread is not None:
            thread.join(timeout)
            self._reopen_done()
        return self._reopening is None

    def reconnect_audio(self) -> None:
        """Audio > Reconnect: reopen the configured output (the engine falls back to the null output
        when a device is missing, busy or goes silent; this tries it again)."""
        s = self.settings
        self.apply_audio(s.device, s.samplerate, s.blocksize, s.latency)

    # ---- timers -------------------------------------------------------------------------------
    def refresh_plots(self) -> None:
        """Scope from the engine; the last key's twins when a key or a control changed."""
        if self.scope.isVisible():
            self.scope.refresh(self.engine)
        if self._comparison_pending and self.last_note is not None:
            self._comparison_pending = False
            self._show_comparison(self.last_note)

    def _show_comparison(self, midi: int) -> None:
        """Compare the twins for key ``midi`` at the current settings and draw it."""
        key = (midi, self.synth_settings(), self.sound.engine)
        playing = self.snapshot_playing or self.model  # during a run: the nets being learned
        try:
            model, comparison = self._comparisons.get(key, (None, None))
            if comparison is None or model is not playing:  # once per key, settings and model (a few ms)
                comparison = compare(midi_to_note(midi), key[1], key[2], playing)
                if len(self._comparisons) >= COMPARISON_CACHE:
                    self._comparisons.pop(next(iter(self._comparisons)))
                self._comparisons[key] = (playing, comparison)
        except ValueError as exc:  # a key above Nyquist after a rate change
            self.twins.caption.setText(one_line(exc))
        else:
            self.twins.show_comparison(comparison)

    def refresh_status(self) -> None:
        """Callback load, underruns and latency from the engine's stats."""
        self.stats_label.setText(stats_text(self.engine.stats()))

    # ---- shutdown -----------------------------------------------------------------------------
    def current_settings(self) -> AppSettings:
        """The settings to save: the controls as they are now."""
        s, sound, form = self.settings, self.sound.choice(), self.training.choice()
        s.engine, s.q, s.drive = sound.engine, sound.q, sound.drive
        s.velocity, s.master, s.model_rate = sound.velocity, sound.master, sound.rate
        s.octave = self.player.shift
        s.midi_input = self.midi.wanted
        s.train_keys, s.optimizer, s.init, s.budget = form.keys, form.optimizer, form.init, form.budget
        s.geometry = bytes(self.saveGeometry().data())
        return s

    def closeEvent(self, event) -> None:  # noqa: D102 - Qt override
        if self._closed:
            return super().closeEvent(event)
        self._closed = True
        self.keys.uninstall()
        self.plot_timer.stop()
        self.status_timer.stop()
        self._trainer_wait.stop()
        self.wait_for_audio()
        self.training.shutdown()
        save_settings(self.store, self.current_settings())
        self.midi.close()
        self.recording.stop()
        self.engine.close()
        if self._own_trainer:
            self.trainer.close()
        super().closeEvent(event)


def key_labels(shift: int) -> dict[int, str]:
    """MIDI number -> the computer key that plays it at octave ``shift`` (top row wins on C5)."""
    labels = {midi_for(char, shift): char for char in BOTTOM_ROW}
    labels.update({midi_for(char, shift): char for char in TOP_ROW})
    return labels


def stats_text(stats) -> str:
    """The status bar's figures: callback load (mean, max), dropouts, key-to-sound latency, output, priority
    (and whether the CPUs are kept awake while notes sound), and any muted blocks, callback errors or dropped key events.

    Dropouts: the larger of the two estimates (callback timestamps, wall clock), which count the same
    dropouts two ways; adding them would count each twice."""
    underruns = max(int(stats.underruns_timestamps), int(stats.underruns_wallclock))
    device = "no audio device" if stats.null_output else str(stats.device_name)
    # key-to-sound latency of the notes played; before the first note, the stream's output latency
    latency = stats.latency_ms_median
    if not math.isfinite(latency):
        latency = getattr(stats, "output_latency_ms", math.nan)
    latency_text = f"{latency:.1f} ms" if math.isfinite(latency) else "-"
    text = (f"load {100 * stats.callback_load_mean:.0f}% (max {100 * stats.callback_load_max:.0f}%) | "
            f"dropouts {underruns} | latency {latency_text} | "
            f"{device} {stats.samplerate} Hz/{stats.blocksize}")
    if not stats.null_output:
        text += f" | audio thread {getattr(stats, 'priority', 'normal')}"
        cpus = getattr(stats, "cpu_wakeup", "off")
        if cpus == "awake":
            text += ", CPUs kept awake"
        elif cpus.startswith("refused"):
            text += f", CPU wake-up request {cpus}"
    troubles = [(getattr(stats, "muted_blocks", 0), "blocks muted (NaN)"),
                (getattr(stats, "callback_errors", 0), "callback errors"),
                (getattr(stats, "events_dropped", 0), "key events dropped")]
    return text + "".join(f" | {n} {what}" for n, what in troubles if n)