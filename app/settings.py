"""The window's persistent settings: a typed dataclass read from and written to ``QSettings``.

Every field has a default; a stored value that is missing, of the wrong type or out of range
falls back to that default (one bad entry never loses the others). Tests pass a ``QSettings``
on a temporary INI file, never the user's.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

from PySide6.QtCore import QByteArray, QSettings

from iirnn_core.dsp.resonator import RELEASE_MIN, RING_ON
from iirnn_core.rt.block_layout import HIDDEN_MAX
from iirnn_core.rt.master_layout import ROOM_DEFAULT_WET
from iirnn_core.synth.renderer import DEFAULT_RELEASE, ENGINES
from iirnn_core.training.config import HIDDEN_MIN, INITS, OPTIMIZERS  # noqa: F401 - re-exported for the panel
MODEL_RATES = (8000, 11025, 16000, 22050, 32000, 44100, 48000)
DEVICE_RATES = (44100, 48000, 88200, 96000)
BLOCK_SIZES = (64, 128, 256, 512, 1024)
LATENCIES = ("5 ms", "low", "high")
"""Output latency choices: "5 ms" of host buffer, or PortAudio's "low" / "high" defaults for the device.
The window starts on "low": with 5 ms, ALSA's pulse plugin can underrun while the window paints (each
underrun replaces its stream). ``iirnn play`` keeps 5 ms."""


def latency_for_stream(choice: str):
    """The latency sounddevice takes for a LATENCIES choice: seconds, or 'low' / 'high'."""
    return 0.005 if choice == "5 ms" else choice


@dataclass
class AppSettings:
    """What the window remembers between runs.

    Sound: ``engine`` (one of ENGINES), ``q`` (pole radius), ``drive``, ``velocity`` (1..127, the
    computer keyboard's), ``master`` (volume 0..1), ``room`` (the small room on or off) and ``room_wet``
    (its wet mix, 0..1), ``model_rate`` (Hz), ``release`` (the dampers' T60 in seconds, RELEASE_MIN or more;
    RING_ON, inf, for none), ``octave`` (shift of the computer keyboard). Audio: ``device`` (output name,
    "" = default), ``samplerate`` (Hz), ``blocksize`` (frames), ``latency``, ``cpus_awake`` (keep idle CPUs
    from halting while notes sound), ``midi_input`` (MIDI input port name, "" = none). Training: ``train_keys``
    (note list/range text),
    ``optimizer``, ``init``, ``budget`` (seconds, 0 = the trainer's default), ``hidden`` (the nets' hidden states,
    HIDDEN_MIN..HIDDEN_MAX). ``geometry``: the
    window's saved geometry (bytes).
    """

    engine: str = "iir"
    q: float = 0.995
    drive: float = 0.1
    velocity: int = 100
    master: float = 0.8
    room: bool = False
    room_wet: float = ROOM_DEFAULT_WET
    model_rate: int = 8000
    release: float = DEFAULT_RELEASE
    octave: int = 0
    device: str = ""
    samplerate: int = 48000
    blocksize: int = 128
    latency: str = "low"
    cpus_awake: bool = True
    midi_input: str = ""
    train_keys: str = "C4..C6"
    optimizer: str = "best"
    init: str = "random"
    budget: float = 30.0
    hidden: int = 3
    geometry: bytes = b""

    def valid(self, name: str, value) -> bool:
        """Whether ``value`` is acceptable for field ``name`` (type already converted)."""
        checks = {
            "engine": lambda v: v in ENGINES,
            "q": lambda v: 0.0 < v < 1.0,
            "drive": lambda v: 0.0 < v <= 100.0,
            "velocity": lambda v: 1 <= v <= 127,
            "master": lambda v: 0.0 <= v <= 1.0,
            "room_wet": lambda v: 0.01 <= v <= 1.0,
            "model_rate": lambda v: 1000 <= v <= 192000,
            "release": lambda v: v == RING_ON or RELEASE_MIN <= v <= 60.0,
            "octave": lambda v: -4 <= v <= 3,
            "samplerate": lambda v: 8000 <= v <= 192000,
            "blocksize": lambda v: 16 <= v <= 8192,
            "latency": lambda v: v in LATENCIES,
            "optimizer": lambda v: v in OPTIMIZERS,
            "init": lambda v: v in INITS,
            "budget": lambda v: 0.0 <= v <= 86400.0,
            "hidden": lambda v: HIDDEN_MIN <= v <= HIDDEN_MAX,
        }
        check = checks.get(name)
        if isinstance(value, float) and not math.isfinite(value) and not (name == "release" and value == RING_ON):
            return False
        return check is None or bool(check(value))


def _convert(value, kind):
    """``value`` as ``kind`` (str, int, float, bytes, bool), or raise ValueError/TypeError."""
    if kind is bytes:
        if hasattr(value, "data"):  # QByteArray
            return bytes(value.data())
        if isinstance(value, (bytes, bytearray)):
            return bytes(value)
        raise TypeError("not bytes")
    if kind is bool:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("true", "1"):
            return True
        if text in ("false", "0"):
            return False
        raise ValueError("not a boolean")
    if kind is int:
        number = float(value)
        if not number.is_integer():
            raise ValueError("not an integer")
        return int(number)
    if kind is float:
        return float(value)
    if isinstance(value, (list, dict)):
        raise TypeError("not a string")
    return str(value)


_KINDS = {"str": str, "int": int, "float": float, "bytes": bytes, "bool": bool}


def load_settings(store: QSettings) -> AppSettings:
    """Read every field from ``store``; each unreadable or invalid value falls back to its default."""
    result = AppSettings()
    for f in fields(AppSettings):
        if not store.contains(f.name):
            continue
        try:
            value = _convert(store.value(f.name), _KINDS[f.type])
        except (TypeError, ValueError, OverflowError):
            continue
        if result.valid(f.name, value):
            setattr(result, f.name, value)
    return result


def save_settings(store: QSettings, settings: AppSettings) -> None:
    """Write every field of ``settings`` to ``store`` and flush it to disk."""
    for name, value in asdict(settings).items():
        # bytes as QByteArray: stored as plain @ByteArray, never as a pickled Python object
        store.setValue(name, QByteArray(value) if isinstance(value, bytes) else value)
    store.sync()
