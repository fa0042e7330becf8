"""The one door into the compiled audio code, with no numba in the calling process.

Every call from Python into the compiled code (events, patches, recording, the null output's
blocks, offline rendering) and every address handed to C (PortAudio's callback, alsa-lib's and
libjack's message handlers) goes through this module. It calls the entry points of
:mod:`iirnn_core.rt.entries` through ctypes, from one of two places, same code either way:

- **the ahead-of-time library** that :mod:`iirnn_core.rt.build` compiled from those entry points
  for this CPU, numba and Python (``~/.cache/iirnn-synth/rt-<key>.so``; ``./run`` builds it).
  Loading it maps a few hundred kilobytes: the window's process then imports neither numba nor
  llvmlite (about 170 MB less resident memory, and no JIT compile at start);
- **numba in this process**, the same ``@cfunc`` s compiled (or loaded from numba's cache) at
  first use, when the library is missing, stale or refused (one log line says why), or when
  ``IIRNN_RT=numba`` asks for it.

ctypes releases the GIL for each call, as the compiled functions never need it. Arrays are passed
by address; they must be C-contiguous with the dtype each function names (checked here).
"""

from __future__ import annotations

import ctypes
import hashlib
import logging
import os
import sys
from pathlib import Path

import numpy as np

from iirnn_core.rt import cache_root, sources_digest
from iirnn_core.rt.prototypes import PROTOTYPES, SYMBOL_PREFIX  # noqa: F401 - re-exported
from iirnn_core.rt.tables import table_row

log = logging.getLogger(__name__)

KERNEL_PACKAGE = "iirnn_core.rt"
"""The package whose sources decide the library's code: importing :mod:`iirnn_core.rt.entries` loads
modules of this package only (a test checks it), and the library's key covers every one of them."""

_CTYPES = {"void*": ctypes.c_void_p, "int64": ctypes.c_int64, "uint64": ctypes.c_uint64, "uint32": ctypes.c_uint32,
           "double": ctypes.c_double, "int": ctypes.c_int, "void": None}

_functions: dict | None = None
_addresses: dict = {}
_backend = ""


def library_key() -> str:
    """What the library must match: the kernels' sources, numba, llvmlite, Python and this CPU (16 hex digits)."""
    from importlib.metadata import version

    digest = hashlib.sha256(sources_digest().encode())
    digest.update(f"{version('numba')} {version('llvmlite')} {sys.version} {sys.platform}".encode())
    digest.update(_cpu_identity().encode())
    return digest.hexdigest()[:16]


def target_cpu() -> tuple[str | None, str | None]:
    """The CPU the compiled code is built for, as numba reads it: ``(NUMBA_CPU_NAME, NUMBA_CPU_FEATURES)``.

    ``(None, None)`` means this machine's CPU (the default). ``NUMBA_CPU_NAME=generic`` builds for a
    baseline CPU of the architecture (x86-64: SSE2, no AVX, no FMA), with no extra features unless
    ``NUMBA_CPU_FEATURES`` names some (LLVM's ``+avx2,+fma`` form). The ahead-of-time library
    follows the same variables, so it and numba's JIT always compile for the same target.
    """
    name = os.environ.get("NUMBA_CPU_NAME") or None
    features = os.environ.get("NUMBA_CPU_FEATURES")
    if features is None and name == "generic":
        features = ""
    return name, features


def _cpu_identity() -> str:
    """The target CPU: the one :func:`target_cpu` names, else this machine's model and feature flags."""
    name, features = target_cpu()
    if name is not None or features is not None:
        return f"target cpu={name} features={features}"
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        import platform

        return platform.machine() + platform.processor()
    wanted = ("model name", "flags", "Features", "CPU part", "CPU implementer")
    return "\n".join(sorted({line for line in lines if line.split(":")[0].strip() in wanted}))


def library_path() -> Path:
    """Where the library for this machine and this code lives (it may not exist yet)."""
    return cache_root() / f"rt-{library_key()}.so"


def _load() -> dict:
    """The entry points as ctypes functions, from the library if it loads, else from numba."""
    global _functions, _backend
    if _functions is not None:
        return _functions
    functions = None
    if os.environ.get("IIRNN_RT", "") != "numba":
        try:
            functions = _from_library(library_path())
        except (OSError, AttributeError) as exc:
            log.info("compiled audio library not used (%s); compiling with numba instead", exc)
    if functions is None:
        from iirnn_core.rt.entries import ENTRIES

        functions = {}
        for name, entry in ENTRIES.items():
            _addresses[name] = entry.address
            functions[name] = entry.ctypes
        _backend = "numba"
    _functions = functions
    return functions


def _from_library(path: Path) -> dict:
    global _backend
    if not path.is_file():
        raise OSError(f"{path} not built yet: python -m iirnn_core.rt.build")
    lib = ctypes.CDLL(str(path))
    functions = {}
    for name, (result, args) in PROTOTYPES.items():
        fn = getattr(lib, SYMBOL_PREFIX + name)
        fn.restype = _CTYPES[result]
        fn.argtypes = [_CTYPES[a] for a in args]
        functions[name] = fn
        _addresses[name] = ctypes.cast(fn, ctypes.c_void_p).value
    _backend = f"library {path}"
    functions["_lib"] = lib  # keeps it loaded
    return functions


