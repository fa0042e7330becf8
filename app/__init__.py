"""The iirnn-synth window (PySide6): thin widgets over :mod:`iirnn_core`, never the reverse."""
