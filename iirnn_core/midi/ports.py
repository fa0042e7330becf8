"""Live MIDI input: ports through mido with the python-rtmidi backend, played straight into an engine.

mido is the Python MIDI standard (messages, files, ports) and python-rtmidi its default backend,
a binding of RtMidi, whose ALSA sequencer and JACK APIs are what runs here (Linux).
:func:`list_input_ports` lists the input ports of every API that answers (``api=None``), or of
one ('alsa', 'jack'); :class:`MidiInput` opens one port and turns its messages into engine calls
with :class:`~iirnn_core.midi.events.MidiState` (velocity, note-off, sustain, all notes/sound off).

:meth:`MidiInput.handle` runs on a MIDI thread: rtmidi's own input thread for ALSA, through
mido's callback; for JACK a thread of ours that takes messages from rtmidi's queue
every 2 ms (:class:`JackReader`). It calls ``engine.note_on`` / ``note_off`` / ``panic``
right there, which push into the engine's lock-free event ring: no GUI thread is in between. An
optional ``on_key(note, sounding)`` hears every key that starts (True) or is released (False); the
window connects it to a Qt signal, which Qt queues to the GUI thread.

Why JACK is read differently: RtMidi calls an input callback on JACK's real-time process thread,
and mido always installs a Python callback, which must take the GIL there. Whenever another thread
holds the GIL for a while (a plot, a numpy FFT), JACK's cycle overruns and JACK drops the MIDI
events of the cycles that missed (measured: with a callback blocked for 2 s, the next five notes
were lost). rtmidi's own queue is filled on that thread without Python, so nothing is lost.

Trouble is one line: no python-rtmidi, no MIDI system (no ALSA sequencer, no JACK server), or no
such port raise :class:`MidiUnavailable` / :class:`NoSuchPort` and nothing else stops working.
The process never starts a JACK server by asking for one (``JACK_NO_START_SERVER``), and alsa-lib's
and libjack's console messages are silenced (each failure is reported once, in our words).
"""

from __future__ import annotations

import glob
import logging
import os
import re
import threading
import time

from iirnn_core.errors import Failure, UsageError, one_line
from iirnn_core.midi.events import RELEASE, SILENCE, START, MidiState

log = logging.getLogger(__name__)

APIS = {"alsa": "LINUX_ALSA", "jack": "UNIX_JACK", "coremidi": "MACOSX_CORE", "winmm": "WINDOWS_MM"}
"""Our API names -> mido's rtmidi API names."""

_ALSA_NUMBERS = re.compile(r"\s+\d+:\d+$")
"""ALSA port names end in ``client:port`` numbers, which change when a device is plugged in again."""


JACK_POLL_SECONDS = 0.002
"""How often the JACK reader empties rtmidi's queue: the latency it adds, at most (1 ms on average, about
what USB MIDI adds); it costs about 2 % of one core while a JACK port is open."""


class MidiUnavailable(Failure):
    """No MIDI at all here (no python-rtmidi, no MIDI system answering): one line for the person."""


class NoSuchPort(UsageError):
    """The named MIDI input port is not there: one line for the person."""


def _rtmidi():
    """The rtmidi module, with JACK never auto-started and the native libraries' console messages off."""
    os.environ.setdefault("JACK_NO_START_SERVER", "1")
    try:
        import rtmidi  # noqa: F401 - the backend mido opens ports through
        import mido  # noqa: F401
    except ImportError as exc:
        raise MidiUnavailable(f"MIDI input needs mido and python-rtmidi ({one_line(exc)}); "
                              "pip install mido python-rtmidi") from None
    _quiet_native()
    return rtmidi


_quiet = None  # the no-op message handler, kept alive for as long as the libraries may call it


def _quiet_native() -> None:
    """Route libjack's error/info messages (and alsa-lib's) to a compiled no-op; best effort."""
    global _quiet
    if _quiet is not None:
        return
    from iirnn_core.audio.devices import quiet_alsa

    quiet_alsa()
    try:
        import ctypes
        import ctypes.util

        import rtmidi

        from iirnn_core.rt import library as rt

        here = os.path.dirname(rtmidi.__file__)
        paths = sorted(glob.glob(os.path.join(here, "..", "python_rtmidi*", "libjack*")))  # the wheel's own
        path = paths[0] if paths else ctypes.util.find_library("jack")
        if path is None:
            _quiet = False
            return

        lib = ctypes.CDLL(path)
        handler = rt.address("ignore_jack")  # compiled: libjack may call it on its real-time thread
        lib.jack_set_error_function(ctypes.c_void_p(handler))
        lib.jack_set_info_function(ctypes.c_void_p(handler))
        _quiet = handler
    except (OSError, AttributeError) as exc:
        _quiet = False
        log.debug("libjack's messages stay on: %s", exc)


