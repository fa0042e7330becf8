"""The house: iirnn_core's rooms, each with its docstring, and imports that only point down.

Every import of every module counts, at the top or inside a function: a lazy import is still an
arrow, and a circle through one breaks as soon as someone moves it to the top.
"""

import ast
import importlib
import pkgutil
from pathlib import Path

import pytest

import iirnn_core

PACKAGE = Path(iirnn_core.__file__).parent

FLOORS = ["errors", "dsp", "rt", "synth", "models", "audio", "midi", "training", ("commands", "cli")]
"""Bottom first: a module may import from its own room or from rooms below it, never above."""


def floor_of(module: str) -> int:
    room = module.split(".")[1]
    for i, floor in enumerate(FLOORS):
        if room == floor or (isinstance(floor, tuple) and room in floor):
            return i
    raise AssertionError(f"{module} is in no room of FLOORS")


def modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        if len(parts) > 1 and parts[1] == "resources":
            continue
        out[".".join(parts)] = path
    return out


def imports_of(module: str, path: Path, known: dict) -> set[str]:
    """The iirnn_core modules ``module`` imports (anywhere in its body)."""
    found = set()
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name in known)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".") if is_package else module.split(".")[:-1]
                base = base[:len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if not target.startswith("iirnn_core"):
                continue
            for alias in node.names:
                full = f"{target}.{alias.name}"
                found.add(full if full in known else target)
    found.discard(module)
    return {m for m in found if m in known}


def graph() -> dict[str, set[str]]:
    known = modules()
    return {m: imports_of(m, p, known) for m, p in known.items()}


def test_every_room_says_what_it_is_and_where_it_runs():
    rooms = [m for m in pkgutil.iter_modules([str(PACKAGE)]) if m.ispkg and m.name != "resources"]
    assert {m.name for m in rooms} == {"dsp", "rt", "synth", "models", "audio", "midi", "training", "commands"}
    for room in rooms:
        doc = importlib.import_module(f"iirnn_core.{room.name}").__doc__
        assert doc and len(doc.split()) >= 12, room.name


def test_no_module_is_left_on_the_ground_floor():
    loose = {m for m in modules() if m.count(".") == 1 and m.split(".")[1] not in ("errors", "cli")}
    assert not {m for m in loose if not (PACKAGE / m.split(".")[1]).is_dir()}


def test_imports_point_down_only():
    wrong = []
    for module, targets in graph().items():
        if module == "iirnn_core":
            assert not targets
            continue
        for target in targets:
            if target != "iirnn_core" and floor_of(target) > floor_of(module):
                wrong.append(f"{module} -> {target}")
    assert not wrong, wrong


def test_there_are_no_import_circles():
    edges = graph()
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(m):
        state[m] = 1
        path.append(m)
        for t in sorted(edges[m]):
            if state.get(t) == 1:
                pytest.fail("import circle: " + " -> ".join(path[path.index(t):] + [t]))
            if t not in state:
                visit(t)
        path.pop()
        state[m] = 2

    for m in sorted(edges):
        if m not in state:
            visit(m)


def test_the_checker_sees_a_circle_and_an_upward_arrow(tmp_path):
    """The graph is read from the sources: a lazy import inside a function counts."""
    known = {"iirnn_core.dsp.a": tmp_path / "a.py", "iirnn_core.audio.b": tmp_path / "b.py"}
    known["iirnn_core.dsp.a"].write_text("def f():\n    from iirnn_core.audio import b\n")
    known["iirnn_core.audio.b"].write_text("from ..dsp.a import f\n")
    assert imports_of("iirnn_core.dsp.a", known["iirnn_core.dsp.a"], known) == {"iirnn_core.audio.b"}
    assert imports_of("iirnn_core.audio.b", known["iirnn_core.audio.b"], known) == {"iirnn_core.dsp.a"}
    assert floor_of("iirnn_core.audio.b") > floor_of("iirnn_core.dsp.a")


def test_the_command_line_starts_without_torch():
    """Only training and ``iirnn bench``'s torch row import torch, when they run: ``iirnn --help`` and every
    other command start without it (about 1.5 s and 200 MB)."""
    import subprocess
    import sys

    script = "import sys, iirnn_core.cli as c; c.build_parser(); print(sorted(m for m in ('torch', 'PySide6') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
