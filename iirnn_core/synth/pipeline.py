"""Voices at the model rate, resampled to the device rate: one block of live audio.

A :class:`Pipeline` owns a :class:`~iirnn_core.synth.renderer.Renderer` running at the model rate
(the seed's 8 kHz) and a :class:`~iirnn_core.synth.resample.StreamingResampler` to the device rate,
plus its output buffer. Its arrays are listed in one int64 table (:attr:`Pipeline.table`: the
renderer's rows, then ``ROW_XBUF`` .. ``ROW_DELAY``), and the compiled functions below work on
that table (:mod:`iirnn_core.rt.pipeline_kernels`), so the audio callback runs a pipeline with no
Python object in reach (the class only builds and keeps the arrays). This module imports no numba.
"""

from __future__ import annotations

import numpy as np

from iirnn_core.synth.renderer import Renderer
from iirnn_core.synth.resample import StreamingResampler
from iirnn_core.rt.tables import table_row
from iirnn_core.rt.pipeline_layout import PIPE_ROWS, ROW_DELAY, ROW_FIR, ROW_OUT, ROW_RSTATE, ROW_XBUF  # noqa: F401



class Pipeline:
    """Renderer at ``model_rate`` -> resampler -> ``device_rate`` blocks of up to ``block_max`` frames (N, channels)."""

    def __init__(self, model_rate: float, device_rate: float, channels: int, polyphony: int,
                 rnn_hidden: int, block_max: int):
        self.key = (float(model_rate), float(device_rate), int(channels), int(polyphony), int(rnn_hidden),
                    int(block_max))
        self.model_rate, self.device_rate = float(model_rate), float(device_rate)
        self.channels = int(channels)
        self.resampler = StreamingResampler(model_rate, device_rate, channels, block_max)
        self.renderer = Renderer(channels, max_voices=polyphony, rnn_hidden=rnn_hidden,
                                 block_max=self.resampler.in_max, rate=model_rate)
        self.out = np.zeros((block_max, channels))
        self._delay = np.array([self.resampler.delay_up])
        rs = self.resampler
        self.table = np.vstack([self.renderer.table,
                                np.array([table_row(rs.xbuf), table_row(rs.table), table_row(rs.state),
                                          table_row(self.out), table_row(self._delay)], dtype=np.int64)])
