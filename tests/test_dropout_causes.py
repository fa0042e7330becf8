"""Naming why the output drops out: each cause from fake /proc readings, only while dropouts are recent, and the
policy of a real PulseAudio server (SCHED_OTHER as started, SCHED_FIFO once made real-time)."""

import os
import shutil
from pathlib import Path

import pytest

from iirnn_core.audio import dropout_causes as dc
from iirnn_core.audio.dropout_causes import (DropoutCauses, SoundServer, find_sound_server, is_realtime,
                                             pulse_socket, scheduling_policy, sound_servers)

ME = os.getuid()


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def stat_line(pid: int, comm: str, policy: int) -> str:
    """A /proc/PID/stat line with scheduling policy ``policy`` in field 41."""
    rest = ["0"] * 49
    rest[41 - 3] = str(policy)
    return f"{pid} ({comm}) S " + " ".join(rest[1:]) + "\n"


class FakeProc:
    """A /proc tree with processes, their threads' policies, sockets and the CPU times of /proc/stat."""

    def __init__(self, root):
        self.root = root
        root.mkdir(exist_ok=True)
        (root / "net").mkdir(exist_ok=True)
        (root / "net" / "unix").write_text("Num       RefCount Protocol Flags    Type St Inode Path\n")
        self.cpu(steal=0, busy=0)

    def process(self, pid: int, comm: str, policies=(0,), uid: int = ME, sockets=()) -> None:
        d = self.root / str(pid)
        shutil.rmtree(d, ignore_errors=True)
        (d / "task").mkdir(parents=True)
        (d / "fd").mkdir()
        (d / "comm").write_text(comm + "\n")
        (d / "status").write_text(f"Name:\t{comm}\nUid:\t{uid}\t{uid}\t{uid}\t{uid}\n")
        for i, policy in enumerate(policies):
            (d / "task" / str(pid + i)).mkdir()
            (d / "task" / str(pid + i) / "stat").write_text(stat_line(pid + i, comm, policy))
        for fd, inode in enumerate(sockets, start=3):
            os.symlink(f"socket:[{inode}]", d / "fd" / str(fd))

    def listen(self, inode: int, path: str) -> None:
        with open(self.root / "net" / "unix", "a") as f:
            f.write(f"0000000000000000: 00000002 00000000 00010000 0001 01 {inode} {path}\n")

    def cpu(self, steal: int, busy: int) -> None:
        """/proc/stat with ``steal`` ticks stolen and ``busy`` ticks of user time, idle so the total grows 100 a call."""
        self._idle = getattr(self, "_idle", 0)
        (self.root / "stat").write_text(f"cpu  {busy} 0 0 {self._idle} 0 0 0 {steal} 0 0\ncpu0 0 0 0 0 0 0 0 0 0 0\n")


@pytest.fixture
def proc(tmp_path):
    return FakeProc(tmp_path / "proc")


def causes_for(proc, clock, **kw) -> DropoutCauses:
    return DropoutCauses(proc=str(proc.root), clock=clock, uid=ME, socket=kw.pop("socket", ""), **kw)


def test_policy_is_field_41_even_with_spaces_and_parentheses_in_the_name():
    with open("/proc/self/stat") as f:
        assert scheduling_policy(f.read()) == os.sched_getscheduler(0)
    assert scheduling_policy(stat_line(7, "a) b (c", 1)) == 1


def test_a_server_that_is_not_real_time_is_named_only_while_dropouts_are_recent(proc):
    proc.process(300, "pulseaudio", policies=(0, 0, 0))
    clock = Clock()
    causes = causes_for(proc, clock)
    assert causes.tick(0, cpu_wakeup="awake") == "" and causes.text == ""   # no dropouts: nothing is looked up
    assert causes.server is None
    clock.now += 0.2
    assert causes.tick(2, cpu_wakeup="awake") == "sound server not real-time"
    assert causes.text == "dropouts: sound server not real-time"
    assert causes.server == SoundServer(300, "pulseaudio", ME)
    clock.now += dc.RECENT_SECONDS - 1
    assert causes.tick(2) == "sound server not real-time"          # still recent
    clock.now += 2
    assert causes.tick(2) == "" and causes.text == ""               # over 10 s without a new dropout


