"""``iirnn devices``: the output devices the host offers, by name (the default marked with ``*``), and the
MIDI input ports (names for ``iirnn play --midi-in``), or one line saying why there are none."""

from __future__ import annotations

import argparse
import json


def add_parser(sub) -> None:
    """Register ``devices`` on the ``iirnn`` sub-parsers."""
    p = sub.add_parser("devices", help="list audio output devices and MIDI input ports by name",
                       description="List the audio output devices (names for --device; * marks the default) and "
                                   "the MIDI input ports (names for play --midi-in).")
    p.add_argument("--json", action="store_true",
                   help="print a JSON object {devices: [...], default: name, midi_inputs: [...], midi_error: text}")
    p.set_defaults(run=run)


def midi_inputs() -> tuple[list[str], str]:
    """(MIDI input port names, "" or the one line saying why MIDI is unavailable)."""
    from iirnn_core.midi.ports import MidiUnavailable, list_input_ports

    try:
        return list_input_ports(), ""
    except MidiUnavailable as exc:
        return [], str(exc)


def run(args: argparse.Namespace) -> int:
    """Print the device and port names; a host with no audio output is a failure (exit 1)."""
    from iirnn_core.audio.devices import default_output_device, list_output_devices
    from iirnn_core.errors import Failure

    names = list_output_devices()
    default = default_output_device() if names else None
    ports, midi_error = midi_inputs()
    if args.json:
        print(json.dumps({"devices": names, "default": default, "midi_inputs": ports, "midi_error": midi_error}))
        return 0 if names else 1
    for name in names:
        print(f"{'*' if name == default else ' '} {name}")
    if ports:
        print("MIDI inputs:")
        for port in ports:
            print(f"  {port}")
    else:
        print("MIDI inputs: none" + (f" ({midi_error})" if midi_error else ""))
    if not names:
        raise Failure("iirnn: no audio output device found (is a sound server such as PulseAudio running?)")
    return 0
