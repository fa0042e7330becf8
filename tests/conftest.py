"""Shared test set-up: Qt runs on the offscreen platform (set before any Qt import); a real sound server of each
kind, PulseAudio and PipeWire (every device test runs against both); a real MIDI system (JACK with its dummy
driver) and a MIDI keyboard on it.

Markers (pyproject.toml) come from what a test uses, so a new test cannot forget them: ``device`` for one that
asks for :func:`pulse_server`, ``jack`` for :func:`jack_server` (``midi_keyboard`` asks for it), ``window`` for
one that opens the real MainWindow (:func:`opens_the_window`). Only ``slow`` is written on the test. The quick
loop::

    python -m pytest -m "not device and not window and not jack and not slow"

Every run ends with "skipped N of M (budget B)"; with ``CI`` set, more than :data:`SKIP_BUDGET` skips fail it.
"""

import inspect
import os
import shutil
import subprocess
import sys
import tempfile
import time

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

FIXTURE_MARKS = {"sound_server_kind": "device", "pulse_server": "device", "private_pulse": "device",
                 "jack_server": "jack", "make_window": "window"}
"""A test that uses one of these fixtures, itself or through another fixture, gets its marker."""

SKIP_BUDGET = 2
"""Skips a CI run may have: a device test whose every take dropped out beside a machine stall
(:func:`rt_probe.on_a_steady_machine`) now and then. A missing tool skips many more (every device, JACK or
acceptance test), which a green run must not hide. The full suite skips none on the development machine."""


def opens_the_window(item) -> bool:
    """Whether a test opens the real MainWindow: it uses the ``make_window`` fixture, or its own code names
    ``MainWindow``, starts the program (``python -m app``) or runs a script of its module that builds one."""
    if "make_window" in item.fixturenames:
        return True
    function = inspect.unwrap(getattr(item, "function", None))
    code = getattr(function, "__code__", None)
    if code is None:
        return False
    strings = {c for c in code.co_consts if isinstance(c, str)}
    scripts = (function.__globals__.get(name) for name in code.co_names)
    return ("MainWindow" in code.co_names or {"-m", "app"} <= strings
            or any(isinstance(s, str) and "MainWindow(" in s for s in scripts))


@pytest.hookimpl(tryfirst=True)  # before -m deselects by marker
def pytest_collection_modifyitems(items):
    for item in items:
        for fixture, marker in FIXTURE_MARKS.items():
            if fixture in item.fixturenames:
                item.add_marker(marker)
        if opens_the_window(item):
            item.add_marker("window")


SKIPS = pytest.StashKey[tuple]()
"""(skipped, tests run) of this session."""


def pytest_sessionfinish(session):
    """Count the skips; with ``CI`` set, a run that skipped more than :data:`SKIP_BUDGET` tests fails."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = len(reporter.stats.get("skipped", [])) if reporter else 0
    session.config.stash[SKIPS] = (skipped, session.testscollected)
    if os.environ.get("CI") and session.exitstatus == pytest.ExitCode.OK and skipped > SKIP_BUDGET:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter, config):
    if config.option.collectonly:
        return
    skipped, total = config.stash.get(SKIPS, (0, 0))
    over = "" if skipped <= SKIP_BUDGET else ": over budget, " + ("so this CI run fails" if os.environ.get("CI")
                                                                 else "which would fail a CI run")
    terminalreporter.write_line(f"skipped {skipped} of {total} (budget {SKIP_BUDGET}){over}")


@pytest.fixture(scope="session", params=("pulseaudio", "pipewire"), ids=("pulseaudio", "pipewire"))
def sound_server_kind(request):
    """Which sound server the device tests play into (``pulse.SERVER_KINDS``): every test that asks for
    :func:`pulse_server` or :func:`private_pulse` runs once with each. Session-scoped, so pytest runs all of one
    kind's tests, tears down that kind's servers (the fixtures that depend on this one first), then the other's.
    Fails if a server of ours of another kind still runs when it starts, or one of this kind when it ends."""
    import pulse

    kind = request.param
    missing = pulse.missing_programs(kind)
    if missing:
        pytest.skip(f"no {kind} on this machine: {', '.join(missing)} missing (./run installs both servers on a "
                    "machine with neither; a desktop keeps its own)")
    left = {k: pids for k, pids in pulse.our_servers().items() if k != kind}
    assert not left, f"a {kind} test starts while a sound server of another kind still runs: {left}"
    yield kind
    left = pulse.our_servers().get(kind)
    assert not left, f"the {kind} tests left their server running: pids {left}"


@pytest.fixture(scope="session")
def pulse_server(sound_server_kind):
    """A real sound server of the kind :func:`sound_server_kind` gives (:func:`pulse.private_server`: its own
    runtime directory and sockets, real-time as on a desktop) with a null sink of the tests' own; yields the sink's
    name. This process's environment points at it (``PULSE_SERVER``, ``PULSE_RUNTIME_PATH``,
    ``PIPEWIRE_RUNTIME_DIR``), so every stream this process and its children open plays there (``PULSE_SINK``),
    and ``pactl`` / ``parec`` reach it; afterwards the server is stopped and the environment restored."""
    import pulse
    from iirnn_core.audio.devices import refresh_devices

    server = pulse.private_server(sound_server_kind, sink=f"iirnn_test_{os.getpid()}")
    env = pytest.MonkeyPatch()
    try:
        server.start()
        pulse.check_one_kind()
        for key, value in server.env.items():
            env.setenv(key, value)
        refresh_devices()  # PortAudio lists devices once; the server started after it did
        yield server.sink
    finally:
        env.undo()
        refresh_devices()  # PortAudio forgets this server's devices
        server.close()


@pytest.fixture
def private_pulse(sound_server_kind):
    """A sound server of the test's own, of the kind :func:`sound_server_kind` gives (:class:`pulse.PrivateServer`
    or :class:`pulse.PrivatePipeWire`, one interface), which it may kill, restart, and whose sink it may unload:
    no other test's server is touched. Stopped and removed afterwards."""
    import pulse

    server = pulse.private_server(sound_server_kind)
    try:
        server.start()
        pulse.check_one_kind()
        yield server
    finally:
        if "sounddevice" in sys.modules:  # this process's PortAudio may be the server's client: leave it first
            from iirnn_core.audio.devices import refresh_devices

            refresh_devices()
        server.close()


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
