"""The sound server's default sink, watched through libpulse: what a graph client follows when the player moves it.

A PulseAudio stream is moved by its server when the default sink changes; a client of PipeWire's graph
(:mod:`iirnn_core.audio.jack_output`) connects its own ports, so it has to know where the default is.
:class:`DefaultSinkWatch` keeps one libpulse context (PulseAudio's protocol, which ``pipewire-pulse`` serves)
subscribed to the server's changes, on a main loop it turns without blocking from the caller's thread (the
output supervisor's): :meth:`poll` returns the default sink's description, which is the name PipeWire's JACK
library gives that sink's client (``<description>:playback_FL``). No process is started; a server that does not
answer gives None (the caller keeps its connections) and is tried again at most every :data:`RETRY_SECONDS`.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import time

log = logging.getLogger(__name__)

RETRY_SECONDS = 1.0
"""Seconds between tries to connect to a server that did not answer."""
CONNECT_SECONDS = 1.0
"""How long :meth:`DefaultSinkWatch.poll` waits for a new connection to be ready."""
_READY, _FAILED, _TERMINATED = 4, 5, 6  # pa_context_state
_NOAUTOSPAWN = 1
_SUBSCRIPTION_MASK = 0x0001 | 0x0080  # sinks and the server (the default sink is the server's)


class _SampleSpec(ctypes.Structure):
    _fields_ = [("format", ctypes.c_int), ("rate", ctypes.c_uint32), ("channels", ctypes.c_uint8)]


class _ServerInfo(ctypes.Structure):
    _fields_ = [("user_name", ctypes.c_char_p), ("host_name", ctypes.c_char_p), ("server_version", ctypes.c_char_p),
                ("server_name", ctypes.c_char_p), ("sample_spec", _SampleSpec), ("default_sink_name", ctypes.c_char_p)]


class _SinkInfoHead(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("index", ctypes.c_uint32), ("description", ctypes.c_char_p)]


_SUBSCRIBE_CB = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_int, ctypes.c_uint32, ctypes.c_void_p)
_SERVER_CB = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.POINTER(_ServerInfo), ctypes.c_void_p)
_SINK_CB = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.POINTER(_SinkInfoHead), ctypes.c_int, ctypes.c_void_p)

_lib = None


def _load():
    """libpulse with the calls used here declared (None where it is not installed)."""
    global _lib
    if _lib is None:
        name = ctypes.util.find_library("pulse")
        if name is None:
            return None
        lib = ctypes.CDLL(name)
        vp = ctypes.c_void_p
        for fn, restype, argtypes in (
                ("pa_mainloop_new", vp, []), ("pa_mainloop_get_api", vp, [vp]),
                ("pa_mainloop_iterate", ctypes.c_int, [vp, ctypes.c_int, vp]), ("pa_mainloop_free", None, [vp]),
                ("pa_context_new", vp, [vp, ctypes.c_char_p]),
                ("pa_context_connect", ctypes.c_int, [vp, ctypes.c_char_p, ctypes.c_int, vp]),
                ("pa_context_get_state", ctypes.c_int, [vp]), ("pa_context_disconnect", None, [vp]),
                ("pa_context_unref", None, [vp]),
                ("pa_context_set_subscribe_callback", None, [vp, _SUBSCRIBE_CB, vp]),
                ("pa_context_subscribe", vp, [vp, ctypes.c_int, vp, vp]),
                ("pa_context_get_server_info", vp, [vp, _SERVER_CB, vp]),
                ("pa_context_get_sink_info_by_name", vp, [vp, ctypes.c_char_p, _SINK_CB, vp]),
                ("pa_operation_unref", None, [vp])):
            f = getattr(lib, fn)
            f.restype, f.argtypes = restype, argtypes
        _lib = lib
    return _lib


class DefaultSinkWatch:
    """The default sink's description, kept current by the server's change events (one thread uses it)."""

    def __init__(self):
        self._mainloop = None
        self._context = None
        self._tried_at = -RETRY_SECONDS
        self._stale = True
        self.sink = ""
        """The default sink's name ("" until known)."""
        self.description: str | None = None
        """Its description, the name of its client in PipeWire's graph (None until known)."""
        # ctypes callbacks must live as long as the context may call them
        self._on_event = _SUBSCRIBE_CB(self._event)
        self._on_server = _SERVER_CB(self._server)
        self._on_sink = _SINK_CB(self._sink)

    def poll(self) -> str | None:
        """Turn the main loop (never blocks once connected) and return the default sink's description, or None."""
        lib = _load()
        if lib is None:
            return None
        if self._context is None and not self._connect(lib):
            return None
        state = lib.pa_context_get_state(self._context)
        if state in (_FAILED, _TERMINATED):
            self.close()
            return None
        if self._stale and state == _READY:
            self._stale = False
            self._call(lib.pa_context_get_server_info(self._context, self._on_server, None))
        while lib.pa_mainloop_iterate(self._mainloop, 0, None) > 0:
            pass
        return self.description

    def _connect(self, lib) -> bool:
        now = time.monotonic()
        if now - self._tried_at < RETRY_SECONDS:
            return False
        self._tried_at = now
        self._mainloop = lib.pa_mainloop_new()
        self._context = lib.pa_context_new(lib.pa_mainloop_get_api(self._mainloop), b"iirnn-synth default sink")
        if lib.pa_context_connect(self._context, None, _NOAUTOSPAWN, None) < 0:
            self.close()
            return False
        deadline = now + CONNECT_SECONDS
        while time.monotonic() < deadline:
            lib.pa_mainloop_iterate(self._mainloop, 0, None)
            state = lib.pa_context_get_state(self._context)
            if state == _READY:
                lib.pa_context_set_subscribe_callback(self._context, self._on_event, None)
                self._call(lib.pa_context_subscribe(self._context, _SUBSCRIPTION_MASK, None, None))
                self._stale = True
                return True
            if state in (_FAILED, _TERMINATED):
                break
            time.sleep(0.005)
        log.debug("the sound server's default sink is not known (no libpulse connection)")
        self.close()
        return False

    @staticmethod
    def _call(operation) -> None:
        if operation:
            _lib.pa_operation_unref(operation)

    def _event(self, context, kind, index, userdata) -> None:
        self._stale = True  # a sink or the server changed: ask again at the next poll

    def _server(self, context, info, userdata) -> None:
        if info and info.contents.default_sink_name:
            name = info.contents.default_sink_name
            self.sink = name.decode(errors="replace")
            self._call(_lib.pa_context_get_sink_info_by_name(context, name, self._on_sink, None))

    def _sink(self, context, info, eol, userdata) -> None:
        if eol == 0 and info and info.contents.description:
            self.description = info.contents.description.decode(errors="replace")

    def close(self) -> None:
        """Disconnect (a later :meth:`poll` connects again)."""
        if self._context is not None:
            _lib.pa_context_disconnect(self._context)
            _lib.pa_context_unref(self._context)
            self._context = None
        if self._mainloop is not None:
            _lib.pa_mainloop_free(self._mainloop)
            self._mainloop = None
