"""Sound controls: engine, Q (shown with its decay time), drive, velocity, master volume, room, model rate, and
the release (the dampers: how fast a released key falls silent, or "ring on").

Also the trained model's state: a trained model is tied to the rate and Q it learned at; when the
controls differ, a banner says so and offers to train for the current settings. Sliders and combo
boxes take no keyboard focus, so the computer keyboard keeps playing notes while you use them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QCheckBox, QComboBox, QFormLayout, QGroupBox, QHBoxLayout, QLabel, QPushButton,
                               QSlider, QVBoxLayout, QWidget)

from iirnn_core.dsp.resonator import RING_ON, t60_from_q
from iirnn_core.models.what_plays import model_fits
from iirnn_core.rt.master_layout import ROOM_DECAY_SECONDS, ROOM_DEFAULT_WET
from iirnn_core.synth.renderer import DEFAULT_RELEASE

from .settings import MODEL_RATES

ENGINE_LABELS = {
    "iir": "IIR resonator",
    "rnn-analytic": "RNN, analytic weights",
    "rnn-trained": "RNN, trained weights",
    "ab": "A/B: IIR left, RNN right",
}
"""Engine names (iirnn_core.synth.renderer.ENGINES) as the window shows them."""

Q_CHOICES = (0.9, 0.95, 0.97, 0.98, 0.99, 0.993, 0.995, 0.997, 0.998, 0.999, 0.9993, 0.9995, 0.9997,
             0.9998, 0.9999)
"""Pole radii the Q slider offers (a trained model's own Q is added when it is not among them)."""

DRIVE_MIN, DRIVE_MAX, DRIVE_STEPS = 0.01, 3.0, 100
"""The drive slider is logarithmic from DRIVE_MIN to DRIVE_MAX in DRIVE_STEPS steps."""

RELEASE_CHOICES = (0.05, 0.07, 0.1, 0.15, 0.2, 0.3, 0.5, 0.7, 1.0, 1.5, 2.0, 3.0, 5.0, RING_ON)
"""Release T60s (s) the Release slider offers, its right end "ring on" (no dampers); a remembered value not
among them is added."""


def release_text(release: float, q: float, rate: float) -> str:
    """How the Release control reads: "0.3 s", "ring on", and "(Q decays sooner)" when the key's own T60 at
    ``q`` and ``rate`` (Hz) is already shorter, so the dampers change nothing."""
    if release == RING_ON:
        return "ring on"
    text = f"{release:g} s"
    return text + "  (Q decays sooner)" if t60_from_q(q, rate) <= release else text


def model_mismatch(model, rate: float, q: float) -> str:
    """Why ``model`` cannot play at ``rate`` (Hz) and ``q`` (the core's rule, :func:`iirnn_core.models.what_plays.model_fits`),
    as the panel says it, or "" when it fits (or is None)."""
    if model is None or not model_fits(model, rate, q):
        return ""
    return (f"The trained model was trained at {float(model.rate):g} Hz, Q {float(model.q):g}; "
            f"the controls are at {float(rate):g} Hz, Q {float(q):g}. The trained engine plays the analytic twin.")


def _with_choice(slider: QSlider, choices: list, value) -> list:
    """``choices`` (sorted) with ``value`` added if it is missing, ``slider``'s range following, its selection
    kept on the value it showed (no signal); returns the new list."""
    if value in choices:
        return choices
    current = choices[slider.value()] if choices else None
    choices = sorted(set(choices) | {value})
    slider.blockSignals(True)
    slider.setRange(0, len(choices) - 1)
    if current is not None:
        slider.setValue(choices.index(current))
    slider.blockSignals(False)
    return choices


def _slider(minimum: int, maximum: int) -> QSlider:
    slider = QSlider(Qt.Horizontal)
    slider.setRange(minimum, maximum)
    slider.setFocusPolicy(Qt.NoFocus)
    return slider


@dataclass(frozen=True)
class SoundChoice:
    """What the sound panel's controls select, handed to the window as one value: ``engine``, ``ab_twin``,
    ``untrained`` (what a trained twin plays for a key its model lacks), ``q``, ``drive``, ``velocity``
    (1..127), ``master`` (0..1), the model ``rate`` (Hz), ``release`` (the dampers' T60 in s; RING_ON: none),
    and the small room: ``room_on`` and its wet mix ``room_wet`` (0..1, kept while the room is off)."""

    engine: str
    ab_twin: str
    untrained: str
    q: float
    drive: float
    velocity: int
    master: float
    rate: int
    release: float = DEFAULT_RELEASE
    room_on: bool = False
    room_wet: float = ROOM_DEFAULT_WET

    @property
    def room(self) -> float:
        """The wet mix the engine plays: ``room_wet`` with the room on, else 0."""
        return self.room_wet if self.room_on else 0.0


class SoundPanel(QGroupBox):
    """The sound controls; ``changed`` fires whenever one of them moves, ``train_requested`` when the
    person asks to train a model for the current rate and Q."""

    changed = Signal()
    train_requested = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__("Sound", parent)
        self._q_choices = list(Q_CHOICES)
        self._release_choices = list(RELEASE_CHOICES)
        self._drive = 0.1
        self._model = None
        self._updating = False

        self.engine_box = QComboBox()
        self.engine_box.setFocusPolicy(Qt.NoFocus)
        for name, label in ENGINE_LABELS.items():
            self.engine_box.addItem(label, name)
        self.ab_twin_box = QComboBox()
        self.ab_twin_box.setFocusPolicy(Qt.NoFocus)
        self.ab_twin_box.addItem("analytic", "rnn-analytic")
        self.ab_twin_box.addItem("trained", "rnn-trained")
        self.ab_twin_box.setToolTip("The RNN heard on the right channel in A/B")
        self.ab_twin_box.currentIndexChanged.connect(lambda _i: self._update_ab_label())
        self.untrained_box = QComboBox()
        self.untrained_box.setFocusPolicy(Qt.NoFocus)
        self.untrained_box.addItem("analytic twin", "analytic")
        self.untrained_box.addItem("silent", "silent")
        self.untrained_box.setToolTip("What the trained RNN plays for a key its model lacks (not trained yet)")

        self.q_slider = _slider(0, len(self._q_choices) - 1)
        self.q_label = QLabel()
        self.drive_slider = _slider(0, DRIVE_STEPS)
        self.drive_label = QLabel()
        self.velocity_slider = _slider(1, 127)
        self.velocity_label = QLabel()
        self.master_slider = _slider(0, 100)
        self.master_label = QLabel()
        self.room_box = QCheckBox("on")
        self.room_box.setFocusPolicy(Qt.NoFocus)
        self.room_box.setToolTip(f"A small room: a short reverb (about {ROOM_DECAY_SECONDS:g} s) after the voices")
        self.room_slider = _slider(1, 100)
        self.room_slider.setToolTip("The room's wet mix")
        self.room_label = QLabel()
        self.release_slider = _slider(0, len(self._release_choices) - 1)
        self.release_label = QLabel()
        self.release_slider.setToolTip("Dampers: how long a released key takes to fall 60 dB (the sustain pedal "
                                       "holds keys); at the right end keys ring on with their Q")
        self.rate_box = QComboBox()
        self.rate_box.setFocusPolicy(Qt.NoFocus)
        for rate in MODEL_RATES:
            self.rate_box.addItem(f"{rate} Hz", rate)

        self.model_label = QLabel("No trained model loaded.")
        self.model_label.setWordWrap(True)
        self.mismatch_label = QLabel()
        self.mismatch_label.setWordWrap(True)
        self.mismatch_label.setStyleSheet("color: #b35900;")
        self.train_button = QPushButton("Train for these settings")
        self.train_button.setFocusPolicy(Qt.NoFocus)
        self.train_button.clicked.connect(self.train_requested)

        form = QFormLayout()
        form.addRow("Engine", self.engine_box)
        form.addRow("A/B twin", self.ab_twin_box)
        form.addRow("Untrained keys", self.untrained_box)
        form.addRow("Model rate", self.rate_box)
        for title, slider, label in (("Q", self.q_slider, self.q_label), ("Drive", self.drive_slider, self.drive_label),
                                     ("Velocity", self.velocity_slider, self.velocity_label),
                                     ("Master", self.master_slider, self.master_label),
                                     ("Release", self.release_slider, self.release_label),
                                     ("Room", self.room_slider, self.room_label)):
            row = QHBoxLayout()
            if slider is self.room_slider:
                row.addWidget(self.room_box)
            row.addWidget(slider, 1)
            label.setMinimumWidth(120)
            row.addWidget(label)
            form.addRow(title, row)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.model_label)
        layout.addWidget(self.mismatch_label)
        layout.addWidget(self.train_button)
        layout.addStretch(1)
        self.mismatch_label.hide()
        self.train_button.hide()

        self.drive_slider.valueChanged.connect(self._on_drive_moved)  # before _on_change reads the drive
        for box in (self.engine_box, self.ab_twin_box, self.untrained_box, self.rate_box):
            box.currentIndexChanged.connect(self._on_change)
        for slider in (self.q_slider, self.drive_slider, self.velocity_slider, self.master_slider,
                       self.release_slider, self.room_slider):
            slider.valueChanged.connect(self._on_change)
        self.room_box.toggled.connect(self._on_change)
        self.set_values("iir", 0.995, 0.1, 100, 0.8, 8000, DEFAULT_RELEASE)

    # ---- values ---------------------------------------------------------------------------
    def choice(self) -> SoundChoice:
        """Every control's value at once."""
        return SoundChoice(self.engine, self.ab_twin, self.untrained, self.q, self.drive, self.velocity,
                           self.master, self.rate, self.release, self.room_box.isChecked(),
                           self.room_slider.value() / 100.0)

    @property
    def engine(self) -> str:
        """Selected engine name (one of iirnn_core.synth.renderer.ENGINES)."""
        return self.engine_box.currentData()

    @property
    def ab_twin(self) -> str:
        """The RNN engine of the A/B right channel."""
        return self.ab_twin_box.currentData()

    @property
    def untrained(self) -> str:
        """What the trained twin plays for a key its model lacks: 'analytic' or 'silent'."""
        return self.untrained_box.currentData()

    @property
    def q(self) -> float:
        """Selected pole radius."""
        return self._q_choices[self.q_slider.value()]

    @property
    def drive(self) -> float:
        """Selected drive (input x d, output / d)."""
        return self._drive

    @property
    def velocity(self) -> int:
        """Velocity 1..127 of the computer keyboard's notes."""
        return self.velocity_slider.value()

    @property
    def master(self) -> float:
        """Master volume 0..1."""
        return self.master_slider.value() / 100.0

    @property
    def rate(self) -> int:
        """Model sample rate in Hz (the rate the recurrences run at)."""
        return int(self.rate_box.currentData())

    @property
    def release(self) -> float:
        """Selected release: a released key's T60 in seconds, or RING_ON (inf) for no dampers."""
        return self._release_choices[self.release_slider.value()]

    def set_values(self, engine: str, q: float, drive: float, velocity: int, master: float, rate: int,
                   release: float = DEFAULT_RELEASE, room_on: bool = False, room_wet: float = ROOM_DEFAULT_WET) -> None:
        """Move every control (one ``changed`` signal at the end)."""
        self._updating = True
        try:
            index = self.engine_box.findData(engine)
            self.engine_box.setCurrentIndex(max(index, 0))
            self._ensure_rate(int(rate))
            self.rate_box.setCurrentIndex(self.rate_box.findData(int(rate)))
            self._ensure_q(q)
            self.q_slider.setValue(self._q_choices.index(q))
            self._drive = float(drive)
            self.drive_slider.setValue(self._drive_position(drive))
            self.velocity_slider.setValue(int(velocity))
            self.master_slider.setValue(int(round(master * 100)))
            self._ensure_release(float(release))
            self.release_slider.setValue(self._release_choices.index(float(release)))
            self.room_box.setChecked(bool(room_on))
            self.room_slider.setValue(int(round(room_wet * 100)))
        finally:
            self._updating = False
        self._on_change()

    def set_engine(self, engine: str) -> None:
        """Select ``engine`` (fires ``changed``)."""
        self.engine_box.setCurrentIndex(self.engine_box.findData(engine))

    def set_rate(self, rate: int) -> None:
        """Select the model rate ``rate`` (Hz; added to the choices when missing; fires ``changed``)."""
        self._ensure_rate(int(rate))
        self.rate_box.setCurrentIndex(self.rate_box.findData(int(rate)))

    def set_trained_available(self, available: bool) -> None:
        """Enable the trained choices (engine and A/B twin) only when a model is loaded."""
        for box, name in ((self.engine_box, "rnn-trained"), (self.ab_twin_box, "rnn-trained")):
            item = box.model().item(box.findData(name))
            item.setEnabled(available)
            if not available and box.currentData() == name:
                box.setCurrentIndex(box.findData("rnn-analytic"))

    def show_model(self, model, source: str) -> None:
        """Describe the model in use (``source``: where it came from) and re-check the mismatch."""
        if model is None:
            self.model_label.setText(f"No trained model: {source}" if source else "No trained model loaded.")
        elif getattr(model, "sound", None) is not None:
            sound = model.sound
            self.model_label.setText(f"Learned sound ({source}): {sound.note} ({sound.pitch:.1f} Hz), H "
                                     f"{sound.hidden}, learned at {sound.rate:g} Hz; it plays on every key.")
        else:
            notes = list(model.notes)
            span = f"{notes[0]}..{notes[-1]}" if len(notes) > 1 else (notes[0] if notes else "no keys")
            self.model_label.setText(f"Trained model ({source}): {len(notes)} keys {span}, "
                                     f"{float(model.rate):g} Hz, Q {float(model.q):g}.")
            self._ensure_q(float(model.q))
        self._model = model
        self._update_mismatch()
        self._update_ab_label()

    def _update_ab_label(self) -> None:
        """A/B's label says what its left channel plays: the recording of a learned sound beside a trained twin,
        else the IIR."""
        recording = getattr(self._model, "sound", None) is not None and self.ab_twin_box.currentData() == "rnn-trained"
        self.engine_box.setItemText(self.engine_box.findData("ab"),
                                    "A/B: recording left, RNN right" if recording else ENGINE_LABELS["ab"])

    def mismatch(self) -> str:
        """The current model/settings mismatch text, or ""."""
        return model_mismatch(self._model, self.rate, self.q)

    # ---- internals ------------------------------------------------------------------------
    def _ensure_q(self, q: float) -> None:
        self._q_choices = _with_choice(self.q_slider, self._q_choices, q)

    def _ensure_release(self, release: float) -> None:
        self._release_choices = _with_choice(self.release_slider, self._release_choices, release)

    def _ensure_rate(self, rate: int) -> None:
        if self.rate_box.findData(rate) < 0:
            self.rate_box.addItem(f"{rate} Hz", rate)

    @staticmethod
    def _drive_position(drive: float) -> int:
        frac = math.log(max(min(drive, DRIVE_MAX), DRIVE_MIN) / DRIVE_MIN) / math.log(DRIVE_MAX / DRIVE_MIN)
        return int(round(frac * DRIVE_STEPS))

    def _on_drive_moved(self, position: int) -> None:
        if not self._updating:
            self._drive = float(f"{DRIVE_MIN * (DRIVE_MAX / DRIVE_MIN) ** (position / DRIVE_STEPS):.3g}")

    def _update_mismatch(self) -> None:
        text = self.mismatch()
        self.mismatch_label.setText(text)
        self.mismatch_label.setVisible(bool(text))
        self.train_button.setVisible(bool(text))

    def _on_change(self, *_args) -> None:
        if self._updating:
            return
        q = self.q
        self.q_label.setText(f"{q:g}  (T60 {t60_from_q(q, self.rate):.2f} s)")
        self.drive_label.setText(f"{self._drive:g}" + ("  (the seed)" if self._drive == 1.0 else ""))
        self.velocity_label.setText(str(self.velocity))
        self.master_label.setText(f"{self.master_slider.value()} %")
        self.release_label.setText(release_text(self.release, q, self.rate))
        self.room_slider.setEnabled(self.room_box.isChecked())
        self.room_label.setText(f"{self.room_slider.value()} % wet" if self.room_box.isChecked() else "off")
        self.ab_twin_box.setEnabled(self.engine == "ab")
        self._update_mismatch()
        self.changed.emit()
