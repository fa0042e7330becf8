"""Key-to-sound latency of ``iirnn play`` at its default settings, run after run, beside the real-time probe.

Each run is the issue's command, ``iirnn play --engine ab --notes C4..C5 --gap 0.1 --seconds 8 --json``,
as a user runs it (its own process), playing into a PulseAudio null sink of our own (``norewinds=1``;
the server is started here, real-time as on a desktop, when none runs). Meanwhile this process runs
the real-time probe (``tests/rt_probe.py``: a SCHED_FIFO 60 thread on each CPU sleeping 1 ms at a time),
so each row says whether the machine itself stalled during the run. Printed per run: underruns
(timestamps / wall clock), key-to-sound latency median and max (ms), the callback's maximum load,
the CPU wake-up request's state, and the probe's worst lateness (ms) and wakeups over 5 ms late
(the probe watches the whole run, the child's start-up included, so a stall while it imports counts
against a run that played cleanly); then the worst figures over the runs with no stall over 5 ms and
over all runs. Usage::

    python benchmarks/play_latency.py [--runs 10] [--cpus-may-sleep]

The rows also go to ``docs/measurements/play_latency.json`` (``benchmarks/record.py``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # the tests' pulse.py, rt_probe.py
import pulse  # noqa: E402
from record import write_result  # noqa: E402
from rt_probe import STALL_MS, WakeupProbe  # noqa: E402

COMMAND = ["-m", "iirnn_core.cli", "play", "--engine", "ab", "--notes", "C4..C5", "--gap", "0.1", "--seconds", "8", "--json"]


def one_run(extra: list[str]) -> dict:
    """One ``iirnn play`` run beside the probe; its JSON summary plus the probe's figures (or an 'error')."""
    with WakeupProbe(120.0) as probe:
        try:
            out = subprocess.run([sys.executable, *COMMAND, *extra], capture_output=True, text=True, cwd=ROOT,
                                 timeout=60)
        except subprocess.TimeoutExpired:
            return {"error": "iirnn play did not finish within 60 s"}
    lines = out.stdout.strip().splitlines()
    try:
        row = json.loads(lines[-1])
    except (IndexError, ValueError):
        said = (out.stderr.strip().splitlines() or ["no output"])[-1]
        return {"error": f"iirnn play exited {out.returncode}: {said}"}
    if row.get("latency_ms_median") is None or row.get("latency_ms_max") is None:
        return {"error": "iirnn play measured no key-to-sound latency (no note reached the device)"}
    row.update(rt_worst_ms=probe.result["worst_ms"], rt_over_5ms=probe.result["over_5ms"],
               steal_percent=probe.result["steal_percent"])
    return row


def summary(rows: list[dict], what: str) -> str:
    """One line: the worst latency and underrun figures of ``rows``."""
    if not rows:
        return f"{what}: none"
    return (f"{what} ({len(rows)}): median {min(r['latency_ms_median'] for r in rows):.2f}-"
            f"{max(r['latency_ms_median'] for r in rows):.2f} ms, max up to {max(r['latency_ms_max'] for r in rows):.2f} ms, "
            f"underruns 0 / 0 in {sum(r['underruns_timestamps'] == 0 and r['underruns_wallclock'] == 0 for r in rows)}")


def main() -> int:
    """Run ``--runs`` times, write the rows to ``docs/measurements/play_latency.json``, print one row per run,
    then the worst figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--cpus-may-sleep", action="store_true", help="pass --cpus-may-sleep to iirnn play (the peer)")
    args = parser.parse_args()
    extra = ["--cpus-may-sleep"] if args.cpus_may_sleep else []
    with pulse.server_and_sink(f"iirnn_latency_{os.getpid()}"):  # PULSE_SINK: the child plays into it
        rows = [one_run(extra) for _ in range(args.runs)]
    played = [r for r in rows if "error" not in r]
    summaries = [f"iirnn {' '.join(COMMAND[2:])}{' ' + ' '.join(extra) if extra else ''}, {args.runs} runs; "
                 f"{os.cpu_count()} CPUs",
                 summary([r for r in played if r["rt_worst_ms"] <= STALL_MS],
                         f"runs with no probe stall over {STALL_MS:g} ms"),
                 summary(played, "all runs")]
    write_result("play_latency", rows, {"summary": summaries}, steal=[r.get("steal_percent") for r in rows])
    print(summaries[0])
    print(f"{'run':>4}{'ur ts/wall':>12}{'lat50':>8}{'max':>8}{'load max':>10}{'RT worst':>10}{'RT>5':>6}  cpus")
    for i, r in enumerate(rows):
        if "error" in r:
            print(f"{i + 1:>4}  {r['error']}")
            continue
        print(f"{i + 1:>4}{r['underruns_timestamps']:>6} / {r['underruns_wallclock']:<3}{r['latency_ms_median']:>8.2f}"
              f"{r['latency_ms_max']:>8.2f}{r['callback_load_max']:>10.3f}{r['rt_worst_ms']:>10.1f}{r['rt_over_5ms']:>6}"
              f"  {r['cpu_wakeup']}")
    print(summaries[1])
    print(summaries[2])
    return 0 if len(played) == len(rows) else 1


if __name__ == "__main__":
    sys.exit(main())
