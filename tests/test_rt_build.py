"""The ahead-of-time build's assumptions about numba: checked for real, and seen to fail with one line."""

import os
import subprocess
import sys
import tomllib
from importlib.metadata import version
from pathlib import Path

import llvmlite.binding as llvm
import pytest

from iirnn_core.rt import build

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_the_builds_assumptions_hold_for_the_installed_numba(tmp_path):
    """Compiles every entry point (in an empty cache) and checks what the build reads from numba."""
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path))
    proc = subprocess.run([sys.executable, "-m", "iirnn_core.rt.build", "--check"], capture_output=True, text=True,
                          env=env, cwd=ROOT, timeout=900)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "compiled audio library: the build's assumptions hold"


def test_numba_and_llvmlite_are_pinned_to_the_tested_releases():
    pins = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    for name, tested in build.TESTED.items():
        major, minor = map(int, tested.split("."))
        assert f"{name}>={tested},<{major}.{minor + 1}" in pins, pins
        assert version(name).startswith(tested + "."), f"{name} {version(name)} installed, {tested} tested"


def _stubs():
    stubs = llvm.parse_assembly(build._STUBS)
    return stubs


def test_a_runtime_helper_the_build_does_not_supply_fails_with_one_line_naming_it():
    known = llvm.parse_assembly("declare void @NRT_Free(ptr)\ndeclare double @tanh(double)\n"
                                "declare ptr @PyErr_Occurred()\ndeclare double @llvm.fabs.f64(double)\n")
    build.check_symbols({"ok": known}, _stubs())  # all of these are provided
    new = llvm.parse_assembly("declare void @NRT_NewHelper(ptr)\n@numba_new_global = external global ptr\n")
    with pytest.raises(build.BuildAssumptionError) as caught:
        build.check_symbols({"ok": known, "new": new}, _stubs())
    message = str(caught.value)
    assert "\n" not in message
    assert "NRT_NewHelper, numba_new_global" in message and "numba " in message and "tested" in message


def test_a_numba_whose_callbacks_lose_their_public_ir_fails_with_one_line():
    class OldCallback:  # what the build would meet if CFunc lost inspect_llvm / native_name
        address = 0

    with pytest.raises(build.BuildAssumptionError, match="inspect_llvm"):
        build.entry_modules({"process": OldCallback()}, llvm)

    class Renamed:
        native_name = "cfunc.wrapper"

        def inspect_llvm(self):
            return "define void @other() {\n  ret void\n}\n"

    with pytest.raises(build.BuildAssumptionError, match="does not define its native_name 'cfunc.wrapper'"):
        build.entry_modules({"process": Renamed()}, llvm)
