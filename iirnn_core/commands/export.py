"""``iirnn export``: back to the seed. One key's network as a torch state dict the seed's own ``RNNnet(1, H, 1)``
loads (strict), a trained model's key or the analytic twin's; one line on stdout says what went where.

::

    iirnn export MODEL.json --key C4 --torch net.pt        # a trained key (MODEL.json left out: the shipped model)
    iirnn export --analytic --key C4 --q 0.995 --rate 8000 --drive 1 --torch net.pt

The file holds ``rnn.weight_hh_l0`` (H, H), ``rnn.weight_ih_l0`` (H, 1) and ``fo.weight`` (1, H), float32
(:mod:`iirnn_core.training.export`). Nothing is written unless every argument is good: an unknown note, a key
the model lacks or above Nyquist is one line and exit 2; a broken model file or a path that cannot be written,
one line and exit 1.
"""

from __future__ import annotations

import argparse
import os

from iirnn_core.commands.render import load_model_arg, trained_model_path
from iirnn_core.errors import UsageError
from iirnn_core.training.export import analytic_net, trained_net

ANALYTIC_DEFAULTS = {"rate": 8000.0, "q": 0.995, "drive": 1.0}
"""The analytic twin's settings when not given: those of ``iirnn render`` (the seed's 8 kHz and Q 0.995)."""


def add_parser(sub) -> None:
    """Register ``export`` on the ``iirnn`` sub-parsers."""
    p = sub.add_parser("export", help="write one key's net as a torch state dict the seed's RNNnet loads",
                       description="Back to the seed: write one key's network as a float32 torch state dict "
                                   "(rnn.weight_hh_l0, rnn.weight_ih_l0, fo.weight) that the seed's "
                                   "RNNnet(1, H, 1) loads with load_state_dict; torch.load(..., weights_only=True) "
                                   "reads it.")
    p.add_argument("model", nargs="?", metavar="MODEL.json",
                   help="trained model file whose key to export (default: the shipped model)")
    p.add_argument("--analytic", action="store_true",
                   help="export the analytic twin instead (weights computed from the key's IIR coefficients)")
    p.add_argument("--key", required=True, metavar="NOTE", help="the key: A4, C#5, Db5")
    p.add_argument("--torch", required=True, metavar="NET.pt", dest="out", help="state dict file to write")
    for name, text in (("rate", "sample rate in Hz"), ("q", "pole radius, 0 < Q < 1"),
                       ("drive", "RNN drive d: input x d, output / d")):
        p.add_argument(f"--{name}", type=float, help=f"with --analytic: {text} (default {ANALYTIC_DEFAULTS[name]:g})")
    p.set_defaults(run=run)


def chosen_net(args: argparse.Namespace):
    """The :class:`~iirnn_core.training.export.SeedNet` the arguments name (checked; nothing written yet)."""
    given = [f"--{name}" for name in ANALYTIC_DEFAULTS if getattr(args, name) is not None]
    if args.analytic:
        if args.model is not None:
            raise UsageError("iirnn export: --analytic computes the weights; it takes no MODEL.json")
        settings = {name: ANALYTIC_DEFAULTS[name] if getattr(args, name) is None else getattr(args, name)
                    for name in ANALYTIC_DEFAULTS}
        return analytic_net(args.key, **settings)
    if given:
        raise UsageError(f"iirnn export: {' and '.join(given)}: only with --analytic (a trained model has its own "
                         "rate, Q and drive)")
    path = trained_model_path(args.model, "MODEL.json")
    return trained_net(load_model_arg(path), args.key, os.path.basename(path))


def run(args: argparse.Namespace) -> int:
    """Write the state dict; returns 0."""
    from iirnn_core.training.export import write_seed_net

    if not args.out.strip():
        raise UsageError("iirnn export: --torch needs a file name")
    net = chosen_net(args)
    write_seed_net(net, args.out)
    print(f"iirnn: wrote {args.out}: {net.note}, {net.what}, H {net.hidden}: a float32 state dict for the seed's "
          f"RNNnet(1, {net.hidden}, 1)")
    return 0