def test_a_real_time_thread_makes_the_server_real_time(proc):
    proc.process(300, "pulseaudio", policies=(0, 1))                # the I/O thread SCHED_FIFO, as rtkit does
    assert is_realtime(300, str(proc.root)) is True
    proc.process(301, "pipewire", policies=(0, 2))                  # SCHED_RR
    assert is_realtime(301, str(proc.root)) is True
    assert is_realtime(999, str(proc.root)) is None                 # no such process
    assert causes_for(proc, Clock()).tick(1) == ""


def test_the_server_is_read_again_every_few_seconds_and_found_again_when_gone(proc):
    proc.process(300, "pulseaudio", policies=(0,))
    clock = Clock()
    causes = causes_for(proc, clock)
    assert causes.tick(1) == "sound server not real-time"
    proc.process(300, "pulseaudio", policies=(1,))                  # rtkit came late
    clock.now += 0.2
    assert causes.tick(2) == "sound server not real-time"          # kept for SERVER_CHECK_SECONDS
    clock.now += dc.SERVER_CHECK_SECONDS
    assert causes.tick(3) == ""
    shutil.rmtree(proc.root / "300")                                # restarted as another process, not real-time
    proc.process(412, "pulseaudio", policies=(0,))
    clock.now += dc.SERVER_CHECK_SECONDS
    assert causes.tick(4) == "sound server not real-time" and causes.server.pid == 412


def test_no_server_no_server_cause(proc):
    proc.process(300, "jackd", policies=(0,))
    assert causes_for(proc, Clock()).tick(1) == ""


def test_the_server_on_our_socket_comes_first_then_our_users(proc):
    proc.process(100, "pulseaudio", uid=ME + 1)                      # another user's
    proc.process(200, "pipewire-pulse", sockets=(5550,))
    proc.process(300, "pipewire", sockets=(7770,))
    proc.process(400, "pulseaudio", sockets=(9990, 9991))
    proc.listen(9991, "/run/user/1000/pulse/native")
    root = str(proc.root)
    assert [s.pid for s in sound_servers(root)] == [100, 200, 300, 400]
    assert find_sound_server(root, ME, "/run/user/1000/pulse/native").pid == 400
    assert find_sound_server(root, ME, "/elsewhere/native").pid == 400    # ours, and pulseaudio before pipewire
    shutil.rmtree(proc.root / "400")
    assert find_sound_server(root, ME, "").pid == 300                      # pipewire (the graph) before pipewire-pulse
    assert find_sound_server(root, ME + 1, "").pid == 100                  # that user's own
    shutil.rmtree(proc.root / "100"), shutil.rmtree(proc.root / "200"), shutil.rmtree(proc.root / "300")
    assert find_sound_server(root, ME, "") is None


@pytest.mark.parametrize("env, path", [
    ({"PULSE_SERVER": "unix:/tmp/x/native"}, "/tmp/x/native"),
    ({"PULSE_SERVER": "{abc}unix:/tmp/y/native tcp:host"}, "/tmp/y/native"),
    ({"PULSE_SERVER": "/tmp/z/native"}, "/tmp/z/native"),
    ({"PULSE_SERVER": "tcp:host:4713"}, None),
    ({"PULSE_RUNTIME_PATH": "/tmp/p", "XDG_RUNTIME_DIR": "/run/user/5"}, "/tmp/p/native"),
    ({"XDG_RUNTIME_DIR": "/run/user/5"}, "/run/user/5/pulse/native"),
    ({}, None),
])
def test_the_socket_a_client_connects_to(env, path):
    assert pulse_socket(env) == path


def test_cpu_steal_over_the_last_seconds(proc):
    clock = Clock()
    causes = causes_for(proc, clock)
    steal = busy = 0
    for _ in range(30):                                             # 6 s with no steal
        proc._idle += 100
        proc.cpu(steal, busy)
        causes.tick(0)
        clock.now += 0.2
    assert causes.steal_percent() == 0.0
    for _ in range(30):                                             # then 7 of every 100 ticks stolen
        proc._idle += 93
        steal += 7
        proc.cpu(steal, busy)
        cause = causes.tick(1)
        clock.now += 0.2
    assert causes.steal_percent() == pytest.approx(7.0, abs=0.5)    # the old samples fell out of the window
    assert cause == "CPU steal 7 %"
    for _ in range(30):                                             # steal below 1 %: not named
        proc._idle += 100
        proc.cpu(steal, busy)
        cause = causes.tick(2)
        clock.now += 0.2
    assert causes.steal_percent() == 0.0 and cause == ""
    assert len(causes._steal) <= dc.STEAL_WINDOW_SECONDS / 0.2 + 2


