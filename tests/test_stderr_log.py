"""The stderr router: the C libraries' lines go to the log, everything else still reaches the terminal, in order,
and a C library writing to a full pipe is never blocked. Each case runs in a child process whose stderr is
the "terminal" (fd 2 of a real process, written from C with libc's ``write`` and ``fprintf``)."""

import os
import subprocess
import sys
import textwrap

import pytest

from iirnn_core.audio import stderr_log
from iirnn_core.audio.stderr_log import is_library_line

PORTAUDIO = ("Expression 'PaAlsaStream_WaitForFrames( stream, &framesAvail, &xrun )' failed in "
             "'src/hostapi/alsa/pa_linux_alsa.c', line: 4285")


def run_child(body: str, tmp_path, timeout: float = 30.0) -> subprocess.CompletedProcess:
    """Run ``body`` in a child Python with the router's test helpers defined; returns it (text)."""
    prelude = textwrap.dedent(f"""\
        import ctypes, errno, logging, os, sys, time
        from iirnn_core.audio import stderr_log
        libc = ctypes.CDLL(None, use_errno=True)
        c_stderr = ctypes.c_void_p.in_dll(libc, "stderr")
        PORTAUDIO = {PORTAUDIO!r}
        def c_write(text):
            data = text.encode()
            return libc.write(2, data, len(data))
        """)
    script = tmp_path / "child.py"
    script.write_text(prelude + textwrap.dedent(body))
    return subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=timeout,
                          cwd=tmp_path, env={**os.environ, "PYTHONPATH": os.getcwd()})


@pytest.mark.parametrize("line", [
    PORTAUDIO + "\n",
    "Expression 'alsa_snd_pcm_poll_descriptors_revents( self->pcm, pfds, self->nfds, &revents )' failed in "
    "'src/hostapi/alsa/pa_linux_alsa.c', line: 3665",
    "PaAlsaStream_HandleXrun: xrun\n",
    "Assertion failed in pa_front.c: ...",
    "ALSA lib pcm.c:2664:(snd_pcm_open_noupdate) Unknown PCM cards.pcm.rear\n",
    "ALSA lib pulse.c:242:(pulse_connect) PulseAudio: Unable to connect: Connection refused\n",
    "Cannot connect to server socket err = No such file or directory\n",
    "Cannot connect to server request channel\n",
    "jack server is not running or cannot be started\n",
    "JackShmReadWritePtr::~JackShmReadWritePtr - Init not done for -1, skipping unlock\n",
])
def test_portaudio_alsa_and_jack_lines_are_recognised(line):
    assert is_library_line(line)


@pytest.mark.parametrize("line", [
    "iirnn: the output lost default at 3.1 s (it stopped).\n",
    "iirnn-synth: iirnn_core.audio.supervisor: audio device pulse stopped\n",
    "Traceback (most recent call last):\n",
    '  File "/work/main/iirnn_core/audio/engine.py", line 12, in stats\n',
    "RuntimeError: the stream did not run within 5 s\n",
    "qt.qpa.xcb: could not connect to display\n",
    "100%|##########| 40/40 [00:01<00:00, 30.1 step/s]\n",
    "a jack of all trades; expression of the pa of the paper\n",
])
def test_other_lines_are_not(line):
    assert not is_library_line(line)


def test_library_lines_go_to_the_log_and_everything_else_to_the_terminal(tmp_path):
    child = run_child("""
        log_file = logging.FileHandler("log.txt")
        log_file.setFormatter(logging.Formatter("%(name)s|%(levelname)s|%(message)s"))
        terminal = logging.StreamHandler()          # made before the router: it must follow sys.stderr
        terminal.setLevel(logging.WARNING)
        logging.basicConfig(level=logging.DEBUG, handlers=[log_file, terminal], format="%(levelname)s:%(message)s")
        before = os.fstat(2)
        assert stderr_log.install() and stderr_log.install()    # once; a second call changes nothing
        c_write(PORTAUDIO + "\\n")
        libc.fprintf(c_stderr, b"ALSA lib %s:%d:(%s) ", b"pcm.c", 2664, b"snd_pcm_open_noupdate")  # as alsa-lib
        libc.fprintf(c_stderr, b"Unknown PCM %s", b"cards.pcm.rear")                               # prints it:
        libc.fputc(10, c_stderr)                                                                     # in 3 writes
        c_write("Cannot connect to server socket err = No such file or directory\\n")
        c_write("a line from C\\n")
        print("a line from Python", file=sys.stderr)
        logging.getLogger("iirnn_core.audio.supervisor").warning("a warning")
        c_write("no newline yet: ")
        time.sleep(10 * stderr_log.PARTIAL_LINE_SECONDS)  # passed on alone, not glued to the next line
        c_write(PORTAUDIO + "\\n")
        c_write("the last line from C\\n")               # just before the end: still shown
        raise RuntimeError("a real error")
        """, tmp_path)
    assert child.returncode == 1
    lines = child.stderr.splitlines()
    # The order of C's and Python's lines is kept as far as the reader keeps up (it waits at most 0.1 s for it):
    # on a loaded machine it may not, so only what reaches the terminal, and what does not, is asserted.
    shown = child.stderr
    for line in ("a line from C", "a line from Python", "WARNING:a warning", "no newline yet: ",
                 "the last line from C", "Traceback (most recent call last):"):
        assert line in shown, shown
    assert lines[-1] == "RuntimeError: a real error"
    assert "PaAlsa" not in child.stderr and "ALSA lib" not in child.stderr and "Cannot connect" not in child.stderr
    logged = [line for line in (tmp_path / "log.txt").read_text().splitlines()
              if line.startswith("iirnn_core.audio.portaudio|")]
    assert logged == [f"iirnn_core.audio.portaudio|DEBUG|{PORTAUDIO}",
                      "iirnn_core.audio.portaudio|DEBUG|ALSA lib pcm.c:2664:(snd_pcm_open_noupdate) Unknown PCM cards.pcm.rear",
                      "iirnn_core.audio.portaudio|DEBUG|Cannot connect to server socket err = No such file or directory",
                      f"iirnn_core.audio.portaudio|DEBUG|{PORTAUDIO}"]