def midi_apis() -> list[str]:
    """Our names ('alsa', 'jack', ...) of the APIs this python-rtmidi was built with, in its order of preference.
    Raises MidiUnavailable without python-rtmidi."""
    rtmidi = _rtmidi()
    names = {getattr(rtmidi, f"API_{mido_name}", None): ours for ours, mido_name in APIS.items()}
    return [names[a] for a in rtmidi.get_compiled_api() if a in names]


def _check_api(api: str | None) -> list[str]:
    """The APIs to look at: all compiled ones for None, else ``api`` (UsageError if unknown or not built in)."""
    apis = midi_apis()
    if api is None:
        return apis
    if api not in apis:
        raise UsageError(f"MIDI API {api!r} is not available (this python-rtmidi has {', '.join(apis) or 'none'})")
    return [api]


def _ports(api: str) -> list[str]:
    """Input port names of one API; raises the backend's error when that MIDI system does not answer."""
    rtmidi = _rtmidi()
    probe = rtmidi.MidiIn(rtapi=getattr(rtmidi, f"API_{APIS[api]}"), name="iirnn-list")
    try:
        return list(probe.get_ports())
    finally:
        probe.delete()


def input_ports(api: str | None = None) -> list[tuple[str, str]]:
    """(api, port name) of every MIDI input port now: of every API that answers (``api=None``), or of one.

    Raises MidiUnavailable, naming why each API failed, when none answers."""
    apis = _check_api(api)
    if not apis:
        raise MidiUnavailable("this python-rtmidi was built without any MIDI API")
    found, failures = [], []
    for name in apis:
        try:
            found.extend((name, port) for port in _ports(name))
        except Exception as exc:  # noqa: BLE001 - rtmidi raises its own SystemError when a MIDI system is absent
            failures.append(f"{name}: {one_line(exc).rstrip('.')}")
    if len(failures) == len(apis):
        raise MidiUnavailable("no MIDI system answers (" + "; ".join(failures) + ")")
    return found


def list_input_ports(api: str | None = None) -> list[str]:
    """Names of the MIDI input ports now (see :func:`input_ports`); MidiUnavailable when no MIDI system answers."""
    names: list[str] = []
    for _, port in input_ports(api):
        if port not in names:
            names.append(port)
    return names


def same_port(wanted: str, port: str) -> bool:
    """True if ``port`` is the port remembered as ``wanted``: the same name, or the same but for ALSA's numbers."""
    return port == wanted or _ALSA_NUMBERS.sub("", port) == _ALSA_NUMBERS.sub("", wanted)


def find_port(name: str, api: str | None = None) -> tuple[str, str]:
    """(api, exact port name) of the input port called ``name``; NoSuchPort (listing what there is) if none is."""
    ports = input_ports(api)
    for exact in (True, False):
        for port_api, port in ports:
            if port == name or (not exact and same_port(name, port)):
                return port_api, port
    there = ", ".join(repr(p) for _, p in ports) or "none"
    raise NoSuchPort(f"no MIDI input port {name!r} (ports: {there})")


WINDOW_CHANNEL = 0
"""The MIDI channel (0-based: channel 1, where keyboards send by default) the window's own keys play on, so
that a MIDI keyboard's sustain pedal holds them as it holds its own keys."""


