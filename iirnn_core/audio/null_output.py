"""A paced null output: a thread that calls an output-stream callback at the block rate, with no device.

When there is no sound device (a headless machine, a device unplugged mid-play) the engine keeps
running on this stand-in: the same callback, the same accounting, the scope still moves; the
samples go nowhere. It mimics ``sounddevice.OutputStream``'s callback signature
``callback(outdata (frames, channels) float32, frames, time, status)``, where ``time`` has
``currentTime`` and ``outputBufferDacTime`` (perf_counter seconds; a block "plays" one block
period after its deadline) and ``status`` is falsy.
"""

from __future__ import annotations

import threading
import time

import numpy as np

RESYNC_BLOCKS = 8
"""If the thread falls this many blocks behind (the process was suspended), it restarts its clock."""


class TimeInfo:
    """What a callback reads from its ``time`` argument (updated in place, never reallocated)."""

    __slots__ = ("currentTime", "outputBufferDacTime", "inputBufferAdcTime")

    def __init__(self):
        self.currentTime = 0.0
        self.outputBufferDacTime = 0.0
        self.inputBufferAdcTime = 0.0


class NoStatus:
    """A falsy callback status with no flags set."""

    output_underflow = False

    def __bool__(self):
        return False


class NullOutput:
    """Calls ``callback`` every ``blocksize / samplerate`` seconds on a daemon thread until stopped."""

    def __init__(self, callback, samplerate: float, blocksize: int, channels: int):
        self.callback = callback
        self.samplerate = float(samplerate)
        self.blocksize = int(blocksize)
        self.channels = int(channels)
        self.period = self.blocksize / self.samplerate
        self.buffer = np.zeros((self.blocksize, self.channels), dtype=np.float32)
        self.latency = self.period
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.error: BaseException | None = None

    @property
    def active(self) -> bool:
        """True while the pacing thread runs."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Start calling the callback at the block rate."""
        if self.active:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="iirnn-null-output", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop and wait for the thread (at most one block period plus the callback)."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=2.0)
        self._thread = None

    close = stop
    abort = stop

    def _run(self) -> None:
        info, status = TimeInfo(), NoStatus()
        deadline = time.perf_counter()
        while not self._stop.is_set():
            deadline += self.period
            wait = deadline - time.perf_counter()
            if wait > 0:
                if self._stop.wait(wait):
                    break
            elif wait < -RESYNC_BLOCKS * self.period:
                deadline = time.perf_counter()
            now = time.perf_counter()
            info.currentTime = now
            # one block of "buffer": the block plays when the next slot starts (now, if the thread is late)
            info.outputBufferDacTime = max(deadline + self.period, now)
            try:
                self.callback(self.buffer, self.blocksize, info, status)
            except BaseException as exc:  # noqa: BLE001 - a stand-in must never die silently
                self.error = exc
                break
