"""Audio > MIDI input: pick the MIDI keyboard that plays the engine, remembered between runs.

The submenu lists "None" and every MIDI input port (:func:`iirnn_core.midi.ports.list_input_ports`),
refreshed each time it opens. The chosen port's name is remembered (the window saves it in its
settings); a poll every :data:`POLL_MS` closes it when it disappears and opens it again when it
comes back (ALSA's changing client numbers do not matter). With ``start_now=False`` (the window,
whose audio opens a few seconds after launch) no port opens until :meth:`start`: notes played
before the stream opens would go to a block processor that the stream then replaces, and be lost
unheard while their keys lit. Where there is no MIDI at all (no python-rtmidi, no MIDI system)
the submenu says why in one disabled line and the rest works.

Messages go from rtmidi's thread straight into the engine (:class:`~iirnn_core.midi.ports.MidiInput`);
only the key lights come to the GUI thread, through :attr:`MidiMenu.key` (a signal emitted on
rtmidi's thread, which Qt queues to the window's thread).
"""

from __future__ import annotations

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QAction, QActionGroup
from PySide6.QtWidgets import QMenu

from iirnn_core.midi.ports import MidiInput, MidiUnavailable, list_input_ports, same_port

POLL_MS = 2500
"""How often the chosen port is looked for (gone, or back)."""

NONE_LABEL = "None"


class MidiMenu(QObject):
    """The MIDI input submenu of ``menu`` playing ``engine``; ``wanted`` is the remembered port name ("" none).

    Signals: ``key(note, sounding)`` for the key lights (note -1 with False: every key ended), and
    ``message(text)`` for the status bar. :attr:`wanted` is what to remember."""

    key = Signal(int, bool)
    message = Signal(str)

    def __init__(self, menu: QMenu, engine, wanted: str = "", parent: QObject | None = None,
                 lister=list_input_ports, start_now: bool = True):
        super().__init__(parent)
        self.wanted = wanted
        self.ports: list[str] = []
        self.unavailable = ""  # why there is no MIDI ("" while there is)
        self._list = lister
        self.input = MidiInput(engine, on_key=self.key.emit)
        self.submenu = menu.addMenu("&MIDI input")
        self.submenu.aboutToShow.connect(self.refresh)
        self.group = QActionGroup(self)
        self.group.setExclusive(True)
        self.group.triggered.connect(lambda action: self.choose(action.data()))
        self.timer = QTimer(self)
        self.timer.setInterval(POLL_MS)
        self.timer.timeout.connect(self.poll)
        self._fill()
        self.started = False
        if start_now:
            self.start()

    def start(self) -> None:
        """Open the remembered port (if it is there) and start watching it; once."""
        if self.started:
            return
        self.started = True
        self.timer.start()
        if self.wanted:
            self.poll()

    @property
    def port_name(self) -> str | None:
        """The port open now (None when none is)."""
        return self.input.port_name

    def refresh(self) -> None:
        """List the ports again and rebuild the submenu (it is about to show)."""
        self._scan()
        self._fill()

    def choose(self, name: str) -> None:
        """Play from port ``name`` ("" for none) and remember it; a port that cannot open is one status line."""
        self.wanted = name or ""
        self.input.close()
        if self.wanted and not self.started:
            self.message.emit(f"MIDI input {self.wanted} plays once the audio starts.")
        elif self.wanted:
            self._open(self.wanted)
        else:
            self.message.emit("MIDI input off.")
        self._check()

    def poll(self) -> None:
        """Close the chosen port if it went away, open it when it is there again."""
        if not self.wanted or not self.started:
            return
        before = (self.ports, self.input.port_name)
        self._scan()
        if self.input.is_open and self.input.port_name not in self.ports:
            self.input.close()
            self.message.emit(f"MIDI input {self.wanted} is gone; it plays again when it comes back.")
        elif not self.input.is_open and any(same_port(self.wanted, p) for p in self.ports):
            self._open(self.wanted)
        if (self.ports, self.input.port_name) != before:
            self._fill()

    def reset(self) -> None:
        """Forget the keys MIDI holds (the window's panic silenced them)."""
        self.input.reset()

    def close(self) -> None:
        """Stop polling and close the port (the window closes)."""
        self.timer.stop()
        self.input.close()

    # ---- helpers ---------------------------------------------------------------------------------

    def _scan(self) -> None:
        try:
            self.ports, self.unavailable = list(self._list()), ""
        except MidiUnavailable as exc:
            self.ports, self.unavailable = [], str(exc)

    def _open(self, name: str) -> None:
        try:
            self.input.open(name)
        except Exception as exc:  # noqa: BLE001 - NoSuchPort, MidiUnavailable, a port that refused: one line
            self.message.emit(f"MIDI input {name} not opened: {exc}")
            return
        self.message.emit(f"MIDI input: {self.input.port_name}.")

    def _fill(self) -> None:
        """Rebuild the submenu: None, the ports (the remembered one even while it is away), or why there are none."""
        self.submenu.clear()
        for action in self.group.actions():
            self.group.removeAction(action)
        names = list(self.ports)
        if self.wanted and not any(same_port(self.wanted, p) for p in names):
            names.append(self.wanted)
        for name in [""] + names:
            label = name or NONE_LABEL
            if name and name not in self.ports:
                label += " (not connected)"
            action = QAction(label, self.submenu)
            action.setCheckable(True)
            action.setData(name)
            self.group.addAction(action)
            self.submenu.addAction(action)
        if self.unavailable:
            note = QAction(self.unavailable, self.submenu)
            note.setEnabled(False)
            self.submenu.addAction(note)
        self._check()

    def _check(self) -> None:
        """Tick the port in use (or the remembered one while it is away), else None."""
        chosen = (self.input.port_name or self.wanted) if self.wanted else ""
        for action in self.group.actions():
            action.setChecked(action.data() == chosen)