class MidiInput:
    """One MIDI input port playing ``engine`` (anything with ``note_on(midi, velocity)``, ``note_off(midi)``,
    ``panic()``). ``on_key(note, sounding)`` (optional) hears keys start and end, on rtmidi's thread.
    :meth:`handle` is what the port calls; tests and the window may call it with any mido message.
    :meth:`key_down`, :meth:`key_up` and :meth:`sustain` play keys that are no MIDI messages (the window's
    computer keyboard and mouse) on :data:`WINDOW_CHANNEL` through the same state: a pedal holds them too."""

    def __init__(self, engine, on_key=None):
        self.engine = engine
        self.on_key = on_key
        self.state = MidiState()
        self.port = None
        self.port_name: str | None = None
        self.api: str | None = None
        self.messages = 0
        self.errors = 0
        self.last_error = ""
        self._lock = threading.Lock()  # serialises the state between rtmidi's thread and callers of reset()

    @property
    def is_open(self) -> bool:
        """True while a port is open."""
        return self.port is not None

    def open(self, name: str, api: str | None = None) -> str:
        """Open input port ``name`` (see :func:`find_port`), closing the one open before; returns its exact name.
        Raises MidiUnavailable or NoSuchPort (one line each); then no port is open."""
        self.close()
        port_api, exact = find_port(name, api)
        import mido

        try:
            if port_api == "jack":
                self.port = JackReader(exact, self.handle)
            else:
                backend = mido.Backend("mido.backends.rtmidi", api=APIS[port_api])
                self.port = backend.open_input(exact, callback=self.handle)
        except Exception as exc:  # noqa: BLE001 - the port vanished meanwhile, or the system refused it
            raise MidiUnavailable(f"could not open MIDI input {exact!r}: {one_line(exc)}") from None
        self.port_name, self.api = exact, port_api
        return exact

    def close(self) -> None:
        """Close the port (if one is open); every key it started is released."""
        port, self.port = self.port, None
        if port is not None:
            try:
                port.close()
            except Exception as exc:  # noqa: BLE001 - a vanished device may fail to close cleanly
                log.info("closing MIDI input %s: %s", self.port_name, one_line(exc))
        self.port_name = self.api = None
        with self._lock:
            for note in self.state.sounding():
                self._play_release(note)
            self.state.reset()
            self.state.pedal = [False] * len(self.state.pedal)

    def reset(self) -> None:
        """Forget every key down or held (after a panic from elsewhere)."""
        with self._lock:
            self.state.reset()

    def handle(self, msg) -> None:
        """Play one mido message (rtmidi's thread, or any caller). Never raises: a failure is counted."""
        with self._lock:
            self.messages += 1
        self._play(lambda: self.state.handle(msg))

    def key_down(self, note: int, velocity: float) -> None:
        """One of the window's keys goes down: ``note`` (0..127) with ``velocity`` 0..1 (``on_key`` does not
        hear it: the window lights its own keys)."""
        self._play(lambda: self.state.strike(WINDOW_CHANNEL, note, velocity), tell_start=False)

    def key_up(self, note: int) -> None:
        """One of the window's keys goes up: released, or held while the pedal of its channel is down."""
        self._play(lambda: self.state.lift(WINDOW_CHANNEL, note))

    def sustain(self, down: bool) -> None:
        """The window's sustain pedal (the computer keyboard's): the pedal of :data:`WINDOW_CHANNEL`."""
        self._play(lambda: self.state.set_pedal(WINDOW_CHANNEL, bool(down)))

    def _play(self, actions, tell_start: bool = True) -> None:
        """Carry out what ``actions()`` (a MidiState rule) returns, under the state's lock. Never raises: a
        failure is counted."""
        try:
            with self._lock:
                for action in actions():
                    if action.kind == START:
                        self.engine.note_on(action.note, action.velocity)
                        if tell_start:
                            self._key(action.note, True)
                    elif action.kind == RELEASE:
                        self._play_release(action.note)
                    elif action.kind == SILENCE:
                        self.engine.panic()
                        self._key(-1, False)
        except Exception as exc:  # noqa: BLE001 - a MIDI thread must not die on one bad message
            self.errors += 1
            self.last_error = one_line(exc)

    def _play_release(self, note: int) -> None:
        self.engine.note_off(note)
        self._key(note, False)

    def _key(self, note: int, sounding: bool) -> None:
        """Tell ``on_key``: ``note`` -1 with False means every key ended."""
        if self.on_key is not None:
            self.on_key(note, sounding)


class JackReader:
    """JACK MIDI input port ``name`` read by a thread of ours: rtmidi queues the messages on JACK's process
    thread without Python; every :data:`JACK_POLL_SECONDS` this thread parses them with mido and hands
    them to ``handler`` (see the module docstring for why)."""

    def __init__(self, name: str, handler):
        rtmidi = _rtmidi()
        import mido

        self._parse = mido.Message.from_bytes
        self._handler = handler
        self._rt = rtmidi.MidiIn(rtapi=rtmidi.API_UNIX_JACK, name="iirnn-synth", queue_size_limit=4096)
        try:
            ports = self._rt.get_ports()
            if name not in ports:
                raise OSError(f"unknown port {name!r}")
            self._rt.ignore_types(sysex=True, timing=True, active_sense=True)
            self._rt.open_port(ports.index(name), name="in")
        except Exception:
            self._rt.delete()
            raise
        self.name = name
        self._running = True
        self._thread = threading.Thread(target=self._run, name="iirnn-midi-jack", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while self._running:
            time.sleep(JACK_POLL_SECONDS)  # (a plain sleep costs less than waiting on an Event)
            while True:
                message = self._rt.get_message()
                if message is None:
                    break
                try:
                    msg = self._parse(message[0])
                except ValueError:  # not a MIDI message: skipped, as mido does
                    continue
                self._handler(msg)

    def close(self) -> None:
        """Stop the thread and close the port."""
        self._running = False
        if self._thread is not threading.current_thread():
            self._thread.join(timeout=2.0)
        self._rt.close_port()
        self._rt.delete()
