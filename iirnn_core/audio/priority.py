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


def raise_stream_threads(thread_ids_: set[int]) -> None:
    """Real-time FIFO scheduling just below the callback's (nice -10 where that is refused) for the threads
    a stream started besides its callback thread: the ALSA pulse plugin's I/O thread carries the
    callback's blocks to the sound server, so the sound stops when it waits behind the GUI. Best effort."""
    for tid in thread_ids_:
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
    """Raise kernel thread ``thread_id``; returns what was granted: 'SCHED_FIFO 60', 'nice -10' or 'normal'."""
    if thread_id <= 0:
        return "normal"
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
