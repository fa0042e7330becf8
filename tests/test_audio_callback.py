"""The audio callback driven directly on preallocated arrays (no device): placement, safety, switching."""

import threading
import tracemalloc

import numpy as np
import pytest

from iirnn_core.audio.engine import AudioConfig, AudioEngine
from iirnn_core.audio.null_output import NoStatus, TimeInfo
from iirnn_core.synth.renderer import SynthSettings
from iirnn_core.dsp.resonator import SettingError

RATE, BLOCK = 48000, 128
PERIOD = BLOCK / RATE
OUTPUT_LATENCY = 0.004


class FakeClock:
    """A clock the test advances by hand: one block period per callback."""

    def __init__(self):
        self.t = 1000.0

    def __call__(self):
        return self.t


class Driver:
    """Calls ``engine.callback`` as a host would, with exact times."""

    def __init__(self, engine):
        self.engine = engine
        self.clock = FakeClock()
        engine._clock = self.clock
        self.out = np.zeros((BLOCK, 2), dtype=np.float32)
        self.info = TimeInfo()
        self.status = NoStatus()

    def block(self):
        self.block_in_place()
        return self.out.copy()

    def block_in_place(self):
        self.info.currentTime = self.clock.t
        self.info.outputBufferDacTime = self.clock.t + OUTPUT_LATENCY
        self.engine.callback(self.out, BLOCK, self.info, self.status)
        self.clock.t += PERIOD

    def block_at(self, rate):
        """One block at a device rate other than RATE."""
        self.info.currentTime = self.clock.t
        self.info.outputBufferDacTime = self.clock.t + OUTPUT_LATENCY
        self.engine.callback(self.out, BLOCK, self.info, self.status)
        self.clock.t += BLOCK / rate
        return self.out.copy()

    def blocks(self, n):
        return np.concatenate([self.block() for _ in range(n)])


def make(engine="iir", **settings):
    cfg = AudioConfig(samplerate=RATE, blocksize=BLOCK)
    eng = AudioEngine(cfg, SynthSettings(**settings), engine)
    return eng, Driver(eng)


def test_impulse_lands_one_block_and_the_lookahead_after_its_event_and_latency_is_measured():
    # Model rate = device rate, so no resampling: the impulse is exactly one frame.
    eng, drv = make(rate=48000.0, q=0.999)
    lookahead = eng.processor.master.lookahead
    assert lookahead == 24  # the limiter's 0.5 ms
    drv.block()
    eng.note_on(69, 1.0, when=drv.clock.t - 0.25 * PERIOD)  # a quarter period before the next callback
    first = np.flatnonzero(drv.blocks(2)[:, 0])[0]
    assert first == 96 + lookahead  # heard exactly one block period and the limiter's lookahead after the key event
    stats = eng.stats()
    assert stats.notes == 1
    assert stats.latency_ms_median == pytest.approx(1000 * (OUTPUT_LATENCY + first / RATE + 0.25 * PERIOD))
    assert stats.latency_ms_median == pytest.approx(1000 * (OUTPUT_LATENCY + PERIOD + lookahead / RATE))


def test_velocity_sets_the_impulse_height():
    peaks = []
    for velocity in (1.0, 0.5):
        eng, drv = make(rate=48000.0)
        eng.note_on(69, velocity, when=drv.clock.t)
        peaks.append(np.abs(drv.blocks(20)).max())
    assert peaks[1] == pytest.approx(peaks[0] / 2, rel=1e-6)


def test_resampled_note_has_the_key_pitch():
    eng, drv = make(q=0.9995)  # model rate 8 kHz, device 48 kHz
    eng.note_on(69)
    y = drv.blocks(400)[:, 0].astype(np.float64)
    spec = np.abs(np.fft.rfft(y * np.hanning(len(y)), 1 << 19))
    peak = np.argmax(spec) * RATE / (1 << 19)
    assert abs(peak - 440.0) < 0.5


