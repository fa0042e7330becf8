"""Which sound server plays, and the path to it: ALSA's pulse plugin, or a client of PipeWire's graph.

On PulseAudio, PortAudio's ALSA host API through ALSA's pulse plugin gives about 9.5 ms from key
to sound at the default settings. On PipeWire the same path goes through ``pipewire-pulse``, whose
emulation of PulseAudio's buffering adds about 11 ms and some jitter, whatever latency the stream
asks for. Pro-audio programs on PipeWire are clients of the graph itself through its JACK library
(``pipewire-jack``): called once per quantum, with the quantum the client asks for
(``PIPEWIRE_LATENCY=frames/rate``). So where PipeWire runs and ``pipewire-jack`` is installed, the
default output is such a client (:data:`PIPEWIRE_JACK`, :mod:`iirnn_core.audio.jack_output`, the
library loaded from its own path, :func:`jack_library`); ``IIRNN_AUDIO_PATH=pulse`` keeps the pulse
path. A device chosen by name always plays through PortAudio. Nothing here starts a process.
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
"""A client of PipeWire's graph through PipeWire's own JACK library (:mod:`iirnn_core.audio.jack_output`)."""
PIPEWIRE_JACK_LIBRARIES = "/usr/lib/*/pipewire-0.3/jack/libjack.so.0"
"""Where Debian's and Ubuntu's ``pipewire-jack`` put PipeWire's JACK library."""
LATENCY_ENV = "PIPEWIRE_LATENCY"
"""The quantum a PipeWire JACK client asks for, ``frames/rate``, read when the client opens."""

_path: str | None = None
_jack_library = ""
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


def prepare() -> str:
    """The path the next output takes, chosen now (a server may have started or changed since the last call):
    :data:`PIPEWIRE_JACK` where PipeWire runs, its JACK library is installed and ``IIRNN_AUDIO_PATH`` does not
    say ``pulse``; else :data:`PULSE`. Sets ``PIPEWIRE_LATENCY`` for the graph client unless the person did."""
    global _path, _jack_library
    _path = PULSE
    if os.environ.get("IIRNN_AUDIO_PATH", "").lower() == PULSE or not pipewire_runs():
        return _path
    libraries = sorted(glob.glob(PIPEWIRE_JACK_LIBRARIES))
    if not libraries:
        log.info("PipeWire runs, but pipewire-jack is not installed: playing through pipewire-pulse")
        return _path
    if not _user_latency and LATENCY_ENV not in os.environ:
        os.environ[LATENCY_ENV] = "128/48000"  # the engine's default block; set_quantum follows the output
    _jack_library, _path = libraries[0], PIPEWIRE_JACK
    return _path


def jack_library() -> str:
    """The path of PipeWire's JACK library :func:`prepare` found (empty before it found one)."""
    return _jack_library


def path() -> str | None:
    """The path :func:`prepare` chose last (None before it ran)."""
    return _path


def set_quantum(frames: int, rate: int) -> None:
    """Ask PipeWire for a quantum of ``frames`` at ``rate`` Hz for the graph clients opened from now on; a
    ``PIPEWIRE_LATENCY`` the person set stays."""
    if not _user_latency:
        os.environ[LATENCY_ENV] = f"{int(frames)}/{int(rate)}"


def describe(device: str, host_api: str) -> str:
    """A few words on the path PortAudio's ``device`` of ``host_api`` takes, for the status line."""
    if host_api == "PipeWire's JACK":
        return "PipeWire's graph (JACK)"
    if "JACK" in host_api:
        return "JACK"
    if device in ("pulse", "default"):
        return "pipewire-pulse" if pipewire_runs() else "PulseAudio"
    return host_api
