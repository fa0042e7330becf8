"""Which sound server plays, and the paths to it: ALSA's pulse plugin, or PipeWire's own JACK library.

On PulseAudio, PortAudio's ALSA host API through ALSA's pulse plugin gives about 9.5 ms from key
to sound at the default settings. On PipeWire the same path goes through ``pipewire-pulse``, whose
emulation of PulseAudio's buffering adds about 16 ms and 12 ms of jitter, whatever latency the
stream asks for. Pro-audio programs on PipeWire use its JACK library instead (``pipewire-jack``,
what ``pw-jack`` puts first on the library path): a client of the graph itself, called once per
quantum, with the quantum the client asks for (``PIPEWIRE_LATENCY=frames/rate``); through it the
synth measures about 6 ms.

That path is not the default yet: PortAudio's JACK host API does not survive the server going
away (a stream stopped after a PipeWire restart waits 10 minutes, then asserts; PortAudio issue
#820), and the output must come back by itself when the server does. So it is chosen with
``IIRNN_AUDIO_PATH=pipewire-jack``; :func:`prepare` (called by the entry points before anything
loads PortAudio or libjack, and by :mod:`iirnn_core.audio.devices` before its first PortAudio
call) then loads PipeWire's ``libjack.so.0`` into the process (``RTLD_GLOBAL``) where PipeWire runs
and ``pipewire-jack`` is installed, so that PortAudio's JACK host API, which needs the library by
its soname, uses it (:data:`PIPEWIRE_JACK`). Otherwise the path is :data:`PULSE` (ALSA's pulse
plugin, to PulseAudio or ``pipewire-pulse``). Nothing here starts a process.
"""

from __future__ import annotations

import glob
import logging
import os
import socket

log = logging.getLogger(__name__)

PULSE = "pulse"
"""PortAudio's ALSA host API through ALSA's pulse plugin (PulseAudio, or pipewire-pulse)."""
PIPEWIRE_JACK = "pipewire-jack"
"""PortAudio's JACK host API through PipeWire's own JACK library."""
PIPEWIRE_JACK_LIBRARIES = "/usr/lib/*/pipewire-0.3/jack/libjack.so.0"
"""Where Debian's and Ubuntu's ``pipewire-jack`` put PipeWire's JACK library."""
LATENCY_ENV = "PIPEWIRE_LATENCY"
"""The quantum a PipeWire JACK client asks for, ``frames/rate``, read when the client opens."""

_path: str | None = None
_user_latency = LATENCY_ENV in os.environ  # a latency the person set is theirs to keep


def runtime_dir() -> str:
    """The folder of the sound servers' sockets: ``$XDG_RUNTIME_DIR``, else ``/run/user/UID``."""
    return os.environ.get("XDG_RUNTIME_DIR") or f"/run/user/{os.getuid()}"


def pipewire_socket() -> str:
    """Path of PipeWire's socket as its clients find it (``PIPEWIRE_RUNTIME_DIR``, ``PIPEWIRE_REMOTE``)."""
    folder = os.environ.get("PIPEWIRE_RUNTIME_DIR") or runtime_dir()
    return os.path.join(folder, os.environ.get("PIPEWIRE_REMOTE") or "pipewire-0")


def pipewire_runs() -> bool:
    """True if a PipeWire server answers on its socket (a connect, nothing sent)."""
    path = pipewire_socket()
    if not os.path.exists(path):
        return False
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        try:
            s.connect(path)
        except OSError:
            return False
    return True


def _libjack_loaded() -> str | None:
    """The path of a libjack already mapped into this process, or None."""
    try:
        with open("/proc/self/maps") as maps:
            for line in maps:
                if "libjack.so" in line:
                    return line.split()[-1]
    except OSError:
        pass
    return None


def prepare() -> str:
    """Choose the path (once per process; later calls return it) and load PipeWire's JACK library where it was
    asked for and can be had; returns :data:`PIPEWIRE_JACK` or :data:`PULSE`."""
    global _path
    if _path is not None:
        return _path
    _path = PULSE
    if os.environ.get("IIRNN_AUDIO_PATH", "").lower() != PIPEWIRE_JACK or not pipewire_runs():
        return _path
    libraries = sorted(glob.glob(PIPEWIRE_JACK_LIBRARIES))
    if not libraries:
        log.info("PipeWire runs, but pipewire-jack is not installed: playing through pipewire-pulse")
        return _path
    loaded = _libjack_loaded()
    if loaded is not None and "pipewire" not in loaded:
        log.info("another libjack is loaded already (%s): playing through pipewire-pulse", loaded)
        return _path
    try:
        import ctypes

        if not _user_latency:
            os.environ[LATENCY_ENV] = "128/48000"  # the engine's default block; set_quantum follows the output
        ctypes.CDLL(libraries[0], mode=ctypes.RTLD_GLOBAL)
    except OSError as exc:
        log.info("could not load PipeWire's JACK library: %s", exc)
        return _path
    _path = PIPEWIRE_JACK
    return _path


def path() -> str | None:
    """The path :func:`prepare` chose (None before it ran)."""
    return _path


def set_quantum(frames: int, rate: int) -> None:
    """Ask PipeWire for a quantum of ``frames`` at ``rate`` Hz for the JACK clients opened from now on (PortAudio
    opens its client when it re-scans); a ``PIPEWIRE_LATENCY`` the person set stays."""
    if _path == PIPEWIRE_JACK and not _user_latency:
        os.environ[LATENCY_ENV] = f"{int(frames)}/{int(rate)}"


def describe(device: str, host_api: str) -> str:
    """A few words on the path PortAudio's ``device`` of ``host_api`` takes, for the status line."""
    if "JACK" in host_api:
        return "PipeWire's JACK" if _path == PIPEWIRE_JACK else "JACK"
    if device in ("pulse", "default"):
        return "pipewire-pulse" if pipewire_runs() else "PulseAudio"
    return host_api
