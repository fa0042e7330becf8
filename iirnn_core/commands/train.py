"""``iirnn train``: learn every key's network from its IIR target and write a model file.

Progress goes to stderr as a tqdm bar (step, worst key's SNR); at the end a per-key table
(note, Hz, SNR dB measured by rendering the saved model) goes to stdout, or a JSON summary with
``--json``. The model is written atomically exactly at ``--out``; Ctrl-C stops training and
still saves the best nets so far.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys

from iirnn_core.rt.block_layout import HIDDEN_MAX
from iirnn_core.training.config import HIDDEN_MIN, INITS, OPTIMIZERS


def add_parser(sub) -> None:
    """Register ``train`` on the ``iirnn`` sub-parsers."""
    p = sub.add_parser("train", help="train the RNN twin of every key and write a model file",
                       description="Train one network per key (H hidden states, --hidden) so its impulse response "
                                   "imitates the IIR resonator, then write the model file.")
    p.add_argument("--notes", nargs="+", required=True, metavar="N", help="notes or ranges: A4 C#5 C4..C6")
    p.add_argument("--rate", type=float, default=8000.0, help="sample rate in Hz (default 8000)")
    p.add_argument("--q", type=float, default=0.995, help="pole radius, 0 < Q < 1 (default 0.995)")
    p.add_argument("--seconds", type=float, default=0.6, help="target duration in seconds (default 0.6)")
    p.add_argument("--amplitude", type=float, default=0.1, help="impulse height (default 0.1)")
    p.add_argument("--hidden", type=int, default=3, metavar="H",
                   help=f"hidden states of each key's net, {HIDDEN_MIN}..{HIDDEN_MAX}: a tanh IIR of order H "
                        "(default 3, the seed's; best trains more than 16 block-diagonal, 2x2 blocks)")
    p.add_argument("--optimizer", choices=OPTIMIZERS, default="best", help="default: best")
    p.add_argument("--init", choices=INITS, default="random",
                   help="random (default); warm: start from --model's keys; pole: a rotation at each target's "
                        "own pole, extra states small")
    p.add_argument("--model", metavar="FILE", help="model file to start from (with --init warm)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--budget", type=float, metavar="SECONDS", help="stop after this many seconds of training")
    p.add_argument("--steps", type=int, metavar="N",
                   help="stop after N steps (adam: epochs, randdir: iterations; default: the full run)")
    p.add_argument("--out", required=True, metavar="FILE", help="model file to write (JSON)")
    p.add_argument("--json", action="store_true", help="print a JSON summary instead of the table")
    p.set_defaults(run=run)


def _check_out(path: str) -> None:
    """Fail early (exit 2) when --out cannot be written: a folder, or a missing folder."""
    from iirnn_core.errors import UsageError

    if os.path.isdir(path):
        raise UsageError(f"iirnn: --out {path!r} is a folder, not a file")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise UsageError(f"iirnn: the folder of --out {path!r} does not exist")


def _fmt_snr(value: float) -> str:
    return f"{value:7.1f}" if math.isfinite(value) else f"{value:>7}"


def run(args: argparse.Namespace) -> int:
    """Train, save, report; returns 0."""
    from tqdm import tqdm

    from iirnn_core.errors import Failure, UsageError
    from iirnn_core.models.modelfile import save_model
    from iirnn_core.training.run import Training, TrainConfig, build_model, run_metadata
    from iirnn_core.commands.render import load_model_arg

    if args.init == "warm" and args.model is None:
        raise UsageError("iirnn: --init warm needs --model FILE")
    if args.model is not None and args.init != "warm":
        raise UsageError("iirnn: --model is only used with --init warm")
    _check_out(args.out)
    warm = load_model_arg(args.model)
    config = TrainConfig(notes=args.notes, rate=args.rate, q=args.q, seconds=args.seconds,
                         amplitude=args.amplitude, hidden=args.hidden, optimizer=args.optimizer, init=args.init,
                         warm_model=warm, seed=args.seed, budget=args.budget, steps=args.steps)
    training = Training(config)  # SettingError (exit 2) for a warm model the optimizer cannot start from
    total = training.total_steps
    interrupted = False
    with tqdm(total=total, desc=f"train {len(config.notes)} keys", unit="step", file=sys.stderr,
              dynamic_ncols=True) as bar:
        try:
            for progress in training.run():
                bar.update(progress.step - bar.n)
                bar.set_postfix_str(f"worst {min(progress.snr_db):.1f} dB", refresh=False)
        except KeyboardInterrupt:
            interrupted = True
        if training.optimizer.finished:  # it converged before its planned steps
            bar.total = bar.n
            bar.refresh()
    if training.steps_done == 0:
        raise Failure("iirnn: training stopped before its first step; nothing written")
    model = build_model(config, training.weights(), training.steps_done, training.elapsed,
                        run_metadata(interrupted=interrupted))
    try:
        save_model(model, args.out)
    except OSError as exc:
        raise Failure(f"iirnn: cannot write {args.out}: {exc.strerror or exc}") from None
    keys = [model.keys[n] for n in config.notes]
    if args.json:
        print(json.dumps({"out": args.out, "hidden": model.hidden, "optimizer": model.optimizer, "init": model.init,
                          "steps": model.steps, "train_seconds": round(model.train_seconds, 3),
                          "interrupted": interrupted, "min_snr_db": min(k.snr_db for k in keys),
                          "keys": [{"note": k.note, "freq": round(k.freq, 3), "snr_db": round(k.snr_db, 2)}
                                   for k in keys]}))
    else:
        print(f"{'note':<5} {'Hz':>8} {'SNR dB':>7}")
        for k in keys:
            print(f"{k.note:<5} {k.freq:8.2f} {_fmt_snr(k.snr_db)}")
        print(f"{len(keys)} keys, {model.steps} steps, {model.train_seconds:.1f} s "
              f"({model.hidden} hidden, {model.optimizer}, {model.init} init); "
              f"worst {min(k.snr_db for k in keys):.1f} dB; "
              f"wrote {args.out}" + (" (interrupted)" if interrupted else ""))
    return 0
