"""What the plots show for the last key played: IIR and RNN impulse responses, difference, SNR, spectra, poles
(and where the dampers move them when the key is released).

Pure numpy over :mod:`iirnn_core` (no Qt): the responses come from ``render_notes`` with
``raw=True`` (the seed's convention: the plain recurrences, unity gain), so the plot shows exactly
what the renderer computes.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np

from iirnn_core.dsp.weights import snr_db
from iirnn_core.synth.renderer import SynthSettings, patches_for, render_notes
from iirnn_core.dsp.resonator import RING_ON, q_from_t60, t60_from_q
from iirnn_core.models.what_plays import what_plays

MIN_SECONDS, MAX_SECONDS = 0.6, 2.0
"""The responses span one T60, at least the seed's 0.6 s and at most 2 s."""


@dataclass(frozen=True)
class ImpulseComparison:
    """One key's twins: ``time`` (N,) s, ``iir``/``rnn``/``difference`` (N,), ``snr`` dB,
    ``freqs`` (M,) Hz with ``iir_db``/``rnn_db`` (M,) log-magnitude spectra in dB,
    the ``note`` and the ``twin`` engine used (and ``note_text``: why a fallback was used, or ""),
    the IIR's two poles ``iir_poles`` (Q e^{+-jw}) and the twin's ``rnn_poles``: the eigenvalues of its
    ``W_hh``, the poles of the network linearised around zero (tanh(u) ~ u for small u), where
    ``h[n] = W_hh h[n-1] + w_ih x[n]`` is a linear recursion whose transfer function has them as poles.
    ``release_radius``: where the dampers move the largest pole when the key is released (NaN: they do not,
    the release is off or longer than the key's own decay), and ``iir_released`` / ``rnn_released`` both
    twins' poles then (each scaled by release radius / its spectral radius, the renderer's rule)."""

    note: str
    twin: str
    time: np.ndarray
    iir: np.ndarray
    rnn: np.ndarray
    difference: np.ndarray
    snr: float
    freqs: np.ndarray
    iir_db: np.ndarray
    rnn_db: np.ndarray
    note_text: str = ""
    iir_poles: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=complex))
    rnn_poles: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=complex))
    release_radius: float = float("nan")
    iir_released: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=complex))
    rnn_released: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=complex))


def released_poles(poles: np.ndarray, release: float, rate: float) -> tuple[float, np.ndarray]:
    """Where the dampers move ``poles`` (a voice's eigenvalues) when its key is released with a T60 of
    ``release`` s at ``rate`` Hz: (the release radius, the poles scaled by it over their spectral radius), or
    (NaN, no poles) when nothing moves (RING_ON, or the poles already lie inside the release radius)."""
    radius = float(np.max(np.abs(poles), initial=0.0))
    if release == RING_ON:
        return float("nan"), np.zeros(0, dtype=complex)
    r_rel = q_from_t60(release, rate)
    if not radius > r_rel:
        return float("nan"), np.zeros(0, dtype=complex)
    return r_rel, poles * (r_rel / radius)


def log_spectrum(signal: np.ndarray, rate: float) -> tuple[np.ndarray, np.ndarray]:
    """Frequencies (Hz) and magnitude (dB re 1, floor -160 dB) of ``signal`` (N,), zero-padded to 2^k."""
    n = 1 << max(10, int(np.ceil(np.log2(max(len(signal), 1)))))
    spectrum = np.abs(np.fft.rfft(signal, n))
    return np.fft.rfftfreq(n, 1.0 / rate), 20.0 * np.log10(np.maximum(spectrum, 1e-8))


