"""Pure maths of the seed: note names and pitches, the IIR resonator, the network's weights.

numpy only (scipy for the reference filter); no threads, no state, no numba, no torch. Any process
may import it; the audio callback runs compiled copies of these formulas (:mod:`iirnn_core.rt`).
"""
