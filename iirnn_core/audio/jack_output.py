"""An output that is a client of PipeWire's graph through its JACK library, with the compiled callback as its process.

PipeWire's ``libjack.so.0`` (package ``pipewire-jack``) makes this process a node of the graph: PipeWire calls
the client's process callback once per quantum on a real-time thread of its own, and what the callback writes
into its ports is in the sink within the same cycle. The callback is compiled code
(:func:`iirnn_core.rt.entries.jack_process`): it renders the quantum through the block processor in chunks
of at most its block and copies them to the two ports, never taking the GIL. The client asks for a quantum of
the engine's block (``PIPEWIRE_LATENCY``, read when it opens); PipeWire gives the smallest any client asks for.

This replaces PortAudio's JACK host API for this path: that one never returns from stopping a stream whose
server went away (PortAudio #820). Here the server's going away is a shutdown callback (compiled, it sets a
word the supervisor reads), and a client whose server has gone is never closed (libjack would wait on the dead
connection): it is left to the process's end, one small leak per server restart.

The library is loaded with ``RTLD_LOCAL`` from its own path, so PortAudio keeps its own ``libjack`` (and its
JACK host API never reaches PipeWire). Nothing here runs per block in Python.
"""

from __future__ import annotations

import ctypes
import logging
import os
import time

import numpy as np

from iirnn_core.rt import library as rt
from iirnn_core.rt.jack_layout import (J_BLOCK, J_CHANNELS, J_CLIENT, J_CYCLES, J_FRAME_TIME, J_GET_BUFFER,
                                      J_LAST_FRAMES, J_PORT0, J_PORT1, J_PORT_LATENCY, J_RATE, J_SCRATCH, J_SHUTDOWN,
                                      J_TABLE, J_XRUNS, JACK_WORDS)

log = logging.getLogger(__name__)

CLIENT_NAME = b"iirnn-synth"
AUDIO_TYPE = b"32 bit float mono audio"
NO_START_SERVER = 0x01
PORT_IS_INPUT, PORT_IS_OUTPUT, PORT_IS_PHYSICAL = 0x1, 0x2, 0x4
PLAYBACK_LATENCY = 1
"""``JackPlaybackLatency``."""

_lib: ctypes.CDLL | None = None
_left_open: list = []
"""Outputs whose server went away: their client is never closed, so their arrays stay alive here."""


class _LatencyRange(ctypes.Structure):
    _fields_ = [("min", ctypes.c_uint32), ("max", ctypes.c_uint32)]


_CALLBACK = ctypes.c_void_p  # callbacks are passed as the compiled entry points' addresses


def load(path: str) -> ctypes.CDLL:
    """Load the JACK library at ``path`` (once; RTLD_LOCAL) and declare the calls used here."""
    global _lib
    if _lib is not None:
        return _lib
    lib = ctypes.CDLL(path, mode=os.RTLD_LOCAL | os.RTLD_NOW)
    vp, cp, u32, ul = ctypes.c_void_p, ctypes.c_char_p, ctypes.c_uint32, ctypes.c_ulong
    signatures = {
        "jack_client_open": (vp, [cp, ctypes.c_int, ctypes.POINTER(ctypes.c_int)]),
        "jack_client_close": (ctypes.c_int, [vp]),
        "jack_activate": (ctypes.c_int, [vp]),
        "jack_deactivate": (ctypes.c_int, [vp]),
        "jack_get_sample_rate": (u32, [vp]),
        "jack_get_buffer_size": (u32, [vp]),
        "jack_port_register": (vp, [vp, cp, cp, ul, ul]),
        "jack_port_name": (cp, [vp]),
        "jack_port_connected": (ctypes.c_int, [vp]),
        "jack_port_get_latency_range": (None, [vp, ctypes.c_int, ctypes.POINTER(_LatencyRange)]),
        "jack_get_ports": (ctypes.POINTER(cp), [vp, cp, cp, ul]),
        "jack_connect": (ctypes.c_int, [vp, cp, cp]),
        "jack_port_disconnect": (ctypes.c_int, [vp, vp]),
        "jack_free": (None, [vp]),
        "jack_set_process_callback": (ctypes.c_int, [vp, _CALLBACK, vp]),
        "jack_set_xrun_callback": (ctypes.c_int, [vp, _CALLBACK, vp]),
        "jack_on_shutdown": (None, [vp, _CALLBACK, vp]),
        "jack_set_error_function": (None, [_CALLBACK]),
        "jack_set_info_function": (None, [_CALLBACK]),
    }
    for name, (restype, argtypes) in signatures.items():
        fn = getattr(lib, name)
        fn.restype, fn.argtypes = restype, argtypes
    lib.jack_set_error_function(rt.address("ignore_jack"))
    lib.jack_set_info_function(rt.address("ignore_jack"))
    _lib = lib
    return lib


