"""A 32-bit float WAV that grows block by block and is a valid file after every write.

:class:`FloatWavWriter` appends float32 frames (``(n, channels)`` arrays) to a WAV
(``WAVE_FORMAT_IEEE_FLOAT``, 32 bits, a ``fact`` chunk, a fixed :data:`HEADER_BYTES`-byte header)
and rewrites the header's sizes after every write, so the header always describes the whole
frames on disk, even if the process is killed. It stops, with :class:`WavFull` (one line), instead
of growing past what the disk or the format allow:

- before a write it reads the free space of the file's filesystem (``fstatvfs``, what a non-root
  user may use) and writes only what leaves ``keep_free`` bytes (:data:`KEEP_FREE_BYTES`, 64 MiB)
  free, counting one more filesystem block for the file's partly filled last one, so a long
  recording never fills the disk (``keep_free`` 0: no such check, it writes until the system refuses);
- a write the system cuts short (disk full, ``ENOSPC``; a file size limit, ``EFBIG``) keeps the
  whole frames that reached the file and cuts off a partial one (``ftruncate``), then stops;
- a RIFF file holds at most 4 GiB (:data:`MAX_DATA_BYTES`): 3.1 h at 48 kHz in stereo.

:func:`wav_bytes` says how large a file of ``frames`` will be, for the checks made before any work.
"""

from __future__ import annotations

import contextlib
import math
import os
import struct

import numpy as np

from iirnn_core.errors import Failure

HEADER_BYTES = 58
"""RIFF (12) + ``fmt `` with cbSize (26) + ``fact`` (12) + ``data`` chunk header (8). scipy's float
WAVs (``iirnn render``) have the same 58-byte header."""

MAX_DATA_BYTES = 0xFFFFFFFF - (HEADER_BYTES - 8)
"""The most sample bytes a WAV holds: its RIFF size field is 32 bits."""

KEEP_FREE_BYTES = 64 * 1024 * 1024
"""Free space (bytes) a growing WAV leaves on its filesystem: it stops before taking the last 64 MiB."""

FLOAT_BYTES = 4
"""Bytes per sample (float32)."""


class WavFull(Failure):
    """The WAV cannot grow (the disk is nearly full, a write failed, or the format's 4 GiB): one line."""


def wav_bytes(frames: int, channels: int) -> int:
    """Size in bytes of a float32 WAV of ``frames`` frames of ``channels`` samples: header + frames*channels*4."""
    return HEADER_BYTES + int(frames) * int(channels) * FLOAT_BYTES


def size_text(n: float) -> str:
    """``n`` bytes for a person, in powers of 1024: '512 B', '1.5 KiB', '64.0 MiB', '3.1 GiB'."""
    if abs(n) < 1024:
        return f"{n:.0f} B"
    n /= 1024.0
    for unit in ("KiB", "MiB"):
        if abs(n) < 1024:
            return f"{n:.1f} {unit}"
        n /= 1024.0
    return f"{n:.1f} GiB"


def free_bytes(path: str) -> int:
    """Bytes a non-root user may still write on the filesystem that holds ``path`` (a file or a folder)."""
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


