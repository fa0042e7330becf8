"""The ahead-of-time audio library (iirnn_core.rt.build) against the same code compiled by numba.

Bit for bit, as both are the same LLVM IR compiled by the same LLVM for the same CPU target (the
host's, or the one ``NUMBA_CPU_NAME`` names: :func:`iirnn_core.rt.library.target_cpu`).

``./run`` builds the library before the tests, so these tests require it: the window's process is
meant to run on it (tests/test_app_no_torch.py checks that process has no numba).
"""

import os
import shutil
import subprocess
import sys
from contextlib import contextmanager

import numpy as np
import pytest

from iirnn_core.rt import build
from iirnn_core.rt import library as rt

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ALLOWED_UNDEFINED = build.C_SYMBOLS
"""Besides the Python C API (exception paths only): the C and maths libraries' symbols the library may use."""


@contextmanager
def backend(functions):
    """Route every rt call of the block through ``functions``."""
    saved = rt._functions
    rt._functions = functions
    try:
        yield
    finally:
        rt._functions = saved


def library_functions():
    path = rt.library_path()
    assert path.is_file(), f"{path} missing: ./run builds it (python -m iirnn_core.rt.build)"
    return rt._from_library(path)


def numba_functions():
    from iirnn_core.rt.entries import ENTRIES

    return {name: entry.ctypes for name, entry in ENTRIES.items()}


def play_a_phrase():
    """The callback's output (device blocks, A/B engine, resampled, two pipelines) and what it recorded."""
    from iirnn_core.audio.engine import AudioConfig, AudioEngine
    from iirnn_core.synth.renderer import SynthSettings

    from test_audio_callback import Driver

    engine = AudioEngine(AudioConfig(samplerate=48000, blocksize=128), SynthSettings(q=0.999, drive=0.4), "ab")
    drv = Driver(engine)
    engine.processor.record_start()
    blocks = []
    for i, midi in enumerate((60, 64, 67, 72, 48, 96)):
        engine.note_on(midi, 0.3 + 0.1 * i, when=drv.clock.t + 0.0007 * i)
        blocks.append(drv.blocks(12))
        if i == 3:
            engine.set_settings(SynthSettings(q=0.995, rate=16000.0))  # a new pipeline; the old rings out
        engine.note_off(midi)
    blocks.append(drv.blocks(40))
    recorded = np.zeros((20000, 2), dtype=np.float32)
    n = engine.processor.read_recorded(recorded)
    return np.concatenate(blocks), recorded[:n], engine.stats()


def test_the_library_plays_exactly_what_numba_plays():
    with backend(library_functions()):
        lib_out, lib_rec, lib_stats = play_a_phrase()
    with backend(numba_functions()):
        jit_out, jit_rec, jit_stats = play_a_phrase()
    assert np.abs(jit_out).max() > 0.01  # it played
    np.testing.assert_array_equal(lib_out, jit_out)
    np.testing.assert_array_equal(lib_rec, jit_rec)
    assert len(lib_rec) == len(lib_out)
    assert lib_stats.notes == jit_stats.notes == 6


def test_offline_rendering_through_the_library_matches_numba():
    from iirnn_core.synth.renderer import SynthSettings, render_notes

    settings = SynthSettings(q=0.999)
    with backend(library_functions()):
        a = render_notes("ab", ["A4", "C2", "B7"], settings, 0.3)
    with backend(numba_functions()):
        b = render_notes("ab", ["A4", "C2", "B7"], settings, 0.3)
    assert np.abs(a).max() > 0.01
    np.testing.assert_array_equal(a, b)


@pytest.mark.skipif(shutil.which("nm") is None, reason="no nm (binutils)")
def test_the_library_needs_only_libc_libm_and_python():
    out = subprocess.run(["nm", "-D", "--undefined-only", str(rt.library_path())], capture_output=True, text=True,
                         check=True).stdout
    undefined = {line.split()[-1] for line in out.splitlines() if line.strip()}
    foreign = {s for s in undefined if not s.startswith(("Py", "_Py")) and s.split("@")[0] not in ALLOWED_UNDEFINED}
    assert not foreign, foreign
    defined = subprocess.run(["nm", "-D", "--defined-only", str(rt.library_path())], capture_output=True, text=True,
                             check=True).stdout
    exported = {line.split()[-1] for line in defined.splitlines() if line.strip()}
    assert exported == {rt.SYMBOL_PREFIX + name for name in rt.PROTOTYPES}


def test_the_library_key_covers_every_module_its_code_comes_from():
    """The key hashes every source of the rt package; the entry points load nothing from outside it."""
    script = "import sys, iirnn_core.rt.entries; print(' '.join(m for m in sys.modules if m.startswith('iirnn_core.')))"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=ROOT).stdout
    loaded = set(out.split())
    assert "iirnn_core.rt.block_kernels" in loaded
    outside = {m for m in loaded if m != rt.KERNEL_PACKAGE and not m.startswith(rt.KERNEL_PACKAGE + ".")}
    assert not outside, outside


def test_a_broken_library_falls_back_to_numba_with_one_line(tmp_path):
    script = ("import logging, sys; logging.basicConfig(level=logging.INFO, stream=sys.stdout)\n"
              "from iirnn_core.rt import library as rt\n"
              "p = rt.library_path(); p.parent.mkdir(parents=True); p.write_bytes(b'not a library')\n"
              "import numpy as np\n"
              "ints, floats = np.ones(7, dtype=np.int64), np.zeros(10)\n"
              "rt.acc_reset(ints, floats)\n"
              "print(rt.backend(), ints.sum(), floats[5])\n")
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path))
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, cwd=ROOT,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stdout.strip().splitlines()
    assert lines[-1] == "numba 0 inf", lines
    assert sum("compiled audio library not used" in line for line in lines) == 1, lines
    assert "Traceback" not in proc.stderr
