"""The master stage's constants: the limiter's and the room's settings, and where each array and word sits in
its table (:class:`iirnn_core.synth.master.MasterStage`). Plain numbers, so the window's process reads them
without numba.

The master stage is the last processing of every block, live and offline: the small room (when its wet
mix is above 0), the master gain, the peak limiter, then a [-1, 1] clamp kept as a safety net that the
limiter leaves nothing to do (:func:`iirnn_core.rt.output_stage.master_block`).
"""

LIMITER_CEILING_DB = -0.3
"""No sample leaves the limiter above this level (dBFS)."""
LIMITER_LOOKAHEAD_SECONDS = 0.0005
"""The limiter's lookahead: the output is delayed by this much (rounded up to whole frames) so the gain has
reached its target when a peak leaves the delay."""
LIMITER_HOLD_SECONDS = 0.01
"""A gain reduction is held at least this long before it releases (fewer wobbles on low notes)."""
LIMITER_RELEASE_SECONDS = 0.08
"""Time constant of the gain's return to unity after the hold."""

DENORMAL = 1e-30
"""Magnitudes below this are written as exact zeros (in the output and in the room's feedback loops)."""

ROOM_LINES = 8
"""Delay lines of the room's feedback delay network (a power of two: they are mixed by a Hadamard matrix)."""
ROOM_DELAYS_SECONDS = (0.0113, 0.0137, 0.0161, 0.0189, 0.0217, 0.0241, 0.0273, 0.0311)
"""Lengths of the room's delay lines (each rounded to a prime number of frames at the stage's rate)."""
ROOM_DECAY_SECONDS = 0.7
"""The room's reverberation time: its tail falls by 60 dB in this long (sooner above the damping cut-off)."""
ROOM_DAMPING_HZ = 5000.0
"""Cut-off of the one-pole low-pass in each line's loop (at most 0.4 times the stage's rate)."""
ROOM_LEVEL = 2.0
"""The wet signal's gain at a wet mix of 1 (a steady tone's reverb then comes about 4-10 dB below the tone)."""
ROOM_DEFAULT_WET = 0.3
"""The wet mix ``--room`` without a value, and the window's Room toggle, start with."""

# Rows of a master stage's table.
(M_DELAY, M_WEDGE_V, M_WEDGE_T, M_BOX, M_LIM_I, M_LIM_F, M_LINES, M_LENGTHS, M_FEEDBACK, M_LOW, M_TAPS,
 M_ROOM_I, M_ROOM_F) = range(13)
MASTER_ROWS = 13
# Limiter words (M_LIM_I): frames seen, wedge head and tail, moving-average position, lookahead (frames),
# hold window (frames).
L_T, L_HEAD, L_TAIL, L_BOX_POS, L_LOOKAHEAD, L_HOLD = range(6)
L_COUNT = 6
# Limiter floats (M_LIM_F): ceiling (linear), release coefficient, held gain, moving sum, least gain applied.
LF_CEILING, LF_RELEASE, LF_HELD, LF_SUM, LF_LEAST = range(5)
LF_COUNT = 5
# Room words (M_ROOM_I) and floats (M_ROOM_F).
RI_POS = 0
RI_COUNT = 1
RF_DAMP = 0
RF_COUNT = 1
