"""Recording on a real device: `iirnn play --record` on a PulseAudio null sink of the tests' own, compared with
what the sink's monitor heard."""

import json
import time

import numpy as np
import soundfile

import pulse
from rt_probe import Dropout, on_a_steady_machine
from iirnn_core import cli

RATE = 48000
ARGS = ["play", "--engine", "iir", "--notes", "A4", "E5", "--gap", "0.6", "--seconds", "1.5", "--json",
        "--latency", "0.1"]
"""A 100 ms host buffer: this checks what is recorded, not latency, and a virtual machine's host can take
the CPUs for tens of milliseconds (see the engine fixture of tests/test_audio_device.py)."""


def pitch(x):
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x)), 1 << 19))
    return np.argmax(spectrum) * RATE / (1 << 19)


def onsets(x, threshold=0.01, gap=0.3):
    """Samples where x first exceeds ``threshold`` after at least ``gap`` s below it (each note's start)."""
    loud = np.flatnonzero(np.abs(x) > threshold)
    return [int(loud[0])] + [int(b) for a, b in zip(loud[:-1], loud[1:]) if b - a > gap * RATE] if loud.size else []


def play_and_record(path, sink, capsys):
    """Run `iirnn play ... --record path` while recording the sink's monitor, once. The file and what the monitor
    heard are compared on a whole take, so a take the device underran in (the engine counts it) is a
    :class:`Dropout` (taken again only beside a machine stall: on_a_steady_machine)."""
    start = time.perf_counter()
    with pulse.record_monitor(sink, RATE) as take:
        assert cli.main([*ARGS, "--record", str(path)]) == 0
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    if report["underruns_timestamps"] or report["underruns_wallclock"]:
        raise Dropout(f"the device underran: {report['underruns_timestamps']} / {report['underruns_wallclock']} "
                      "(timestamps / wall clock)", start, time.perf_counter())
    return report, captured.err, take[0]


@on_a_steady_machine()
def test_play_record_writes_what_the_device_played(pulse_server, tmp_path, capsys):
    path = tmp_path / "r.wav"
    report, err, monitor = play_and_record(path, pulse_server, capsys)
    assert report["null_output"] is False and report["notes"] == 3
    info = soundfile.info(path)
    assert (info.samplerate, info.channels, info.subtype) == (RATE, 2, "FLOAT")
    assert info.duration >= 1.4, f"{info.duration:.3f} s"
    assert f"{info.frames} frames, {RATE} Hz" in err
    y, _ = soundfile.read(path, dtype="float32")
    x = y[:, 0].astype(np.float64)
    spectrum = np.abs(np.fft.rfft(x, 1 << 20))
    hz = np.fft.rfftfreq(1 << 20, 1 / RATE)
    for want in (440.0, 659.26):  # A4 and E5 both sound, each as one of the loudest peaks
        band = (hz > 0.9 * want) & (hz < 1.1 * want)
        peak = hz[band][np.argmax(spectrum[band])]
        assert abs(peak / want - 1) < 0.01 and spectrum[band].max() > 0.3 * spectrum.max(), f"{want} Hz: {peak:.1f}"
    starts = onsets(x)
    assert len(starts) == 3, f"onsets at {[s / RATE for s in starts]} s"
    # keys are struck by a sleeping Python loop and land where the callback is when they arrive; with a
    # 100 ms buffer the sound server asks for blocks in bursts, so a key lands up to a burst late
    assert all(abs((b - a) / RATE - 0.6) < 0.06 for a, b in zip(starts, starts[1:])), starts
    for start, want in zip(starts, (440.0, 659.26, 440.0)):
        assert abs(pitch(x[start:start + RATE // 8]) / want - 1) < 0.01
    # The sink's monitor heard the same, sample by sample: every 10 ms of sound in the file is found in the
    # monitor near where its note started there. (Searched chunk by chunk, near each note's onset in each.)
    m = monitor[:, 0].astype(np.float64)
    heard = onsets(m)
    assert len(heard) == len(starts), f"onsets at {[s / RATE for s in starts]} s in the file, " \
                                      f"at {[s / RATE for s in heard]} s in the monitor"
    results = [chunk_found(x[c:c + CHUNK], m, c - start + at)
               for start, at in zip(starts, heard)
               for c in range(max(0, start - 50), min(start + RATE // 2, len(x) - CHUNK), CHUNK)
               if np.abs(x[c:c + CHUNK]).max() > 1e-3]
    found = [db for db in results if db < -40]
    assert len(results) >= 10 * len(starts) and len(found) >= 0.9 * len(results), \
        f"{len(found)} of {len(results)} chunks found in the monitor; differences (dB): {np.round(results, 1)}"


CHUNK = RATE // 100


def chunk_found(chunk, monitor, near, search=RATE // 20):
    """The smallest difference (dB below the chunk) between ``chunk`` and the monitor at any lag within
    ``search`` frames of ``near``."""
    lo, hi = max(0, near - search), min(len(monitor) - len(chunk), near + search)
    energy = np.dot(chunk, chunk)
    windows = np.lib.stride_tricks.sliding_window_view(monitor[lo:hi + len(chunk)], len(chunk))
    best = np.min(np.sum((windows - chunk) ** 2, axis=1))
    return 10 * np.log10(max(best, 1e-30) / energy)  # (0 where the monitor holds the very samples)
