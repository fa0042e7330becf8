"""Recording what the output plays: a writer thread that empties the callback's record ring into a WAV.

The compiled callback copies each block it hands the device (after the master gain and clamp,
the float32 samples themselves) into the record ring of its
:class:`~iirnn_core.synth.block_processor.BlockProcessor`; it never writes files and never waits. A
:class:`Recorder` switches that on, and a thread of its own wakes every ``poll`` seconds (20 ms),
moves what the ring holds into a 32-bit float WAV (soundfile, subtype FLOAT) at the device rate,
and frees the slots. If the writer cannot keep up (a stalled disk) the ring fills: the callback
drops whole blocks and counts them, the audio goes on, and :attr:`Recorder.warning` says how much
was lost. :meth:`Recorder.stop` drains the ring and closes the file, which is then a valid WAV.

``source`` is the processor, or a callable returning the one in use (``lambda: engine.processor``):
an engine that reopens its output gets a new processor; the recording follows it when the rate and
channels stay, and ends (with a message) when they change.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

import numpy as np

from iirnn_core.errors import Failure, one_line

log = logging.getLogger(__name__)

POLL_SECONDS = 0.02
"""How often the writer empties the ring."""

CHUNK_FRAMES = 1 << 15
"""Frames moved and written at a time."""


class RecordingError(Failure):
    """The recording file cannot be written: one line for the person."""


@dataclass(frozen=True)
class RecordResult:
    """A finished recording: ``path``, ``frames`` written at ``rate`` Hz with ``channels``, ``dropped`` frames
    the writer could not keep up with (lost, not in the file), and ``error`` (why it ended early, or "")."""

    path: str
    frames: int
    rate: int
    channels: int
    dropped: int = 0
    error: str = ""

    @property
    def seconds(self) -> float:
        """Length of the file in seconds."""
        return self.frames / self.rate if self.rate else 0.0

    def summary(self) -> str:
        """One line for the person."""
        text = (f"Recorded {self.seconds:.2f} s ({self.frames} frames, {self.rate} Hz, {self.channels} ch, "
                f"32-bit float) to {self.path}.")
        if self.dropped:
            text += f" {self.dropped} frames ({self.dropped / self.rate:.2f} s) were lost: the writer fell behind."
        if self.error:
            text += f" It ended early: {self.error}"
        return text


class Recorder:
    """Records the output of ``source`` (see the module docstring) to the WAV file ``path``."""

    def __init__(self, path: str, source, poll: float = POLL_SECONDS):
        self.path = str(path)
        self._source = source if callable(source) else (lambda: source)
        self._poll = float(poll)
        self._proc = None
        self._file = None
        self._buffer: np.ndarray | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._dropped_before = 0  # frames dropped by processors used earlier in this recording
        self.frames = 0
        self.rate = 0
        self.channels = 0
        self.error = ""
        self._warned = 0
        self._result: RecordResult | None = None

    @property
    def active(self) -> bool:
        """True from :meth:`start` until :meth:`stop`."""
        return self._file is not None and self._result is None

    @property
    def dropped(self) -> int:
        """Frames lost so far because the ring was full."""
        proc = self._proc
        return self._dropped_before + (proc.record_dropped if proc is not None else 0)

    @property
    def warning(self) -> str:
        """One line when frames were lost or the recording ended early, else ""."""
        if self.error:
            return f"Recording ended early: {self.error}"
        lost = self.dropped
        if lost and self.rate:
            return f"Recording could not keep up: {lost} frames ({lost / self.rate:.2f} s) lost so far."
        return ""

    def start(self) -> "Recorder":
        """Open the file and start recording; RecordingError (one line) if the file cannot be written."""
        import soundfile

        proc = self._source()
        self.rate, self.channels = int(round(proc.device_rate)), int(proc.channels)
        try:
            self._file = soundfile.SoundFile(self.path, "w", samplerate=self.rate, channels=self.channels,
                                             subtype="FLOAT", format="WAV")
        except Exception as exc:  # noqa: BLE001 - soundfile raises LibsndfileError/OSError/TypeError
            raise RecordingError(f"cannot record to {self.path}: {one_line(exc)}") from None
        self._buffer = np.zeros((CHUNK_FRAMES, self.channels), dtype=np.float32)
        self._proc = proc
        proc.record_start()
        self._thread = threading.Thread(target=self._run, name="iirnn-recorder", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> RecordResult:
        """Stop, write what the ring still holds, close the file (a valid WAV) and return the result.
        Calling it again returns the same result."""
        if self._result is not None:
            return self._result
        if self._file is None:
            raise RuntimeError("the recorder was not started")
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        try:
            if self._proc is not None:
                self._release(self._proc)
        except Exception as exc:  # noqa: BLE001 - the last write failed (disk full): the file is closed anyway
            self.error = self.error or one_line(exc)
        try:
            self._file.close()
        except Exception as exc:  # noqa: BLE001 - a full disk at the last write
            self.error = self.error or one_line(exc)
        self._result = RecordResult(self.path, self.frames, self.rate, self.channels, self.dropped, self.error)
        return self._result

    # ---- the writer thread ------------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.wait(self._poll):
            try:
                self._follow()
                if self._proc is None:
                    return
                self._drain(self._proc)
            except Exception as exc:  # noqa: BLE001 - a write failed (disk full...): stop, keep the audio going
                self.error = one_line(exc)
                self._release(self._proc, drain=False)
                self._proc = None
                log.warning("recording to %s stopped: %s", self.path, self.error)
                return
            lost = self.dropped
            if lost > self._warned:
                self._warned = lost
                log.warning("recording to %s cannot keep up: %d frames lost", self.path, lost)

    def _follow(self) -> None:
        """Move to the processor the source uses now, if it changed (the output was reopened)."""
        proc = self._source()
        if proc is self._proc or self._proc is None:
            return
        self._release(self._proc)
        self._dropped_before += self._proc.record_dropped
        self._proc = None
        if int(round(proc.device_rate)) != self.rate or int(proc.channels) != self.channels:
            self.error = (f"the output changed to {proc.device_rate:g} Hz, {proc.channels} ch; "
                          f"a WAV file keeps one rate ({self.rate} Hz, {self.channels} ch)")
            return
        self._proc = proc
        proc.record_start()

    def _release(self, proc, drain: bool = True) -> None:
        """Stop ``proc`` recording and (unless ``drain`` is False) write what its ring still holds."""
        if proc is None:
            return
        proc.record_stop()
        if drain:
            self._drain(proc)

    def _drain(self, proc) -> None:
        """Write everything the ring of ``proc`` holds now."""
        while True:
            n = proc.read_recorded(self._buffer)
            if n:
                self._file.write(self._buffer[:n])
                self.frames += n
            if n < len(self._buffer):
                return
