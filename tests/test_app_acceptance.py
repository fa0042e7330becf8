"""Acceptance: under a virtual display with a real sound server, typing ``q z e`` into the running
window sounds C5, C4 and E5.

The real program (``python -m app``) runs on Xvfb and plays through each sound server (PulseAudio, then
PipeWire; its null sink on a machine without a sound card); ``xdotool`` types the keys as a person would,
``parec`` records the tests' own sink, where only the window plays, and the pitch of each note is read from its
spectrum. Skips only when Xvfb, xdotool or the PulseAudio tools are not installed (CI installs them).
"""

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import pulse
from iirnn_core.dsp.notes import note_to_hz

TOOLS = ("Xvfb", "xdotool", "parec", "pactl", "pulseaudio")
pytestmark = pytest.mark.skipif(any(shutil.which(t) is None for t in TOOLS),
                                reason="needs Xvfb, xdotool and PulseAudio (pulseaudio, pactl, parec)")

REPO = Path(__file__).resolve().parent.parent
RATE = 48000
KEYS = (("q", "C5"), ("z", "C4"), ("e", "E5"))
GAP = 0.7
"""Seconds between key presses (a note at Q 0.995 and 8 kHz decays by 60 dB in 0.17 s)."""


def _wait_for(check, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")


def _run(*args, env=None) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, timeout=30, env=env)


def stream_of(pid: int) -> str | None:
    """Index of the PulseAudio playback stream (sink input) of process ``pid``, else the PipeWire node it plays
    through (on PipeWire's JACK path it has no sink input: :func:`pulse.pipewire_node_of`), or None.

    Reads ``pactl list sink-inputs`` as text (its JSON form needs pactl 16)."""
    index = None
    for line in _run("pactl", "list", "sink-inputs", env=dict(os.environ, LC_ALL="C")).stdout.splitlines():
        line = line.strip()
        if line.startswith("Sink Input #"):
            index = line.removeprefix("Sink Input #")
        elif line == f'application.process.id = "{pid}"' and index is not None:
            return index
    node = pulse.pipewire_node_of(pid)
    return None if node is None else f"node {node}"


def steady_stream_of(pid: int, checks: int = 3, interval: float = 0.7) -> str | None:
    """The window's stream index once it stays the same over ``checks`` looks ``interval`` s apart (a fresh
    stream on ALSA's pulse plugin can stall and be replaced in its first seconds), else None."""
    first = stream_of(pid)
    for _ in range(checks - 1):
        time.sleep(interval)
        if first is None or stream_of(pid) != first:
            return None
    return first


@pytest.fixture
def display():
    """A fresh Xvfb display (it picks a free number and tells it through a pipe)."""
    read_fd, write_fd = os.pipe()
    server = subprocess.Popen(["Xvfb", "-displayfd", str(write_fd), "-screen", "0", "1600x1000x24", "-nolisten", "tcp"],
                              pass_fds=(write_fd,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write_fd)
    with os.fdopen(read_fd) as pipe:
        number = pipe.readline().strip()
    assert number, "Xvfb did not start"
    yield f":{number}"
    server.terminate()
    server.wait(timeout=10)


def note_pitches(samples: np.ndarray, rate: int) -> list[float]:
    """Pitch (Hz) of each note in a recording: onsets from the 10 ms envelope, pitch from the spectrum's peak."""
    hop = rate // 100
    frames = len(samples) // hop
    envelope = np.abs(samples[:frames * hop]).reshape(frames, hop).max(axis=1)
    threshold = 0.2 * envelope.max()
    onsets = [i for i in range(1, frames) if envelope[i] > threshold >= envelope[i - 1]]
    pitches = []
    for onset in onsets:
        segment = samples[onset * hop:onset * hop + int(0.15 * rate)]
        spectrum = np.abs(np.fft.rfft(segment * np.hanning(len(segment)), 1 << 16))
        pitches.append(float(np.fft.rfftfreq(1 << 16, 1.0 / rate)[np.argmax(spectrum)]))
    return pitches


def test_typing_q_z_e_sounds_c5_c4_e5(pulse_server, display, tmp_path):
    env = dict(os.environ, DISPLAY=display, QT_QPA_PLATFORM="xcb")
    log = tmp_path / "app.log"
    with open(log, "w") as out:  # a file, not a pipe: a full pipe would block the program
        app = subprocess.Popen([sys.executable, "-m", "app", "--settings", str(tmp_path / "settings.ini")],
                               cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
    recording = tmp_path / "recording.raw"
    try:
        window = _wait_for(lambda: _run("xdotool", "search", "--name", "^iirnn-synth$", env=env).stdout.split(),
                           90, "the window")[0]
        _wait_for(lambda: steady_stream_of(app.pid), 60, "the window's audio stream to run steadily")
        with open(recording, "wb") as out:
            # the tests' own sink, where only this process and its children play (PULSE_SINK): the window's sound
            # even when the sound server's client remakes its stream after an underrun (a new stream index, which
            # a --monitor-stream recording would miss: silence, seen once on a busy virtual machine); in 20 ms
            # fragments, so that all of it is written when parec ends (pipewire-pulse's default is seconds long)
            recorder = subprocess.Popen(["parec", f"--device={pulse_server}.monitor", "--format=s16le", f"--rate={RATE}",
                                         "--channels=1", "--raw", "--latency-msec=20"],
                                        stdout=out, stderr=subprocess.PIPE, text=True)
            try:
                assert _run("xdotool", "windowfocus", "--sync", window, env=env).returncode == 0
                _wait_for(lambda: _run("xdotool", "getwindowfocus", env=env).stdout.strip() == window, 10,
                          "the keyboard focus")
                time.sleep(1.0)  # the recorder and the window settle before the first key
                for char, _ in KEYS:
                    assert _run("xdotool", "key", char, env=env).returncode == 0
                    time.sleep(GAP)
                time.sleep(0.3)
            finally:
                recorder.terminate()
                recorder.wait(timeout=10)
        _run("xdotool", "key", "ctrl+q", env=env)  # File > Quit, as a person would (the window has focus)
        assert app.wait(timeout=30) == 0, log.read_text()[-2000:]  # a clean exit, no crash on the way out
    finally:
        if app.poll() is None:
            app.kill()
            app.wait(timeout=10)
    samples = np.fromfile(recording, dtype=np.int16).astype(np.float64) / 32768.0
    assert samples.size > RATE and np.max(np.abs(samples)) > 0.01, "nothing was heard"
    pitches = note_pitches(samples, RATE)
    wanted = [note_to_hz(note) for _, note in KEYS]
    said = recorder.stderr.read().strip()
    assert len(pitches) == len(wanted), f"heard {len(pitches)} notes at {pitches} Hz (parec: {said or 'nothing'})"
    for heard, want in zip(pitches, wanted):
        assert abs(heard / want - 1.0) < 0.01, f"heard {pitches} Hz, wanted {wanted} Hz"
