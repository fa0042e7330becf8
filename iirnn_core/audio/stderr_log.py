"""The C libraries' stderr into Python ``logging``: PortAudio, ALSA and JACK lines off the terminal.

PortAudio prints its own complaints (``Expression '...' failed in 'src/hostapi/alsa/pa_linux_alsa.c',
line: ...`` when the sound server dies under a stream) with ``fprintf(stderr, ...)`` from
``PaUtil_DebugPrint``, often on the audio thread; Debian's libportaudio.so.2 does not export
``PaUtil_SetDebugPrintFunction``, so it cannot be hooked by symbol. (alsa-lib's and libjack's own
handlers are already compiled no-ops: ``quiet_alsa`` in :mod:`iirnn_core.audio.devices`, ``ignore_jack``.)

So :class:`StderrRouter` takes file descriptor 2 itself:

- the original stderr is duplicated, and Python's ``sys.stderr`` (and every logging handler that
  wrote to it) writes to that copy: the project's one-line messages and real Python tracebacks
  reach the terminal as before, never through the pipe;
- fd 2 becomes the write end of a pipe opened ``O_NONBLOCK``: a C library writing there, even on
  the audio thread, never waits; when the pipe is full (the reader stalled) the write fails with
  EAGAIN and that text is dropped;
- a daemon thread reads the pipe line by line: lines from PortAudio, ALSA or JACK
  (:func:`is_library_line`) go to the ``iirnn_core.audio.portaudio`` logger at debug level (seen
  only when logging is configured that verbose), anything else is written unchanged to the
  original stderr. A line left without its newline for :data:`PARTIAL_LINE_SECONDS` is passed on
  as it is (a prompt, a progress bar written from C).

:func:`install` is called once by the entry points (``iirnn``, ``iirnn-synth``); it does nothing
where ``sys.stderr`` does not write to fd 2 (pytest capturing, no console). :func:`uninstall`
(also run at exit) puts fd 2 back and passes on what is still in the pipe. Child processes inherit
fd 2, the pipe, so their stderr is routed the same way while this process lives.
"""

from __future__ import annotations

import atexit
import io
import logging
import os
import re
import select
import sys
import threading
import time

LOGGER_NAME = "iirnn_core.audio.portaudio"
"""Where the libraries' lines go, at debug level."""
PARTIAL_LINE_SECONDS = 0.1
"""A line that waits this long (s) for its newline is passed on without it."""
MAX_LINE_BYTES = 1 << 16
"""A longer line is passed on in pieces of this many bytes."""
PIPE_BYTES = 1 << 18
"""Pipe capacity asked for (bytes; the kernel's default is 64 KiB): room for a burst while the reader waits for the GIL."""
SETTLE_SECONDS = 0.1
"""How long (s) a write to ``sys.stderr`` waits at most for the reader to pass on what C wrote before it."""

LIBRARY_LINE = re.compile(
    r"Expression '.*' failed in '"           # PortAudio's PA_ENSURE / PA_UNLESS
    r"|\bpa_\w+\.c\b"                        # a PortAudio source file named (src/hostapi/alsa/pa_linux_alsa.c, ...)
    r"|^\s*Pa(?:Alsa|Unix|Util|Jack|Pulse)\w*"  # a PortAudio function printing its name first
    r"|^ALSA lib "                           # alsa-lib's default error handler
    r"|^Cannot connect to server|^jack server is not running|^JackShm|^Jack\w*::"  # libjack's client
)
"""What marks a line as PortAudio's, alsa-lib's or libjack's."""


def is_library_line(line: str) -> bool:
    """True if ``line`` (one line of stderr, with or without its newline) comes from PortAudio, ALSA or JACK."""
    return LIBRARY_LINE.search(line) is not None