def test_without_verbose_logging_nothing_of_the_libraries_shows_and_uninstall_restores_fd_2(tmp_path):
    child = run_child("""
        logging.basicConfig(level=logging.ERROR)
        before = os.fstat(2)
        old_stderr = sys.stderr
        assert stderr_log.install()
        assert (os.fstat(2).st_ino, sys.stderr is old_stderr) != (before.st_ino, True)
        c_write(PORTAUDIO + "\\n")
        c_write("kept\\n")
        stderr_log.uninstall()
        after = os.fstat(2)
        assert (after.st_dev, after.st_ino) == (before.st_dev, before.st_ino) and sys.stderr is old_stderr
        assert os.get_blocking(2)
        c_write("straight to the terminal\\n")
        print("done", file=sys.stderr)
        """, tmp_path)
    assert child.returncode == 0, child.stderr
    assert child.stderr.splitlines() == ["kept", "straight to the terminal", "done"]


def test_a_full_pipe_drops_lines_and_never_blocks_the_writer(tmp_path):
    """The reader is stuck (a log handler waits): C writes fail with EAGAIN instead of blocking."""
    child = run_child("""
        import threading
        release = threading.Event()
        class Stuck(logging.Handler):
            def emit(self, record):
                release.wait()
        logging.getLogger(stderr_log.LOGGER_NAME).addHandler(Stuck())
        logging.getLogger(stderr_log.LOGGER_NAME).setLevel(logging.DEBUG)
        assert stderr_log.install()
        line = (PORTAUDIO + "\\n").encode()
        written = refused = 0
        for _ in range(4 * stderr_log.PIPE_BYTES // len(line)):
            if libc.write(2, line, len(line)) == len(line):
                written += 1
            else:
                assert ctypes.get_errno() == errno.EAGAIN
                refused += 1
        release.set()
        while c_write("after the flood\\n") < 0:  # dropped while the pipe is full: again once it drained
            time.sleep(0.01)
        print(written, refused)
        """, tmp_path, timeout=60)
    assert child.returncode == 0, child.stderr
    written, refused = map(int, child.stdout.split())
    assert written > 0 and refused > 0
    assert child.stderr == "after the flood\n"


def test_not_installed_where_stderr_is_not_fd_2(capsys):
    """Under pytest's capture (or with no console) sys.stderr is not fd 2: nothing is taken over."""
    before = sys.stderr
    assert not stderr_log.install()
    assert sys.stderr is before and not stderr_log._router.installed


def test_the_command_line_routes_stderr_and_shows_the_libraries_lines_when_debugging(tmp_path, monkeypatch):
    child = run_child("""
        from iirnn_core import cli
        code = cli.main(["frobnicate"])
        print(code, stderr_log._router.installed)
        c_write(PORTAUDIO + "\\n")
        """, tmp_path)
    assert child.stdout.split() == ["2", "True"]
    assert len(child.stderr.splitlines()) == 1 and child.stderr.startswith("iirnn: argument COMMAND: invalid choice")
    monkeypatch.setenv("IIRNN_DEBUG", "1")
    child = run_child("""
        from iirnn_core import cli
        try:
            cli.main(["frobnicate"])
        except cli.UsageError:
            pass
        c_write(PORTAUDIO + "\\n")
        """, tmp_path)
    assert child.stderr == f"iirnn: iirnn_core.audio.portaudio: {PORTAUDIO}\n"


def test_a_log_handler_made_while_routed_still_writes_after_uninstall(tmp_path):
    """logging.basicConfig after install makes a handler on the routed sys.stderr; uninstall points it back at the
    terminal, so a later warning is shown, not a '--- Logging error ---'."""
    child = run_child("""
        assert stderr_log.install()
        logging.basicConfig(level=logging.WARNING, format="%(message)s")
        stderr_log.uninstall()
        logging.getLogger("x").warning("after uninstall")
        """, tmp_path)
    assert child.returncode == 0, child.stderr
    assert child.stderr.strip() == "after uninstall", child.stderr
