"""Shared test set-up: Qt runs on the offscreen platform (set before any Qt import); a real sound server."""

import os
import shutil

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture(scope="session")
def pulse_server():
    """A real PulseAudio server (started here only if none runs) with a null sink of the tests' own;
    yields the sink's name. Every stream this process opens plays there (``PULSE_SINK``)."""
    import pulse
    from iirnn_core.audio import refresh_devices

    try:
        proc = pulse.start_server()
    except RuntimeError as exc:
        if shutil.which("pulseaudio") is None:
            pytest.skip(f"no sound server on this machine: {exc}")
        raise
    try:
        with pulse.own_sink(f"iirnn_test_{os.getpid()}") as sink:
            refresh_devices()  # PortAudio lists devices once; the server may have started after it did
            yield sink
    finally:
        pulse.stop_server(proc)
