"""Learning real recorded notes: the network against the linear modal fit, and how long it takes.

The notes are General MIDI instruments of the Debian package ``fluid-soundfont-gm`` (FluidR3_GM.sf2), each one
note held 2 s and rendered by ``fluidsynth`` at 48 kHz (both installed by ``./run``; nothing is downloaded): four
mallets and plucked strings (marimba C4, glockenspiel G5, xylophone C5, kalimba E4, nylon guitar E3, harp G4),
a vibraphone G4 and a grand piano C4. Each is learned with ``iirnn learn NOTE.wav --hidden H`` in its own process,
as a person runs it, at H = 8, 16 and 32 (1 s from the onset at 16 kHz, the default budget). A row gives the
network's waveform SNR and multi-resolution STFT distance beside the plain linear modal fit's of the same order
(the anchor), the gain in SNR, the refinement's steps, the learning time ``learn()`` reports and the whole
command's wall time (Python, numpy and numba start-up included).

Run: ``python3 benchmarks/bench_learn.py [--hidden 8 16 32] [--notes marimba piano] [--json]``; the rows also go to
``docs/measurements/bench_learn.json`` (``benchmarks/record.py``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import mido

from record import write_result

SOUNDFONT = "/usr/share/sounds/sf2/FluidR3_GM.sf2"
NOTES = {  # name: (General MIDI program, MIDI note)
    "marimba": (12, 60), "glockenspiel": (9, 79), "xylophone": (13, 72), "kalimba": (108, 64),
    "guitar": (24, 52), "harp": (46, 67), "vibraphone": (11, 67), "piano": (0, 60)}


def render_note(name: str, folder: str) -> str:
    """``name``'s note held 2 s, rendered by fluidsynth at 48 kHz into ``folder``; the WAV's path."""
    program, note = NOTES[name]
    midi = mido.MidiFile(ticks_per_beat=480)
    track = mido.MidiTrack()
    track += [mido.Message("program_change", program=program, time=0),
              mido.Message("note_on", note=note, velocity=100, time=0),
              mido.Message("note_off", note=note, velocity=0, time=1920)]
    midi.tracks.append(track)
    mid, wav = os.path.join(folder, f"{name}.mid"), os.path.join(folder, f"{name}.wav")
    midi.save(mid)
    subprocess.run(["fluidsynth", "-ni", "-g", "0.5", "-r", "48000", "-F", wav, SOUNDFONT, mid], check=True,
                   capture_output=True)
    return wav


def learn_row(name: str, wav: str, hidden: int, folder: str) -> dict:
    """``iirnn learn WAV --hidden H --json`` in a fresh process: the report and the command's wall time."""
    out = os.path.join(folder, f"{name}-{hidden}.json")
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "iirnn_core.cli", "learn", wav, "--hidden", str(hidden), "--out",
                           out, "--json"], capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"bench_learn: iirnn learn {name} failed: {proc.stderr.strip()}")
    rep = json.loads(proc.stdout)
    return {"row": f"{name} {rep['note']}", "hidden": hidden, "snr_db": rep["snr_db"], "stft_db": rep["stft_db"],
            "linear_snr_db": rep["linear_snr_db"], "linear_stft_db": rep["linear_stft_db"],
            "gain_db": rep["snr_db"] - rep["linear_snr_db"], "steps": rep["steps"], "kept_step": rep["kept_step"],
            "learn_s": rep["learn_seconds"], "wall_s": wall, "pitch_hz": rep["pitch_hz"]}


def main(argv: list[str] | None = None) -> int:
    """Render the notes, learn each at every H, write ``docs/measurements/bench_learn.json``, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hidden", type=int, nargs="+", default=[8, 16, 32])
    parser.add_argument("--notes", nargs="+", default=list(NOTES), choices=list(NOTES))
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    args = parser.parse_args(argv)
    if shutil.which("fluidsynth") is None or not os.path.isfile(SOUNDFONT):
        raise SystemExit("bench_learn: needs fluidsynth and fluid-soundfont-gm (./run installs them)")
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for name in args.notes:
            wav = render_note(name, folder)
            for hidden in args.hidden:
                rows.append(learn_row(name, wav, hidden, folder))
                if not args.json:
                    r = rows[-1]
                    print(f"{r['row']:<18} H {hidden:>2}: net {r['snr_db']:6.2f} dB / {r['stft_db']:5.2f} dB, "
                          f"linear {r['linear_snr_db']:6.2f} dB / {r['linear_stft_db']:5.2f} dB, "
                          f"gain {r['gain_db']:+6.2f} dB, "
                          f"{r['steps']:>3} steps, learn {r['learn_s']:5.2f} s, command {r['wall_s']:5.2f} s",
                          flush=True)
    notes = {r["row"] for r in rows}
    at_least = all(r["snr_db"] >= r["linear_snr_db"] and r["stft_db"] <= r["linear_stft_db"] for r in rows)
    plus3 = sum(r["gain_db"] >= 3.0 for r in rows)
    anchor = sum(r["kept_step"] == 0 for r in rows)
    slowest = max((r for r in rows if r["hidden"] == 32), key=lambda r: r["wall_s"], default=None)
    both = sum(r["snr_db"] >= r["linear_snr_db"] and r["stft_db"] <= r["linear_stft_db"] for r in rows)
    summary = [f"{len(notes)} notes x H {', '.join(map(str, args.hidden))}: the net at or better than the linear fit "
               f"on both figures in {both} of {len(rows)} rows ({'all' if at_least else 'not all'}); 3 dB or more "
               f"better SNR in {plus3} of {len(rows)}; in {anchor} the net stayed the linear fit (no step at or better "
               "on both)."]
    if slowest is not None:
        summary.append(f"slowest at H 32: {slowest['row']}, learn() {slowest['learn_s']:.2f} s, the whole command "
                       f"{slowest['wall_s']:.2f} s ({os.cpu_count()} CPUs)")
    write_result("bench_learn", rows, {"summary": summary})
    if args.json:
        print(json.dumps({"rows": rows, "summary": summary}, indent=1))
    else:
        print("\n".join(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
