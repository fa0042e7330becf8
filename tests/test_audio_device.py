"""On a real device: a PulseAudio null sink of the tests' own, recorded from its monitor while the engine plays A4."""

import glob
import json
import os
import time

import numpy as np
import pytest

import pulse
from rt_probe import Dropout, on_a_steady_machine
from iirnn_core import cli
from iirnn_core.audio import sound_server
from iirnn_core.audio.engine import AudioConfig, AudioEngine, list_output_devices
from iirnn_core.audio.cpu_wakeup import AWAKE_US, PATH, kernel_limit_us
from iirnn_core.synth.renderer import ENGINES, SynthSettings, render_notes

RATE = 48000


@pytest.fixture(scope="module")
def engine(pulse_server):
    """An engine with a 100 ms host buffer. These tests check what is played, not latency (benchmarks
    measure that), and a virtual machine's host can take the CPUs for tens of milliseconds (measured
    here: a SCHED_FIFO thread woken up to 41 ms late, 12-30 % CPU steal): a 5 ms buffer then empties
    whatever the audio code does. 100 ms is still far shorter than the 300 ms the GIL test holds it."""
    eng = AudioEngine(AudioConfig(samplerate=RATE, blocksize=128, latency=0.1), SynthSettings(q=0.999, drive=0.3),
                      "iir")
    eng.start()
    yield eng
    eng.close()


def trained_model():
    """The shipped trained model if it exists yet, else a stand-in holding A4's analytic weights (H = 4)."""
    from iirnn_core.models import modelfile
    from iirnn_core.training.network import analytic_weights
    from iirnn_core.dsp.resonator import resonator

    if modelfile.DEFAULT_MODEL_PATH.is_file():
        return modelfile.load_model(modelfile.DEFAULT_MODEL_PATH)
    weights = analytic_weights(resonator(440.0, 0.995, 8000.0), hidden=4, drive=0.3)
    key = modelfile.KeyModel("A4", 440.0, weights, 0.0)
    return modelfile.TrainedModel(8000.0, 0.995, 0.6, 0.1, 4, 1.0, "none", "analytic", 0, 0.0, 0, {"A4": key})


def record_a4(engine, sink, seconds=0.6):
    """Record A4 from the sink's monitor, once: pitch and level are judged on a whole take, so a take with a gap
    heard in it is a :class:`Dropout` (taken again only beside a machine stall: on_a_steady_machine). Heard, not
    counted by the engine: on PipeWire a client joining the graph (parec) may change its quantum, which the
    engine's clocks count as a dropout that the 100 ms buffer hides."""
    start = time.perf_counter()
    with pulse.record_monitor(sink, RATE) as take:
        engine.note_on(69, 1.0)
        time.sleep(seconds)
    x = take[0][:, 0]
    first = pulse.first_sound(x)
    if first is not None:
        last = int(np.flatnonzero(np.abs(x) > 1e-4)[-1])  # where the note has decayed to -60 dB of its peak
        gaps = pulse.silences(x, first, last, RATE)
        if gaps:
            raise Dropout(f"the take has {len(gaps)} gap(s) heard: {gaps}; {engine.stats()}", start,
                          time.perf_counter())
    return take[0]


def check_no_underrun(engine, before, start):
    """A :class:`Dropout` (from ``start``, s of ``time.perf_counter``, to now) if the engine counted an underrun
    since it counted ``before``."""
    stats = engine.stats()
    if stats.underruns_timestamps != before:
        raise Dropout(f"the stream underran {stats.underruns_timestamps - before} time(s): {stats}", start,
                      time.perf_counter())


def pitch(signal):
    spec = np.abs(np.fft.rfft(signal * np.hanning(len(signal)), 1 << 19))
    return np.argmax(spec) * RATE / (1 << 19)


def test_devices_are_listed(pulse_server, capsys):
    names = list_output_devices()
    assert "pulse" in names or "default" in names
    assert cli.main(["devices"]) == 0
    assert "default" in capsys.readouterr().out


