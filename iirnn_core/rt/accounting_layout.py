"""Where an accounting's counters and state sit in its two arrays (constants only, no imports).

``Accounting.ints`` (int64, ``A_COUNT``) and ``Accounting.floats`` (float64, ``F_COUNT``): the
compiled ``acc_*`` functions (:mod:`iirnn_core.rt.accounting_kernels`) update them in the callback,
:class:`iirnn_core.synth.accounting.Accounting` reads them from Python.
"""

WINDOW_SECONDS = 0.1
"""Length of a wall-clock window (s)."""

# int64 counters (Accounting.ints)
A_CALLBACKS, A_UNDERRUNS_TS, A_UNDERRUNS_WALL, A_UNDERFLOWS, A_NOTES, A_FRAMES, A_RESET = range(7)
# float64 state (Accounting.floats)
(F_RATE, F_BLOCKSIZE, F_LAST_STAMP, F_START, F_WINDOW_END, F_WINDOW_MIN, F_BASELINE, F_FRAMES_LOST, F_LOAD_SUM,
 F_LOAD_MAX) = range(10)
A_COUNT = 7
F_COUNT = 10
