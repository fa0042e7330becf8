"""The tests' and benchmarks' reading of a recorded sink (tests/pulse.py)."""

import numpy as np

from pulse import first_sound, silences


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


def test_the_first_sound_is_the_first_sample_louder_than_the_level_and_none_in_silence():
    x = np.zeros(1000)
    assert first_sound(x) is None
    x[300] = 0.005   # below the level: not yet a key
    x[420] = -0.5    # a key, heard (either sign)
    x[600] = 0.9
    assert first_sound(x) == 420
    assert first_sound(x, level=0.001) == 300
