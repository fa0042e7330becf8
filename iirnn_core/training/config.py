"""What to train and how a run reports progress: plain data, no numba or torch (the window builds these).

:class:`TrainConfig` validates a request (one line of :class:`~iirnn_core.dsp.resonator.SettingError`
for anything impossible); :class:`Progress` is one training step as sent between processes.
The training itself is :mod:`iirnn_core.training.run`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from iirnn_core.models.modelfile import TrainedModel
from iirnn_core.dsp.notes import NoteError, canonical, note_to_hz, parse_notes
from iirnn_core.dsp.resonator import SettingError, check_amplitude, check_q, check_rate, resonator
from iirnn_core.rt.block_layout import HIDDEN_MAX

OPTIMIZERS = ("best", "adam", "randdir")
INITS = ("random", "warm", "pole")
HIDDEN_MIN = 2
"""Fewest hidden states a net is trained with: two make a complex pole pair, the least that rings."""
LEARN_HIDDEN = (HIDDEN_MIN, HIDDEN_MAX)
"""Hidden sizes a learned sound can have (even: two states per partial; :mod:`iirnn_core.training.learn`)."""
LEARN_RATE = 16000.0
"""The rate (Hz) a sound is learned and kept at by default (partials up to 8 kHz)."""
LEARN_BUDGET = 7.0
"""Seconds learning a sound may take by default, all in (``iirnn learn``, File > Learn a sound)."""


@dataclass(frozen=True)
class TrainConfig:
    """What to train: ``notes`` (names or ranges, stored as sharp names), ``rate`` (samples/s),
    pole radius ``q``, target length ``seconds``, impulse ``amplitude``, ``hidden`` size (the states H,
    ``HIDDEN_MIN`` .. ``HIDDEN_MAX``: a tanh net of order H), ``optimizer`` ('best' | 'adam' | 'randdir'),
    ``init`` ('random'; 'warm': start from ``warm_model``'s keys, keys it lacks start at random; 'pole': a
    rotation-decay block at the pole of each key's target plus small extra states, see
    :func:`iirnn_core.training.optimizer.pole_theta`), ``seed``, ``budget`` (wall seconds,
    None: no limit; training stops after the step that crosses it), ``steps`` (cap on the
    optimizer's steps; None: its default, 500 epochs for adam, 1500 iterations for randdir,
    the full curriculum for best)."""

    notes: tuple
    rate: float = 8000.0
    q: float = 0.995
    seconds: float = 0.6
    amplitude: float = 0.1
    hidden: int = 3
    optimizer: str = "best"
    init: str = "random"
    warm_model: TrainedModel | None = None
    seed: int = 0
    budget: float | None = None
    steps: int | None = None

    def __post_init__(self):
        notes = [self.notes] if isinstance(self.notes, str) else list(self.notes)
        try:
            names = parse_notes(notes)
        except NoteError as exc:
            raise SettingError(str(exc)) from None
        names = list(dict.fromkeys(canonical(n) for n in names))
        object.__setattr__(self, "notes", tuple(names))
        check_rate(self.rate)
        check_q(self.q)
        for name in names:
            resonator(note_to_hz(name), self.q, self.rate)  # raises for a key above Nyquist
        if not (math.isfinite(self.seconds) and self.seconds > 0) or self.length < 8:
            raise SettingError(f"the target must be at least 8 samples long, got {self.seconds} s")
        if self.length > 10_000_000:
            raise SettingError(f"the target of {self.seconds} s is too long to train on")
        check_amplitude(self.amplitude)
        if (isinstance(self.hidden, bool) or not isinstance(self.hidden, int)
                or not HIDDEN_MIN <= self.hidden <= HIDDEN_MAX):
            raise SettingError(f"hidden size must be an integer from {HIDDEN_MIN} to {HIDDEN_MAX}, got {self.hidden}")
        if self.optimizer not in OPTIMIZERS:
            raise SettingError(f"unknown optimizer {self.optimizer!r} (choose from {', '.join(OPTIMIZERS)})")
        if self.init not in INITS:
            raise SettingError(f"unknown init {self.init!r} (choose from {', '.join(INITS)})")
        if self.init == "warm":
            if self.warm_model is None:
                raise SettingError("init 'warm' needs a model to start from (--model FILE)")
            if self.warm_model.hidden != self.hidden:
                raise SettingError(f"the warm model has hidden size {self.warm_model.hidden}, not {self.hidden}")
        if self.budget is not None and not (math.isfinite(self.budget) and self.budget > 0):
            raise SettingError(f"the time budget must be a positive number of seconds, got {self.budget}")
        if self.steps is not None and (isinstance(self.steps, bool) or not isinstance(self.steps, int)
                                       or self.steps < 1):
            raise SettingError(f"steps must be a positive integer, got {self.steps}")

    @property
    def length(self) -> int:
        """Target length in samples."""
        return int(round(self.seconds * self.rate))


@dataclass(frozen=True)
class Progress:
    """One training step: ``step`` (1-based; fractional within a long step, as adam's epoch over many keys
    reports each key), ``elapsed`` (wall s since start), ``notes``, and per key
    the summed squared error ``loss`` of its current best net over the whole target and the matching
    training ``snr_db`` (dB); ``done`` on the last event."""

    step: float
    elapsed: float
    notes: tuple
    loss: tuple
    snr_db: tuple
    done: bool = False

    def to_dict(self) -> dict:
        """Plain-data form (for a queue between processes)."""
        return {"step": self.step, "elapsed": self.elapsed, "notes": list(self.notes),
                "loss": list(self.loss), "snr_db": list(self.snr_db), "done": self.done}

    @classmethod
    def from_dict(cls, d: dict) -> "Progress":
        """Inverse of :meth:`to_dict`."""
        step = float(d["step"])
        return cls(int(step) if step.is_integer() else step, float(d["elapsed"]), tuple(d["notes"]), tuple(d["loss"]),
                   tuple(d["snr_db"]), bool(d["done"]))
