"""Faults made on purpose: the sound server killed and restarted, its sink unloaded and loaded again, the default
sink changed, a server that stays away for 30 s. The output follows the device by itself (the supervisor of
:mod:`iirnn_core.audio.supervisor`), says what happened in one line, and no library prints on the terminal.

Each test plays into a sound server of its own, PulseAudio and then PipeWire (:class:`pulse.PrivateServer`,
:class:`pulse.PrivatePipeWire`), records what its sink plays from the monitor, and finds when the sound came back
on the server's clock (``time.monotonic``).
"""

import os
import subprocess
import sys
import time

import numpy as np
import pytest

import pulse
from test_app_window import make_window, model_path, trainer  # noqa: F401 - the window fixtures

PLAY = [sys.executable, "-m", "iirnn_core.cli", "play", "--engine", "iir", "--notes", "C4..C6", "--gap", "0.1"]
BACK_WITHIN = 3.0
"""Seconds from the server (or sink) answering again to the first sound on its monitor."""
LEVEL = 0.01
"""A sample louder than this is a key heard (the notes peak near 0.1)."""


def first_sound_after(recording: np.ndarray, started: float) -> float | None:
    """``time.monotonic()`` of the first key heard in ``recording`` (frames, channels), whose first sample was taken
    at ``started``; None if it is silent."""
    index = pulse.first_sound(recording[:, 0], LEVEL)
    return None if index is None else started + index / 48000


