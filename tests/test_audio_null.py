"""No device: the paced null output, the engine's fallback and its one status line."""

import time

import numpy as np

from iirnn_core.audio.engine import AudioConfig, AudioEngine
from iirnn_core.audio.null_output import NullOutput
from iirnn_core.synth.renderer import SynthSettings


def test_null_output_paces_callbacks_at_the_block_rate():
    calls = []

    def callback(outdata, frames, info, status):
        calls.append((time.perf_counter(), info.outputBufferDacTime, frames, outdata.shape, bool(status)))

    out = NullOutput(callback, 48000, 480, 2)  # 10 ms blocks
    out.start()
    time.sleep(0.5)
    out.stop()
    assert not out.active
    assert 40 <= len(calls) <= 55
    stamps = np.array([c[1] for c in calls])
    on_time = np.abs(np.diff(stamps) - 0.01) < 1e-9  # DAC times one period apart (unless the thread was late)
    assert on_time.mean() > 0.8
    assert all(c[2] == 480 and c[3] == (480, 2) and not c[4] for c in calls)
    entry = np.array([c[0] for c in calls])
    assert abs((entry[-1] - entry[0]) / (len(entry) - 1) - 0.01) < 0.002  # no drift


def test_engine_without_a_device_runs_on_the_null_output():
    eng = AudioEngine(AudioConfig(device="no such device anywhere"), SynthSettings(q=0.999), "ab")
    eng.start()
    try:
        assert eng.is_null_output
        assert eng.status_line.startswith("No audio device: ")
        assert "\n" not in eng.status_line
        time.sleep(0.2)
        for _ in range(10):
            eng.note_on(69)
            time.sleep(0.03)
        deadline = time.monotonic() + 5.0
        while eng.stats().notes < 10 and time.monotonic() < deadline:  # the paced thread may run late
            time.sleep(0.01)
        time.sleep(0.05)  # the last note is then within the newest 100 ms
        scope = np.zeros(4800)
        assert eng.read_scope(scope) == 4800
        assert np.abs(scope).max() > 0.05  # the notes still play (into the scope)
        stats = eng.stats()
        assert stats.null_output and stats.notes == 10 and stats.callbacks > 50
        # about one block period plus the null output's one block of "buffer" plus the resampler's 1 ms
        assert 1.0 < stats.latency_ms_median < 20.0
    finally:
        eng.close()
    assert eng.status_line == "Audio is closed."