def test_halted_cores_when_the_wake_up_request_does_not_hold(proc):
    clock = Clock()
    causes = causes_for(proc, clock)
    assert causes.tick(1, cpu_wakeup="awake") == ""
    assert causes.tick(1, cpu_wakeup="may sleep") == "CPUs may halt (wake-up request off)"
    assert causes.tick(1, cpu_wakeup="off") == "CPUs may halt (wake-up request off)"
    assert causes.tick(1, cpu_wakeup="refused: Permission denied") == "CPUs may halt (wake-up request refused)"


def test_several_causes_at_once_and_the_null_output_alone(proc):
    proc.process(300, "pulseaudio", policies=(0,))
    clock = Clock()
    causes = causes_for(proc, clock)
    causes.tick(0)
    proc._idle += 90
    proc.cpu(steal=10, busy=0)
    clock.now += 1
    assert causes.tick(1, cpu_wakeup="off") == ("sound server not real-time, CPU steal 10 %, "
                                                 "CPUs may halt (wake-up request off)")
    assert causes.tick(1, null_output=True, cpu_wakeup="off") == "no audio device (null output)"


def test_a_new_output_starts_counting_again(proc):
    clock = Clock()
    causes = causes_for(proc, clock)
    assert causes.tick(5, cpu_wakeup="off") != ""
    clock.now += dc.RECENT_SECONDS + 1
    assert causes.tick(5, cpu_wakeup="off") == ""
    assert causes.tick(0, cpu_wakeup="off") == ""                  # a new output: its counters start at 0
    clock.now += 1
    assert causes.tick(1, cpu_wakeup="off") == "CPUs may halt (wake-up request off)"


def test_the_engine_reports_the_cause_of_its_own_dropouts():
    """stats() hands the larger dropout count, the null output and the wake-up state to the causes."""
    from iirnn_core.audio.engine import AudioEngine

    engine = AudioEngine()
    seen = []

    class Causes:
        def tick(self, underruns, null_output, cpu_wakeup):
            seen.append((underruns, null_output, cpu_wakeup))
            return "a cause"

    engine._causes = Causes()
    stats = engine.stats()
    assert seen == [(max(stats.underruns_timestamps, stats.underruns_wallclock), stats.null_output, stats.cpu_wakeup)]
    assert stats.dropout_cause == "a cause" and stats.as_dict()["dropout_cause"] == "a cause"
    assert AudioEngine().stats().dropout_cause == ""


def test_a_real_pulseaudio_server_is_seen_as_started_and_once_real_time():
    """A server without real-time scheduling (``realtime-scheduling = no``: what a user without rtkit or
    RLIMIT_RTPRIO gets) runs SCHED_OTHER; tests/pulse.py's make_realtime makes it SCHED_FIFO, as rtkit would."""
    import pulse

    if shutil.which("pulseaudio") is None:
        pytest.skip("pulseaudio is not installed (./run installs it)")
    server = pulse.PrivateServer(realtime=False)
    config = Path(server.dir, "daemon.conf")
    config.write_text("realtime-scheduling = no\n")  # else root's server makes its sink thread SCHED_RR itself
    server.env["PULSE_CONFIG"] = str(config)
    with server:
        socket = f"{server.dir}/native"
        found = find_sound_server(socket=socket)
        assert found is not None and found.pid == server.proc.pid and found.name == "pulseaudio"
        assert is_realtime(found.pid) is False
        assert os.sched_getscheduler(found.pid) == os.SCHED_OTHER
        clock = Clock()
        causes = DropoutCauses(clock=clock, socket=socket)
        assert causes.tick(1) == "sound server not real-time" and causes.server.pid == server.proc.pid
        if not pulse.make_realtime(server.proc.pid):
            pytest.skip("this user may not make a process real-time (no RLIMIT_RTPRIO)")
        assert is_realtime(found.pid) is True
        clock.now += dc.SERVER_CHECK_SECONDS
        assert causes.tick(2) == ""
