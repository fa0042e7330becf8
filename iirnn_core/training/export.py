"""Back to the seed: one key's network as a torch state dict that the seed's own ``RNNnet(1, H, 1)`` loads.

The seed names its layers ``rnn`` (``nn.RNN(1, H, bias=False)``, tanh) and ``fo`` (``Linear(H, 1, bias=False)``),
so the file holds exactly ``rnn.weight_hh_l0`` (H, H), ``rnn.weight_ih_l0`` (H, 1) and ``fo.weight`` (1, H), float32
(torch's default, the seed's), written by ``torch.save`` as a plain dict of tensors: ``torch.load(path,
weights_only=True)`` reads it and ``load_state_dict`` takes it strictly. The names come from
:class:`~iirnn_core.training.network.RNNNet`, which mirrors the seed.

:func:`trained_net` and :func:`analytic_net` choose the weights with numpy only (the window's process calls
them); :func:`write_seed_net` imports torch, so it runs in ``iirnn export`` or in the trainer process
(:func:`export_job`, File > Export network...), never in the window's process.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from iirnn_core.dsp.notes import canonical, note_to_hz
from iirnn_core.dsp.resonator import resonator
from iirnn_core.dsp.weights import RNNWeights, analytic_weights
from iirnn_core.errors import Failure

SEED_NAMES = ("rnn.weight_hh_l0", "rnn.weight_ih_l0", "fo.weight")
"""The keys of an exported state dict: the seed's ``RNNnet`` parameters, in its order."""

SEED_HIDDEN = 3
"""The seed's ``hiddensize``: the hidden size of an exported analytic twin (the twin the synth plays)."""


@dataclass(frozen=True)
class SeedNet:
    """One key's network to export: ``note`` (sharp name), ``weights`` (float64, H states) and ``what`` it is,
    a few words for people (``"trained (model.json, 8000 Hz, Q 0.995)"``)."""

    note: str
    weights: RNNWeights
    what: str

    @property
    def hidden(self) -> int:
        """Hidden size H: the seed's ``RNNnet(1, H, 1)`` loads it."""
        return self.weights.hidden

    def to_dict(self) -> dict:
        """Plain data (for the trainer's queue): note, what, and the weights as nested lists."""
        w = self.weights
        return {"note": self.note, "what": self.what,
                "weights": {"w_hh": w.w_hh.tolist(), "w_ih": w.w_ih.tolist(), "w_out": w.w_out.tolist()}}

    @classmethod
    def from_dict(cls, data: dict) -> "SeedNet":
        """Inverse of :meth:`to_dict`."""
        w = data["weights"]
        weights = RNNWeights(np.asarray(w["w_hh"], dtype=np.float64), np.asarray(w["w_ih"], dtype=np.float64),
                             np.asarray(w["w_out"], dtype=np.float64))
        return cls(canonical(data["note"]), weights, str(data["what"]))


def trained_net(model, note: str, source: str) -> SeedNet:
    """Key ``note`` of ``model`` (a :class:`~iirnn_core.models.modelfile.TrainedModel`; ``source`` names it, e.g.
    its file), as the synth plays it; NoteError for an unknown name, SettingError (one line) for a key the model
    lacks."""
    name = canonical(note)
    weights = model.weights_for(name, model.rate, model.q)
    return SeedNet(name, weights, f"trained ({source}, {model.rate:g} Hz, Q {model.q:g})")


def analytic_net(note: str, rate: float, q: float, drive: float) -> SeedNet:
    """The analytic twin of key ``note`` at ``rate`` (Hz), pole radius ``q`` and ``drive``, as the synth plays it
    (:func:`~iirnn_core.dsp.weights.analytic_weights`, H = :data:`SEED_HIDDEN`); NoteError or SettingError (one
    line) for an unknown name, a key above Nyquist, a bad Q, rate or drive."""
    name = canonical(note)
    weights = analytic_weights(resonator(note_to_hz(name), q, rate), SEED_HIDDEN, drive)
    return SeedNet(name, weights, f"analytic twin ({rate:g} Hz, Q {q:g}, drive {drive:g})")


def seed_state_dict(weights: RNNWeights) -> dict:
    """``weights`` as the seed's state dict: ``{name: float32 tensor}`` for the names of :data:`SEED_NAMES`
    (shapes (H, H), (H, 1), (1, H)). Imports torch."""
    import torch

    from iirnn_core.training.network import RNNNet

    state = RNNNet.from_weights(weights, torch.float32).state_dict()
    if tuple(sorted(state)) != tuple(sorted(SEED_NAMES)):  # the mirror of the seed's class has drifted
        raise RuntimeError(f"RNNNet's parameters {sorted(state)} are not the seed's {list(SEED_NAMES)}")
    return {name: state[name].detach().clone().contiguous() for name in SEED_NAMES}


def write_seed_net(net: SeedNet, path: str | os.PathLike) -> None:
    """Write ``net`` to ``path`` with ``torch.save`` (a plain dict of tensors), atomically: a hidden file beside
    it, then ``os.replace``; on any failure no file is left and an earlier one at ``path`` stays. A path that
    cannot be written is :class:`~iirnn_core.errors.Failure` with one line. Imports torch."""
    import torch

    buffer = io.BytesIO()  # serialised first (a few kB): writing the file can then fail only as an OSError
    torch.save(seed_state_dict(net.weights), buffer)
    path = Path(path)
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    created = False
    try:
        with open(partial, "xb") as f:  # the umask sets its mode, as for any new file
            created = True
            f.write(buffer.getvalue())
            f.flush()
            os.fsync(f.fileno())
        os.replace(partial, path)
    except BaseException as exc:
        if created:
            try:
                partial.unlink()
            except OSError:
                pass  # already gone; nothing else to undo
        if isinstance(exc, OSError):
            raise Failure(f"cannot write {path}: {exc.strerror or exc}") from None
        raise


def export_job(data: dict) -> dict:
    """The trainer process's side of File > Export network...: ``data`` is :meth:`SeedNet.to_dict` plus
    ``"path"``; writes it (:func:`write_seed_net`) and returns plain data for the window: path, note, hidden
    size and what it is."""
    net = SeedNet.from_dict(data)
    write_seed_net(net, data["path"])
    return {"path": str(data["path"]), "note": net.note, "hidden": net.hidden, "what": net.what}
