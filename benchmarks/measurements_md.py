"""Regenerate ``docs/measurements.md`` from the benchmarks' results in ``docs/measurements/*.json``.

Each benchmark writes its JSON when it runs (``benchmarks/record.py``); this script writes one section per
benchmark: what it measures, the command, and its latest figures (the headline columns of its rows, its
summary lines, the machine, the date and the commit), or the command to run where there is no JSON yet.
``--check`` writes nothing and fails when the page is not what the JSON gives. Usage::

    python3 benchmarks/measurements_md.py [--check] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from record import MEASUREMENTS, ROOT, measurements_dir

MAX_ROWS = 12  # a longer table shows this many rows, spread from first to last

# name: (what it measures, the command, headline columns as (header, row key or function of the row, format)).
# A row has "run" (its position, from 1) unless it has one of its own.
SECTIONS = {
    "bench_training": (
        "Training time and quality: the seed's Adam loop against the `best` optimizer (and the seed author's "
        "random directions) on A4, on C4..C6 and on A4 at Q 0.999, each in a fresh interpreter; then "
        "`iirnn train` as a person runs it (a fresh process, with numba's cache as it is and empty; also the "
        "whole piano at 8, 16 and 48 kHz). Wall and CPU seconds, the worst and median per-key SNR measured "
        "through the renderer, training steps per second, and how many times faster than the seed's loop.",
        "python3 benchmarks/bench_training.py",
        [("row", "row", ""), ("keys", "keys", ""), ("wall s", "wall_s", ".2f"), ("cpu s", "cpu_s", ".2f"),
         ("worst dB", "worst_snr_db", ".1f"), ("median dB", "median_snr_db", ".1f"),
         ("steps/s", "steps_per_s", ".1f"), ("seed/row", "seed_time_ratio", ".1f")]),
    "bench_learn": (
        "Learning recorded notes (`iirnn learn`): General MIDI instruments of `fluid-soundfont-gm` rendered by "
        "`fluidsynth` (mallets, plucked strings, a vibraphone, a piano), each learned at H = 8, 16 and 32 in its "
        "own process: the network's waveform SNR and multi-resolution STFT distance beside the plain linear modal "
        "fit's of the same order, the SNR gained, the refinement's steps, and the time `learn()` took and the whole "
        "command took.",
        "python3 benchmarks/bench_learn.py",
        [("note", "row", ""), ("H", "hidden", ""), ("net SNR dB", "snr_db", ".2f"), ("net STFT dB", "stft_db", ".2f"),
         ("linear SNR dB", "linear_snr_db", ".2f"), ("linear STFT dB", "linear_stft_db", ".2f"),
         ("gain dB", "gain_db", "+.2f"), ("steps", "steps", ""), ("kept", "kept_step", ""), ("learn s", "learn_s", ".2f"),
         ("command s", "wall_s", ".2f")]),
    "bench_render": (
        "Render load (CPU seconds per second of audio, 48 kHz, 128-frame blocks) of every engine through the "
        "renderer and the whole live callback, the room and the dampers, 32 trained twins of H = 8..64 states "
        "(dense, and as a learned sound's 2x2 blocks at 8 and 16 kHz), and the seed's `nn.RNN` per block: the "
        "worst of 3 runs of `iirnn bench`, and how many times the seed's load for as many voices.",
        "python3 benchmarks/bench_render.py",
        [("row", "row", ""), ("voices", "voices", ""), ("load", "load", ".4f"), ("seed/row", "seed_ratio", ".1f")]),
    "bench_live_audio": (
        "Live audio under training load: 16 RNN voices cycling through the output device (by default a "
        "null sink of its own, recorded) at 128-frame blocks, 60 s per row, with no training (`idle`), "
        "training in the child process as the window runs it (`process`) and in a thread (`thread`). "
        "Underruns (from callback timestamps and from the wall clock), callback load, key-to-sound latency, "
        "training steps, what a real-time probe thread met meanwhile (worst lateness, CPU steal), and the "
        "dropouts heard on the sink (`unexplained`: with no probe stall beside them).",
        "python3 benchmarks/bench_live_audio.py",
        [("row", "row", ""), ("underruns ts", "underruns_timestamps", ""), ("underruns wall", "underruns_wallclock", ""),
         ("load max", "load_max", ".3f"), ("latency ms", "latency_ms_median", ".2f"),
         ("p90 ms", "latency_ms_p90", ".2f"), ("steps", "training_steps", ""), ("RT late ms", "rt_late_ms", ".2f"),
         ("steal %", "steal_percent", ".1f"), ("heard", "dropouts", ""),
         ("unexplained", lambda r: None if r.get("dropouts") is None else r["dropouts"] - r["dropouts_beside_stall"], ""),
         ("cpus", "cpus", "")]),
    "play_latency": (
        "Key-to-sound latency of `iirnn play --engine ab --notes C4..C5 --gap 0.1 --seconds 8` at its default "
        "settings, run after run in its own process into a null sink, beside a real-time probe thread on each "
        "CPU: underruns, median and maximum latency, callback load, and whether the machine itself stalled.",
        "python3 benchmarks/play_latency.py",
        [("run", "run", ""), ("underruns ts", "underruns_timestamps", ""), ("underruns wall", "underruns_wallclock", ""),
         ("latency ms", "latency_ms_median", ".2f"), ("max ms", "latency_ms_max", ".2f"),
         ("load max", "callback_load_max", ".3f"), ("RT worst ms", "rt_worst_ms", ".1f"),
         ("RT >5 ms", "rt_over_5ms", ""), ("cpus", "cpu_wakeup", ""), ("error", "error", "")]),
    "onset_latency": (
        "Key-to-sound latency as a player hears it: 30 keys struck one every 0.12 s at known `perf_counter` times "
        "through the IIR engine (or `iirnn play` in its own process: `--play-cli`), each found on a private "
        "server's null-sink monitor recorded on the same clock (PulseAudio: ALSA's pulse plugin, its ADC times "
        "moved from CLOCK_REALTIME; PipeWire: a JACK client on the graph's clock, which calibrates its own lag "
        "with clicks), beside the engine's own figure from PortAudio's DAC times. `heard` is the onset less the "
        "detector's offset from the impulse (rendered offline).",
        "python3 benchmarks/onset_latency.py",
        [("server", "server", ""), ("mode", "mode", ""), ("path", "path", ""), ("capture", "capture", ""),
         ("key", "key", ""), ("engine ms", "engine_ms", ".2f"), ("heard ms", "heard_ms", ".2f"),
         ("heard - engine ms", lambda r: None if r.get("heard_ms") is None or r.get("engine_ms") is None
          else r["heard_ms"] - r["engine_ms"], ".2f")]),
    "window_startup": (
        "How fast the real window (`python -m app`, Xvfb and PulseAudio) appears and starts its audio stream, "
        "and its process's resident and peak memory after 20 keys, with the audio code as the library compiled "
        "ahead of time and as numba in the process.",
        "python3 benchmarks/window_startup.py",
        [("audio code", "mode", ""), ("visible s", "visible", ".2f"), ("audio s", "audio", ".2f"),
         ("RSS MB", "rss", ".0f"), ("RSS played MB", "rss_played", ".0f"), ("peak MB", "hwm", ".0f"),
         ("torch", "torch", ""), ("llvm", "llvm", ""), ("library", "library", "")]),
    "window_training": (
        "Does the real window drop audio while you play and it trains? A key every 125 ms for 20 s, a C4..C6 "
        "training run started from the panel at 4 s; the null sink's recording gives the dropouts heard "
        "(silences over 5 ms), beside the engine's underruns, loss updates per second, the plot's ticks, the "
        "longest Python stall and a real-time probe (`not beside`: dropouts with no machine stall near them).",
        "python3 benchmarks/window_training.py",
        [("run", "run", ""), ("server", "server", ""), ("dropouts", "dropouts", ""), ("silence s", "silence_s", ".3f"),
         ("underruns ts / wall", "underruns", ""), ("loss upd/s", "updates_per_s", ".1f"),
         ("tick p99 ms", "tick_p99_ms", ".1f"), ("py stall ms", "python_stall_max_ms", ".1f"),
         ("load max", "load_max", ".3f"), ("RT late ms", "rt_late_ms", ".1f"), ("RT >5 ms", "rt_over_5ms", ""),
         ("steal %", "steal_percent", ".1f"),
         ("not beside", lambda r: r["dropouts"] - sum(r["dropouts_host"]), "")]),
    "bench_faults": (
        "Does the sound come back by itself? A private PulseAudio server (or PipeWire stack) SIGKILLed 3 s into "
        "a phrase (a key every 0.1 s) and a new one started 1.5 s later, under `iirnn play` (its own process) and under the real "
        "window (Xvfb): seconds from the new server answering to the first key heard on its sink's monitor, "
        "the summary or status bar, the terminal lines not from the project, and the longest GUI stall meanwhile.",
        "python3 benchmarks/bench_faults.py",
        [("server", "server", ""), ("what", "what", ""), ("run", "run", ""), ("back s", "back_s", ".2f"),
         ("foreign lines", "foreign_lines", ""), ("GUI stall ms", "gui_stall_max_ms", ".0f"),
         ("said", lambda r: r.get("summary") or r.get("status"), "")]),
    "hear_it_learn": (
        "Hear it learn: in the real window, A4 struck every 0.3 s on the trained engine while a C4..C6 run "
        "trains from random init, each strike heard from the sink compared with the IIR engine's A4 "
        "(SNR in dB over 0.15 s), against the time since Start.",
        "python3 benchmarks/hear_it_learn.py",
        [("since Start s", "since_start_s", ".2f"), ("SNR dB", "snr_db", ".1f")]),
}


def cell(value, fmt: str) -> str:
    """``value`` for a Markdown table cell: ``-`` for None, numbers by ``fmt``, lists joined."""
    if value is None:
        return "-"
    if isinstance(value, list):
        return ", ".join(cell(v, fmt) for v in value)
    if fmt and isinstance(value, (int, float)) and not isinstance(value, bool):
        value = format(value, fmt)
    return str(value).replace("|", "\\|").replace("\n", " ")


def table(rows: list[dict], columns) -> list[str]:
    """The headline columns of ``rows`` as Markdown lines, at most MAX_ROWS rows (first and last kept)."""
    rows = [{"run": i + 1, **r} for i, r in enumerate(rows)]
    if len(rows) > MAX_ROWS:
        rows = [rows[round(k * (len(rows) - 1) / (MAX_ROWS - 1))] for k in range(MAX_ROWS)]
    lines = ["| " + " | ".join(h for h, _, _ in columns) + " |", "|" + "---|" * len(columns)]
    for r in rows:
        values = (key(r) if callable(key) else r.get(key) for _, key, _ in columns)
        lines.append("| " + " | ".join(cell(v, fmt) for v, (_, _, fmt) in zip(values, columns)) + " |")
    return lines


def section(name: str, result: dict | None, link: str) -> list[str]:
    """The page's section for benchmark ``name`` from its JSON ``result`` (None: not measured yet)."""
    what, command, columns = SECTIONS.get(name) or (
        "(not described yet: add it to SECTIONS in `benchmarks/measurements_md.py`)", f"python3 benchmarks/{name}.py",
        [(k, k, "") for k, v in (result["rows"][0] if result and result["rows"] else {}).items()
         if not isinstance(v, (dict, list))])
    lines = [f"## {name}", "", what, "", f"Run: `{command}` (options: `--help`; details: the module's docstring).", ""]
    if result is None:
        return lines + [f"Latest figures: not measured since the JSON format; run: `{command}`", ""]
    m = result["machine"]
    steal = m.get("cpu_steal_percent")
    steal = f"; CPU steal{' per row' if isinstance(steal, list) else ''} (%) {cell(steal, '.1f')}" if steal is not None else ""
    lines += [f"Latest figures ([{link}]({link})): `{result['command']}` on {result['date_utc']}, commit "
              f"`{result['commit']}`; {m['cpu']}, {m['cpu_count']} CPUs, {m['arch']}, kernel {m['kernel']}, "
              f"Python {m['python']}{steal}.", ""]
    if result.get("summary"):
        lines += [f"- {cell(line, '')}" for line in result["summary"]] + [""]
    if len(result["rows"]) > MAX_ROWS:
        lines += [f"{MAX_ROWS} of {len(result['rows'])} rows, first to last (all in the JSON):", ""]
    return lines + table(result["rows"], columns) + [""]


