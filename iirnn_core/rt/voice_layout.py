"""Where a renderer's arrays sit in its array table, and its counters (numpy-free constants).

Rows: bank ``b`` (0: IIR, 1: RNN, 2: sample) at ``b * BANK_ROWS`` (11 arrays each, see
:mod:`iirnn_core.rt.voice_kernels`), then ``ROW_SAMPLE`` (the recording sample voices read, float64 (N,)),
``ROW_CTL`` (int64 counters ``CTL_*``; entries 0 to 2 are the voice counts of the three banks) and
``ROW_PARAMS`` (float64 ``PARAM_*``).
"""

BANK_IIR, BANK_RNN, BANK_SAMPLE = 0, 1, 2
BANKS = 3
BANK_ROWS = 11
ROW_SAMPLE = BANKS * BANK_ROWS
ROW_CTL = ROW_SAMPLE + 1
ROW_PARAMS = ROW_CTL + 1
RENDERER_ROWS = ROW_PARAMS + 1
CTL_BLOCKS, CTL_MUTED, CTL_STARTED, CTL_STOLEN, CTL_GUARD = 3, 4, 5, 6, 7
CTL_SIZE = 8
PARAM_RETIRE = 0
PARAM_RATE = 1
"""The renderer's sample rate (Hz, the model rate): what a release T60 in seconds is turned into radii with."""
PARAM_SIZE = 2

# Rows of a bank's per-voice floats (``floats`` (FLOAT_ROWS, V)): its last block peak, the spectral radius of
# its w_hh (computed in Python when the patch was built), and the damper: the factor every step scales the
# state by (1: undamped), the factor it ramps to, and the step it ramps by per sample; then a sample voice's
# read position in the recording (source samples), its step per sample and its envelope (the impulse height,
# scaled by the damper factor every sample once it sounds).
FL_LEVEL, FL_RADIUS, FL_DAMP, FL_DAMP_TARGET, FL_DAMP_STEP, FL_POS, FL_STEP, FL_ENV = range(8)
FLOAT_ROWS = 8
# Rows of a bank's per-voice integers (``ints`` (INT_ROWS, V)): its key, whether it was released, and (sample
# voices) the frames it still waits before its onset.
INT_NOTE, INT_RELEASED, INT_WAIT = range(3)
INT_ROWS = 3
DAMPER_RAMP_SECONDS = 0.004
"""A released voice's pole radius moves to its release radius over this long (no click)."""