def test_engine_and_settings_changes_leave_sounding_notes_untouched():
    ref, ref_drv = make(q=0.999)
    eng, drv = make(q=0.999)
    for e in (ref, eng):
        e.note_on(69, when=1000.0)
    a = [ref_drv.blocks(10)]
    b = [drv.blocks(10)]
    eng.set_engine("rnn-analytic")
    eng.set_settings(SynthSettings(q=0.99, drive=0.3))
    eng.set_settings(SynthSettings(q=0.99, drive=0.3, rate=16000.0))  # new pipeline; the old rings out
    a.append(ref_drv.blocks(30))
    b.append(drv.blocks(30))
    np.testing.assert_array_equal(np.concatenate(a), np.concatenate(b))
    # New notes use the new engine and rate.
    eng.note_on(72)
    assert eng.pipeline.model_rate == 16000.0
    drv.blocks(2)
    assert eng.pipeline.renderer.banks["rnn"].count == 1


def test_impossible_settings_raise_and_change_nothing():
    eng, drv = make()
    with pytest.raises(SettingError):
        eng.set_settings(SynthSettings(q=1.5))
    with pytest.raises(SettingError):
        eng.set_engine("rnn-trained")  # no model
    with pytest.raises(SettingError):
        eng.set_engine("wavetable")
    assert eng.engine == "iir" and eng.settings.q == 0.995


def test_nan_block_is_muted_and_counted():
    eng, drv = make(q=0.999)
    eng.note_on(69)
    drv.blocks(3)
    eng.pipeline.resampler.xbuf[:, :] = np.nan  # poison what the resampler holds
    y = drv.block()
    assert np.all(y == 0.0)
    assert eng.stats().muted_blocks == 1
    assert np.all(np.isfinite(drv.blocks(5)))


def test_nan_voice_state_is_silenced_without_harming_others():
    eng, drv = make(q=0.999)
    eng.note_on(69)
    eng.note_on(76)
    drv.blocks(3)
    bank = eng.pipeline.renderer.banks["iir"]
    bank.h[:, 0] = np.nan
    y = drv.blocks(5)
    assert np.all(np.isfinite(y)) and np.abs(y).max() > 0.01
    assert bank.count == 1


def test_output_is_limited_below_full_scale():
    eng, drv = make(q=0.9999)
    assert eng.stats().limiter_reduction_db == 0.0
    for midi in range(48, 80):
        eng.note_on(midi)
    y = drv.blocks(50)
    ceiling = eng.processor.master.ceiling
    assert ceiling == pytest.approx(10 ** (-0.3 / 20))
    assert np.abs(y).max() <= ceiling
    assert np.abs(y).max() > 0.95 * ceiling
    assert eng.stats().limiter_reduction_db > 3.0  # the limiter, not a clamp, kept it there


def test_polyphony_steals_voices():
    cfg = AudioConfig(samplerate=RATE, blocksize=BLOCK)
    eng = AudioEngine(cfg, SynthSettings(q=0.9999), "iir", polyphony=4)
    drv = Driver(eng)
    for midi in range(60, 70):
        eng.note_on(midi)
        drv.block()
    stats = eng.stats()
    assert stats.active_voices == 4 and stats.voices_stolen == 6


@pytest.mark.parametrize("room", [0.0, 0.5])
def test_panic_fades_everything_out_within_one_block(room):
    eng, drv = make(q=0.9999)
    eng.set_room(room)
    eng.note_on(69)
    before = drv.blocks(5)
    eng.panic()
    lookahead = eng.processor.master.lookahead  # the limiter delays the fade by its lookahead
    fade = drv.blocks(4)[:BLOCK + lookahead]
    after = drv.blocks(3)
    assert np.all(after == 0.0)  # the room's tail too
    assert np.abs(fade[-8:]).max() < 0.1 * np.abs(before).max()  # ramped down, not cut
    assert eng.stats().active_voices == 0