def compare(note: str, settings: SynthSettings, engine: str, model=None) -> ImpulseComparison:
    """Render ``note``'s impulse response through the IIR and ``engine``'s twin and compare them.

    If the twin is 'rnn-trained' but the model is missing or does not fit the settings, the
    analytic twin is shown instead and ``note_text`` says why.
    """
    raw = dataclasses.replace(settings, channels=1, raw=True)
    seconds = min(max(MIN_SECONDS, t60_from_q(settings.q, settings.rate)), MAX_SECONDS)
    playing = what_plays(engine, settings, model)
    twin, model = playing.twin, playing.model
    note_text = f"showing the analytic twin: {playing.reason}" if playing.reason else ""
    iir = render_notes("iir", [note], raw, seconds)[:, 0]
    try:
        rnn = render_notes(twin, [note], raw, seconds, model if twin == "rnn-trained" else None)[:, 0]
    except (ValueError, KeyError) as exc:  # SettingError (a ValueError) or a key the model lacks
        note_text = f"showing the analytic twin: {exc}"
        twin = "rnn-analytic"
        rnn = render_notes(twin, [note], raw, seconds)[:, 0]
    freqs, iir_db = log_spectrum(iir, settings.rate)
    _, rnn_db = log_spectrum(rnn, settings.rate)
    iir_w, rnn_w = (patches_for(e, note, raw, model if e == "rnn-trained" else None)[0].weights for e in ("iir", twin))
    iir_poles, rnn_poles = np.linalg.eigvals(iir_w.w_hh), np.linalg.eigvals(rnn_w.w_hh)
    release_radius, iir_released = released_poles(iir_poles, settings.release, settings.rate)
    rnn_released = released_poles(rnn_poles, settings.release, settings.rate)[1]
    return ImpulseComparison(note, twin, np.arange(len(iir)) / settings.rate, iir, rnn, rnn - iir,
                             snr_db(iir, rnn), freqs, iir_db, rnn_db, note_text, iir_poles, rnn_poles,
                             release_radius, iir_released, rnn_released)


ONSET_SECONDS = 0.2
"""The learned-sound view's close-up of the attack spans this much of the note (s)."""


@dataclass(frozen=True)
class SoundComparison:
    """A learned sound against its recording: ``source`` (file name), ``note``, ``pitch`` (Hz), ``rate`` (Hz);
    ``time`` (N,) s from the onset with the recording ``target``, the ``net``'s response and the ``linear`` modal
    fit's (N,) (empty when not known: a model file holds no linear fit); ``freqs`` (M,) Hz with each one's
    magnitude in dB (``target_db``, ``net_db``, ``linear_db``); ``poles`` (2 blocks,) every block's radius
    e^(+-j angle); ``snr``: the net's waveform SNR against the recording (dB); ``report``: the learning's figures."""

    source: str
    note: str
    pitch: float
    rate: float
    time: np.ndarray
    target: np.ndarray
    net: np.ndarray
    linear: np.ndarray
    freqs: np.ndarray
    target_db: np.ndarray
    net_db: np.ndarray
    linear_db: np.ndarray
    poles: np.ndarray
    snr: float
    report: dict


def sound_response(model) -> np.ndarray:
    """The network of ``model`` (a TrainedModel holding a learned sound) struck at its learned pitch, as long as its
    recording, at the sound's rate: ``render_notes`` raw for the learned note, with the sound's pitch taken as the
    key's own so the blocks are not transposed (N,)."""
    from iirnn_core.dsp.notes import midi_to_hz, note_to_midi

    sound = model.sound
    at_key = dataclasses.replace(sound, pitch=midi_to_hz(note_to_midi(sound.note)))
    settings = SynthSettings(rate=sound.rate, q=float(model.q), amplitude=sound.amplitude, channels=1, raw=True,
                             release=RING_ON)
    seconds = len(sound.target) / sound.rate
    out = render_notes("rnn-trained", [sound.note], settings, seconds, dataclasses.replace(model, sound=at_key))
    return out[:len(sound.target), 0]


def sound_comparison(model, net: np.ndarray | None = None, linear: np.ndarray | None = None) -> SoundComparison:
    """Compare ``model``'s learned sound with its recording: ``net`` (N,) the network's response (None: rendered,
    :func:`sound_response`), ``linear`` the linear fit's (None: not shown)."""
    sound = model.sound
    target = np.asarray(sound.target, dtype=np.float64)
    net = sound_response(model) if net is None else np.asarray(net, dtype=np.float64)
    linear = np.zeros(0) if linear is None else np.asarray(linear, dtype=np.float64)
    n = min(len(target), len(net))
    target, net, linear = target[:n], net[:n], linear[:n]
    freqs, target_db = log_spectrum(target, sound.rate)
    net_db = log_spectrum(net, sound.rate)[1]
    linear_db = log_spectrum(linear, sound.rate)[1] if len(linear) else np.zeros(0)
    poles = np.concatenate([sound.radii * np.exp(1j * sound.angles), sound.radii * np.exp(-1j * sound.angles)])
    return SoundComparison(sound.source, sound.note, float(sound.pitch), float(sound.rate), np.arange(n) / sound.rate,
                           target, net, linear, freqs, target_db, net_db, linear_db, poles, snr_db(target, net),
                           dict(sound.report))
