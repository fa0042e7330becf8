"""Which sound server plays and the path to it (:mod:`iirnn_core.audio.sound_server`), without a real server:
a listening socket stands in for PipeWire's, and each choice runs in a fresh interpreter (with an environment of
its own). Choosing loads no library: the graph client loads PipeWire's JACK library itself, privately."""

import glob
import os
import socket
import subprocess
import sys
import textwrap

import pytest

from iirnn_core.audio import sound_server

PROBE = textwrap.dedent("""
    from iirnn_core.audio import sound_server
    chosen = sound_server.prepare()
    print(chosen, sound_server.prepare() == sound_server.path() == chosen, os.environ.get("PIPEWIRE_LATENCY", "-"),
          any("libjack" in line for line in open("/proc/self/maps")), bool(sound_server.jack_library()))
""")


def choose(env: dict) -> list[str]:
    """Run :func:`sound_server.prepare` in a fresh interpreter with ``env``; its printed choice, split."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("PIPEWIRE_", "IIRNN_AUDIO_PATH"))}
    done = subprocess.run([sys.executable, "-c", "import os\n" + PROBE], env={**clean, **env}, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


@pytest.fixture
def fake_pipewire(tmp_path):
    """A folder whose ``pipewire-0`` socket answers, as PipeWire's does."""
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(tmp_path / "pipewire-0"))
    server.listen(4)
    yield tmp_path
    server.close()


def test_the_socket_is_found_where_pipewire_clients_look(monkeypatch, tmp_path, fake_pipewire):
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "elsewhere"))
    monkeypatch.setenv("PIPEWIRE_RUNTIME_DIR", str(fake_pipewire))
    monkeypatch.delenv("PIPEWIRE_REMOTE", raising=False)
    assert sound_server.pipewire_socket() == str(fake_pipewire / "pipewire-0") and sound_server.pipewire_runs()
    monkeypatch.setenv("PIPEWIRE_REMOTE", "nobody-here")
    assert not sound_server.pipewire_runs()
    monkeypatch.delenv("PIPEWIRE_REMOTE")
    monkeypatch.delenv("PIPEWIRE_RUNTIME_DIR")
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(fake_pipewire))
    assert sound_server.pipewire_runs()
    (fake_pipewire / "stale").mkdir()
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(fake_pipewire / "stale"))
    assert not sound_server.pipewire_runs()


PULSE = {"IIRNN_AUDIO_PATH": "pulse"}


def test_without_pipewire_the_pulse_path(tmp_path):
    assert choose({"XDG_RUNTIME_DIR": str(tmp_path)}) == ["pulse", "True", "-", "False", "False"]


@pytest.mark.skipif(not glob.glob(sound_server.PIPEWIRE_JACK_LIBRARIES), reason="pipewire-jack is not installed")
def test_on_pipewire_the_graph_by_default_with_the_quantum_asked(fake_pipewire):
    assert choose({"XDG_RUNTIME_DIR": str(fake_pipewire)}) == ["pipewire-jack", "True", "128/48000", "False", "True"]
    # a quantum the person set stays theirs; IIRNN_AUDIO_PATH=pulse keeps the pulse path
    assert choose({"XDG_RUNTIME_DIR": str(fake_pipewire), "PIPEWIRE_LATENCY": "64/48000"})[:3] == [
        "pipewire-jack", "True", "64/48000"]
    assert choose({"XDG_RUNTIME_DIR": str(fake_pipewire), **PULSE}) == ["pulse", "True", "-", "False", "False"]


def test_the_path_is_named_for_the_status_line():
    assert sound_server.describe("default", "PipeWire's JACK") == "PipeWire's graph (JACK)"
    assert sound_server.describe("pwtest Audio/Sink sink", "JACK Audio Connection Kit") == "JACK"
    assert sound_server.describe("hw:0,0", "ALSA") == "ALSA"
