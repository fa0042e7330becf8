"""Trained models and their files: safe JSON, versioned, validated on load (never pickle).

A model file (``.json``, UTF-8) holds one network per key, in the spirit of Neural Amp
Modeler's ``.nam``::

    {"format": "iirnn-model", "version": 1,
     "architecture": "rnn-tanh",                # nn.RNN(1, H, bias=False) + Linear(H, 1, bias=False)
     "config": {"hidden": 3, "drive": 1.0, "rate": 8000.0, "q": 0.995, "seconds": 0.6, "amplitude": 0.1},
     "training": {"optimizer": "best", "init": "random", "steps": 212, "train_seconds": 4.1, "seed": 0},
     "keys": [{"note": "C4", "freq": 261.63, "snr_db": 64.2,
               "weights": {"w_hh": [[...] x H], "w_ih": [H], "w_out": [H]}}, ...],
     "metadata": {...free-form strings/numbers...}}

``hidden`` is H, the hidden states of every key's net (1 to ``HIDDEN_MAX``, 64; ``iirnn train --hidden``
trains 2 to 64): each key's ``w_hh`` is H x H, ``w_ih`` and ``w_out`` H long, checked on load. Version 1
has always held it, so a model of any H is a version 1 file (a model whose keys differ, as a training
snapshot merged into a model, is written with the smaller nets padded by silent zero states, see
:meth:`~iirnn_core.dsp.weights.RNNWeights.padded`). ``rate`` in samples/s, ``q`` the pole radius, ``seconds``
the target's duration, ``amplitude`` the impulse height the keys were trained with, ``snr_db`` measured by
rendering the key through the renderer against the IIR target. :func:`load_model` checks every field, the shapes,
finiteness, and that every ``w_hh`` has a spectral radius below 1; any fault is one
:class:`ModelFileError` sentence. :func:`save_model` writes atomically.
"""

from __future__ import annotations

import importlib.resources
import json
import logging
import math
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from iirnn_core.dsp.weights import RNNWeights, spectral_radius
from iirnn_core.rt.block_layout import HIDDEN_MAX
from iirnn_core.dsp.notes import NoteError, canonical, midi_to_hz, note_to_midi
from iirnn_core.dsp.resonator import SettingError
from iirnn_core.models.sound import LearnedSound, sound_from_dict

log = logging.getLogger(__name__)

FORMAT_NAME = "iirnn-model"
FORMAT_VERSION = 1
ARCHITECTURE = "rnn-tanh"
MAX_FILE_BYTES = 16 * 1024 * 1024
"""Larger files are refused before parsing (a model of 128 keys is about 60 kB)."""

def shipped_model_path(name: str = "a0-b7_8k_q0995.json") -> Path:
    """Path of a model shipped inside the package (``iirnn_core.resources``, the checkout's ``resources/``)."""
    return Path(str(importlib.resources.files("iirnn_core.resources") / "models" / name))


DEFAULT_MODEL_PATH = shipped_model_path()
"""The shipped model: C4..C6 at 8000 Hz, Q 0.995, 0.6 s, impulse 0.1 (see README, "Training")."""


class ModelFileError(Exception):
    """A model file that cannot be used, described in one sentence."""


@dataclass(frozen=True)
class KeyModel:
    """One key's network: ``note`` (sharp name), ``freq`` (Hz), ``weights``, ``snr_db`` against the IIR."""

    note: str
    freq: float
    weights: RNNWeights
    snr_db: float


