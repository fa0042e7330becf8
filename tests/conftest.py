"""Shared test set-up: Qt runs on the offscreen platform (set before any Qt import); a real sound server; a real
MIDI system (JACK with its dummy driver) and a MIDI keyboard on it.

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
import tempfile
import time

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

FIXTURE_MARKS = {"pulse_server": "device", "private_pulse": "device", "jack_server": "jack", "make_window": "window"}
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


@pytest.fixture
def private_pulse():
    """A PulseAudio server of the test's own (:class:`pulse.PrivateServer`), which it may kill, restart, and whose
    sink it may unload: no other test's server is touched. Stopped and removed afterwards."""
    import pulse

    if shutil.which("pulseaudio") is None:
        pytest.skip("no pulseaudio on this machine")
    server = pulse.PrivateServer()
    try:
        yield server.start()
    finally:
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
