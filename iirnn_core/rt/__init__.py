"""Everything the audio callback runs or shares: compiled code and the memory layouts it reads.

The kernels (``*_kernels.py``, ``output_stage``, ``atomics``) are numba functions that run inside
PortAudio's callback thread with no GIL: they never allocate, lock, log, wait or raise. The layouts
(``tables``, ``*_layout.py``) are plain constants that the kernels and the Python side both import.
``entries`` gives the C entry points, ``build`` compiles them ahead of time into one library, and
``library`` is the one door through which Python calls them (with no numba in the caller's process).

Numba's own cache checks only each compiled function's own file, so after an edit to a kernel that
another one calls (or a ``git pull``) it would load machine code compiled from the old source. Importing
this package therefore points numba's cache at a folder named by the digest of every source here
(:func:`sources_digest`), as the ahead-of-time library's key does, unless ``NUMBA_CACHE_DIR`` is set;
folders of other digests unused for a day are removed.
"""

import hashlib
import os
import shutil
import sys
import time
from pathlib import Path

STALE_SECONDS = 86400.0
"""A numba cache folder of other sources unused this long is removed."""


def sources_digest() -> str:
    """SHA-256 (hex) of this package's sources, file names included."""
    digest = hashlib.sha256()
    for source in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(source.name.encode() + source.read_bytes())
    return digest.hexdigest()


def cache_root() -> Path:
    """The project's cache folder (``$XDG_CACHE_HOME/iirnn-synth``)."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "iirnn-synth"


def _numba_cache_for_these_sources() -> None:
    if os.environ.get("NUMBA_CACHE_DIR"):
        return
    folder = cache_root() / f"numba-{sources_digest()[:16]}"
    os.environ["NUMBA_CACHE_DIR"] = str(folder)
    config = sys.modules.get("numba.core.config")
    if config is not None:  # numba is loaded already (the trainer's kernels): tell it too
        config.CACHE_DIR = str(folder)
    try:
        now = time.time()
        for other in folder.parent.glob("numba-*"):
            if other != folder and now - other.stat().st_mtime > STALE_SECONDS:
                shutil.rmtree(other, ignore_errors=True)
    except OSError:
        pass


_numba_cache_for_these_sources()
