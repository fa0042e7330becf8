"""The block processor's constants: event kinds, ring and table sizes, and where each array and word
sits in its table (:mod:`iirnn_core.synth.block_processor`). Plain numbers, so the window's process reads
them without numba."""

NOTE_ON, NOTE_OFF, PANIC = 0, 1, 2
KEYS = 128
VOICES_PER_KEY = 2
"""A key starts one voice, or two in A/B (the IIR, or a learned sound's recording, on the left; the twin on the
right)."""
HIDDEN_MAX = 64
"""Most hidden states a voice has: the patch tables are preallocated for it, and so it bounds what training makes
(``iirnn train --hidden``) and what model files hold."""
SCOPE_SIZE = 1 << 16
"""Scope ring length in device frames (1.4 s at 48 kHz)."""
EVENT_RING = 4096
"""Key events the ring holds (a power of two)."""
RECORD_FRAMES = 1 << 19
"""Frames the record ring holds (a power of two): 10.9 s at 48 kHz for a writer that falls behind."""
MASTER_RAMP_SECONDS = 0.02
"""The master gain and the room's wet mix move at most full scale per this many seconds (no zipper noise, no
clicks)."""
PA_OUTPUT_UNDERFLOW = 4
"""PortAudio's ``paOutputUnderflow`` status flag."""

# Rows of the processor's table.
(R_PIPES, R_PBANK, R_PHIDDEN, R_PWHH, R_PWIH, R_PWOUT, R_PGAINS, R_HALF_F, R_HALF_I, R_SYNC, R_RING, R_EV_I, R_EV_F,
 R_CB_I, R_CB_F, R_ACC_I, R_ACC_F, R_LAT, R_SCOPE, R_REC, R_REC_I, R_MASTER, R_PRADIUS, R_PSTEP) = range(24)
TABLE_ROWS = 24  # R_MASTER: the master stage's own table (rows M_* of iirnn_core.rt.master_layout);
# R_PRADIUS: the spectral radius of each patch's w_hh (what a released voice's damper scales from);
# R_PSTEP: a sample patch's step through the recording (source samples per model frame; 0 for the others)
# Words shared with the writers (R_SYNC).
S_PUB, S_SEEN, S_BUSY0, S_BUSY1, S_FADE0, S_FADE1, S_THREAD = range(7)
# Callback-owned integers (R_CB_I) and floats (R_CB_F).
C_CUR, C_RETIRING, C_FADING, C_PANIC, C_CALLBACKS, C_MUTED, C_SCOPE_POS, C_CHANNELS = range(8)
G_GAIN, G_LAST, G_RATE, G_OUTLAT, G_HOSTLAT, G_WET = range(6)  # G_HOSTLAT: the latest DAC minus current time the host
# gave (s); G_GAIN and G_WET: the master gain and the room's wet mix where the latest block left them.
G_COUNT = 6
# Per patch half: floats (R_HALF_F: impulse height, master gain, the room's wet mix, the release T60 in seconds that
# key releases damp to (inf: ring on)) and integers (R_HALF_I).
H_AMPLITUDE, H_MASTER, H_ROOM, H_RELEASE = 0, 1, 2, 3
H_FLOATS = 4
H_PIPE = 0
# Record ring words (R_REC_I): on (writer), write index (callback), read index (writer), frames dropped (callback).
REC_ON, REC_WRITE, REC_READ, REC_DROPPED = range(4)