@pytest.mark.parametrize("name", ENGINES)
@on_a_steady_machine()
def test_a4_through_each_engine_has_its_pitch_and_level(engine, pulse_server, name):
    assert not engine.is_null_output, engine.status_line
    model = trained_model() if name in ("rnn-trained", "ab") else None
    settings = SynthSettings(q=model.q if model else 0.999, drive=0.3, channels=2,
                             ab_twin="rnn-trained" if name == "ab" else "rnn-analytic")
    engine.set_settings(settings)
    if model is not None:
        engine.set_model(model)
    engine.set_engine(name)
    recorded = record_a4(engine, pulse_server)
    expected = render_notes(name, ["A4"], settings, 0.6, model)  # the same renderer, offline, at 8 kHz
    sides = (0, 1)
    for ch in sides:
        x = recorded[:, ch].astype(np.float64)
        assert x.size > RATE // 2, f"the recording holds {x.size} frames"
        start = np.argmax(np.abs(x) > 0.01)
        assert start > 0, f"channel {ch} is silent (peak {np.abs(x).max():.2g}; {engine.stats()})"
        segment = x[start:start + RATE // 8]
        assert abs(pitch(segment) - 440.0) < 3.0, f"channel {ch}: pitch {pitch(segment):.1f} Hz"
        peak_db = 20 * np.log10(np.abs(x).max() / np.abs(expected[:, ch]).max())
        assert abs(peak_db) < 1.5, f"channel {ch}: {peak_db:.2f} dB from the offline render"
    stats = engine.stats()
    assert stats.device_name in ("default", "pulse") and stats.callbacks > 0


@on_a_steady_machine()
def test_ab_puts_the_iir_left_and_the_twin_right(engine, pulse_server):
    engine.set_settings(SynthSettings(q=0.999, drive=3.0, channels=2))
    engine.set_engine("ab")
    recorded = record_a4(engine, pulse_server, 0.4)
    left, right = recorded[:, 0], recorded[:, 1]
    assert np.abs(left).max() > 0.1 and np.abs(right).max() > 0.05, \
        f"peaks: left {np.abs(left).max():.2g}, right {np.abs(right).max():.2g}; {engine.stats()}"
    assert np.abs(left - right).max() > 0.05  # drive 3 saturates the twin: the sides differ


def test_cli_play_reports_json(pulse_server, sound_server_kind, capsys):
    code = cli.main(["play", "--engine", "rnn-analytic", "--notes", "A4", "C5", "--gap", "0.1",
                     "--seconds", "0.6", "--json"])
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert report["null_output"] is False
    # the path to each server: on PipeWire a client of its graph (where pipewire-jack is installed, as ./run does)
    graph = glob.glob(sound_server.PIPEWIRE_JACK_LIBRARIES)
    assert report["audio_path"] == {"pulseaudio": "PulseAudio",
                                    "pipewire": "PipeWire's graph (JACK)" if graph else "pipewire-pulse"}[sound_server_kind]
    assert report["notes"] == 6
    for key in ("underruns_timestamps", "underruns_wallclock", "callback_load_mean", "callback_load_max",
                "latency_ms_median"):
        assert report[key] is not None
    assert 0 < report["latency_ms_median"] < 100
    if os.access(PATH, os.W_OK):
        assert report["cpu_wakeup"] == "awake"
    else:  # not root, no udev rule, or no such device (a container)
        assert report["cpu_wakeup"].startswith("refused: ")
    assert cli.main(["play", "--notes", "A4", "--seconds", "0.3", "--cpus-may-sleep"]) == 0
    assert capsys.readouterr().out.strip().endswith("CPU wake-up request: off")


def test_reopen_rolls_back_and_recovers_from_a_lost_device(pulse_server):
    eng = AudioEngine(AudioConfig(device="no such device"), SynthSettings(q=0.999))
    eng.start()
    try:
        assert eng.is_null_output
        assert eng.reopen(AudioConfig(samplerate=44100)) is True  # a device appeared: use it
        assert not eng.is_null_output and eng.stats().samplerate == 44100
        assert eng.reopen(AudioConfig(device="no such device")) is False  # rolled back
        assert not eng.is_null_output and eng.status_line.startswith("Could not open no such device")
        eng.set_settings(SynthSettings(q=0.9999))  # A4 rings for seconds (T60 8.6 s)
        eng.note_on(69)
        time.sleep(0.1)
        priority = eng.supervisor.priority
        eng.supervisor.output.abort()  # the device stops under the engine (as when unplugged)
        deadline = time.monotonic() + 3
        while not eng.is_null_output and time.monotonic() < deadline:
            time.sleep(0.01)
        assert eng.is_null_output and "stopped" in eng.status_line
        assert eng.processor.active_voices() == 1  # the note lives in the engine, not the stream: it rings on
        deadline = time.monotonic() + 3
        while eng.is_null_output and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not eng.is_null_output, "the device did not come back by itself"
        assert "back on" in eng.status_line and eng.supervisor.events[-2].startswith("lost ")
        assert eng.processor.active_voices() == 1  # and still rings on the device
        assert eng.supervisor.priority == priority  # the new stream's callback thread was raised as the first
        eng.note_on(72)
        time.sleep(0.2)
        assert eng.stats().notes == 1  # counted since the device came back
    finally:
        eng.close()


@on_a_steady_machine()
def test_a_thread_holding_the_gil_for_300_ms_leaves_no_gap(engine, pulse_server):
    """The callback is compiled code that never takes the GIL: a Python thread that holds it for 300 ms
    while a long note plays leaves the recording without a gap (the 100 ms buffer is far shorter)."""
    import threading

    from numba import njit

    from iirnn_core.rt.atomics import monotonic_seconds

    @njit(nogil=False)  # holds the GIL for the whole call
    def hold_the_gil(seconds):
        end = monotonic_seconds() + seconds
        while monotonic_seconds() < end:
            pass

    hold_the_gil(0.001)  # compiled before the recording
    engine.set_settings(SynthSettings(q=0.9999, channels=2))  # A4 rings for seconds (T60 8.6 s)
    engine.set_engine("iir")

    ticks = []
    ticker_stop = threading.Event()

    def ticker():  # a Python thread that would run every millisecond if it could get the GIL
        while not ticker_stop.wait(0.001):
            ticks.append(time.perf_counter())

    before, start = engine.stats().underruns_timestamps, time.perf_counter()
    with pulse.record_monitor(pulse_server, RATE) as take:
        heard_from = time.perf_counter()  # (about) when take[0][0] was heard
        engine.note_on(69, 1.0)
        time.sleep(0.2)
        tick_thread = threading.Thread(target=ticker)
        tick_thread.start()
        time.sleep(0.05)
        hold_the_gil(0.3)
        time.sleep(0.3)
        ticker_stop.set()
        tick_thread.join()
    engine.panic()
    assert np.diff(ticks).max() > 0.25, "the GIL was not held"  # no Python thread ran meanwhile
    x = take[0][:, 0].astype(np.float64)
    onset = int(np.argmax(np.abs(x) > 0.01))
    assert onset > 0, "nothing was heard"
    body = x[onset + RATE // 100:onset + int(0.75 * RATE)]
    hop = RATE // 200  # 5 ms windows: a dropout of 5 ms or more empties at least one
    peaks = np.abs(body[:len(body) // hop * hop]).reshape(-1, hop).max(axis=1)
    if peaks.min() <= 0.5 * peaks.max():
        # heard at this moment; the stall that emptied the 100 ms buffer came up to that much before it
        gap = heard_from + (onset + RATE // 100 + hop * int(np.argmin(peaks))) / RATE
        raise Dropout(f"a gap: 5 ms peaks fell to {peaks.min() / peaks.max():.2f} of the top", gap - 0.1, gap)
    check_no_underrun(engine, before, start)


@pytest.mark.skipif(not os.access(PATH, os.W_OK), reason=f"{PATH} is not writable here (not root, no udev rule)")
def test_the_cpus_stay_awake_while_notes_sound_on_a_device_and_only_if_asked(pulse_server):
    with AudioEngine(AudioConfig(samplerate=RATE, latency=0.1), SynthSettings(q=0.999), "iir") as eng:
        assert not eng.is_null_output
        assert eng.stats().cpu_wakeup in ("may sleep", "awake")   # the module's engine may hold it too
        eng.note_on(69)
        assert eng.stats().cpu_wakeup == "awake" and kernel_limit_us() == AWAKE_US
    assert eng.stats().cpu_wakeup == "off"
    with AudioEngine(AudioConfig(samplerate=RATE, latency=0.1, cpus_awake=False), SynthSettings(q=0.999),
                     "iir") as eng:
        eng.note_on(69)
        assert eng.stats().cpu_wakeup == "off"


def test_no_device_asks_nothing_of_the_cpus():
    with AudioEngine(AudioConfig(device="no such device"), SynthSettings(q=0.999)) as eng:
        eng.note_on(69)
        assert eng.is_null_output and eng.stats().cpu_wakeup == "off"
