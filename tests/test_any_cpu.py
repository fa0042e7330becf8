"""The numeric tests once more, with every compiled kernel built for a generic CPU of this architecture.

The rest of the suite runs the kernels as numba compiles them for this machine (its vector width, its
fused multiply-add). This test reruns the tests whose results come from compiled floating-point code
with numba's JIT and the ahead-of-time audio library both built for ``NUMBA_CPU_NAME=generic``
(on x86-64: SSE2 only, 2-wide vectors, no FMA), in caches of their own. A test that holds for one
vector width only (a bit-for-bit comparison across targets, a trainer whose sums round by vector
width) fails here; the shipped-model test then also shows that the trainer gives the same weights
bit for bit on both targets.
"""

import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

NUMERIC_TESTS = ("test_training.py", "test_kernels.py", "test_renderer.py", "test_rt_library.py",
                 "test_resonator.py", "test_audio_resample.py", "test_audio_callback.py", "test_model.py",
                 "test_what_plays.py", "test_modelfile.py")
"""The test modules whose figures come from compiled kernels (training, voices, resampler, output stage)."""


@pytest.mark.slow
def test_the_numeric_tests_pass_with_the_kernels_built_for_a_generic_cpu(tmp_path):
    env = dict(os.environ, NUMBA_CPU_NAME="generic", NUMBA_CACHE_DIR=str(tmp_path / "numba"),
               XDG_CACHE_HOME=str(tmp_path / "cache"), PYTHONDONTWRITEBYTECODE="1")
    env.pop("NUMBA_CPU_FEATURES", None)
    build = subprocess.run([sys.executable, "-m", "iirnn_core.rt.build"], cwd=ROOT, env=env,
                           capture_output=True, text=True, timeout=900)
    assert build.returncode == 0, build.stdout + build.stderr
    assert str(tmp_path) in build.stdout  # the generic library, in its own cache (the host's is untouched)
    tests = [os.path.join("tests", name) for name in NUMERIC_TESTS]
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "not slow", *tests],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)
    summary = run.stdout.strip().splitlines()[-1] if run.stdout.strip() else ""
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    assert " passed" in summary and "skipped" not in summary, summary
