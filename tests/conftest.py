"""Shared test set-up: Qt runs on the offscreen platform (set before any Qt import); a real sound server; a real
MIDI system (JACK with its dummy driver) and a MIDI keyboard on it."""

import os
import shutil
import subprocess
import tempfile
import time

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture(scope="session")
def pulse_server():
    """A real PulseAudio server (started here only if none runs) with a null sink of the tests' own;
    yields the sink's name. Every stream this process opens plays there (``PULSE_SINK``)."""
    import pulse
    from iirnn_core.audio.engine import refresh_devices

    try:
        proc = pulse.start_server()
    except RuntimeError as exc:
        if shutil.which("pulseaudio") is None:
            pytest.skip(f"no sound server on this machine: {exc}")
        raise
    try:
        with pulse.own_sink(f"iirnn_test_{os.getpid()}") as sink:
            refresh_devices()  # PortAudio lists devices once; the server may have started after it did
            yield sink
    finally:
        pulse.stop_server(proc)


@pytest.fixture(scope="module")
def jack_server():
    """A JACK server of our own (dummy driver: no sound card), named for this process; yields its name."""
    if shutil.which("jackd") is None:
        pytest.skip("no MIDI system to test a real port with: jackd is not installed (./run installs jackd2)")
    import pulse
    from iirnn_core.midi import ports as midi_input
    from iirnn_core.audio.engine import refresh_devices

    if "jack" not in midi_input.midi_apis():
        pytest.skip(f"this python-rtmidi has no JACK API (it has {midi_input.midi_apis()})")
    name = f"iirnn-test-{os.getpid()}"
    log = tempfile.TemporaryFile()
    proc = subprocess.Popen(["jackd", "--no-realtime", "-n", name, "-d", "dummy", "-r", "48000", "-p", "512"],
                            stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
                            env=dict(os.environ, JACK_NO_AUDIO_RESERVATION="1"))
    env = pytest.MonkeyPatch()
    env.setenv("JACK_DEFAULT_SERVER", name)  # where libjack's clients (rtmidi's, PortAudio's) connect
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                midi_input.input_ports("jack")
                break
            except midi_input.MidiUnavailable:
                if proc.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    said = log.read().decode(errors="replace").strip().splitlines()
                    pytest.fail(f"jackd -d dummy did not start: {said[-1:] or 'no output'}")
                time.sleep(0.1)
        yield name
    finally:
        env.undo()
        # PortAudio re-scanned its host APIs while this server ran and joined it as a JACK client; it must
        # leave before the server goes (PortAudio aborts the process if its JACK server vanished under it).
        refresh_devices()
        pulse.stop_server(proc)  # (any server we started: terminate by its id, kill if need be)


class JackKeyboard:
    """A MIDI keyboard on JACK: an rtmidi output client ``iirnn-keys`` with port :attr:`port`, which can be
    unplugged and plugged in again."""

    port = "iirnn-keys:out"

    def __init__(self):
        self.out = None
        self.plug()

    def plug(self) -> None:
        import rtmidi

        self.out = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, name="iirnn-keys")
        self.out.open_virtual_port("out")

    def unplug(self) -> None:
        if self.out is not None:
            self.out.close_port()
            self.out.delete()
            self.out = None

    def send(self, *message: int) -> None:
        """Send one MIDI message (its bytes)."""
        self.out.send_message(list(message))


@pytest.fixture
def midi_keyboard(jack_server):
    """A :class:`JackKeyboard` on the JACK server of :func:`jack_server`."""
    keyboard = JackKeyboard()
    yield keyboard
    keyboard.unplug()
