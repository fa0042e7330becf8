"""Learn a sound: a recorded note becomes the filter of an RNN of H hidden states (``iirnn learn``, File > Learn a
sound).

1. :func:`prepare`: the recording as mono, from its onset, resampled to the learning rate (16 kHz by default), cut
   to ``seconds``, scaled to peak 1; its pitch (``pitch`` overrides).
2. The anchor: the linear modal fit of the same order (matrix pencil, :func:`iirnn_core.dsp.modal.fit_modes`),
   written into the net as 2x2 rotation-decay blocks at a small drive (the analytic twin's trick), so the net
   starts as that fit (tanh barely bends at the drive). Blocks the fit leaves empty start silent, spread over the
   band.
3. :func:`refine`: Levenberg-Marquardt on all six parameters of every block (radius, angle, two input and two
   output weights: :mod:`iirnn_core.training.sound_kernels`) with tanh in the loop, on a loss that hears like a
   person: the waveform error (relative to the target's energy) plus the multi-resolution STFT log-magnitude error
   (:mod:`iirnn_core.dsp.spectral`), and a penalty on any block louder than the note itself (loud blocks that cancel
   at the learned pitch would click on other keys). The blocks stay rotation-decay blocks, so the learned net
   transposes exactly to every key (:mod:`iirnn_core.models.sound`). A step is taken only when the loss falls; the
   run stops at ``budget`` seconds, ``max_steps`` steps or when the loss no longer moves. The net kept is the last
   step at or better than the linear fit on both reported figures (the loss weighs them together, so a step may gain
   SNR and lose a little STFT distance).
4. The report: waveform SNR and STFT distance of the net and of the linear fit, side by side.

No torch and no Qt; runs in the trainer process (the window's process only reads the result).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace

import numpy as np

from iirnn_core.dsp.modal import (Modes, estimate_pitch, find_onset, fit_amplitudes, fit_modes, load_mono,
                                  modes_to_weights)
from iirnn_core.dsp.notes import NoteError, canonical, midi_to_note, note_to_hz
from iirnn_core.dsp.resonator import SettingError
from iirnn_core.dsp.spectral import TargetSpectra, snr_db, stft
from iirnn_core.models.sound import LearnedSound
from iirnn_core.training import sound_kernels as sk
from iirnn_core.training.config import LEARN_BUDGET, LEARN_HIDDEN, LEARN_RATE

MIN_TARGET_SECONDS = 0.05
"""A note shorter than this after its onset is refused."""
AMPLITUDE = 0.1
"""The impulse height the sound learns with (the synth's full-velocity impulse)."""
DRIVE = 1e-4
"""The states' level at the start. Small because the recurrence compounds tanh's bend: at level d each step
damps a state by about d^2/4 more, which must stay far below a slow partial's own 1 - r (1e-4 for a 3 s ring)."""
STFT_WEIGHT = 0.43
"""Weight of the mean squared log-magnitude difference against the relative waveform error (1/SNR); chosen on the
notes of ``benchmarks/bench_learn.py`` among 0.01..0.5 and against the absolute (L1) form of the reported
distance: the most notes gaining on both figures."""
BLOCK_PEAK_MAX = 1.0
"""A block's own peak (``AMPLITUDE |w_ih| |w_out|``, the target peaking at 1) above this is penalised: two loud
blocks that cancel each other at the learned pitch would not cancel on another key (a click there)."""
PENALTY = 1.0
"""Weight of a block's peak above :data:`BLOCK_PEAK_MAX` in the loss."""


@dataclass(frozen=True)
class Prepared:
    """A recording ready to learn: ``target`` (N,) at ``rate`` Hz from the onset, peak 1; ``pitch`` (Hz);
    ``onset`` (s into the file); ``level_db``: the note's peak in the file (dBFS); ``around`` (N + 2 LEAD,): the
    target with :data:`LEAD` samples more on each side (for :func:`aligned`)."""

    target: np.ndarray
    rate: float
    pitch: float
    onset: float
    level_db: float
    around: np.ndarray


LEAD = 16
"""Samples the onset may move either way when it is aligned with the fit (1 ms at 16 kHz)."""
ALIGN_SAMPLES = 4000
"""The onset is aligned on the note's first samples only (its start is where it matters)."""


def parse_pitch(text: str | float | None) -> float | None:
    """A pitch given as a note name (``C4``) or a frequency in Hz (``261.6``), None for none; SettingError else."""
    if text is None or text == "":
        return None
    try:
        hz = float(text)
    except (TypeError, ValueError):
        try:
            return note_to_hz(canonical(str(text)))
        except NoteError:
            raise SettingError(f"pitch {text!r} is neither a note name (C4) nor a frequency in Hz") from None
    if not (math.isfinite(hz) and 20.0 <= hz <= 5000.0):
        raise SettingError(f"pitch {text!r} must be between 20 and 5000 Hz")
    return hz


def check_hidden(hidden: int) -> int:
    """``hidden`` if it is an even size from 2 to 64, else SettingError."""
    low, high = LEARN_HIDDEN
    if isinstance(hidden, bool) or int(hidden) != hidden or not low <= hidden <= high or hidden % 2:
        raise SettingError(f"a learned sound needs an even hidden size from {low} to {high} (2 states per "
                           f"partial), got {hidden}")
    return int(hidden)


def prepare(x: np.ndarray, rate_in: float, seconds: float = 1.0, pitch: float | None = None,
            rate: float = LEARN_RATE) -> Prepared:
    """The note in ``x`` (N,) at ``rate_in`` Hz as a target at ``rate`` Hz: from its onset, ``seconds`` long (or
    what there is), peak 1. SettingError (one line) when it is too short or has no clear pitch."""
    from scipy.signal import resample_poly

    if not (math.isfinite(seconds) and 0.05 <= seconds <= 10.0):
        raise SettingError(f"the target must be 0.05 to 10 s long, got {seconds}")
    onset = find_onset(x, rate_in)
    margin = int(0.01 * rate_in)  # resampled with what comes before it, so the filter sees the real start
    start = max(onset - margin, 0)
    note = x[start:onset + int(math.ceil(seconds * rate_in)) + 64]
    if len(note) - (onset - start) < MIN_TARGET_SECONDS * rate_in:
        raise SettingError(f"the note is {1000 * (len(note) - onset + start) / rate_in:.0f} ms long after its "
                           f"onset; at least {1000 * MIN_TARGET_SECONDS:.0f} ms are needed")
    level = float(np.max(np.abs(x)))
    if pitch is None:
        pitch = estimate_pitch(note[onset - start:], rate_in)
    if pitch >= rate / 2:
        raise SettingError(f"the note's pitch {pitch:.0f} Hz is above what {rate:g} Hz can hold")
    up, down = _ratio(rate, rate_in)
    if (up, down) != (1, 1):
        note = resample_poly(note, up, down)
    begin = find_onset(note, rate)
    size = int(round(seconds * rate))
    around = np.pad(note, (LEAD, LEAD))[begin:begin + size + 2 * LEAD]
    target = around[LEAD:LEAD + size]
    peak = float(np.max(np.abs(target)))
    if peak <= 0:
        raise SettingError("the note is silent after its onset")
    onset = start + begin * rate_in / rate
    return Prepared(target / peak, float(rate), float(pitch), onset / rate_in, 20 * math.log10(level), around / peak)


def aligned(prep: Prepared, poles: np.ndarray) -> Prepared:
    """``prep`` with its start moved (by at most :data:`LEAD` samples) to where a net struck at its first sample
    fits it best with ``poles`` (M,): the onset a level threshold finds may include a few samples of the
    recording's or the resampler's lead-in, which no causal filter plays."""
    size = len(prep.target)
    head = min(size, ALIGN_SAMPLES)
    best, best_left = LEAD, math.inf
    for start in range(2 * LEAD + 1):
        _, left = fit_amplitudes(prep.around[start:start + head], poles)
        if left < best_left:
            best, best_left = start, left
    target = prep.around[best:best + size]
    return replace(prep, target=target, onset=prep.onset + (best - LEAD) / prep.rate)


def _ratio(rate: float, rate_in: float) -> tuple[int, int]:
    """``rate / rate_in`` as a small fraction (up, down)."""
    from fractions import Fraction

    f = Fraction(rate / rate_in).limit_denominator(1000)
    return f.numerator, f.denominator


def initial_blocks(modes: Modes, hidden: int, rate: float, rng: np.random.Generator) -> np.ndarray:
    """The parameter vector (6 * hidden/2,) of the linear fit ``modes`` at :data:`DRIVE`
    (:func:`~iirnn_core.dsp.modal.modes_to_weights`); blocks the fit did not fill start silent (output weights 0),
    ringing 0.3 s at angles spread in log frequency from 50 Hz to 0.45 ``rate``."""
    m = hidden // 2
    k = min(len(modes), m)
    fitted = Modes(modes.poles[:k], modes.amplitudes[:k], modes.rate)
    w = modes_to_weights(fitted, AMPLITUDE, hidden=2 * m, drive=DRIVE)
    radii, angles = np.empty(m), np.empty(m)
    radii[:k], angles[:k] = np.abs(fitted.poles), np.angle(fitted.poles)
    spare = m - k
    if spare:
        freqs = np.exp(rng.uniform(np.log(50.0), np.log(0.45 * rate), spare))
        angles[k:] = 2 * np.pi * freqs / rate
        radii[k:] = 10 ** (-3 / (0.3 * rate))
    w_ih = w.w_ih.reshape(m, 2).copy()
    w_ih[k:, 0] = DRIVE / AMPLITUDE
    return sk.to_params(radii, angles, w_ih, w.w_out.reshape(m, 2))


class Loss:
    """The loss of a net's output ``y`` against ``target`` (N,) at ``rate`` Hz: ``|y - t|^2 / |t|^2`` (1 / SNR)
    plus ``stft_weight`` times the mean, over the three resolutions, of the mean squared log-magnitude difference
    (natural log; the levels of :func:`~iirnn_core.dsp.spectral.stft_distance`, floored alike)."""

    def __init__(self, target: np.ndarray, rate: float, stft_weight: float = STFT_WEIGHT):
        self.target = target
        self.wave_scale = 1.0 / math.sqrt(float(np.sum(target ** 2)))
        self.spectra = TargetSpectra(target, rate)
        levels = self.spectra.levels
        self.weights = [stft_weight / (level.size * len(levels)) for level in levels]

    def value(self, y: np.ndarray) -> float:
        """The loss of output ``y`` (N,)."""
        r = (y - self.target) * self.wave_scale
        total = float(r @ r)
        for d, weight in zip(self.spectra.differences(y), self.weights):
            total += weight * float(np.sum(d * d))
        return total

    def normal_equations(self, y: np.ndarray, jac: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
        """``J^T J`` (P, P), ``J^T r`` (P,) and the loss ``r . r`` at output ``y`` (N,) with Jacobian ``jac`` (N, P),
        ``r`` the waveform residuals and the weighted log-magnitude differences (the STFT is linear, so the
        differences' Jacobian is the STFT of each column of ``jac``)."""
        r = (y - self.target) * self.wave_scale
        jw = jac * self.wave_scale
        a = jw.T @ jw
        g = jw.T @ r
        loss = float(r @ r)
        jt = np.ascontiguousarray(jac.T)  # (P, N)
        spectra = self.spectra
        for n_fft, level, floor, weight in zip(spectra.sizes, spectra.levels, spectra.floors, self.weights):
            s = stft(y, n_fft)
            mag = np.abs(s)
            d = (np.log(mag + floor) - level).ravel()  # (F B,)
            loss += weight * float(d @ d)
            ds = stft(jt, n_fft)  # (P, F, B)
            dd = 1.0 / (np.maximum(mag, 1e-300) * (mag + floor))
            grad = ds.real * (s.real * dd)  # d d / d param, (P, F, B)
            grad += ds.imag * (s.imag * dd)
            grad = grad.reshape(grad.shape[0], -1)
            a += weight * (grad @ grad.T)
            g += weight * (grad @ d)
        return a, g, loss


def block_penalty(params: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Residuals (M,) ``PENALTY * max(0, peak_k - BLOCK_PEAK_MAX)`` of each block's own peak and their Jacobian
    (M, 6M) with respect to ``params`` (6M,)."""
    p = np.asarray(params).reshape(-1, sk.PER_BLOCK)
    m = p.shape[0]
    nu = np.maximum(np.linalg.norm(p[:, 2:4], axis=1), 1e-300)
    nv = np.maximum(np.linalg.norm(p[:, 4:6], axis=1), 1e-300)
    over = AMPLITUDE * nu * nv - BLOCK_PEAK_MAX
    active = over > 0
    r = PENALTY * np.where(active, over, 0.0)
    jac = np.zeros((m, p.size))
    for k in np.flatnonzero(active):
        o = sk.PER_BLOCK * k
        jac[k, o + 2:o + 4] = PENALTY * AMPLITUDE * nv[k] * p[k, 2:4] / nu[k]
        jac[k, o + 4:o + 6] = PENALTY * AMPLITUDE * nu[k] * p[k, 4:6] / nv[k]
    return r, jac


@dataclass
class Refined:
    """The result of :func:`refine`: ``params`` (6M,), ``steps`` taken, ``history`` of the loss per step, and the
    step ``params`` are from (``kept``)."""

    params: np.ndarray
    steps: int
    history: list
    kept: int


def refine(params: np.ndarray, target: np.ndarray, rate: float, budget: float = LEARN_BUDGET,
           max_steps: int = 200, progress=None, should_stop=None, stft_weight: float | None = None,
           admissible=None) -> Refined:
    """Levenberg-Marquardt from ``params`` (6M,) on :class:`Loss` for ``target`` (N,) at ``rate`` Hz, impulse
    :data:`AMPLITUDE` at sample 0. Stops after ``budget`` seconds (wall), ``max_steps`` accepted steps, when the
    loss moves less than 1e-9 of itself, or when ``should_stop()`` is true. ``progress(step, loss)`` after each
    accepted step. ``admissible(y)`` (output (N,) -> bool; default: any): the result is the last step whose
    output it admits (the start when none is)."""
    start = time.perf_counter()
    x = np.zeros(len(target))
    x[0] = AMPLITUDE
    loss_fn = Loss(target, rate, STFT_WEIGHT if stft_weight is None else stft_weight)

    def normal_equations(params):
        y, jac = sk.forward(params, x, want_jac=True)
        a, g, loss = loss_fn.normal_equations(y, jac)
        r, jp = block_penalty(params)
        return a + jp.T @ jp, g + jp.T @ r, loss + float(r @ r)

    a, g, loss = normal_equations(params)
    history = [loss]
    lam, steps = 1e-3, 0
    kept, kept_step = params, 0
    while steps < max_steps and time.perf_counter() - start < budget:
        if should_stop is not None and should_stop():
            break
        diag = np.diag(a).copy()
        damping = lam * np.maximum(diag, 1e-12 * max(float(diag.max()), 1e-300))
        try:
            delta = np.linalg.solve(a + np.diag(damping), -g)
        except np.linalg.LinAlgError:
            lam *= 10
            continue
        trial = params + delta
        y_trial, _ = sk.forward(trial, x)
        if not np.all(np.isfinite(y_trial)):
            lam *= 10
            continue
        trial_loss = loss_fn.value(y_trial) + float(np.sum(block_penalty(trial)[0] ** 2))
        if trial_loss < loss:
            params, steps = trial, steps + 1
            if admissible is None or admissible(y_trial):
                kept, kept_step = params, steps
            moved = loss - trial_loss
            lam = max(lam / 3, 1e-9)
            a, g, loss = normal_equations(params)
            history.append(loss)
            if progress is not None:
                progress(steps, loss)
            if moved < 1e-9 * loss:
                break
        else:
            lam *= 4
            if lam > 1e10:
                break
    return Refined(kept, steps, history, kept_step)


@dataclass(frozen=True)
class Learned:
    """What :func:`learn` gives: the ``sound`` (with its report), the net's output ``net`` and the linear fit's
    ``linear`` (N,) at the sound's rate, and the ``prepared`` target."""

    sound: LearnedSound
    net: np.ndarray
    linear: np.ndarray
    prepared: Prepared


def learn(x: np.ndarray, rate_in: float, hidden: int, seconds: float = 1.0, pitch: float | None = None,
          rate: float = LEARN_RATE, budget: float = LEARN_BUDGET, source: str = "", progress=None,
          should_stop=None, seed: int = 0, max_steps: int = 200) -> Learned:
    """Learn the note in ``x`` (N,) at ``rate_in`` Hz with ``hidden`` states (see the module's steps): at most
    ``budget`` seconds in all (wall) and ``max_steps`` accepted steps."""
    begin = time.perf_counter()
    hidden = check_hidden(hidden)
    prep = prepare(x, rate_in, seconds, pitch, rate)
    prep = aligned(prep, fit_modes(prep.target, rate, hidden).poles)
    target = prep.target
    modes = fit_modes(target, rate, hidden)
    linear = modes.response(len(target))
    spectra = TargetSpectra(target, rate)
    anchor = snr_db(linear, target), spectra.distance(linear)

    def admissible(y):  # the net is kept only where it is at or better than the anchor on both figures
        return snr_db(y, target) >= anchor[0] and spectra.distance(y) <= anchor[1]

    params0 = initial_blocks(modes, hidden, rate, np.random.default_rng(seed))
    left = max(budget - (time.perf_counter() - begin), 0.5)
    refined = refine(params0, target, rate, budget=left, max_steps=max_steps, progress=progress,
                     should_stop=should_stop, admissible=admissible)
    params = _folded(refined.params)
    impulse = np.zeros(len(target))
    impulse[0] = AMPLITUDE
    net, _ = sk.forward(params, impulse)
    radii, angles, w_ih, w_out = sk.from_params(params)
    midi = int(round(69 + 12 * math.log2(prep.pitch / 440.0)))
    report = {"snr_db": round(snr_db(net, target), 3), "stft_db": round(spectra.distance(net), 3),
              "linear_snr_db": round(anchor[0], 3), "linear_stft_db": round(anchor[1], 3),
              "hidden": hidden, "partials": int(len(modes)), "seconds": round(len(target) / rate, 4),
              "rate": rate, "pitch_hz": round(prep.pitch, 3), "onset_s": round(prep.onset, 4),
              "level_dbfs": round(prep.level_db, 2), "steps": refined.steps, "kept_step": refined.kept,
              "learn_seconds": round(time.perf_counter() - begin, 3)}
    sound = LearnedSound(rate=float(rate), pitch=prep.pitch, note=midi_to_note(min(max(midi, 0), 127)),
                         radii=radii, angles=angles, w_ih=w_ih, w_out=w_out, amplitude=AMPLITUDE,
                         target=target, source=source, report=report)
    return Learned(sound, net, linear, prep)


def _folded(params: np.ndarray) -> np.ndarray:
    """The same net with every angle in (0, pi): a block turned by -theta is the block turned by theta with its
    second state negated (its second input and output weights change sign)."""
    p = np.array(params, dtype=np.float64).reshape(-1, sk.PER_BLOCK)
    p[:, 1] = np.mod(p[:, 1] + np.pi, 2 * np.pi) - np.pi
    neg = p[:, 1] < 0
    p[neg, 1] = -p[neg, 1]
    p[neg, 3] = -p[neg, 3]
    p[neg, 5] = -p[neg, 5]
    p[:, 1] = np.clip(p[:, 1], 1e-9, np.pi - 1e-9)
    return p.ravel()


def learn_file(path: str, hidden: int, seconds: float = 1.0, pitch=None, rate: float = LEARN_RATE,
               budget: float = LEARN_BUDGET, progress=None, should_stop=None) -> Learned:
    """:func:`learn` on the sound file at ``path`` (WAV, FLAC, OGG; any rate and channels; mono mixdown)."""
    import os

    x, rate_in = load_mono(path, max_seconds=600.0)
    return learn(x, rate_in, hidden, seconds, parse_pitch(pitch), rate, budget, os.path.basename(path), progress,
                 should_stop)



