"""The C signatures of the compiled entry points (constants only, no imports).

:mod:`iirnn_core.rt.entries` compiles each entry point with its signature here;
:mod:`iirnn_core.rt.library` calls them through ctypes with the same signatures, from the
ahead-of-time library (symbols ``iirnn_<name>``) or from numba.
"""

PROTOTYPES = {
    "pa_callback": ("int", ("void*", "void*", "uint64", "void*", "uint64", "void*")),
    "jack_process": ("int", ("uint32", "void*")),
    "jack_xrun": ("int", ("void*",)),
    "jack_shutdown": ("void", ("void*",)),
    "process": ("void", ("void*", "void*", "int64", "double", "double", "double", "int64")),
    "push": ("int64", ("void*", "int64", "int64", "double", "double")),
    "publish": ("void", ("void*", "int64", "int64")),
    "read_recorded": ("int64", ("void*", "void*", "int64")),
    "render_voices": ("int64", ("void*", "int64", "void*", "int64", "int64")),
    "start_voice": ("int64", ("void*", "int64", "void*", "int64", "int64", "double", "int64", "int64", "double",
                                "double")),
    "release_note": ("void", ("void*", "int64", "int64", "double")),
    "silence_voices": ("void", ("void*", "int64")),
    "master_block": ("int64", ("void*", "void*", "int64", "int64", "double", "double", "double", "double")),
    "acc_reset": ("void", ("void*", "int64", "void*", "int64")),
    "ignore_alsa": ("void", ("void*", "int", "void*", "int", "void*")),
    "ignore_jack": ("void", ("void*",)),
}
"""C signature of each entry point: (result, argument types), in C's names."""

SYMBOL_PREFIX = "iirnn_"
"""Entry point ``name`` is the symbol ``iirnn_<name>`` in the library."""