@dataclass(frozen=True)
class TrainedModel:
    """A trained network per key plus how they were trained.

    ``rate`` (samples/s), ``q`` (pole radius), ``seconds`` and ``amplitude`` of the training target,
    ``hidden`` size (of the largest key's net; a file's keys all have it), ``drive`` (1.0: the weights are used
    as trained), ``optimizer``, ``init``,
    ``steps`` taken, ``train_seconds`` (wall), ``seed``; ``keys`` by sharp note name.
    """

    rate: float
    q: float
    seconds: float
    amplitude: float
    hidden: int
    drive: float
    optimizer: str
    init: str
    steps: int
    train_seconds: float
    seed: int
    keys: dict[str, KeyModel]
    metadata: dict = field(default_factory=dict)
    sound: LearnedSound | None = None

    @property
    def notes(self) -> list[str]:
        """Key names from low to high."""
        return sorted(self.keys, key=note_to_midi)

    def describe_keys(self) -> str:
        """The keys as a short text: ``C4..C6`` for a full chromatic run, else ``A4, C5``."""
        return describe_notes(self.notes)

    def weights_for(self, note: str, rate: float, q: float) -> RNNWeights:
        """The weights of ``note`` for a synth at ``rate`` and ``q``; SettingError (one line) if unusable."""
        from iirnn_core.models.what_plays import model_fits

        if self.sound is not None:  # a learned sound plays on every key, at any rate and Q
            return self.sound.weights_for_note(note, rate)
        reason = model_fits(self, rate, q)
        if reason:
            raise SettingError(reason)
        name = canonical(note)
        key = self.keys.get(name)
        if key is None:
            raise SettingError(f"the model has no key {name} (it has {self.describe_keys()})")
        return key.weights

    def to_dict(self) -> dict:
        """The model as the JSON-ready dict of the file format (plain lists and numbers). A learned sound is
        written as its ``"sound"`` section (its keys are derived from it on load)."""
        if self.sound is not None:
            data = self.to_dict_of_keys([])
            data["sound"] = self.sound.to_dict()
            return data
        return self.to_dict_of_keys([self.keys[n] for n in self.notes])

    def to_dict_of_keys(self, keys: list[KeyModel]) -> dict:
        """The file's dict with ``keys`` as its key list."""
        return {
            "format": FORMAT_NAME,
            "version": FORMAT_VERSION,
            "architecture": ARCHITECTURE,
            "config": {"hidden": self.hidden, "drive": self.drive, "rate": self.rate, "q": self.q,
                       "seconds": self.seconds, "amplitude": self.amplitude},
            "training": {"optimizer": self.optimizer, "init": self.init, "steps": self.steps,
                         "train_seconds": self.train_seconds, "seed": self.seed},
            "keys": [{"note": k.note, "freq": k.freq, "snr_db": k.snr_db,
                      "weights": {"w_hh": w.w_hh.tolist(), "w_ih": w.w_ih.tolist(), "w_out": w.w_out.tolist()}}
                     for k, w in ((k, k.weights.padded(self.hidden)) for k in keys)],
            "metadata": dict(self.metadata),
        }


def describe_notes(notes: list[str]) -> str:
    """``C4..C6`` when ``notes`` (sorted) are a chromatic run of 3 or more, else the names joined by commas."""
    if not notes:
        return "no keys"
    midis = [note_to_midi(n) for n in notes]
    if len(notes) >= 3 and midis == list(range(midis[0], midis[0] + len(midis))):
        return f"{notes[0]}..{notes[-1]}"
    return ", ".join(notes)