def backend() -> str:
    """Where the compiled code comes from: ``"library <path>"`` or ``"numba"``."""
    _load()
    return _backend


def address(name: str) -> int:
    """Address of entry point ``name`` (for C callers: ``pa_callback``, the ``jack_*`` callbacks, ``ignore_alsa``,
    ``ignore_jack``)."""
    _load()
    return _addresses[name]


def _address(array: np.ndarray, dtype, ndim: int | None = None) -> int:
    if array.dtype != dtype or not array.flags.c_contiguous or (ndim is not None and array.ndim != ndim):
        raise ValueError(f"a C-contiguous {np.dtype(dtype).name} array{f' of {ndim} dimensions' if ndim else ''} "
                         f"is needed here, not {array.dtype.name} {array.shape}")
    return array.ctypes.data


# ---- block processor (its table: TABLE_ROWS rows, iirnn_core.rt.block_layout) --------------------------


def process(table: np.ndarray, out: np.ndarray, frames: int, now: float, current: float, dac: float,
            underflow: bool) -> None:
    """One device block into ``out`` (>= frames, C) float32: the code PortAudio's callback runs."""
    if out.shape[0] < frames:
        raise ValueError(f"a block of {frames} frames does not fit in {out.shape[0]}")
    _load()["process"](table.ctypes.data, _address(out, np.float32, 2), frames, now, current, dac, int(underflow))


def push(table: np.ndarray, kind: int, midi: int, velocity: float, when: float) -> bool:
    """Queue one event in the processor's ring (single producer); False when the ring is full."""
    return bool(_load()["push"](table.ctypes.data, kind, midi, velocity, when))


def publish(words: np.ndarray, index: int, value: int) -> None:
    """``words[index] = value`` on an int64 array, with release ordering (see :mod:`iirnn_core.rt.atomics`)."""
    if not 0 <= index < len(words):
        raise IndexError(index)
    _load()["publish"](_address(words, np.int64, 1), index, value)


def read_recorded(table: np.ndarray, dest: np.ndarray) -> int:
    """Move up to len(dest) recorded frames into dest (M, C) float32; returns how many."""
    return int(_load()["read_recorded"](table.ctypes.data, _address(dest, np.float32, 2), dest.shape[0]))


# ---- renderer (its table: RENDERER_ROWS rows, iirnn_core.rt.voice_layout) --------------------------------


def render_voices(table: np.ndarray, out: np.ndarray) -> int:
    """A renderer's next N frames into out (N, C) float64; 1 if it muted the block for NaN/Inf, else 0."""
    return int(_load()["render_voices"](table.ctypes.data, table.shape[0], _address(out, np.float64, 2),
                                        out.shape[0], out.shape[1]))


def start_voice(table: np.ndarray, bank: int, hidden: int, w_hh: np.ndarray, w_ih: np.ndarray, w_out: np.ndarray,
                gains: np.ndarray, amplitude: float, offset: int, note: int, radius: float, step: float = 0.0) -> int:
    """Start one voice (weights (H, H), (H,), (H,), gains (C,); ``radius`` the spectral radius of ``w_hh``,
    which its damper scales from) with an impulse at frame ``offset``; a sample voice (bank 2) reads ``step``
    source samples a frame. Returns its slot."""
    arrays = [np.ascontiguousarray(a, dtype=np.float64) for a in (w_hh, w_ih, w_out, gains)]
    weights = np.array([table_row(a) for a in arrays], dtype=np.int64)
    slot = int(_load()["start_voice"](table.ctypes.data, table.shape[0], weights.ctypes.data, bank, hidden,
                                      amplitude, offset, note, radius, step))
    if slot < 0:
        raise ValueError(f"start_voice: bank {bank}, hidden size {hidden}, weights {[a.shape for a in arrays[:3]]}, "
                         f"gains {arrays[3].shape}, offset {offset} or step {step} does not fit this renderer")
    return slot


def release_note(table: np.ndarray, note: int, release: float) -> None:
    """Release every voice of ``note`` in a renderer, damped to a 60 dB decay in ``release`` seconds
    (inf, 0 or NaN: they ring on with the key's own decay)."""
    _load()["release_note"](table.ctypes.data, table.shape[0], note, release)


def silence_voices(table: np.ndarray) -> None:
    """Stop every voice of a renderer."""
    _load()["silence_voices"](table.ctypes.data, table.shape[0])


# ---- master stage (its table: MASTER_ROWS rows, iirnn_core.rt.master_layout) -------------------------------


def master_block(table: np.ndarray, buf: np.ndarray, gain_from: float, gain_to: float, wet_from: float,
                 wet_to: float) -> int:
    """A master stage's room, gain ramp, limiter and clamp on buf (N, C) float64 in place; 1 if muted for NaN/Inf."""
    return int(_load()["master_block"](table.ctypes.data, _address(buf, np.float64, 2), buf.shape[0], buf.shape[1],
                                       float(gain_from), float(gain_to), float(wet_from), float(wet_to)))


# ---- accounting ---------------------------------------------------------------------------------------


def acc_reset(ints: np.ndarray, floats: np.ndarray) -> None:
    """Reset an accounting's counters (int64) and state (float64)."""
    _load()["acc_reset"](_address(ints, np.int64, 1), len(ints), _address(floats, np.float64, 1), len(floats))
