"""The tests' and benchmarks' reading of a recorded sink (tests/pulse.py)."""

import numpy as np

from pulse import silences


def test_silences_are_the_quiet_runs_longer_than_5_ms_with_when_and_how_long():
    rate = 48000
    x = np.full(rate, 0.2)
    x[4800:4800 + 240] = 0.0        # 5 ms exactly: not longer than 5 ms, not a dropout
    x[9600:9600 + 480] = 0.0        # 10 ms at 0.2 s
    x[24000:24000 + 1200] = 1e-7    # 25 ms at 0.5 s, below the silence threshold
    x[40000:40010] = 0.0            # 10 samples: a zero crossing's worth, not a dropout
    assert silences(x, 0, len(x), rate) == [(0.2, 0.01), (0.5, 0.025)]
    assert silences(x, 4800, len(x), rate) == [(0.1, 0.01), (0.4, 0.025)]  # from x[start]
    assert silences(x, 0, 20000, rate) == [(0.2, 0.01)]
    x[-480:] = 0.0                   # a silence running to the end counts too
    assert silences(x, 0, len(x), rate)[-1] == ((rate - 480) / rate, 0.01)
