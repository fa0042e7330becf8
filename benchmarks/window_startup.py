"""How fast does the window appear, and how much memory does its process hold? The real launch, as a user meets it.

Launches ``python -m app`` (a fresh settings file; Qt's xcb platform on Xvfb, started here when there
is no ``DISPLAY``; PulseAudio with a null sink of our own, started here when none runs), ``--runs``
times for each way the audio code can be loaded (:mod:`iirnn_core.rt.library`): the library compiled ahead
of time (the default) and numba in the process (``IIRNN_RT=numba``, warm numba cache), side by side.
Per launch: seconds until the window is mapped on the X server (``xdotool search --onlyvisible``
every 20 ms) and until its audio stream plays on the sound server (a sink input of its process in
``pactl -f json list sink-inputs``, every 20 ms: the window opens it once the trainer is ready),
then, 6 s after launch and again after 20 keys typed into the focused window at 8 per second, the
process's resident memory (``VmRSS``) and its peak (``VmHWM``), and whether torch, numba's LLVM or
the audio library are mapped in it. Usage::

    python benchmarks/window_startup.py [--runs 3]

The rows also go to ``docs/measurements/window_startup.json`` (``benchmarks/record.py``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # the tests' pulse.py

SETTLE_S = 6.0
KEYS = "asdfghjk"


def status_mb(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) of process ``pid`` in MB."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def mapped(pid: int) -> dict[str, bool]:
    """Which big libraries process ``pid`` has mapped."""
    maps = Path(f"/proc/{pid}/maps").read_text()
    return {"torch": "libtorch" in maps, "llvm": "llvmlite" in maps, "library": "iirnn-synth/rt-" in maps}


def has_stream(pid: int) -> bool:
    """Whether process ``pid`` has an audio stream on the PulseAudio server (a sink input)."""
    listed = subprocess.run(["pactl", "-f", "json", "list", "sink-inputs"], capture_output=True, text=True).stdout
    return any(str(s.get("properties", {}).get("application.process.id")) == str(pid) for s in json.loads(listed or "[]"))


def launch(mode: str, tmp: str, index: int) -> dict:
    """One launch of the window; returns its figures."""
    env = dict(os.environ, QT_QPA_PLATFORM="xcb")
    env.pop("IIRNN_RT", None)
    if mode == "numba":
        env["IIRNN_RT"] = "numba"
    settings = Path(tmp) / f"{mode}{index}.ini"
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "app", "--settings", str(settings)], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        window = None
        while window is None and time.perf_counter() - started < 60:  # xdotool's own --sync polls every 0.5 s
            found = subprocess.run(["xdotool", "search", "--onlyvisible", "--pid", str(proc.pid)],
                                   capture_output=True, text=True).stdout.split()
            window = found[0] if found else None
            time.sleep(0.02)
        visible = time.perf_counter() - started
        if window is None:
            raise RuntimeError("the window did not appear within 60 s")
        while not has_stream(proc.pid):
            if time.perf_counter() - started > 60:
                raise RuntimeError("the window's audio stream did not appear within 60 s")
            time.sleep(0.02)
        audio = time.perf_counter() - started
        time.sleep(max(0.0, SETTLE_S - (time.perf_counter() - started)))
        rss, _ = status_mb(proc.pid)
        libraries = mapped(proc.pid)
        subprocess.run(["xdotool", "windowfocus", "--sync", window], check=True, capture_output=True, timeout=10)
        for i in range(20):
            subprocess.run(["xdotool", "key", KEYS[i % len(KEYS)]], check=True, capture_output=True)
            time.sleep(0.125)
        time.sleep(1.0)
        rss_played, hwm = status_mb(proc.pid)
        return dict(mode=mode, visible=visible, audio=audio, rss=rss, rss_played=rss_played, hwm=hwm, **libraries)
    finally:
        proc.terminate()
        try:
            _, err = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
        if "Traceback" in (err or ""):
            print(err[-2000:], file=sys.stderr)


def main() -> int:
    """Launch the window ``--runs`` times per audio code, write the rows to
    ``docs/measurements/window_startup.json`` and print them with the worst figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    import pulse
    from record import write_result
    from window_training import start_xvfb

    xvfb = start_xvfb()
    rows = []
    try:
        with pulse.server_and_sink(f"iirnn_start_{os.getpid()}"), tempfile.TemporaryDirectory() as tmp:
            for mode in ("library", "numba"):
                launch(mode, tmp, -1)  # warm the page cache and numba's cache; not counted
                for i in range(args.runs):
                    rows.append(launch(mode, tmp, i))
                    print(f"launch {mode} {i + 1}: visible after {rows[-1]['visible']:.2f} s, "
                          f"audio after {rows[-1]['audio']:.2f} s", flush=True)
    finally:
        if xvfb is not None:
            xvfb.terminate()
    worst = []
    for key, label in (("visible", "visible s"), ("audio", "audio s"), ("rss_played", "RSS played MB"), ("hwm", "peak MB")):
        lib = max(r[key] for r in rows if r["mode"] == "library")
        jit = max(r[key] for r in rows if r["mode"] == "numba")
        worst.append(f"worst {label}: library {lib:.2f}, numba {jit:.2f}, ratio library/numba {lib / jit:.2f}")
    write_result("window_startup", rows, {"summary": worst})
    print(f"{'audio code':<10} {'visible s':>9} {'audio s':>7} {'RSS MB':>7} {'RSS played':>10} {'peak MB':>8}  torch llvm library")
    for r in rows:
        print(f"{r['mode']:<10} {r['visible']:9.2f} {r['audio']:7.2f} {r['rss']:7.0f} {r['rss_played']:10.0f} {r['hwm']:8.0f}  "
              f"{r['torch']!s:5} {r['llvm']!s:5} {r['library']!s}")
    for line in worst:
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
