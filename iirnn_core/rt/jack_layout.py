"""The words of a JACK output's table (:mod:`iirnn_core.audio.jack_output`), read by the compiled JACK callbacks.

One int64 array: what the process callback needs to fill the client's ports from a block processor
(addresses, sizes), and the words the callbacks and the supervisor share. Plain numbers, no imports.
"""

(J_TABLE, J_GET_BUFFER, J_PORT0, J_PORT1, J_CHANNELS, J_SCRATCH, J_BLOCK, J_RATE, J_PORT_LATENCY,
 J_XRUNS, J_XRUNS_SEEN, J_SHUTDOWN, J_CYCLES, J_LAST_FRAMES, J_CLIENT, J_FRAME_TIME) = range(16)
JACK_WORDS = 16
"""Length of the table. J_TABLE: the block processor's table address; J_GET_BUFFER: the address of libjack's
``jack_port_get_buffer``; J_PORT0/1: the output ports (J_PORT1 0 when mono); J_CHANNELS; J_SCRATCH: a float32
(J_BLOCK, J_CHANNELS) buffer the processor renders into; J_RATE (Hz); J_PORT_LATENCY: frames between the ports and
the sound (the graph's playback latency, set by the supervisor); J_XRUNS (the xrun callback counts) and J_XRUNS_SEEN
(the process callback's copy); J_SHUTDOWN: 1 once the server has gone; J_CYCLES: process calls; J_LAST_FRAMES: the
frames of the latest cycle (the quantum); J_CLIENT: the client; J_FRAME_TIME: the address of libjack's
``jack_last_frame_time`` (the graph clock's frame at the cycle's start: the blocks' stream time, in which a skipped
cycle shows as a gap)."""
