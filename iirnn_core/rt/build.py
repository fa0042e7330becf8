"""Compile the audio code ahead of time into one shared library: ``python -m iirnn_core.rt.build``.

Takes the entry points of :mod:`iirnn_core.rt.entries` (numba ``@cfunc`` s), each with every
function it calls, as numba's own LLVM IR; renames each C wrapper to ``iirnn_<name>``
(:data:`iirnn_core.rt.library.PROTOTYPES`) and makes everything else internal; compiles the modules for
this CPU (or the one ``NUMBA_CPU_NAME`` / ``NUMBA_CPU_FEATURES`` name, as numba's JIT does) at
-O3 with llvmlite (the same LLVM that numba's JIT uses, so the machine code is the JIT's); and
links them with ``ld -shared`` into :func:`iirnn_core.rt.library.library_path`, written atomically.
The library's undefined symbols are the C library's, the maths library's, and the Python C API's
(on exception paths only; the running ``python`` provides them), plus a few of numba's runtime
helpers, supplied here as small stubs (again on exception paths only).

``./run`` builds it after installing; a missing or stale library only means numba compiles the
same code in the process that needs it (:mod:`iirnn_core.rt.library`). About 40 s on 2 cores.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

_STUBS = """
declare i32 @PyGILState_Ensure()
declare void @PyGILState_Release(i32)
declare void @PyErr_SetString(ptr, ptr)
@PyExc_RuntimeError = external global ptr
declare void @free(ptr)
@message = private constant [44 x i8] c"iirnn-synth: the compiled audio code failed\\00"

define hidden void @numba_gil_ensure(ptr %state) {
  %g = call i32 @PyGILState_Ensure()
  store i32 %g, ptr %state
  ret void
}
define hidden void @numba_gil_release(ptr %state) {
  %g = load i32, ptr %state
  call void @PyGILState_Release(i32 %g)
  ret void
}
define hidden ptr @numba_unpickle(ptr %data, i32 %n, ptr %hashed) {
  ret ptr null
}
define hidden ptr @numba_runtime_build_excinfo_struct(ptr %gv, ptr %args) {
  ret ptr null
}
define hidden i32 @numba_do_raise(ptr %packed) {
  %exc = load ptr, ptr @PyExc_RuntimeError
  call void @PyErr_SetString(ptr %exc, ptr @message)
  ret i32 0
}
define hidden void @NRT_Free(ptr %p) {
  call void @free(ptr %p)
  ret void
}
define hidden void @NRT_MemInfo_call_dtor(ptr %mi) {
  ret void
}
"""
"""numba's runtime helpers that the entry points' exception paths name (numba keeps them in its own
extension module, not exported): the GIL ones do what numba's do; raising sets one RuntimeError."""


def build(path: Path) -> Path:
    """Compile every entry point and link them into the shared library ``path``; returns it.

    Must run in a process whose numba cache is empty (``main`` sees to it): functions numba loads
    from its cache come without the IR of what they call.
    """
    import llvmlite.binding as llvm

    from iirnn_core.rt.library import SYMBOL_PREFIX
    from iirnn_core.rt.entries import ENTRIES

    from iirnn_core.rt.library import target_cpu

    llvm.initialize_native_target()
    llvm.initialize_native_asmprinter()
    cpu, features = target_cpu()  # numba's JIT compiles for the same CPU (NUMBA_CPU_NAME / _FEATURES)
    target = llvm.Target.from_default_triple().create_target_machine(
        cpu=cpu or llvm.get_host_cpu_name(),
        features=llvm.get_host_cpu_features().flatten() if features is None else features,
        reloc="pic", codemodel="default", opt=3)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        objects = []
        for name, entry in ENTRIES.items():
            module = llvm.parse_assembly(entry._library.get_llvm_str())
            for fn in module.functions:
                if fn.is_declaration:
                    continue
                if fn.name == entry._wrapper_name:
                    fn.name = SYMBOL_PREFIX + name
                else:
                    fn.linkage = "internal"
            for var in module.global_variables:
                if not var.is_declaration:
                    var.linkage = "internal"
            module.verify()
            objects.append(_emit(target, module, Path(tmp) / f"{name}.o"))
        stubs = llvm.parse_assembly(_STUBS)
        stubs.triple = llvm.get_process_triple()
        objects.append(_emit(target, stubs, Path(tmp) / "stubs.o"))
        partial = path.with_name(path.name + f".{os.getpid()}.tmp")
        subprocess.run(["ld", "-shared", "-o", str(partial), *map(str, objects)], check=True)
        os.replace(partial, path)
    for old in path.parent.glob("rt-*.so"):  # libraries of older code: never loaded again
        if old != path:
            old.unlink(missing_ok=True)
    return path


def _emit(target, module, path: Path) -> Path:
    path.write_bytes(target.emit_object(module))
    return path


def main() -> int:
    """Build the library for this machine unless it exists; one line says where (or why not)."""
    from iirnn_core.rt.library import library_path

    path = library_path()
    if path.is_file() and "--force" not in sys.argv:
        print(f"compiled audio library: {path} (up to date)")
        return 0
    if "numba" in sys.modules or os.environ.get("_IIRNN_RT_BUILD") != "1":
        with tempfile.TemporaryDirectory() as cache:  # an empty numba cache for the compile
            env = dict(os.environ, NUMBA_CACHE_DIR=cache, _IIRNN_RT_BUILD="1")
            return subprocess.run([sys.executable, "-m", "iirnn_core.rt.build", *sys.argv[1:]], env=env).returncode
    try:
        build(path)
    except (OSError, subprocess.CalledProcessError, RuntimeError) as exc:
        print(f"compiled audio library not built ({exc}); the audio code will be compiled by numba at start",
              file=sys.stderr)
        return 1
    print(f"compiled audio library: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
