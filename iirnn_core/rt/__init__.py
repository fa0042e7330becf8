"""Everything the audio callback runs or shares: compiled code and the memory layouts it reads.

The kernels (``*_kernels.py``, ``output_stage``, ``atomics``) are numba functions that run inside
PortAudio's callback thread with no GIL: they never allocate, lock, log, wait or raise. The layouts
(``tables``, ``*_layout.py``) are plain constants that the kernels and the Python side both import.
``entries`` gives the C entry points, ``build`` compiles them ahead of time into one library, and
``library`` is the one door through which Python calls them (with no numba in the caller's process).
"""
