"""The compiled callback's machine code: nothing reachable from it allocates or takes the GIL.

The callback is compiled afresh (an empty numba cache, in a child process: cached code cannot be
inspected) and its LLVM IR is walked from the cfunc's entry. The cfunc wrapper itself holds numba's
exception path (GIL, ``PyErr_*``), reached only if the function raised, which it never does
(``error_model="numpy"``, no bounds checks); every function it calls must be free of allocation
and of the GIL.
"""

import os
import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent(r"""
    import re
    from iirnn_core.rt.entries import pa_callback
    ir = pa_callback.inspect_llvm()
    funcs = {m.group(1): m.group(0) for m in re.finditer(r'^define [^@]*@"?([^"(\s]+)"?\((.*?)^}', ir, re.S | re.M)}
    calls = {n: set(re.findall(r'call [^@\n]*@"?([^"(\s]+)"?\(', body)) for n, body in funcs.items()}
    wrapper = [n for n in funcs if n.startswith("cfunc.") and "pa_callback" in n]
    assert len(wrapper) == 1, wrapper
    seen, stack = set(), sorted(c for c in calls[wrapper[0]] if c in funcs)
    while stack:
        n = stack.pop()
        if n not in seen:
            seen.add(n)
            stack.extend(c for c in calls.get(n, ()) if c in funcs)
    bad = sorted({f"{c} in {n[:60]}" for n in seen for c in calls[n]
                  if re.search(r"gil|NRT_Allocate|NRT_MemInfo_alloc|NRT_MemInfo_new|malloc|PyErr|Py_|do_raise", c)})
    print(len(seen))
    print("clean" if not bad else "BAD: " + "; ".join(bad))
""")


@pytest.mark.slow  # compiles the callback afresh: 25-30 s
def test_nothing_reachable_from_the_callback_allocates_or_takes_the_gil(tmp_path):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "numba-cache"))
    proc = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stdout.strip().splitlines()
    assert lines[-1] == "clean", lines[-1]
    assert int(lines[-2]) > 5  # the walk reached the renderer, the resampler, the accounting