def _names(lib, array) -> list[str]:
    """The strings of a NULL-ended ``const char **`` libjack returned (then freed)."""
    names = []
    if array:
        i = 0
        while array[i]:
            names.append(array[i].decode(errors="replace"))
            i += 1
        lib.jack_free(ctypes.cast(array, ctypes.c_void_p))
    return names


class JackOutput:
    """One client of the graph with ``channels`` output ports (1 or 2), playing a block processor.

    :meth:`open` connects to the server (LookupError with one sentence if none answers) and says its rate
    and quantum; :meth:`attach` registers the ports and installs the compiled callbacks for ``processor``;
    :meth:`start` activates the client and connects its ports to a sink's playback ports; :meth:`follow` moves
    them to another sink (or back to one when theirs went away); :attr:`active` is False once the server has
    gone; :meth:`close` leaves the graph.
    """

    def __init__(self, library_path: str, channels: int = 2):
        self._lib = load(library_path)
        self.channels = int(channels)
        self.words = np.zeros(JACK_WORDS, dtype=np.int64)
        self._client = None
        self._ports: list[int] = []
        self._scratch = None
        self._processor = None
        self._stopped = False
        self.rate = 0
        self.quantum = 0
        self.connected_to: list[str] = []
        self.sink: str | None = None
        """The name of the sink's client in the graph to play on (None: the first sink)."""
        self.latency = 0.0
        """Seconds from a cycle's start to its sound: the ports' playback latency (the sink's device buffer; 0 on a
        null sink, whose monitor has each cycle within that cycle: ``benchmarks/onset_latency.py``)."""

    def open(self) -> None:
        """Connect to the graph as a new client (never starts a server)."""
        status = ctypes.c_int(0)
        client = self._lib.jack_client_open(CLIENT_NAME, NO_START_SERVER, ctypes.byref(status))
        if not client:
            raise LookupError(f"PipeWire's JACK server does not answer (status {status.value:#x})")
        self._client = client
        self.rate = int(self._lib.jack_get_sample_rate(client))
        self.quantum = int(self._lib.jack_get_buffer_size(client))

    def attach(self, processor) -> None:
        """Register the ports and install the compiled callbacks that play ``processor`` (its rate is the graph's)."""
        lib, client = self._lib, self._client
        for channel in range(self.channels):
            port = lib.jack_port_register(client, f"out_{'LR'[channel] if self.channels > 1 else 'M'}".encode(),
                                          AUDIO_TYPE, PORT_IS_OUTPUT, 0)
            if not port:
                raise RuntimeError("PipeWire's JACK server refused an output port")
            self._ports.append(port)
        self._processor = processor
        self._scratch = np.zeros((processor.blocksize, self.channels), dtype=np.float32)
        w = self.words
        w[J_TABLE], w[J_GET_BUFFER] = processor.table.ctypes.data, ctypes.cast(lib.jack_port_get_buffer,
                                                                                  ctypes.c_void_p).value
        w[J_PORT0] = self._ports[0]
        w[J_PORT1] = self._ports[-1] if self.channels > 1 else 0
        w[J_CHANNELS], w[J_SCRATCH], w[J_BLOCK] = self.channels, self._scratch.ctypes.data, processor.blocksize
        w[J_RATE] = self.rate
        w[J_CLIENT], w[J_FRAME_TIME] = client, ctypes.cast(lib.jack_last_frame_time, ctypes.c_void_p).value
        arg = w.ctypes.data
        if (lib.jack_set_process_callback(client, rt.address("jack_process"), arg)
                or lib.jack_set_xrun_callback(client, rt.address("jack_xrun"), arg)):
            raise RuntimeError("PipeWire's JACK server refused the callbacks")
        lib.jack_on_shutdown(client, rt.address("jack_shutdown"), arg)

    def start(self) -> None:
        """Activate the client and connect its ports to the playback ports of the sink whose client is called
        :attr:`sink` (the default sink's description), else of the graph's first sink."""
        if self._lib.jack_activate(self._client):
            raise RuntimeError("PipeWire's JACK server refused to activate the client")
        if not self.follow(self.sink):
            raise LookupError("PipeWire's graph has no playback port")

    def follow(self, sink: str | None) -> bool:
        """Connect the ports to the playback ports of the sink whose client is called ``sink``; with None, or when
        that sink has none, keep the ports where they are, or (when they have lost their sink) connect them to the
        graph's first sink. True if the ports are connected when it returns."""
        lib, client = self._lib, self._client
        playback = _names(lib, lib.jack_get_ports(client, None, AUDIO_TYPE, PORT_IS_INPUT | PORT_IS_PHYSICAL))
        wanted = [t for t in playback if sink and t.startswith(sink + ":")]
        connected = lib.jack_port_connected(self._ports[0]) > 0
        if not wanted:
            if connected:
                return True
            wanted = playback
        if not wanted:
            return False
        targets = wanted[:2] if self.channels == 1 else [wanted[0], wanted[1 if len(wanted) > 1 else 0]]
        if connected and targets == self.connected_to:
            return True
        for port in self._ports:
            lib.jack_port_disconnect(client, port)
        for channel, target in enumerate(targets):
            source = lib.jack_port_name(self._ports[min(channel, self.channels - 1)])
            if lib.jack_connect(client, source, target.encode()) not in (0, 17):  # 17: EEXIST
                raise RuntimeError(f"could not connect to {target}")
        if self.connected_to:
            log.info("playing on %s (was %s)", ", ".join(targets), ", ".join(self.connected_to))
        self.connected_to = targets
        self.update_latency()
        return True

    def update_latency(self) -> None:
        """Read the ports' playback latency (frames the graph adds after them) into the callback's table."""
        r = _LatencyRange()
        self._lib.jack_port_get_latency_range(self._ports[0], PLAYBACK_LATENCY, ctypes.byref(r))
        self.words[J_PORT_LATENCY] = int(r.max)
        self.latency = int(r.max) / self.rate

    @property
    def active(self) -> bool:
        """False once the server has gone (its shutdown callback ran), or the client was stopped or closed."""
        return self._client is not None and not self._stopped and not self.words[J_SHUTDOWN]

    def abort(self) -> None:
        """Stop the callbacks at once (the client leaves the graph's cycle; :attr:`active` becomes False)."""
        if self._client is not None and not self.words[J_SHUTDOWN]:
            self._lib.jack_deactivate(self._client)
        self._stopped = True

    @property
    def cycles(self) -> int:
        """Process callbacks so far."""
        return int(self.words[J_CYCLES])

    @property
    def xruns(self) -> int:
        """Xruns the server reported to this client."""
        return int(self.words[J_XRUNS])

    @property
    def last_quantum(self) -> int:
        """Frames of the latest cycle."""
        return int(self.words[J_LAST_FRAMES])

    def close(self) -> None:
        """Leave the graph (a client whose server has gone is left alone: closing it could wait forever)."""
        client, self._client = self._client, None
        if client is None:
            return
        if self.words[J_SHUTDOWN]:
            log.info("PipeWire's JACK server has gone; its client is left unclosed")
            _left_open.append(self)
            return
        started = time.perf_counter()
        self._lib.jack_deactivate(client)
        self._lib.jack_client_close(client)
        log.debug("JACK client closed in %.1f ms", 1000 * (time.perf_counter() - started))
