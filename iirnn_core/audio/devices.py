"""Output devices through sounddevice/PortAudio: listing, finding by name, opening and closing streams.

Devices are remembered by name, not index (indices move when devices come and go); PortAudio
lists devices once, so :func:`refresh_devices` re-scans it whenever no stream is open.
"""

from __future__ import annotations

import logging
import threading


log = logging.getLogger(__name__)

_portaudio = threading.RLock()
"""PortAudio is not thread-safe: every call here that lists, re-scans, opens or closes holds this lock (the
output supervisor re-scans from its own thread while the window may list devices)."""


def _sd():
    import sounddevice

    return sounddevice


_streams_open = 0  # streams open in this process; PortAudio is re-scanned only when 0


def refresh_devices() -> None:
    """Re-scan the host's devices (PortAudio lists them once at start-up) if no stream is open."""
    with _portaudio:
        if _streams_open:
            return
        _rescan()


def _rescan() -> None:
    sd = _sd()
    quiet_alsa()
    try:
        sd._terminate()
        sd._initialize()
    except Exception as exc:  # noqa: BLE001 - a failed re-scan leaves the old list
        log.warning("could not re-scan audio devices: %s", exc)


_alsa_handler = None  # kept alive for as long as alsa-lib may call it


def quiet_alsa() -> None:
    """Stop alsa-lib printing "underrun occurred" and the like on stderr (the engine counts underruns
    itself and reports them in one place) with a compiled no-op handler. Best effort; does nothing where
    there is no alsa-lib."""
    global _alsa_handler
    if _alsa_handler is not None:
        return
    try:
        import ctypes
        import ctypes.util

        name = ctypes.util.find_library("asound")
        if name is None:
            return
        from iirnn_core.rt import library as rt

        lib = ctypes.CDLL(name)
        # Compiled, not a Python callback: alsa-lib calls it on the audio thread, which must never wait
        # for the GIL (rt_entries.ignore_alsa).
        handler = rt.address("ignore_alsa")
        lib.snd_lib_error_set_handler(ctypes.c_void_p(handler))
        _alsa_handler = handler
    except (OSError, AttributeError) as exc:
        log.debug("alsa-lib's messages stay on: %s", exc)


def _output_devices() -> list[dict]:
    sd = _sd()
    with _portaudio:
        apis = [a["name"] for a in sd.query_hostapis()]
        return [dict(d, index=i, hostapi_name=apis[d["hostapi"]]) for i, d in enumerate(sd.query_devices())
                if d["max_output_channels"] > 0]


def list_output_devices() -> list[str]:
    """Names of the output devices the host offers now (empty when there are none)."""
    refresh_devices()
    try:
        return [d["name"] for d in _output_devices()]
    except Exception as exc:  # noqa: BLE001 - no PortAudio, no devices
        log.warning("no audio devices: %s", exc)
        return []


def default_output_device() -> str | None:
    """Name of the host's default output device, or None."""
    try:
        with _portaudio:
            index = _sd().default.device[1]
            if index is None or index < 0:
                outs = _output_devices()
                return outs[0]["name"] if outs else None
            return _sd().query_devices(index)["name"]
    except Exception as exc:  # noqa: BLE001
        log.warning("no default output device: %s", exc)
        return None


def find_output_device(name: str | None) -> dict:
    """The output device called ``name`` (exact, else the first containing it, case-insensitive);
    None: the default. Raises LookupError with one sentence when there is none."""
    outs = _output_devices()
    if not outs:
        raise LookupError("the host offers no output device")
    if name is None:
        name = default_output_device()
        if name is None:
            return outs[0]
    for d in outs:
        if d["name"] == name:
            return d
    for d in outs:
        if name.lower() in d["name"].lower():
            return d
    raise LookupError(f"no output device named {name!r} (have: {', '.join(d['name'] for d in outs)})")


def open_compiled_stream(device: dict, samplerate: int, blocksize: int, channels: int, latency,
                         callback_address: int, user_data: int):
    """An output stream (float32) on ``device`` whose callback is compiled code at ``callback_address`` with
    PortAudio's ``PaStreamCallback`` signature, called with ``user_data``: no Python runs per block.
    Opened, not started; close it with :func:`close_stream`."""
    global _streams_open
    sd = _sd()
    with _portaudio:
        stream = sd._StreamBase("output", samplerate=samplerate, blocksize=blocksize, device=device["index"],
                                channels=channels, dtype="float32", latency=latency,
                                callback=sd._ffi.cast("PaStreamCallback*", callback_address),
                                userdata=sd._ffi.cast("void*", user_data), wrap_callback=None)
        _streams_open += 1
    return stream


def close_stream(stream) -> None:
    """Abort and close a stream :func:`open_compiled_stream` opened (a vanished device may fail either)."""
    global _streams_open
    with _portaudio:
        for step in (stream.abort, stream.close):
            try:
                step()
            except Exception as exc:  # noqa: BLE001
                log.info("closing the stream: %s", exc)
        _streams_open = max(0, _streams_open - 1)
