"""Benchmark results as data: each run writes ``docs/measurements/<benchmark>.json``.

The file holds the benchmark's name, the command line as typed (``python3 benchmarks/X.py ...``), the git
commit (``+dirty`` when the checkout differs from it, the measurements themselves aside), the UTC date-time,
the machine (CPU model, CPU count, architecture, kernel, Python; the CPU steal where the benchmark measures
it) and the rows the benchmark prints. The latest run overwrites the file; its history is git's.
``IIRNN_MEASUREMENTS_DIR`` names another folder (for trying a benchmark without touching the project's
figures). ``benchmarks/measurements_md.py`` turns the files into ``docs/measurements.md``.
"""

from __future__ import annotations

import datetime
import json
import math
import os
import platform
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MEASUREMENTS = "docs/measurements"  # below ROOT; the generated page is MEASUREMENTS + ".md"


def measurements_dir() -> Path:
    """The folder of the JSON results: ``$IIRNN_MEASUREMENTS_DIR`` if set, else ``docs/measurements``."""
    return Path(os.environ.get("IIRNN_MEASUREMENTS_DIR") or ROOT / MEASUREMENTS)


def write_result(name: str, rows: list, extra: dict | None = None, steal: list | float | None = None) -> Path:
    """Write ``<measurements_dir()>/<name>.json`` for this run and return its path (also said on stderr).

    ``rows``: the figures the benchmark prints (a list of dicts, one per printed row); ``extra``: further
    top-level keys (e.g. ``summary``, the printed summary lines); ``steal``: the CPU steal in % the benchmark
    measured (one figure per row, or one for the run), kept with the machine. NaN and infinity become null.
    """
    result = {"benchmark": name, "command": _command(), "commit": _commit(),
              "date_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
              "machine": _machine(steal), "rows": rows}
    clash = set(result) & set(extra or {})
    if clash:
        raise ValueError(f"write_result: extra may not replace {sorted(clash)}")
    result.update(extra or {})
    path = measurements_dir() / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(_plain(result), indent=1, allow_nan=False) + "\n")
    print(f"{name}: results written to {path}", file=sys.stderr)
    return path


def _command() -> str:
    """``python3 benchmarks/X.py ...``: this process's command line, the script relative to the checkout."""
    script = Path(sys.argv[0]).resolve()
    shown = script.relative_to(ROOT) if script.is_relative_to(ROOT) else script
    return shlex.join(["python3", str(shown), *sys.argv[1:]])


def _commit() -> str:
    """``git rev-parse --short HEAD``, plus ``+dirty`` if anything but the measurements differs from it."""
    def git(*args):
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()

    try:
        head = git("rev-parse", "--short", "HEAD")
        changed = git("status", "--porcelain", "--", ".", f":(exclude){MEASUREMENTS}", f":(exclude){MEASUREMENTS}.md")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+dirty" if changed else "")


def _machine(steal) -> dict:
    """CPU model, CPU count, architecture, kernel release, Python version (and ``cpu_steal_percent``)."""
    cpu = platform.processor() or "unknown"
    try:
        models = [line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")]
        cpu = models[0] if models else cpu
    except OSError:
        pass
    machine = {"cpu": cpu, "cpu_count": os.cpu_count(), "arch": platform.machine(), "kernel": platform.release(),
               "python": platform.python_version()}
    if steal is not None:
        machine["cpu_steal_percent"] = steal
    return machine


def _plain(value):
    """``value`` with tuples as lists, numpy values as Python ones and NaN / infinity as None."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "tolist"):  # numpy scalar or array
        return _plain(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
