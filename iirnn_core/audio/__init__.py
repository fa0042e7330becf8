"""Live output: the engine, devices, the output supervisor, the null output, priorities, recording,
the causes of dropouts, and the C libraries' stderr routed into the log.

Runs in the GUI or CLI process, in its own threads (supervisor, recorder, paced null output),
never inside the callback; it opens PortAudio streams whose callback is :mod:`iirnn_core.rt` code.
Linux is what is built and tested here (PulseAudio or JACK through PortAudio).
"""
