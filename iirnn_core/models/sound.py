"""A learned sound: a network of damped 2x2 rotation blocks learned from one recorded note, and that note.

``iirnn learn`` (:mod:`iirnn_core.training.learn`) fits it; a model file holds it in its ``"sound"`` section
(:mod:`iirnn_core.models.modelfile`), and every key of the keyboard plays it, transposed.

The network is the seed's (``h[n] = tanh(W_hh h[n-1] + w_ih x[n])``, ``y[n] = w_out . h[n]``) with ``W_hh``
block diagonal: block k is ``radius_k`` times the rotation by ``angle_k`` (radians per sample at ``rate``), with
its own two input and two output weights. The blocks never mix (tanh acts state by state), so each block is one
partial of the sound, and the form transposes exactly: for a key ``ratio`` times the learned pitch, played at
``rate2`` Hz, each angle becomes ``angle * ratio * rate / rate2`` and each radius ``radius ** (rate / rate2)``
(the decay per second is kept); blocks at or above Nyquist are left out. The input and output weights stay.

Numpy only (no torch, no numba, no Qt): the window's process reads these.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from iirnn_core.dsp.notes import canonical, midi_to_hz, note_to_midi
from iirnn_core.dsp.resonator import SettingError
from iirnn_core.dsp.weights import RNNWeights

NYQUIST_MARGIN = 1e-9
"""A transposed block whose angle is within this fraction of pi of Nyquist (or above) is left out."""


@dataclass(frozen=True)
class LearnedSound:
    """One learned note. ``rate`` (Hz) the blocks run at; ``pitch`` (Hz) and ``note`` (nearest key) of the
    recording; ``radii``, ``angles`` (M,) per block (radius below 1, 0 < angle < pi); ``w_ih``, ``w_out`` (M, 2);
    ``amplitude``: the impulse height it learned with; ``target`` (N,) float64: the recording as learned (from its
    onset, at ``rate``, peak 1); ``source``: the file's name; ``report``: figures of the fit (``snr_db``,
    ``stft_db``, ``linear_snr_db``, ``linear_stft_db``, ``steps``, ``learn_seconds``, ...)."""

    rate: float
    pitch: float
    note: str
    radii: np.ndarray
    angles: np.ndarray
    w_ih: np.ndarray
    w_out: np.ndarray
    amplitude: float
    target: np.ndarray
    source: str = ""
    report: dict = field(default_factory=dict)

    @property
    def blocks(self) -> int:
        """Number of 2x2 blocks (partials), M."""
        return int(self.radii.shape[0])

    @property
    def hidden(self) -> int:
        """Hidden states, 2M."""
        return 2 * self.blocks

    @property
    def frequencies(self) -> np.ndarray:
        """Each block's frequency at the learned pitch (Hz), (M,)."""
        return self.angles * self.rate / (2 * math.pi)

    def weights(self, freq: float, rate: float) -> RNNWeights:
        """The net for a key of ``freq`` Hz played at ``rate`` Hz: (2M, 2M) block-diagonal ``w_hh``; blocks at or
        above Nyquist are zero (silent states), so every key has the same hidden size."""
        if not (math.isfinite(freq) and freq > 0 and math.isfinite(rate) and rate > 0):
            raise SettingError(f"cannot play the learned sound at {freq} Hz, {rate} Hz rate")
        scale = self.rate / float(rate)
        angles = self.angles * (freq / self.pitch) * scale
        radii = self.radii ** scale
        m = self.blocks
        w_hh = np.zeros((2 * m, 2 * m))
        w_ih = np.zeros(2 * m)
        w_out = np.zeros(2 * m)
        for k in range(m):
            if not angles[k] < math.pi * (1 - NYQUIST_MARGIN):
                continue
            c, s = radii[k] * math.cos(angles[k]), radii[k] * math.sin(angles[k])
            i = 2 * k
            w_hh[i:i + 2, i:i + 2] = ((c, -s), (s, c))
            w_ih[i:i + 2] = self.w_ih[k]
            w_out[i:i + 2] = self.w_out[k]
        return RNNWeights(w_hh, w_ih, w_out)

    def weights_for_note(self, note: str, rate: float) -> RNNWeights:
        """:meth:`weights` for the key named ``note`` (any spelling)."""
        return self.weights(midi_to_hz(note_to_midi(canonical(note))), rate)

    def to_dict(self) -> dict:
        """The ``"sound"`` section of a model file (plain lists and numbers)."""
        return {"rate": self.rate, "pitch": self.pitch, "note": self.note, "amplitude": self.amplitude,
                "source": self.source,
                "blocks": [{"radius": float(r), "angle": float(a), "w_ih": [float(v) for v in u],
                            "w_out": [float(v) for v in o]}
                           for r, a, u, o in zip(self.radii, self.angles, self.w_ih, self.w_out)],
                "target": [float(f"{v:.6g}") for v in self.target],
                "report": dict(self.report)}


def sound_from_dict(data, reader) -> LearnedSound:
    """Validate a ``"sound"`` section with ``reader`` (the model file's typed reader; every fault is one
    ModelFileError sentence) and build the sound."""
    where = "sound."
    if not isinstance(data, dict):
        raise reader.fail("sound must be an object")
    rate = reader.number(data, "rate", where, 0.0, 1e7, low_open=True)
    pitch = reader.number(data, "pitch", where, 0.0, rate / 2, low_open=True)
    note = reader.text(data, "note", where)
    amplitude = reader.number(data, "amplitude", where, 0.0, math.inf, low_open=True)
    source = reader.text(data, "source", where)
    blocks = reader.field(data, "blocks", where)
    if not isinstance(blocks, list) or not blocks or len(blocks) > 32:
        raise reader.fail("sound.blocks must be a list of 1 to 32 blocks")
    radii, angles, w_ih, w_out = [], [], [], []
    for i, block in enumerate(blocks):
        at = f"{where}blocks[{i}]."
        radii.append(reader.number(block, "radius", at, 0.0, 1.0))
        if radii[-1] >= 1.0:
            raise reader.fail(f"{at}radius must be below 1 (the block would ring for ever)")
        angles.append(reader.number(block, "angle", at, 0.0, math.pi, low_open=True))
        w_ih.append(reader.array(block, "w_ih", at, (2,)))
        w_out.append(reader.array(block, "w_out", at, (2,)))
    target = reader.array(data, "target", where, (len(data.get("target", [])),))
    if target.size < 2:
        raise reader.fail("sound.target must hold the recording's samples")
    report = data.get("report", {})
    if not isinstance(report, dict):
        raise reader.fail("sound.report must be an object")
    return LearnedSound(rate, pitch, note, np.array(radii), np.array(angles), np.array(w_ih), np.array(w_out),
                        amplitude, target, source, report)
