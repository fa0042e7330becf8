"""A recording that meets a full disk, without a sound device.

:func:`record_until_it_stops` drives the block processor of an engine that has no output by calling
``proc.process`` block after block (a note struck every :data:`STRIKE_EVERY` blocks, with block times
of its own, so the samples are the same on every run: :func:`played` plays them again), while a
:class:`~iirnn_core.audio.recorder.Recorder` writes them, in step (no block is ever dropped), until
the recording stops by itself.

Where the disk is made small:

- :func:`small_filesystem` mounts a tmpfs of a given size for the test (root only; yields False where
  it cannot);
- run as a script, ``python full_disk.py PATH KEEP_FREE FSIZE`` records to PATH in a child process
  whose ``RLIMIT_FSIZE`` is FSIZE bytes (SIGXFSZ ignored, so a write past it fails with EFBIG, as a
  full disk fails with ENOSPC) and prints the result as JSON: :func:`record_in_child`.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

RATE, BLOCK = 48000, 128
NOTES = (69, 76, 72, 81)
STRIKE_EVERY = 100
"""Blocks between strikes (0.27 s): the take never falls silent."""


def make_engine():
    """An engine with no output started: its processor is driven by :func:`play_block`."""
    from iirnn_core.audio.engine import AudioConfig, AudioEngine
    from iirnn_core.synth.renderer import SynthSettings

    return AudioEngine(AudioConfig(samplerate=RATE, blocksize=BLOCK), SynthSettings(q=0.999, channels=2), "iir")


def play_block(engine, i: int, out: np.ndarray) -> None:
    """Play block ``i`` (at ``i * BLOCK / RATE`` s) into ``out`` (BLOCK, 2) float32."""
    t = i * BLOCK / RATE
    if i % STRIKE_EVERY == 0:
        engine.note_on(NOTES[(i // STRIKE_EVERY) % len(NOTES)], 0.8, when=t)
    engine.processor.process(out, BLOCK, t, t, t + BLOCK / RATE, False)


def played(blocks: int) -> np.ndarray:
    """The first ``blocks`` blocks :func:`record_until_it_stops` plays, (blocks * BLOCK, 2) float32."""
    engine = make_engine()
    out = np.zeros((BLOCK, 2), dtype=np.float32)
    take = np.empty((blocks * BLOCK, 2), dtype=np.float32)
    for i in range(blocks):
        play_block(engine, i, out)
        take[i * BLOCK:(i + 1) * BLOCK] = out
    return take


def record_until_it_stops(path, keep_free: int, engine=None, max_seconds: float = 120.0, batch: int = 64) -> dict:
    """Record what the engine plays to ``path`` until the recorder stops by itself (or ``max_seconds`` of
    audio, or 60 s of wall clock); returns the result's fields, its summary, the recorder's warning and how
    many blocks were played."""
    from iirnn_core.audio.recorder import Recorder

    engine = make_engine() if engine is None else engine
    recorder = Recorder(path, engine.processor, poll=0.002, keep_free=keep_free).start()
    out = np.zeros((BLOCK, 2), dtype=np.float32)
    deadline = time.monotonic() + 60.0
    i = 0
    while not recorder.error and i * BLOCK < max_seconds * RATE and time.monotonic() < deadline:
        for _ in range(batch):
            play_block(engine, i, out)
            i += 1
        while not recorder.error and recorder.frames < i * BLOCK and time.monotonic() < deadline:
            time.sleep(0.0005)  # in step with the writer: the ring never fills, nothing is dropped
    result = recorder.stop()
    return {"frames": result.frames, "dropped": result.dropped, "error": result.error,
            "summary": result.summary(), "warning": recorder.warning, "blocks": i}


def record_in_child(path, fsize: int, keep_free: int = 0) -> dict:
    """:func:`record_until_it_stops` in a child process whose files may not grow past ``fsize`` bytes."""
    proc = subprocess.run([sys.executable, __file__, str(path), str(keep_free), str(fsize)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


@contextlib.contextmanager
def small_filesystem(folder: Path, size: int):
    """Mount a tmpfs of ``size`` bytes on ``folder`` for the block; yields True, or False where it cannot be
    mounted (not root, no ``mount``, a container that forbids it)."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        yield False
        return
    folder.mkdir(parents=True, exist_ok=True)
    if subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "iirnn-tests", str(folder)],
                      capture_output=True).returncode != 0:
        yield False
        return
    try:
        yield True
    finally:
        if subprocess.run(["umount", str(folder)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(folder)], capture_output=True)


if __name__ == "__main__":
    import resource
    import signal

    target, keep, limit = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    engine = make_engine()  # before the limit: compiling or caching may write files of its own
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    print(json.dumps(record_until_it_stops(target, keep, engine)))