class FloatWavWriter:
    """Writes ``channels`` float32 channels at ``rate`` Hz to the WAV ``path`` (created or emptied).

    ``keep_free``: bytes left free on the filesystem (see the module docstring; 0: no check). Opening raises
    OSError when the file cannot be created, and WavFull when the disk already has less than ``keep_free`` free.
    :attr:`frames` counts the frames on disk, which the header always states."""

    def __init__(self, path: str, rate: int, channels: int, keep_free: int = KEEP_FREE_BYTES):
        self.path = str(path)
        self.rate, self.channels = int(rate), int(channels)
        self.keep_free = int(keep_free)
        self.frame_bytes = self.channels * FLOAT_BYTES
        self.frames = 0
        existed = os.path.exists(self.path)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o666)
        try:  # a file refused here is left as it was (or not created)
            self._slack = os.fstatvfs(self._fd).f_frsize  # the last block, partly filled, counts as used
            if self._usable() + os.fstat(self._fd).st_size < HEADER_BYTES:  # a file replaced gives its space back
                raise WavFull(self._disk_text(self.free()))
            os.ftruncate(self._fd, 0)
            self._write_header()
            os.lseek(self._fd, HEADER_BYTES, os.SEEK_SET)
        except BaseException:
            os.close(self._fd)
            self._fd = -1
            if not existed:
                with contextlib.suppress(OSError):
                    os.unlink(self.path)
            raise

    @property
    def closed(self) -> bool:
        """True once :meth:`close` ran."""
        return self._fd < 0

    def free(self) -> int:
        """Free bytes (for a non-root user) on the file's filesystem now."""
        st = os.fstatvfs(self._fd)
        return st.f_bavail * st.f_frsize

    def write(self, data: np.ndarray) -> None:
        """Append ``data`` ((n, channels) float32 samples) and update the header.

        Raises WavFull (after writing the whole frames that fit) when the disk would keep less than
        ``keep_free`` bytes, when the system refuses a write (the frames that reached the file stay,
        a partial frame is cut off), or at the format's 4 GiB."""
        data = np.ascontiguousarray(data, dtype="<f4")
        if data.ndim != 2 or data.shape[1] != self.channels:
            raise ValueError(f"expected (n, {self.channels}) samples, got {data.shape}")
        n = len(data)
        fit, why = n, ""
        room = MAX_DATA_BYTES // self.frame_bytes - self.frames
        if fit > room:
            hours = MAX_DATA_BYTES // self.frame_bytes / self.rate / 3600
            fit, why = room, f"a WAV file holds at most 4 GiB ({hours:.1f} h at {self.rate} Hz, {self.channels} ch)"
        usable = self._usable()
        disk = fit > usable // self.frame_bytes
        if disk:
            fit = max(0, usable // self.frame_bytes)
        written, error = self._append(memoryview(data[:fit].reshape(-1).view(np.uint8)))
        self.frames += written
        self._write_header()
        if error is not None:
            raise WavFull(f"the system refused the write after {self.frames / self.rate:.2f} s: "
                          f"{error.strerror or error}")
        if disk:
            raise WavFull(self._disk_text(self.free()))
        if fit < n:
            raise WavFull(why)

    def close(self) -> None:
        """Write the final header and close the file (a valid WAV of :attr:`frames` frames). Idempotent."""
        if self._fd < 0:
            return
        try:
            self._write_header()
        finally:
            os.close(self._fd)
            self._fd = -1

    def _usable(self) -> int | float:
        """Bytes the file may still grow by and leave ``keep_free`` free (inf without a check)."""
        if self.keep_free <= 0:
            return math.inf
        return self.free() - self.keep_free - self._slack

    def _disk_text(self, free: int) -> str:
        folder = os.path.dirname(os.path.abspath(self.path))
        return (f"the disk is nearly full ({size_text(free)} free on {folder}; "
                f"a recording leaves {size_text(self.keep_free)} free)")

    def _append(self, raw: memoryview) -> tuple[int, OSError | None]:
        """Write ``raw`` at the end; returns (whole frames now on disk from it, the error that stopped it or None)."""
        done, error = 0, None
        while done < len(raw):
            try:
                count = os.write(self._fd, raw[done:])
            except OSError as exc:  # ENOSPC, EFBIG (with SIGXFSZ ignored), EIO...
                error = exc
                break
            if count <= 0:
                error = OSError("the file system wrote nothing")
                break
            done += count
        whole = done // self.frame_bytes
        if whole * self.frame_bytes != done:  # a frame cut in two: drop its first half
            end = HEADER_BYTES + (self.frames + whole) * self.frame_bytes
            os.ftruncate(self._fd, end)
            os.lseek(self._fd, end, os.SEEK_SET)
        return whole, error

    def _write_header(self) -> None:
        """Rewrite the header in place for :attr:`frames` frames (overwrites bytes already allocated)."""
        data = self.frames * self.frame_bytes
        header = struct.pack("<4sI4s4sIHHIIHHH4sII4sI",
                             b"RIFF", HEADER_BYTES - 8 + data, b"WAVE",
                             b"fmt ", 18, 3, self.channels, self.rate, self.rate * self.frame_bytes,
                             self.frame_bytes, 32, 0,
                             b"fact", 4, self.frames,
                             b"data", data)
        assert len(header) == HEADER_BYTES
        os.pwrite(self._fd, header, 0)
