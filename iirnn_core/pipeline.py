"""Voices at the model rate, resampled to the device rate: one block of live audio.

A :class:`Pipeline` owns a :class:`~iirnn_core.renderer.Renderer` running at the model rate
(the seed's 8 kHz) and a :class:`~iirnn_core.resample.StreamingResampler` to the device rate,
plus its output buffer. Per device block: :meth:`begin_block` says how many model frames the
block needs, :meth:`trigger` places a key's impulse at the model frame that sounds at a wanted
device frame (and returns the device frame where it really peaks), :meth:`render` fills the
block. Everything is preallocated; nothing here allocates per block.
"""

from __future__ import annotations

import numpy as np

from .renderer import Renderer
from .resample import StreamingResampler


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
                                 block_max=self.resampler.in_max)
        self.out = np.zeros((block_max, channels))
        self._outs = [self.out[:n] for n in range(block_max + 1)]
        self.n_in = 0

    def begin_block(self, frames: int) -> int:
        """Start a block of ``frames`` device frames; returns the model frames it renders."""
        self.n_in = self.resampler.inputs_needed(frames)
        return self.n_in

    def trigger(self, patches, amplitude: float, frame: int, note: int) -> float:
        """Start ``patches`` so the impulse sounds at device ``frame`` of this block (as near as the model
        rate allows); returns the device frame (fractional, may exceed the block) where it peaks,
        or -1 if this block renders no model frame (the caller keeps the event for the next block)."""
        if self.n_in == 0:
            return -1.0
        index = self.resampler.input_for_frame(frame)
        index = 0 if index < 0 else (self.n_in - 1 if index >= self.n_in else index)
        self.renderer.trigger(patches, amplitude, index, note)
        return self.resampler.frame_of_input(index)

    def render(self, frames: int) -> np.ndarray:
        """Render the block begun by :meth:`begin_block`; returns the (frames, C) float64 output view."""
        out = self._outs[frames]
        n_in = self.n_in
        if n_in:
            self.renderer.render_block(self.resampler.input_view(n_in))
        self.resampler.process(n_in, out)
        return out

    def silence(self) -> None:
        """Stop every voice and forget the resampler's history (after a fade-out)."""
        self.renderer.silence()
        self.resampler.reset()

    @property
    def sounding(self) -> bool:
        """True while a voice sounds (the resampler's tail is shorter than a block)."""
        return self.renderer.active_voices > 0
