"""Compile the audio code ahead of time into one shared library: ``python -m iirnn_core.rt.build``.

Takes the entry points of :mod:`iirnn_core.rt.entries` (numba ``@cfunc`` s), each with every
function it calls, as numba's own LLVM IR (through numba's public API for C callbacks,
``inspect_llvm()`` and ``native_name``); renames each C wrapper to ``iirnn_<name>``
(:data:`~iirnn_core.rt.prototypes.PROTOTYPES`) and makes everything else internal; compiles them for
this CPU (or the one ``NUMBA_CPU_NAME`` / ``NUMBA_CPU_FEATURES`` name, as numba's JIT does) at
-O3 with llvmlite (the same LLVM that numba's JIT uses, so the machine code is the JIT's); and
links them with ``ld -shared`` into :func:`iirnn_core.rt.library.library_path`, written atomically.
The library's undefined symbols are the C library's, the maths library's, and the Python C API's
(on exception paths only; the running ``python`` provides them), plus a few of numba's runtime
helpers, supplied here as small stubs (again on exception paths only). Before compiling, the
build checks these assumptions (:func:`entry_modules`, :func:`check_symbols`) and stops with one
line naming what changed when a numba release breaks one (``--check`` does only that); numba and
llvmlite are pinned to the tested releases (:data:`TESTED`). Linux only (``ld``).

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


C_SYMBOLS = frozenset({"clock_gettime", "gettid", "memset", "memcpy", "memmove", "free", "tanh", "pow"})
"""The C and maths libraries' symbols the entry points may name (besides the Python C API's, on
exception paths only). Anything else they name must be one of :data:`_STUBS`' helpers."""

TESTED = {"numba": "0.68", "llvmlite": "0.50"}
"""The numba and llvmlite releases this build is tested with (``pyproject.toml`` pins them)."""


class BuildAssumptionError(RuntimeError):
    """numba or llvmlite no longer gives what the build relies on; the message names what changed."""


def _versions() -> str:
    from importlib.metadata import version

    return ", ".join(f"{name} {version(name)} (tested: {tested}.x)" for name, tested in TESTED.items())


def entry_modules(entries: dict, llvm) -> dict:
    """Each entry point's LLVM module (its C wrapper renamed to ``iirnn_<name>``, the rest internal).

    Uses numba's public API for C callbacks only: ``CFunc.inspect_llvm()`` (the IR of the callback and
    everything it calls) and ``CFunc.native_name`` (the C wrapper's name in that IR). Raises
    :class:`BuildAssumptionError` when either is missing or the IR does not define that name.
    """
    from iirnn_core.rt.prototypes import SYMBOL_PREFIX

    modules = {}
    for name, entry in entries.items():
        if not (callable(getattr(entry, "inspect_llvm", None)) and isinstance(getattr(entry, "native_name", None), str)):
            raise BuildAssumptionError(f"{_versions()}: a numba C callback no longer has inspect_llvm() and "
                                       "native_name, which the build reads")
        module = llvm.parse_assembly(entry.inspect_llvm())
        wrapper = [fn for fn in module.functions if fn.name == entry.native_name and not fn.is_declaration]
        if not wrapper:
            raise BuildAssumptionError(f"{_versions()}: the IR of entry point {name!r} does not define "
                                       f"its native_name {entry.native_name!r}")
        for fn in module.functions:
            if not fn.is_declaration:
                fn.linkage = "internal"
        wrapper[0].name = SYMBOL_PREFIX + name
        wrapper[0].linkage = "external"
        for var in module.global_variables:
            if not var.is_declaration:
                var.linkage = "internal"
        module.verify()
        modules[name] = module
    return modules


def check_symbols(modules: dict, stubs) -> None:
    """Raise :class:`BuildAssumptionError` when the entry points name a symbol the library cannot have:
    not the C library's (:data:`C_SYMBOLS`), not the Python C API's, not an LLVM intrinsic, and not one
    of numba's runtime helpers that :data:`_STUBS` supplies (a new numba may name new ones)."""
    supplied = {fn.name for fn in stubs.functions if not fn.is_declaration}
    unknown = set()
    for module in modules.values():
        named = [fn.name for fn in module.functions if fn.is_declaration]
        named += [var.name for var in module.global_variables if var.is_declaration]
        unknown.update(n for n in named if not (n in C_SYMBOLS or n in supplied or n.startswith(("Py", "_Py", "llvm."))))
    if unknown:
        raise BuildAssumptionError(f"{_versions()}: the audio code names symbols the build does not provide: "
                                   f"{', '.join(sorted(unknown))}")


def build(path: Path | None, check_only: bool = False) -> Path | None:
    """Compile every entry point and link them into the shared library ``path``; returns it.

    ``check_only``: stop after checking the build's assumptions (:func:`entry_modules`,
    :func:`check_symbols`); nothing is written. Must run in a process whose numba cache is empty
    (``main`` sees to it): functions numba loads from its cache come without the IR of what they call.
    """
    from iirnn_core.errors import unsupported_platform

    if unsupported_platform():
        raise RuntimeError(unsupported_platform())
    import llvmlite.binding as llvm

    from iirnn_core.rt.entries import ENTRIES
    from iirnn_core.rt.library import target_cpu

    llvm.initialize_native_target()
    llvm.initialize_native_asmprinter()
    modules = entry_modules(ENTRIES, llvm)
    stubs = llvm.parse_assembly(_STUBS)
    stubs.triple = llvm.get_process_triple()
    check_symbols(modules, stubs)
    if check_only:
        return None
    cpu, features = target_cpu()  # numba's JIT compiles for the same CPU (NUMBA_CPU_NAME / _FEATURES)
    target = llvm.Target.from_default_triple().create_target_machine(
        cpu=cpu or llvm.get_host_cpu_name(),
        features=llvm.get_host_cpu_features().flatten() if features is None else features,
        reloc="pic", codemodel="default", opt=3)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        objects = [_emit(target, module, Path(tmp) / f"{name}.o") for name, module in modules.items()]
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
    """Build the library for this machine unless it exists; one line says where (or why not).

    ``--force`` rebuilds; ``--check`` only checks the build's assumptions about numba (exit 1, one line,
    when they no longer hold)."""
    from iirnn_core.rt.library import library_path

    check_only = "--check" in sys.argv
    path = library_path()
    if path.is_file() and not check_only and "--force" not in sys.argv:
        print(f"compiled audio library: {path} (up to date)")
        return 0
    if "numba" in sys.modules or os.environ.get("_IIRNN_RT_BUILD") != "1":
        with tempfile.TemporaryDirectory() as cache:  # an empty numba cache for the compile
            env = dict(os.environ, NUMBA_CACHE_DIR=cache, _IIRNN_RT_BUILD="1")
            return subprocess.run([sys.executable, "-m", "iirnn_core.rt.build", *sys.argv[1:]], env=env).returncode
    try:
        build(path, check_only)
    except BuildAssumptionError as exc:
        print(f"compiled audio library: the build's assumptions no longer hold: {exc}", file=sys.stderr)
        return 1
    except (OSError, subprocess.CalledProcessError, RuntimeError) as exc:
        print(f"compiled audio library not built ({exc}); the audio code will be compiled by numba at start",
              file=sys.stderr)
        return 1
    print("compiled audio library: the build's assumptions hold" if check_only else f"compiled audio library: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
