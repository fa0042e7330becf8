"""How much audio a command may produce: checked before any work, refused in one line.

- **Length**: at most :data:`MAX_SECONDS` (one hour) of audio from ``iirnn render`` (``--seconds``, or a
  MIDI file's length plus its tail) and ``iirnn play`` (``--seconds``, and so ``--record``);
  ``--max-seconds S`` raises it (:func:`add_max_seconds`). Over it: :class:`UsageError`, exit 2.
  ``iirnn play --midi-in`` without ``--seconds`` plays until Ctrl-C: its length is not known, so its
  recording stops by itself at the limit (:class:`~iirnn_core.audio.recorder.Recorder` ``max_seconds``).
- **Disk**: a WAV (float32: ``frames * channels * 4`` bytes plus the header,
  :func:`~iirnn_core.audio.wav_writer.wav_bytes`) larger than the free space of the filesystem it goes to
  (``statvfs`` of its folder; a file it replaces counts as free), plus what a recording leaves free
  (64 MiB), is refused: :class:`Failure`, exit 1 (the arguments are fine; the disk is not).
"""

from __future__ import annotations

import math
import os

from iirnn_core.audio.wav_writer import free_bytes, size_text, wav_bytes
from iirnn_core.errors import Failure, UsageError

MAX_SECONDS = 3600.0
"""The longest audio (seconds) a command produces unless ``--max-seconds`` raises it: one hour."""


def add_max_seconds(parser) -> None:
    """Add ``--max-seconds S`` (default :data:`MAX_SECONDS`) to an argparse ``parser``."""
    parser.add_argument("--max-seconds", type=float, default=MAX_SECONDS, metavar="S",
                        help=f"refuse to produce more than S seconds of audio (default {MAX_SECONDS:g}: one hour; "
                             "inf: no limit)")


def check_seconds(command: str, what: str, seconds: float, max_seconds: float) -> None:
    """UsageError (one line naming the limit and ``--max-seconds``) when ``seconds`` of audio is more than
    ``max_seconds``. ``what`` names the output ('OUT.wav', 'the take'); an unknown (infinite) length passes."""
    if not max_seconds > 0:
        raise UsageError(f"iirnn {command}: --max-seconds must be positive, got {max_seconds}")
    if math.isfinite(seconds) and seconds > max_seconds:
        hours = f" ({seconds / 3600:.2f} h)" if seconds >= 3600 else ""
        raise UsageError(f"iirnn {command}: {what} would be {seconds:.1f} s of audio{hours}, "
                         f"more than the limit of {max_seconds:g} s; --max-seconds S raises it")


def check_disk(command: str, path: str, frames: int, channels: int, keep_free: int = 0) -> None:
    """Failure (one line) when a float32 WAV of ``frames`` frames of ``channels`` at ``path``, plus ``keep_free``
    bytes, does not fit in the free space of its filesystem. A folder that cannot be read passes (the write
    then says why)."""
    folder = os.path.dirname(os.path.abspath(path))
    try:
        free = free_bytes(folder)
        if os.path.isfile(path):
            free += os.path.getsize(path)  # replaced, so its space comes back
    except OSError:
        return
    need = wav_bytes(frames, channels)
    if need + keep_free > free:
        leaves = f", and a recording leaves {size_text(keep_free)} free" if keep_free else ""
        raise Failure(f"iirnn {command}: {path} would take {size_text(need)}; {folder} has {size_text(free)} free"
                      f"{leaves}")
