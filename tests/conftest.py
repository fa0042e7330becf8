"""Shared test set-up: Qt runs on the offscreen platform (set before any Qt import); a real sound server."""

import os

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture(scope="session")
def pulse_server():
    """A real PulseAudio server (null sink ``auto_null``) for the session; started here only if none runs."""
    import pulse
    from iirnn_core.audio import refresh_devices

    proc = pulse.start_server()
    refresh_devices()  # PortAudio lists devices once; the server may have started after it did
    yield
    pulse.stop_server(proc)