def play(server: pulse.PrivateServer, seconds: float, env: dict | None = None) -> subprocess.Popen:
    """``iirnn play`` of C4..C6, a note every 0.1 s for ``seconds``, into ``server`` (its own process)."""
    return subprocess.Popen([*PLAY, "--seconds", str(seconds)], env=server.client_environ(env),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def heard_before(server: pulse.PrivateServer, seconds: float) -> bool:
    """Record the sink for ``seconds`` and say whether keys were heard (the player had started)."""
    with server.record(connect_timeout=8.0) as rec:
        time.sleep(seconds)
    return first_sound_after(rec[0], 0.0) is not None


def finish(child: subprocess.Popen) -> tuple[str, list[str]]:
    """Wait for ``iirnn play``; its stdout and its stderr lines. Every stderr line comes from the project."""
    out, err = child.communicate(timeout=60)
    lines = [line for line in err.splitlines() if line.strip()]
    assert child.returncode == 0, err
    assert all(line.startswith("iirnn: ") for line in lines), f"lines not from the project: {lines}"
    return out, lines


def test_server_killed_and_restarted_under_iirnn_play(private_pulse):
    """SIGKILL the server mid-phrase, start a new one 1.5 s later: the keys struck after it are heard on the new
    server's sink within 3 s of it answering, and ``iirnn play`` says when it lost the output and when it was back."""
    child = play(private_pulse, 9.0)
    assert heard_before(private_pulse, 3.0)
    private_pulse.kill()
    time.sleep(1.5)
    private_pulse.start()
    started: list[float] = []
    with private_pulse.record(started=started, connect_timeout=8.0) as rec:
        out, lines = finish(child)
    back = first_sound_after(rec[0], started[0])
    assert back is not None, "the sound never came back"
    assert back - private_pulse.started_at < BACK_WITHIN
    tail = rec[0][-int(1.0 * 48000):, 0]  # the keys go on to the end (the recording outlasts the exit by ~0.4 s)
    assert np.max(np.abs(tail)) > LEVEL
    said = " ".join(lines)
    assert "lost " in said and "back on " in said and " notes on default" in out


def test_sink_unloaded_and_loaded_again_under_iirnn_play(private_pulse):
    """The sink goes away (a device unplugged) and comes back: the music plays on it again within 3 s."""
    child = play(private_pulse, 8.0)
    assert heard_before(private_pulse, 3.0)
    private_pulse.unload_sink()
    time.sleep(1.5)
    private_pulse.load_sink()
    back_at = time.monotonic()
    started: list[float] = []
    with private_pulse.record(started=started, connect_timeout=8.0) as rec:
        out, lines = finish(child)
    back = first_sound_after(rec[0], started[0])
    assert back is not None and back - back_at < BACK_WITHIN
    said = " ".join(lines)
    if private_pulse.kind == "pulseaudio":  # it ends a stream whose sink goes: the output was lost and came back
        assert "back on " in said
    else:  # the graph client stays, unlinked, and the supervisor links it to the sink when it returns: nothing lost
        assert "lost " not in said or "back on " in said


def test_the_music_follows_a_new_default_sink(private_pulse):
    """The player chose the default device; the default changes to another sink: the music moves there."""
    other = "iirnn_fault_other"
    module = private_pulse.pactl("load-module", "module-null-sink", f"sink_name={other}", "norewinds=1")
    assert module.returncode == 0, module.stderr
    env = {k: v for k, v in private_pulse.env.items() if k != "PULSE_SINK"}  # the default device, as a user has it
    child = play(private_pulse, 6.0, env)
    assert heard_before(private_pulse, 3.0)
    assert private_pulse.pactl("set-default-sink", other).returncode == 0
    changed_at = time.monotonic()
    started: list[float] = []
    with private_pulse.record(other, started=started, connect_timeout=8.0) as rec:
        finish(child)
    back = first_sound_after(rec[0], started[0])
    assert back is not None and back - changed_at < BACK_WITHIN


def thread_cpu_seconds() -> dict[int, float]:
    """CPU seconds (user + system) each thread of this process has used, by kernel thread id."""
    tick = os.sysconf("SC_CLK_TCK")
    used = {}
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:  # the thread ended meanwhile
            continue
        used[int(tid)] = (int(fields[11]) + int(fields[12])) / tick
    return used


@pytest.mark.slow
def test_a_server_away_for_30_s_hangs_nothing_and_the_window_plays_again(make_window, private_pulse, monkeypatch,
                                                                         qtbot):
    """The window plays on the default device; the server dies and only comes back after 30 s. Meanwhile the window
    answers (its event loop never waits 0.3 s), keys still reach the engine, no thread spins (none uses a quarter of
    a core), and within 3 s of the server's return the status bar says it is back and the keys are heard."""
    from PySide6.QtCore import QTimer

    from app.main_window import audio_config
    from iirnn_core.audio.devices import refresh_devices

    for key, value in private_pulse.env.items():
        monkeypatch.setenv(key, value)
    refresh_devices()
    window = make_window(config_factory=audio_config)
    assert not window.engine.is_null_output
    assert heard_before(private_pulse, 0.5) is False  # nothing struck yet: the recording itself is clean
    gaps, last = [], [time.perf_counter()]

    def tick():
        now = time.perf_counter()
        gaps.append(now - last[0])
        last[0] = now

    ticker = QTimer()
    ticker.timeout.connect(tick)
    ticker.start(10)
    private_pulse.kill()
    qtbot.waitUntil(lambda: "Lost " in window.statusBar().currentMessage(), timeout=3000)
    assert window.engine.is_null_output
    before, away_from = thread_cpu_seconds(), time.perf_counter()
    struck = 0
    while time.perf_counter() - away_from < 30.0:
        window.note_on(60 + struck % 12, 100)
        struck += 1
        qtbot.wait(500)
    used, away = thread_cpu_seconds(), time.perf_counter() - away_from
    ticker.stop()
    assert struck >= 50 and max(gaps) < 0.3, f"the event loop waited {max(gaps):.2f} s"
    spinning = {tid: (used[tid] - before.get(tid, 0.0)) / away for tid in used}
    assert max(spinning.values()) < 0.25, f"threads busy for a whole outage: {spinning}"
    private_pulse.start()
    qtbot.waitUntil(lambda: "back on" in window.statusBar().currentMessage(), timeout=int(BACK_WITHIN * 1000))
    back_in = time.monotonic() - private_pulse.started_at
    started: list[float] = []
    with private_pulse.record(started=started, connect_timeout=8.0) as rec:
        window.note_on(69, 100)
        qtbot.wait(300)
    assert first_sound_after(rec[0], started[0]) is not None, "the status bar says back, but nothing is heard"
    assert back_in < BACK_WITHIN