def test_master_gain_ramps_without_a_jump():
    eng, drv = make(rate=48000.0, q=0.99999)
    eng.note_on(69)
    drv.blocks(5)
    eng.set_master(0.0)
    y = drv.blocks(10)[:, 0]
    steps = np.abs(np.diff(y))
    assert steps.max() < 0.05  # a 440 Hz tone at 0.25 moves at most 0.0144 per sample; no click
    assert np.all(y[-BLOCK:] == 0.0)
    assert eng.master == 0.0


def test_events_from_other_threads_and_a_held_lock_never_block_the_callback():
    eng, drv = make()
    done = threading.Event()

    def hold_lock():
        with eng._lock:
            done.wait(5)

    holder = threading.Thread(target=hold_lock)
    holder.start()
    try:
        senders = [threading.Thread(target=lambda m=m: [eng.note_on(m) for _ in range(50)]) for m in (60, 64, 67)]
        for t in senders:
            t.start()
        for t in senders:
            t.join()
        drv.blocks(5)  # would hang if the callback took the lock
        assert eng.stats().notes == 150
    finally:
        done.set()
        holder.join()


@pytest.mark.parametrize("room", [0.0, 0.5])
def test_no_allocation_in_steady_state(room):
    # Neither growth nor transient buffers: a single block-sized array (2 kB) would show in the peak.
    eng, drv = make(engine="ab", q=0.999)
    eng.set_room(room)
    for _ in range(50):  # warm up: every path once
        eng.note_on(60)
        eng.note_on(67)
        drv.blocks(4)
        eng.note_off(60)
    ours = [tracemalloc.Filter(True, "*/iirnn_core/*")]  # not another thread's (a CI machine runs some)
    tracemalloc.start()
    try:
        worst_peak = 0
        before = tracemalloc.take_snapshot().filter_traces(ours)
        for _ in range(20):
            eng.note_on(64)
            eng.note_off(67)
            eng.note_on(67)
            current, _ = tracemalloc.get_traced_memory()
            tracemalloc.reset_peak()
            for _ in range(25):
                drv.block_in_place()
            _, peak = tracemalloc.get_traced_memory()
            worst_peak = max(worst_peak, peak - current)
        after = tracemalloc.take_snapshot().filter_traces(ours)
        growth = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    finally:
        tracemalloc.stop()
    assert worst_peak < 1536
    assert growth < 1024  # what the engine's own code kept of what it allocated in 500 blocks


def test_bad_note_arguments():
    eng, _ = make()
    with pytest.raises(ValueError):
        eng.note_on(128)
    with pytest.raises(SettingError):
        eng.note_on(60, float("nan"))
    with pytest.raises(SettingError):
        eng.set_master(float("nan"))


def test_scope_holds_the_newest_mono_samples():
    eng, drv = make(rate=48000.0, q=0.999)
    eng.note_on(69)
    y = drv.blocks(4)
    scope = np.zeros(300)
    assert eng.read_scope(scope) == 300
    np.testing.assert_allclose(scope, y[-300:].mean(axis=1), atol=1e-6)


@pytest.mark.parametrize("engine", ["iir", "rnn-analytic", "ab"])
def test_the_callback_plays_what_iirnn_render_renders_sample_for_sample(engine):
    from iirnn_core.synth.renderer import render_notes

    settings = SynthSettings(q=0.999, drive=0.3, channels=2)
    eng = AudioEngine(AudioConfig(samplerate=8000, blocksize=BLOCK), settings, engine)  # device rate = model rate
    drv = Driver(eng)
    drv.clock.t += 0.5  # any time; the key is struck at the start of the next block
    eng.note_on(69, when=drv.clock.t - BLOCK / 8000)
    played = np.concatenate([drv.block_at(8000) for _ in range(20)])
    expected = render_notes(engine, ["A4"], settings, 20 * BLOCK / 8000)
    lookahead = eng.processor.master.lookahead  # the callback's limiter delays; iirnn render compensates
    assert lookahead == 4 and np.all(played[:lookahead] == 0.0)
    assert np.abs(played).max() > 0.05
    np.testing.assert_array_equal(played[lookahead:], expected[:-lookahead].astype(np.float32))  # one library
