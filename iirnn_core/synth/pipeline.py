"""Voices at the model rate, resampled to the device rate: one block of live audio.

A :class:`Pipeline` owns a :class:`~iirnn_core.synth.renderer.Renderer` running at the model rate
(the seed's 8 kHz) and a :class:`~iirnn_core.synth.resample.StreamingResampler` to the device rate,
plus its output buffer. Its arrays are listed in one int64 table (:attr:`Pipeline.table`: the
renderer's rows, then ``ROW_XBUF`` .. ``ROW_DELAY``), and the compiled functions below work on
that table (:mod:`iirnn_core.rt.pipeline_kernels`), so the audio callback runs a pipeline with no
Python object in reach (the class only builds and keeps the arrays). This module imports no numba.

A learned sound's recording, which sample voices read, belongs to the pipeline (its renderer's ``sample``): a
new recording makes a new pipeline (:func:`pipeline_key` differs), installed through the block processor's
pipeline hand-off, so voices still reading the old recording ring out in the old pipeline, whose arrays stay
referenced until the callback no longer uses it.
"""

from __future__ import annotations

import hashlib

import numpy as np

from iirnn_core.synth.renderer import Renderer
from iirnn_core.synth.resample import StreamingResampler
from iirnn_core.rt.tables import table_row
from iirnn_core.rt.pipeline_layout import PIPE_ROWS, ROW_DELAY, ROW_FIR, ROW_OUT, ROW_RSTATE, ROW_XBUF  # noqa: F401



def pipeline_key(model_rate: float, device_rate: float, channels: int, polyphony: int, rnn_hidden: int,
                 block_max: int, sample: np.ndarray | None = None) -> tuple:
    """What makes two pipelines interchangeable: the arguments of :class:`Pipeline`, the recording ``sample``
    (S,) float64 as a digest of its samples ("" for none)."""
    digest = "" if sample is None else hashlib.sha1(np.ascontiguousarray(sample, dtype=np.float64)).hexdigest()
    return (float(model_rate), float(device_rate), int(channels), int(polyphony), int(rnn_hidden), int(block_max),
            digest)


class Pipeline:
    """Renderer at ``model_rate`` -> resampler -> ``device_rate`` blocks of up to ``block_max`` frames (N, channels);
    ``sample`` (S,) float64 is the recording its sample voices read (None: no recording)."""

    def __init__(self, model_rate: float, device_rate: float, channels: int, polyphony: int,
                 rnn_hidden: int, block_max: int, sample: np.ndarray | None = None):
        self.key = pipeline_key(model_rate, device_rate, channels, polyphony, rnn_hidden, block_max, sample)
        self.model_rate, self.device_rate = float(model_rate), float(device_rate)
        self.channels = int(channels)
        self.resampler = StreamingResampler(model_rate, device_rate, channels, block_max)
        self.renderer = Renderer(channels, max_voices=polyphony, rnn_hidden=rnn_hidden,
                                 block_max=self.resampler.in_max, rate=model_rate, sample=sample)
        self.out = np.zeros((block_max, channels))
        self._delay = np.array([self.resampler.delay_up])
        rs = self.resampler
        self.table = np.vstack([self.renderer.table,
                                np.array([table_row(rs.xbuf), table_row(rs.table), table_row(rs.state),
                                          table_row(self.out), table_row(self._delay)], dtype=np.int64)])
