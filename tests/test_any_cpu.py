"""The numeric tests once more, with every compiled kernel built for a generic CPU of this architecture.

The rest of the suite runs the kernels as numba compiles them for this machine (its vector width, its
fused multiply-add). This test reruns the tests whose results come from compiled floating-point code
with numba's JIT and the ahead-of-time audio library both built for ``NUMBA_CPU_NAME=generic``
(on x86-64: SSE2 only, 2-wide vectors, no FMA), in caches of their own. A test that holds for one
vector width only (a bit-for-bit comparison across targets, a trainer whose sums round by vector
width) fails here; the shipped-model test then also shows that the trainer gives the same weights
bit for bit on both targets.
"""

import json
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


IR_CHECK = """
import json, re
from numba import types
from iirnn_core.training import kernels as tk
v, m = types.float64[::1], types.float64[:, ::1]
tk.lm_fit.compile((v, types.int64, v, v, types.int64, types.int64, types.float64, m, v, types.float64,
                   types.boolean, types.float64, types.boolean))  # the form at run time: both forms' code
ir = "".join(tk.lm_fit.inspect_llvm().values())
flags = re.findall(r"= (?:fadd|fsub|fmul|fdiv|fneg|call)\\s+((?:fast|reassoc|contract|nnan|ninf|nsz|arcp|afn)\\b)", ir)
print(json.dumps({"flags": sorted(set(flags)), "fma": "llvm.fma.f64" in ir,
                  "normal_equations": "_normal_equations_dense" in ir and "_normal_equations_modal" in ir}))
"""


@pytest.mark.slow  # each compiles the trainer afresh (about 8 s)
@pytest.mark.parametrize("cpu", ["generic", "haswell", "skylake-avx512", "znver4", "host"])
def test_the_trainers_arithmetic_carries_no_fast_math_flag_on_any_cpu(cpu, tmp_path):
    """Compiled (not run) for CPUs this machine may not have: the LM fit with its normal equations (dense and
    modal) has no fast-math flag on any floating-point operation, so no target may reorder or fuse its sums: the
    vector width (SSE2, AVX2, AVX-512) cannot change a rounding, and the weights are the same bits."""
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path))
    env.pop("NUMBA_CPU_FEATURES", None)
    if cpu == "host":
        env.pop("NUMBA_CPU_NAME", None)
    else:
        env["NUMBA_CPU_NAME"] = cpu
    proc = subprocess.run([sys.executable, "-c", IR_CHECK], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    found = json.loads(proc.stdout.strip().splitlines()[-1])
    assert found["normal_equations"] and found["fma"]  # the IR checked is the fit's, with its written FMAs
    assert found["flags"] == []
