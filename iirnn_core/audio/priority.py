"""Scheduling priority for the audio threads: the callback's, and the stream's own I/O thread.

The compiled callback never waits for the GIL, so what can still delay it is the kernel giving
its core to someone else: a training process, the GUI painting. :func:`raise_callback_priority`
asks for real-time FIFO scheduling of the one thread PortAudio calls the callback on (granted to
root, or with ``RLIMIT_RTPRIO``/rtkit), falls back to nice -10 (``RLIMIT_NICE``), and says what it
got; :func:`raise_stream_threads` gives SCHED_FIFO 59 (else nice -10) to the other threads the
stream started (the sound server's client I/O thread, which carries the blocks on). The GUI thread and every other thread keep their priority.
"""

from __future__ import annotations

import logging
import os

log = logging.getLogger(__name__)

FIFO_PRIORITY = 60
"""SCHED_FIFO priority asked for (1..99; JACK's clients use about 70, PulseAudio 5)."""
STREAM_FIFO_PRIORITY = FIFO_PRIORITY - 1
"""SCHED_FIFO priority of the stream's other threads (the sound server's client I/O thread)."""
FALLBACK_NICE = -10
"""Nice value asked for when real-time scheduling is refused."""


def thread_ids() -> set[int]:
    """Kernel ids of this process's threads (Linux; empty elsewhere)."""
    try:
        return {int(t) for t in os.listdir("/proc/self/task")}
    except (OSError, ValueError):
        return set()


def _realtime_priority(tid: int) -> int:
    """The SCHED_FIFO/SCHED_RR priority of kernel thread ``tid`` (0 when it is not real-time or unknown)."""
    try:
        if os.sched_getscheduler(tid) in (os.SCHED_FIFO, os.SCHED_RR):
            return int(os.sched_getparam(tid).sched_priority)
    except (AttributeError, OSError):
        pass
    return 0


def raise_stream_threads(thread_ids_: set[int]) -> None:
    """Real-time FIFO scheduling just below the callback's (nice -10 where that is refused) for the threads
    a stream started besides its callback thread: the ALSA pulse plugin's I/O thread carries the
    callback's blocks to the sound server, so the sound stops when it waits behind the GUI. Best effort."""
    for tid in thread_ids_:
        if _realtime_priority(tid) >= STREAM_FIFO_PRIORITY:  # the library made it real-time already (PipeWire)
            continue
        try:
            os.sched_setscheduler(tid, os.SCHED_FIFO, os.sched_param(STREAM_FIFO_PRIORITY))
            continue
        except (AttributeError, OSError) as exc:
            log.info("real-time scheduling refused for audio thread %d: %s", tid, exc)
        try:
            os.setpriority(os.PRIO_PROCESS, tid, FALLBACK_NICE)
        except (AttributeError, OSError) as exc:
            log.info("a higher priority was refused for audio thread %d: %s", tid, exc)


def raise_callback_priority(thread_id: int) -> str:
    """Raise kernel thread ``thread_id`` (a real-time thread at a higher priority stays as it is); returns what it
    has: 'SCHED_FIFO 60', 'nice -10' or 'normal'."""
    if thread_id <= 0:
        return "normal"
    granted = _realtime_priority(thread_id)
    if granted >= FIFO_PRIORITY:  # the sound server's library made it real-time already (PipeWire's JACK: 88)
        return f"SCHED_FIFO {granted}"
    try:
        os.sched_setscheduler(thread_id, os.SCHED_FIFO, os.sched_param(FIFO_PRIORITY))
        return f"SCHED_FIFO {FIFO_PRIORITY}"
    except (AttributeError, OSError) as exc:
        log.info("real-time scheduling refused for the audio thread: %s", exc)
    try:
        os.setpriority(os.PRIO_PROCESS, thread_id, FALLBACK_NICE)
        return f"nice {FALLBACK_NICE}"
    except (AttributeError, OSError) as exc:
        log.info("a higher priority was refused for the audio thread: %s", exc)
    return "normal"