def render(folder: Path, out: Path) -> str:
    """The whole page for the JSON files in ``folder``, with links relative to ``out``'s folder."""
    results = {p.stem: json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))}
    names = list(SECTIONS) + sorted(set(results) - set(SECTIONS))
    lines = ["# Measurements", "",
             "Generated by `python3 benchmarks/measurements_md.py` from the benchmarks' results in "
             f"`{MEASUREMENTS}/*.json`: do not edit by hand. Every benchmark writes its JSON when it runs "
             "(`benchmarks/record.py`): its name, the command, the git commit (`+dirty` when the checkout "
             "differed from it), the UTC date-time, the machine and its rows; the latest run overwrites the "
             "file and git keeps the history. Timing figures want a quiet machine; each section says which "
             "machine gave its figures.", ""]
    for name in names:
        link = Path(os.path.relpath(folder / f"{name}.json", out.parent)).as_posix()
        lines += section(name, results.get(name), link)
    return "\n".join(lines).rstrip("\n") + "\n"


def main(argv: list[str] | None = None) -> int:
    """Write (or with ``--check`` compare) the page; 1 when ``--check`` finds it out of date."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / f"{MEASUREMENTS}.md", help="the page (default: %(default)s)")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if the page is out of date")
    args = parser.parse_args(argv)
    page = render(measurements_dir(), args.out)
    if args.check:
        current = args.out.read_text() if args.out.exists() else ""
        if current != page:
            print(f"{args.out} is out of date: run python3 benchmarks/measurements_md.py", file=sys.stderr)
            return 1
        return 0
    args.out.write_text(page)
    return 0


if __name__ == "__main__":
    sys.exit(main())
