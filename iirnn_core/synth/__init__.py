"""The synthesizer's state as Python objects over the arrays the callback reads.

Renderer (voices of each engine, offline rendering), streaming resampler, pipelines (model rate to
device rate) and the block processor's writer side, plus the accounting the callback keeps. Runs in
the GUI or CLI process (never in the callback): it builds arrays, then reaches the callback only
through the lock-free hand-offs of :mod:`iirnn_core.rt` (one reference swap, atomic words).
"""
