"""The CPU wake-up latency request: what it writes and when, what a refusal says, and the kernel's answer."""

import os
import struct

import pytest

from iirnn_core.audio.cpu_wakeup import AWAKE_US, NO_CONSTRAINT_US, PATH, CpuWakeup, kernel_limit_us


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def written(path) -> list[int]:
    data = path.read_bytes()
    return [v for (v,) in struct.iter_unpack("=i", data)]


def test_awake_while_notes_sound_and_asleep_after_the_linger(tmp_path):
    path, clock = tmp_path / "qos", Clock()
    path.write_bytes(b"")
    wakeup = CpuWakeup(str(path), clock, linger=10.0)
    assert wakeup.state == "off"
    assert wakeup.open() == "may sleep"
    assert written(path) == []                      # opening asks nothing yet
    wakeup.sound()
    assert wakeup.state == "awake" and written(path) == [AWAKE_US]
    clock.now += 5.0
    wakeup.tick(sounding=True)                      # voices ring: the linger restarts
    clock.now += 9.0
    wakeup.tick(sounding=False)
    assert written(path) == [AWAKE_US]              # 9 s quiet < 10 s: still awake, nothing rewritten
    clock.now += 1.5
    wakeup.tick(sounding=False)
    assert wakeup.state == "may sleep" and written(path) == [AWAKE_US, NO_CONSTRAINT_US]
    wakeup.sound()
    wakeup.sound()
    assert written(path) == [AWAKE_US, NO_CONSTRAINT_US, AWAKE_US]   # only changes are written
    wakeup.close()
    assert wakeup.state == "off"
    wakeup.sound()                                  # closed: a key is harmless
    assert written(path) == [AWAKE_US, NO_CONSTRAINT_US, AWAKE_US]


def test_a_refused_request_says_why_and_changes_nothing(tmp_path):
    wakeup = CpuWakeup(str(tmp_path / "missing" / "qos"))
    assert wakeup.open() == "refused: No such file or directory"
    wakeup.sound()
    wakeup.tick(sounding=True)
    assert wakeup.state.startswith("refused")
    wakeup.close()


@pytest.mark.skipif(not os.access(PATH, os.W_OK), reason=f"{PATH} is not writable here (not root, no udev rule)")
def test_the_kernel_keeps_the_cpus_awake_while_held_and_lets_go_on_close():
    before = kernel_limit_us()
    wakeup = CpuWakeup()
    assert wakeup.open() == "may sleep"
    wakeup.sound()
    assert kernel_limit_us() == AWAKE_US
    wakeup.tick(sounding=False)                     # within the linger
    assert kernel_limit_us() == AWAKE_US
    wakeup.close()
    assert kernel_limit_us() == before