class StderrRouter:
    """Routes file descriptor ``fd`` (2) through a pipe: see the module docstring. :meth:`install` once,
    :meth:`uninstall` to put everything back; both are idempotent and thread-safe."""

    def __init__(self, fd: int = 2, logger: logging.Logger | None = None):
        self._fd = fd
        self._log = logger or logging.getLogger(LOGGER_NAME)
        self._lock = threading.Lock()
        self._saved: int | None = None     # the original stderr, duplicated
        self._read: int | None = None
        self._wake: tuple[int, int] | None = None
        self._thread: threading.Thread | None = None
        self._stream = None                 # the sys.stderr we installed
        self._previous_stream = None
        self._handlers: list[logging.StreamHandler] = []
        self._busy = False                  # the reader holds bytes it has not passed on yet

    @property
    def installed(self) -> bool:
        """True while fd 2 goes through the pipe."""
        return self._saved is not None

    def install(self) -> bool:
        """Take over fd 2; True if it now goes through the pipe (False where ``sys.stderr`` is not fd 2)."""
        with self._lock:
            if self._saved is not None:
                return True
            try:
                if sys.stderr is None or sys.stderr.fileno() != self._fd:
                    return False
                sys.stderr.flush()
                os.fstat(self._fd)
            except (AttributeError, OSError, ValueError):  # io.UnsupportedOperation is both
                return False
            saved = os.dup(self._fd)
            read, write = os.pipe()
            os.set_blocking(write, False)
            self._grow(write)
            self._saved, self._read, self._wake = saved, read, os.pipe()
            self._thread = threading.Thread(target=self._run, name="iirnn-stderr-log", daemon=True)
            self._thread.start()
            os.dup2(write, self._fd)  # inheritable: children's stderr is routed too
            os.close(write)
            old = sys.stderr
            self._stream = _OriginalStderr(io.FileIO(saved, "w", closefd=False), encoding=old.encoding,
                                           errors=old.errors, line_buffering=True, write_through=True)
            self._stream.settle = self._settle
            self._previous_stream = old
            self._handlers = _swap_handler_streams(old, self._stream)
            sys.stderr = self._stream
            return True

    def uninstall(self) -> None:
        """Put fd 2 and ``sys.stderr`` back, after passing on everything written to the pipe until now."""
        with self._lock:
            if self._saved is None:
                return
            for stream in (self._stream, self._previous_stream):
                try:
                    stream.flush()
                except (OSError, ValueError):
                    pass
            os.dup2(self._saved, self._fd)   # from here on C writes reach the terminal directly
            os.write(self._wake[1], b"x")    # the reader drains the pipe and ends
            self._thread.join(timeout=2.0)
            if sys.stderr is self._stream:
                sys.stderr = self._previous_stream
            for handler in self._handlers:
                if handler.stream is self._stream:
                    handler.setStream(self._previous_stream)
            _swap_handler_streams(self._stream, self._previous_stream)  # and handlers made while routed
            self._stream.close()             # a stale reference fails loudly instead of writing to a reused fd
            if not self._thread.is_alive():
                for fd in (self._read, *self._wake, self._saved):
                    os.close(fd)
            self._saved = self._read = self._wake = self._thread = self._stream = self._previous_stream = None
            self._handlers = []

    def _settle(self) -> None:
        """Wait (at most SETTLE_SECONDS) until the reader has passed on what is in the pipe, so that Python's
        lines and the C libraries' keep their order on the terminal. Never on the reader's own thread."""
        read, thread = self._read, self._thread
        if read is None or thread is threading.current_thread():
            return
        deadline = time.monotonic() + SETTLE_SECONDS
        while (self._busy or _unread(read)) and time.monotonic() < deadline:
            time.sleep(0.001)

    @staticmethod
    def _grow(write: int) -> None:
        try:
            import fcntl

            fcntl.fcntl(write, fcntl.F_SETPIPE_SZ, PIPE_BYTES)
        except (ImportError, AttributeError, OSError):
            pass  # the default 64 KiB then

    # ---- the reader thread -------------------------------------------------------------------------

    def _run(self) -> None:
        """Read the pipe until :meth:`uninstall` wakes us (or every writer is gone), line by line."""
        read, wake = self._read, self._wake[0]
        poller = select.poll()
        poller.register(read, select.POLLIN)
        poller.register(wake, select.POLLIN)
        pending, since = b"", 0.0
        while True:
            timeout = None if not pending else max(0.0, since + PARTIAL_LINE_SECONDS - time.monotonic()) * 1000
            ready = dict(poller.poll(timeout))
            stop = wake in ready
            if read in ready:
                self._busy = True
                data = os.read(read, 1 << 16)
                if not data:
                    stop = True
                elif not pending or b"\n" in data:
                    since = time.monotonic()  # when the line now pending began
                pending = self._lines(pending + data)
            if stop:
                os.set_blocking(read, False)
                while True:
                    try:
                        data = os.read(read, 1 << 16)
                    except BlockingIOError:
                        break
                    if not data:
                        break
                    pending = self._lines(pending + data)
                break
            if pending and time.monotonic() - since >= PARTIAL_LINE_SECONDS:
                self._emit(pending)
                pending = b""
            self._busy = False
        if pending:
            self._emit(pending)

    def _lines(self, data: bytes) -> bytes:
        """Pass on every complete line of ``data`` (and over-long pieces); return the unfinished rest."""
        start = 0
        while True:
            end = data.find(b"\n", start)
            if end < 0:
                if len(data) - start >= MAX_LINE_BYTES:
                    self._emit(data[start:start + MAX_LINE_BYTES])
                    start += MAX_LINE_BYTES
                    continue
                return data[start:]
            self._emit(data[start:end + 1])
            start = end + 1

    def _emit(self, raw: bytes) -> None:
        """One line: to the log if a library wrote it, else unchanged to the original stderr."""
        try:
            text = raw.decode("utf-8", errors="replace")
            if is_library_line(text):
                self._log.debug("%s", text.rstrip("\r\n"))
                return
            view = memoryview(raw)
            while view:
                view = view[os.write(self._saved, view):]
        except Exception:  # noqa: BLE001 - the reader must outlive a bad handler or a closed terminal
            pass


class _OriginalStderr(io.TextIOWrapper):
    """``sys.stderr`` while routed: the original stderr, written after the pipe has settled."""

    settle = None

    def write(self, text):  # noqa: D102 - io.TextIOWrapper.write
        if self.settle is not None:
            self.settle()
        return super().write(text)


def _unread(fd: int) -> int:
    """Bytes waiting in pipe ``fd`` (0 where that cannot be asked)."""
    try:
        import fcntl
        import termios

        return int.from_bytes(fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0"), sys.byteorder)
    except (ImportError, OSError):
        return 0


def _swap_handler_streams(old, new) -> list[logging.StreamHandler]:
    """Point every logging handler that writes to ``old`` at ``new``; returns those handlers."""
    loggers = [logging.getLogger()] + [lg for lg in logging.Logger.manager.loggerDict.values()
                                        if isinstance(lg, logging.Logger)]
    swapped = []
    for lg in loggers:
        for handler in lg.handlers:
            if isinstance(handler, logging.StreamHandler) and handler.stream is old:
                handler.setStream(new)
                swapped.append(handler)
    return swapped


_router = StderrRouter()
_at_exit = False


def install() -> bool:
    """Route this process's fd 2 (once; later calls do nothing); True if it is routed. Undone at exit."""
    global _at_exit
    routed = _router.install()
    if routed and not _at_exit:
        atexit.register(uninstall)
        _at_exit = True
    return routed


def uninstall() -> None:
    """Undo :func:`install`, passing on what is still in the pipe."""
    _router.uninstall()
