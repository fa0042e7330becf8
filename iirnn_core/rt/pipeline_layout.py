"""Where a pipeline's arrays sit in its int64 array table (constants only).

A pipeline's table (:attr:`iirnn_core.synth.pipeline.Pipeline.table`) is its renderer's rows
(:mod:`iirnn_core.rt.voice_layout`), then the resampler's input buffer, filter table and state,
the pipeline's output block and its delay (``ROW_XBUF`` .. ``ROW_DELAY``); ``PIPE_ROWS`` in all.
"""

from iirnn_core.rt.voice_layout import RENDERER_ROWS

ROW_XBUF = RENDERER_ROWS
ROW_FIR = ROW_XBUF + 1
ROW_RSTATE = ROW_XBUF + 2
ROW_OUT = ROW_XBUF + 3
ROW_DELAY = ROW_XBUF + 4
PIPE_ROWS = ROW_DELAY + 1
