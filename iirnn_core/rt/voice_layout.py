"""Where a renderer's arrays sit in its array table, and its counters (numpy-free constants).

Rows: bank ``b`` (0: IIR, 1: RNN) at ``b * BANK_ROWS`` (11 arrays each, see
:mod:`iirnn_core.rt.voice_kernels`), then ``ROW_CTL`` (int64 counters ``CTL_*``; entries 0 and 1 are
the voice counts of the two banks) and ``ROW_PARAMS`` (float64 ``PARAM_*``).
"""

BANK_IIR, BANK_RNN = 0, 1
BANK_ROWS = 11
ROW_CTL = 2 * BANK_ROWS
ROW_PARAMS = ROW_CTL + 1
RENDERER_ROWS = ROW_PARAMS + 1
CTL_BLOCKS, CTL_MUTED, CTL_STARTED, CTL_STOLEN, CTL_GUARD = 2, 3, 4, 5, 6
CTL_SIZE = 7
PARAM_RETIRE = 0