def save_model(model: TrainedModel, path: str | os.PathLike) -> None:
    """Write ``model`` to ``path`` atomically: a temporary file in the same folder, then ``os.replace``.

    A failure leaves any earlier file at ``path`` untouched and no partial file behind.
    """
    path = Path(path)
    text = json.dumps(model.to_dict(), indent=1, allow_nan=False)
    folder = path.parent if str(path.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    try:
        os.chmod(tmp, _new_file_mode(path))
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError as exc:
            log.warning("could not remove the temporary file %s: %s", tmp, exc)
        raise


def _new_file_mode(path: Path) -> int:
    """Permissions for the file written at ``path``: those of the file it replaces, else 0o666 minus umask."""
    try:
        return path.stat().st_mode & 0o777
    except OSError:
        return 0o666 & ~_umask()


def _umask() -> int:
    """The process umask, read without changing it (os.umask would, racing other threads)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError) as exc:
        log.debug("umask unknown (%s); assuming 022", exc)
    return 0o022


def load_model(path: str | os.PathLike) -> TrainedModel:
    """Read and validate a model file; every fault raises ModelFileError with one sentence."""
    path = Path(path)
    name = path.name
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ModelFileError(f"{name} is not an iirnn model file (it is {size} bytes, far too large)")
        raw = path.read_bytes()
    except ModelFileError:
        raise
    except OSError as exc:
        raise ModelFileError(f"cannot read model file {name}: {exc.strerror or exc}") from None
    return model_from_bytes(raw, name)


def model_from_bytes(raw: bytes, name: str = "the model") -> TrainedModel:
    """Parse and validate the bytes of a model file (``name`` is used in messages)."""
    if not raw.strip():
        raise ModelFileError(f"{name} is empty, not an iirnn model file")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ModelFileError(f"{name} is not an iirnn model file (binary data, not JSON text)") from None

    def no_constants(token):
        raise ValueError(f"non-finite number {token}")

    try:
        data = json.loads(text, parse_constant=no_constants)
    except RecursionError:
        raise ModelFileError(f"{name} is not an iirnn model file (nested too deeply)") from None
    except ValueError as exc:
        if "non-finite" in str(exc):
            raise ModelFileError(f"{name} holds a non-finite number ({str(exc).split()[-1]})") from None
        raise ModelFileError(f"{name} is not an iirnn model file (not JSON, or cut short)") from None
    return model_from_dict(data, name)


class _Reader:
    """Typed access to fields of a parsed file; every fault is a ModelFileError naming the field."""

    def __init__(self, name: str):
        self.name = name

    def fail(self, what: str) -> ModelFileError:
        return ModelFileError(f"{self.name} is not a valid iirnn model: {what}")

    def obj(self, data, key: str, where: str) -> dict:
        value = self.field(data, key, where)
        if not isinstance(value, dict):
            raise self.fail(f"{where}{key} must be an object")
        return value

    def field(self, data, key: str, where: str):
        if not isinstance(data, dict) or key not in data:
            raise self.fail(f"the field {where}{key} is missing")
        return data[key]

    def number(self, data, key: str, where: str, low: float = -math.inf, high: float = math.inf,
               low_open: bool = False) -> float:
        value = self.field(data, key, where)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise self.fail(f"{where}{key} must be a finite number")
        if value < low or value > high or (low_open and value <= low):
            raise self.fail(f"{where}{key} = {value} is out of range")
        return float(value)

    def integer(self, data, key: str, where: str, low: int, high: int) -> int:
        value = self.field(data, key, where)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise self.fail(f"{where}{key} must be an integer from {low} to {high}")
        return value

    def text(self, data, key: str, where: str) -> str:
        value = self.field(data, key, where)
        if not isinstance(value, str) or len(value) > 200:
            raise self.fail(f"{where}{key} must be a short text")
        return value

    def array(self, data, key: str, where: str, shape: tuple[int, ...]) -> np.ndarray:
        value = self.field(data, key, where)
        try:
            arr = np.array(value, dtype=np.float64)
        except (ValueError, TypeError):
            raise self.fail(f"{where}{key} must be an array of numbers of shape {shape}") from None
        if arr.shape != shape:
            raise self.fail(f"{where}{key} has shape {arr.shape}, expected {shape}")
        if not np.all(np.isfinite(arr)):
            raise ModelFileError(f"{self.name} holds a non-finite weight in {where}{key}")
        return arr


def model_from_dict(data, name: str = "the model") -> TrainedModel:
    """Validate a parsed model file (the dict of :meth:`TrainedModel.to_dict`) and build the model."""
    rd = _Reader(name)
    if not isinstance(data, dict) or data.get("format") != FORMAT_NAME:
        raise ModelFileError(f"{name} is not an iirnn model file (no \"format\": \"{FORMAT_NAME}\")")
    version = data.get("version")
    if version != FORMAT_VERSION:
        raise ModelFileError(f"{name} has model format version {version!r}; this program reads version {FORMAT_VERSION}")
    if data.get("architecture") != ARCHITECTURE:
        raise rd.fail(f"architecture {data.get('architecture')!r} is not {ARCHITECTURE!r}")
    cfg = rd.obj(data, "config", "")
    hidden = rd.integer(cfg, "hidden", "config.", 1, HIDDEN_MAX)
    drive = rd.number(cfg, "drive", "config.", 0.0, math.inf, low_open=True)
    rate = rd.number(cfg, "rate", "config.", 0.0, 1e7, low_open=True)
    q = rd.number(cfg, "q", "config.", 0.0, 1.0, low_open=True)
    if q >= 1.0:
        raise rd.fail("config.q must be below 1")
    seconds = rd.number(cfg, "seconds", "config.", 0.0, 3600.0, low_open=True)
    amplitude = rd.number(cfg, "amplitude", "config.", 0.0, math.inf, low_open=True)
    tr = rd.obj(data, "training", "")
    optimizer = rd.text(tr, "optimizer", "training.")
    init = rd.text(tr, "init", "training.")
    steps = rd.integer(tr, "steps", "training.", 0, 2**62)
    train_seconds = rd.number(tr, "train_seconds", "training.", 0.0)
    seed = rd.integer(tr, "seed", "training.", -(2**63), 2**63 - 1)
    if "sound" in data:
        sound = sound_from_dict(data["sound"], rd)
        if sound.hidden != hidden:
            raise rd.fail(f"config.hidden is {hidden} but the sound has {sound.hidden} states")
        metadata = data.get("metadata", {})
        if not isinstance(metadata, dict):
            raise rd.fail("metadata must be an object")
        return model_for_sound(sound, metadata, steps, train_seconds, seed)
    entries = rd.field(data, "keys", "")
    if not isinstance(entries, list) or not entries:
        raise rd.fail("keys must be a non-empty list")
    keys: dict[str, KeyModel] = {}
    for i, entry in enumerate(entries):
        where = f"keys[{i}]."
        note_text = rd.text(entry, "note", where)
        try:
            note = canonical(note_text)
        except NoteError:
            raise rd.fail(f"{where}note {note_text!r} is not a note name") from None
        if note in keys:
            raise rd.fail(f"key {note} appears twice")
        freq = rd.number(entry, "freq", where, 0.0, rate / 2.0, low_open=True)
        snr = rd.number(entry, "snr_db", where)
        w = rd.obj(entry, "weights", where)
        weights = RNNWeights(rd.array(w, "w_hh", where + "weights.", (hidden, hidden)),
                             rd.array(w, "w_ih", where + "weights.", (hidden,)),
                             rd.array(w, "w_out", where + "weights.", (hidden,)))
        radius = spectral_radius(weights.w_hh)
        if not radius < 1.0:
            raise ModelFileError(f"{name} is unstable: key {note} has a W_hh spectral radius of {radius:.4f} (must be below 1)")
        keys[note] = KeyModel(note, freq, weights, snr)
    metadata = data.get("metadata", {})
    if not isinstance(metadata, dict):
        raise rd.fail("metadata must be an object")
    return TrainedModel(rate=rate, q=q, seconds=seconds, amplitude=amplitude, hidden=hidden, drive=drive,
                        optimizer=optimizer, init=init, steps=steps, train_seconds=train_seconds, seed=seed,
                        keys=keys, metadata=metadata)


SOUND_KEYS = (21, 108)
"""The MIDI keys a learned sound's model holds (A0..C8, the piano's 88)."""


def model_for_sound(sound: LearnedSound, metadata: dict | None = None, steps: int = 0, train_seconds: float = 0.0,
                    seed: int = 0) -> TrainedModel:
    """A model whose every key (A0..C8) plays ``sound`` transposed, at the sound's own rate. ``q`` is the slowest
    block's radius (a learned sound plays at any Q and rate: :meth:`TrainedModel.weights_for`); each key's
    ``snr_db`` is the learned note's waveform SNR against its recording."""
    from iirnn_core.dsp.notes import midi_to_note

    snr = float(sound.report.get("snr_db", 0.0))
    keys = {}
    for midi in range(SOUND_KEYS[0], SOUND_KEYS[1] + 1):
        note = midi_to_note(midi)
        freq = midi_to_hz(midi)
        if freq < sound.rate / 2:
            keys[note] = KeyModel(note, freq, sound.weights(freq, sound.rate), snr)
    return TrainedModel(rate=sound.rate, q=float(np.max(sound.radii)), seconds=len(sound.target) / sound.rate,
                        amplitude=sound.amplitude, hidden=sound.hidden, drive=1.0, optimizer="learn",
                        init="modal", steps=int(steps), train_seconds=float(train_seconds), seed=int(seed),
                        keys=keys, metadata=dict(metadata or {}), sound=sound)
