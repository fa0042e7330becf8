"""A real sound server for the device tests: PulseAudio with its null sink ``auto_null``.

:func:`start_server` starts ``pulseaudio`` in the foreground (so we own its process and stop
it by id) unless a server already answers ``pactl info``; as root (CI) it retries in system
mode if the per-user server will not come up. PortAudio reaches the server through ALSA's
pulse plugin as devices ``pulse`` / ``default``. :func:`record_monitor` records what the
null sink plays from ``auto_null.monitor`` with ``parec``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import time

import numpy as np

MONITOR = "auto_null.monitor"


def server_running() -> bool:
    """True if a PulseAudio server answers."""
    if shutil.which("pactl") is None:
        return False
    try:
        return subprocess.run(["pactl", "info"], capture_output=True, timeout=5).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def _wait_for_server(proc: subprocess.Popen, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server_running():
            return True
        if proc.poll() is not None:
            return False
        time.sleep(0.1)
    return False


def start_server() -> subprocess.Popen | None:
    """Start PulseAudio if none runs; returns our process (None if one was running). Raises RuntimeError."""
    if server_running():
        return None
    if shutil.which("pulseaudio") is None:
        raise RuntimeError("pulseaudio is not installed (the packages are listed in .ci/run)")
    common = ["--daemonize=no", "--exit-idle-time=-1", "--disallow-exit", "--log-target=stderr", "--log-level=error"]
    attempts = [(["pulseaudio", *common], {})]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        attempts.append((["pulseaudio", "--system", "--disallow-module-loading=no", *common],
                         {"PULSE_SERVER": "unix:/var/run/pulse/native"}))
    errors = []
    for argv, env in attempts:
        os.environ.update(env)
        log = tempfile.TemporaryFile()
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
        if _wait_for_server(proc, 10.0):
            return proc
        stop_server(proc)
        log.seek(0)
        errors.append(log.read().decode(errors="replace").strip().splitlines()[-1:] or ["no output"])
        for key in env:
            os.environ.pop(key, None)
    raise RuntimeError(f"could not start pulseaudio: {errors}")


def stop_server(proc: subprocess.Popen | None) -> None:
    """Stop a server :func:`start_server` started (by its process id)."""
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


@contextlib.contextmanager
def record_monitor(rate: int = 48000, channels: int = 2):
    """Record the null sink while the block runs; yields a list that then holds one array (frames, channels)."""
    result: list[np.ndarray] = []
    with tempfile.NamedTemporaryFile(suffix=".raw") as raw:
        proc = subprocess.Popen(["parec", f"--device={MONITOR}", "--format=float32le", f"--rate={rate}",
                                 f"--channels={channels}", "--latency-msec=20"],
                                stdin=subprocess.DEVNULL, stdout=raw, stderr=subprocess.DEVNULL)
        try:
            time.sleep(0.3)  # parec connects
            yield result
            time.sleep(0.1)
        finally:
            proc.terminate()
            proc.wait(timeout=5)
        data = np.fromfile(raw.name, dtype=np.float32)
    result.append(data[: len(data) // channels * channels].reshape(-1, channels))
