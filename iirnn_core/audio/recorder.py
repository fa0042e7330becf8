"""Recording what the output plays: a writer thread that empties the callback's record ring into a WAV.

The compiled callback copies each block it hands the device (after the master gain and clamp,
the float32 samples themselves) into the record ring of its
:class:`~iirnn_core.synth.block_processor.BlockProcessor`; it never writes files and never waits. A
:class:`Recorder` switches that on, and a thread of its own wakes every ``poll`` seconds (20 ms),
moves what the ring holds into a 32-bit float WAV at the device rate
(:class:`~iirnn_core.audio.wav_writer.FloatWavWriter`, whose header states the frames on disk after
every write), and frees the slots. If the writer cannot keep up (a stalled disk) the ring fills: the
callback drops whole blocks and counts them, the audio goes on, and :attr:`Recorder.warning` says
how much was lost. :meth:`Recorder.stop` drains the ring and closes the file, which is then a valid WAV.

The recording ends by itself, with one line in :attr:`Recorder.error` (the audio goes on, the file
stays a valid WAV of what was written), when:

- the disk is nearly full: a write would leave less than ``keep_free`` bytes free on the file's
  filesystem (64 MiB, :data:`~iirnn_core.audio.wav_writer.KEEP_FREE_BYTES`), so a recording never
  fills the disk; a write the system refuses anyway (disk full, a file size limit) keeps the whole
  frames that reached the file;
- it reaches ``max_seconds`` (None: no limit but the WAV format's 4 GiB);
- the output reopens at another rate or channel count (a WAV keeps one).

**Short takes.** The recording also knows how long it ran by the wall clock (``perf_counter``, from
:meth:`~Recorder.start` until it ended) and how many frames the callback played in that time
(recorded or dropped). When the output played fewer than that time holds, by more than
:data:`SHORT_TAKE_BLOCKS` blocks plus the output latency plus :data:`CLOCK_TOLERANCE` of the take (a
device's clock may run slow), the output stopped calling back for a while (a sound server that stalls,
a reopened device): :meth:`RecordResult.summary` and :attr:`Recorder.warning` say so in one line.

``source`` is the processor, or a callable returning the one in use (``lambda: engine.processor``):
an engine that reopens its output gets a new processor; the recording follows it when the rate and
channels stay, and ends (with a message) when they change.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

import numpy as np

from iirnn_core.audio.wav_writer import KEEP_FREE_BYTES, FloatWavWriter
from iirnn_core.errors import Failure, one_line

log = logging.getLogger(__name__)

POLL_SECONDS = 0.02
"""How often the writer empties the ring."""

CHUNK_FRAMES = 1 << 15
"""Frames moved and written at a time."""

SHORT_TAKE_BLOCKS = 8
"""Blocks the output may play fewer than the wall clock holds before a take counts as short."""

CLOCK_TOLERANCE = 0.002
"""Part of a take the output may play fewer than the wall clock holds (a device clock 0.2 % slow)."""


class RecordingError(Failure):
    """The recording file cannot be written: one line for the person."""


@dataclass(frozen=True)
class RecordResult:
    """A finished recording: ``path``, ``frames`` written at ``rate`` Hz with ``channels``, ``dropped`` frames
    the writer could not keep up with (lost, not in the file), ``error`` (why it ended early, or ""),
    ``take`` (seconds by the wall clock from the start until it ended) and ``missing`` (frames of the take
    the output never played, when more than the short-take tolerance, else 0)."""

    path: str
    frames: int
    rate: int
    channels: int
    dropped: int = 0
    error: str = ""
    take: float = 0.0
    missing: int = 0

    @property
    def seconds(self) -> float:
        """Length of the file in seconds."""
        return self.frames / self.rate if self.rate else 0.0

    def summary(self) -> str:
        """One line for the person."""
        of_take = f" of a {self.take:.2f} s take" if self.missing else ""
        text = (f"Recorded {self.seconds:.2f} s{of_take} ({self.frames} frames, {self.rate} Hz, {self.channels} ch, "
                f"32-bit float) to {self.path}")
        text += f": {_gap_text(self.missing, self.rate)}" if self.missing else "."
        if self.dropped:
            text += f" {self.dropped} frames ({self.dropped / self.rate:.2f} s) were lost: the writer fell behind."
        if self.error:
            text += f" It ended early: {self.error}"
        return text


def _gap_text(missing: int, rate: int) -> str:
    return f"the output stopped calling back for {missing / rate:.2f} s."


class Recorder:
    """Records the output of ``source`` (see the module docstring) to the WAV file ``path``.

    ``keep_free``: bytes the recording leaves free on the file's filesystem; ``max_seconds``: the longest
    recording (None: no limit); ``limit_hint``: what to add when it reaches that limit (how to raise it)."""

    def __init__(self, path: str, source, poll: float = POLL_SECONDS, keep_free: int = KEEP_FREE_BYTES,
                 max_seconds: float | None = None, limit_hint: str = ""):
        self.path = str(path)
        self._source = source if callable(source) else (lambda: source)
        self._poll = float(poll)
        self._keep_free = int(keep_free)
        self._max_seconds = max_seconds
        self._limit_hint = limit_hint
        self._max_frames: int | None = None
        self._proc = None
        self._file: FloatWavWriter | None = None
        self._buffer: np.ndarray | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._dropped_before = 0  # frames dropped by processors used earlier in this recording
        self._played_before = 0   # frames played (recorded or dropped) by processors used earlier
        self._write_start = 0     # the current processor's ring write index when it started recording
        self._tolerance = 0.0     # frames a take may be short before it counts (SHORT_TAKE_BLOCKS, latency)
        self._started = 0.0       # perf_counter at the start
        self._ended: float | None = None  # perf_counter when the recording ended (None while it runs)
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
    def frames(self) -> int:
        """Frames in the file so far."""
        return self._file.frames if self._file is not None else 0

    @property
    def dropped(self) -> int:
        """Frames lost so far because the ring was full."""
        proc = self._proc
        return self._dropped_before + (proc.record_dropped if proc is not None else 0)

    @property
    def played(self) -> int:
        """Frames the output played while recording (recorded or dropped)."""
        proc = self._proc
        now = proc.record_written - self._write_start + proc.record_dropped if proc is not None else 0
        return self._played_before + now

    @property
    def take(self) -> float:
        """Seconds by the wall clock from :meth:`start` until the recording ended (or until now)."""
        if not self._started:
            return 0.0
        return (self._ended if self._ended is not None else time.perf_counter()) - self._started

    @property
    def missing(self) -> int:
        """Frames of the take so far the output never played, when more than the tolerance (see the module
        docstring); else 0."""
        take = self.take
        short = int(round(take * self.rate)) - self.played
        return short if short > self._tolerance + CLOCK_TOLERANCE * take * self.rate else 0

    @property
    def warning(self) -> str:
        """One line when the recording ended early, the output stopped calling back, or frames were lost; else ""."""
        parts = []
        if self.error:
            parts.append(f"Recording ended early: {self.error}")
        missing = self.missing
        if missing:
            parts.append(f"Recorded {self.frames / self.rate:.2f} s of a {self.take:.2f} s take: "
                         f"{_gap_text(missing, self.rate)}")
        lost = self.dropped
        if lost and self.rate and not self.error:
            parts.append(f"Recording could not keep up: {lost} frames ({lost / self.rate:.2f} s) lost so far.")
        return " ".join(parts)

    def start(self) -> "Recorder":
        """Open the file and start recording; RecordingError (one line) if the file cannot be written (or
        the disk has less than ``keep_free`` bytes free)."""
        proc = self._source()
        self.rate, self.channels = int(round(proc.device_rate)), int(proc.channels)
        try:
            self._file = FloatWavWriter(self.path, self.rate, self.channels, self._keep_free)
        except Exception as exc:  # noqa: BLE001 - OSError (no such folder...), WavFull
            raise RecordingError(f"cannot record to {self.path}: {one_line(exc)}") from None
        if self._max_seconds is not None:
            self._max_frames = int(self._max_seconds * self.rate)
        self._buffer = np.zeros((CHUNK_FRAMES, self.channels), dtype=np.float32)
        self._tolerance = SHORT_TAKE_BLOCKS * proc.blocksize + proc.output_latency * self.rate
        self._attach(proc)
        self._started = time.perf_counter()
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
        if self._ended is None:
            self._ended = time.perf_counter()
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        try:
            self._release(drain=True)
        except Exception as exc:  # noqa: BLE001 - the last write failed (disk full): the file is closed anyway
            self.error = self.error or one_line(exc)
        try:
            self._file.close()
        except Exception as exc:  # noqa: BLE001 - the final header could not be written
            self.error = self.error or one_line(exc)
        self._result = RecordResult(self.path, self.frames, self.rate, self.channels, self.dropped, self.error,
                                    self.take, self.missing)
        return self._result

    # ---- the writer thread ------------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.wait(self._poll):
            try:
                self._follow()
                if self._proc is None:
                    return
                self._drain(self._proc)
            except Exception as exc:  # noqa: BLE001 - disk nearly full, a write failed: stop, keep the audio going
                self._end(one_line(exc))
                self._release(drain=False)
                log.warning("recording to %s stopped: %s", self.path, self.error)
                return
            lost = self.dropped
            if lost > self._warned:
                self._warned = lost
                log.warning("recording to %s cannot keep up: %d frames lost", self.path, lost)

    def _end(self, error: str) -> None:
        """The recording ends now, for ``error``."""
        self._ended = time.perf_counter()
        self.error = error

    def _attach(self, proc) -> None:
        """Record from ``proc`` from its next block on."""
        self._write_start = proc.record_written  # unchanged while recording is off
        self._proc = proc
        proc.record_start()

    def _follow(self) -> None:
        """Move to the processor the source uses now, if it changed (the output was reopened)."""
        proc = self._source()
        if proc is self._proc or self._proc is None:
            return
        self._release(drain=True)
        if int(round(proc.device_rate)) != self.rate or int(proc.channels) != self.channels:
            self._end(f"the output changed to {proc.device_rate:g} Hz, {proc.channels} ch; "
                      f"a WAV file keeps one rate ({self.rate} Hz, {self.channels} ch)")
            return
        self._attach(proc)

    def _release(self, drain: bool) -> None:
        """Stop the current processor recording, count what it played, and (if ``drain``) write what its ring
        still holds."""
        proc = self._proc
        if proc is None:
            return
        proc.record_stop()
        self._played_before, self._dropped_before = self.played, self.dropped
        self._proc = None
        if drain:
            self._drain(proc)

    def _drain(self, proc) -> None:
        """Write everything the ring of ``proc`` holds now (up to ``max_seconds``)."""
        while True:
            n = proc.read_recorded(self._buffer)
            room = n if self._max_frames is None else max(0, self._max_frames - self.frames)
            if n:
                self._file.write(self._buffer[:min(n, room)])
            if n > room:
                raise RecordingError(f"it reached the limit of {self._max_seconds:g} s{self._limit_hint}")
            if n < len(self._buffer):
                return
