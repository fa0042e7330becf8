"""Fields of a streaming resampler's int64 state array (constants only, no imports).

:class:`iirnn_core.synth.resample.StreamingResampler` keeps its phase and position in ``state``
(``RS_COUNT`` int64); the compiled resampler (:mod:`iirnn_core.rt.resample_kernels`) advances them.
"""

RS_PHASE, RS_T_REL, RS_BLOCK_PHASE, RS_BLOCK_T_REL, RS_UP, RS_DOWN, RS_HISTORY, RS_N_IN = range(8)
"""Fields of a resampler's int64 state array (``StreamingResampler.state``)."""
RS_COUNT = 8
