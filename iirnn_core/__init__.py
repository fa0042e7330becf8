"""iirnn_core: the Qt-free library behind iirnn-synth.

An IIR resonator ``y[n] = x[n] + k1*y[n-1] + k2*y[n-2]`` and its RNN twin
(``tanh``, no bias; the analytic twin has 3 hidden states, a trained one 2 to 64), a block renderer shared by live audio,
offline rendering, tests and benchmarks, a trainer and safe model files.
"""

__version__ = "0.1.0"
