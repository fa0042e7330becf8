"""Training benchmark: the seed's loop against ``best`` (and the seed author's random directions).

Rows, all in the same run on this machine (8 kHz, Q 0.995 unless said, 0.6 s, impulse 0.1,
random init, seed 0):

- ``seed adam``: the seed's loop (Adam, default lr, summed MSE, PyTorch default init) on A4,
  500 epochs (``--seed-epochs N`` for fewer; the table says how many ran);
- ``randdir``: the method of random directions, 1500 iterations, on A4;
- ``best``: on A4, on C4..C6 (25 keys), and on the seed's hard case A4 at Q 0.999;
- ``best CLI``: ``iirnn train --notes C4..C6`` (and the whole piano: A0..B7, the shipped model;
  A0..C8 at 16 kHz and Q 0.999; A0..C8 at 48 kHz and Q 0.9998) in a fresh process (Python, torch and numba
  start-up and cached compilation included: what a person waits for), once with numba's cache
  as it is and once with an empty cache (``NUMBA_CACHE_DIR`` set to a new folder: the first run
  after a fresh install, compilation included).

Each row runs in a fresh interpreter (after the seed's torch loop, torch's OpenMP pool would
otherwise keep numba's parallel loops on one core). Each row gives wall seconds (training plus
measuring the SNR by rendering every key; interpreter start-up excluded except in the CLI rows), CPU
seconds (both cores together; less disturbed by other jobs on the machine than wall time) and
the worst / median per-key SNR in dB measured through the renderer, and training steps per second of
training (each step is one progress update of the window's curves); the last column is the
seed's wall time divided by the row's. Run: ``python3 benchmarks/bench_training.py [--seed-epochs N] [--json]``.
The rows also go to ``docs/measurements/bench_training.json`` (``benchmarks/record.py``).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

from iirnn_core.models.modelfile import load_model
from iirnn_core.training.run import TrainConfig, train_model
from record import write_result


def timed_training(label: str, **config) -> dict:
    """Train ``config`` in a fresh interpreter (rows do not share torch's and numba's thread pools);
    the row's times cover ``train_model`` only (training plus measuring every key by rendering)."""
    proc = subprocess.run([sys.executable, __file__, "--one-row", json.dumps({"label": label, "config": config})],
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"bench_training: row {label!r} failed: {proc.stderr.strip()}")
    return json.loads(proc.stdout)


def one_row(spec: str) -> dict:
    """Body of :func:`timed_training` in the child: the row as a dict."""
    spec = json.loads(spec)
    start, cpu = time.perf_counter(), time.process_time()
    model = train_model(TrainConfig(**spec["config"]))
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    snrs = [k.snr_db for k in model.keys.values()]
    return {"row": spec["label"], "keys": len(snrs), "steps": model.steps, "train_s": model.train_seconds,
            "wall_s": wall, "cpu_s": cpu,
            "worst_snr_db": min(snrs), "median_snr_db": statistics.median(snrs)}


def timed_cli(label: str, notes: str, cold: bool = False, extra: tuple = ()) -> dict:
    """``iirnn train --notes NOTES [EXTRA...]`` in a fresh interpreter (``cold``: empty numba cache); whole-process
    wall time."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "m.json")
        env = dict(os.environ)
        if cold:
            env["NUMBA_CACHE_DIR"] = os.path.join(tmp, "numba-cache")
        start, cpu = time.perf_counter(), _children_cpu()
        proc = subprocess.run([sys.executable, "-m", "iirnn_core.cli", "train", "--notes", notes, "--out", out,
                               "--json", *extra], capture_output=True, text=True, check=False, env=env)
        wall, cpu = time.perf_counter() - start, _children_cpu() - cpu
        if proc.returncode != 0:
            raise SystemExit(f"bench_training: iirnn train failed: {proc.stderr.strip()}")
        model = load_model(out)
    snrs = [k.snr_db for k in model.keys.values()]
    return {"row": label, "keys": len(snrs), "steps": model.steps, "train_s": model.train_seconds,
            "wall_s": wall, "cpu_s": cpu,
            "worst_snr_db": min(snrs), "median_snr_db": statistics.median(snrs)}


def _children_cpu() -> float:
    """CPU seconds (user + system) used by finished child processes so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main(argv: list[str] | None = None) -> int:
    """Run the rows, write them to ``docs/measurements/bench_training.json`` and print the table (or JSON)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed-epochs", type=int, default=500, help="epochs of the seed's loop (default 500)")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    parser.add_argument("--one-row", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one_row:
        print(json.dumps(one_row(args.one_row)))
        return 0

    rows = [timed_training(f"seed adam, A4, {args.seed_epochs} epochs", notes=["A4"], optimizer="adam",
                           steps=args.seed_epochs),
            timed_training("randdir, A4, 1500 iterations", notes=["A4"], optimizer="randdir"),
            timed_training("best, A4", notes=["A4"]),
            timed_training("best, C4..C6", notes=["C4..C6"]),
            timed_training("best, A4 at Q 0.999", notes=["A4"], q=0.999),
            timed_cli("best CLI, C4..C6 (fresh process)", "C4..C6"),
            timed_cli("best CLI, C4..C6 (empty numba cache)", "C4..C6", cold=True),
            timed_cli("best CLI, A0..B7 (the shipped model)", "A0..B7"),
            timed_cli("best CLI, A0..C8, 16 kHz, Q 0.999", "A0..C8", extra=("--rate", "16000", "--q", "0.999")),
            timed_cli("best CLI, A0..C8, 48 kHz, Q 0.9998", "A0..C8", extra=("--rate", "48000", "--q", "0.9998"))]
    seed_wall = rows[0]["wall_s"]
    for row in rows:
        row["seed_time_ratio"] = seed_wall / row["wall_s"]
        row["steps_per_s"] = row["steps"] / row["train_s"]
    load_average = os.getloadavg()
    load = ", ".join(f"{x:.1f}" for x in load_average)
    footer = (f"({os.cpu_count()} CPUs, load average {load} at the end; SNR measured by rendering each key "
              "through the renderer against the IIR target)")
    write_result("bench_training", rows, {"load_average": load_average, "summary": [footer]})
    if args.json:
        print(json.dumps({"cpu_count": os.cpu_count(), "load_average": load_average, "rows": rows}, indent=1))
        return 0
    print(f"{'row':<40} {'keys':>4} {'steps':>6} {'wall s':>8} {'cpu s':>7} {'worst dB':>9} {'median dB':>9} "
          f"{'steps/s':>8} {'seed/row':>9}")
    for r in rows:
        print(f"{r['row']:<40} {r['keys']:>4} {r['steps']:>6} {r['wall_s']:>8.2f} {r['cpu_s']:>7.2f} "
              f"{r['worst_snr_db']:>9.1f} {r['median_snr_db']:>9.1f} {r['steps_per_s']:>8.1f} "
              f"{r['seed_time_ratio']:>8.1f}x")
    print(footer)
    return 0


if __name__ == "__main__":
    sys.exit(main())
