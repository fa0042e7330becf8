"""Render load of every engine through the live callback: ``iirnn bench`` run ``--runs`` times (3), the worst.

Each row is one of ``iirnn bench``'s (``iirnn_core/commands/bench.py``: CPU seconds per second of audio at 48 kHz in
128-frame blocks; 1 and 64 voices of each engine through the renderer and the whole live callback, the room and the
dampers at 64 voices, 32 trained twins of H = 8..64 states, dense and as a learned sound's 2x2 blocks at 8 and
16 kHz, and the seed's ``nn.RNN`` per block), each ``iirnn bench`` in its own process one after another; the row
gives the worst load of the runs and the seed's load for as many voices divided by it. Run:
``python3 benchmarks/bench_render.py [--runs 3]``; the rows also go to ``docs/measurements/bench_render.json``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

from record import write_result


def main() -> int:
    """Run ``iirnn bench --json`` ``--runs`` times, keep each row's worst load, write and print them."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    worst: dict[tuple[str, int], dict] = {}
    for _ in range(args.runs):
        out = subprocess.run([sys.executable, "-m", "iirnn_core.cli", "bench", "--json"], capture_output=True,
                             text=True, check=True).stdout
        for row in json.loads(out):
            key = (row["engine"], row["voices"])
            if key not in worst or row["load"] > worst[key]["load"]:
                worst[key] = dict(row)
    seed = {v: r["load"] for (e, v), r in worst.items() if e == "seed-nn.RNN"}
    rows = []
    for (engine, voices), row in worst.items():
        near = min(seed, key=lambda v: abs(v - voices)) if seed else None
        rows.append({"row": engine, "voices": voices, "load": row["load"],
                     "seed_ratio": seed[near] / row["load"] if near is not None and row["load"] > 0 else None})
    write_result("bench_render", rows, {"summary": [f"worst of {args.runs} runs of iirnn bench, each in its own "
                                                    "process; seed ratio: the seed's nn.RNN load for the nearest "
                                                    "voice count over the row's"]})
    for r in rows:
        ratio = "" if r["seed_ratio"] is None else f"  seed/row {r['seed_ratio']:7.1f}x"
        print(f"{r['row']:<36} {r['voices']:>3} voices  load {r['load']:.4f}{ratio}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
