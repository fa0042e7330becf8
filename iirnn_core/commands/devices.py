"""``iirnn devices``: the output devices the host offers, by name (the default marked with ``*``)."""

from __future__ import annotations

import argparse
import json


def add_parser(sub) -> None:
    """Register ``devices`` on the ``iirnn`` sub-parsers."""
    p = sub.add_parser("devices", help="list audio output devices by name",
                       description="List the audio output devices (names for --device); * marks the default.")
    p.add_argument("--json", action="store_true", help="print a JSON object {devices: [...], default: name}")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Print the device names; a host with none is a failure (exit 1)."""
    from ..devices import default_output_device, list_output_devices
    from ..errors import Failure

    names = list_output_devices()
    default = default_output_device() if names else None
    if args.json:
        print(json.dumps({"devices": names, "default": default}))
        return 0 if names else 1
    if not names:
        raise Failure("iirnn: no audio output device found (is a sound server such as PulseAudio running?)")
    for name in names:
        print(f"{'*' if name == default else ' '} {name}")
    return 0
