"""The tests' and benchmarks' sound-server helpers (tests/pulse.py): reading a recorded sink, one kind of server at a
time."""

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


def test_the_device_tests_play_into_one_server_of_the_kind_they_name(pulse_server, sound_server_kind):
    """The session's server is of the kind the test id names, this process's clients reach it, and no server of the
    other kind that this process started runs beside it."""
    import subprocess

    from pulse import our_servers

    assert set(our_servers()) == {sound_server_kind}
    info = subprocess.run(["pactl", "info"], capture_output=True, text=True, timeout=10).stdout
    assert ("on PipeWire" in info) == (sound_server_kind == "pipewire"), info
    assert f"Default Sink: {pulse_server}" in info
