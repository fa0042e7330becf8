"""Which output plays the engine: a device stream (found by name, rolled back on failure) or a paced null output,
and following the device when it goes away and comes back.

:class:`OutputSupervisor` opens the configured device with the engine's compiled callback, waits
until it runs steadily, raises the callback thread's priority, and watches it every
:data:`TICK_SECONDS`: it keeps the CPUs awake while notes sound (:mod:`iirnn_core.audio.cpu_wakeup`,
where ``cfg.cpus_awake`` asks). A device that stops, errors or goes silent is replaced by a
:class:`~iirnn_core.audio.null_output.NullOutput` driving the *same* block processor, so the notes
sounding at the loss ring on where they are; then the supervisor tries the configured device
again (by name, or the system default if that is what was chosen) with a backoff from
:data:`RETRY_FIRST` to :data:`RETRY_MAX` seconds, from its own thread (never a real-time or the GUI
thread), as browsers and media players follow the default device. When it opens, the music goes
on there; :attr:`status_line` and :attr:`events` say what happened ("lost pulse at 6.0 s (it
stopped); back at 8.4 s"). A device that never answered at start is tried the same way.

Locks: ``lock`` is the engine's (patch changes and explicit reopens never interleave); the
supervisor's own ``_switch`` lock serialises output changes. Order: the engine's, then ``_switch``.
Following a device takes only ``_switch`` (the processor stays), so a setting changed in the
window meanwhile is never held up behind a reconnection. The block processor is told who drives
its callback (``drive`` / ``stop_driving``), so a writer waiting for an acknowledgement goes on as
soon as no callback can run (see :mod:`iirnn_core.synth.block_processor`, whose hand-off timeout
is longer than :data:`START_TIMEOUT` and :data:`STALL_SECONDS`).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import replace

from iirnn_core.audio.cpu_wakeup import CpuWakeup
from iirnn_core.audio.devices import close_stream, find_output_device, open_compiled_stream, refresh_devices
from iirnn_core.audio.default_sink import DefaultSinkWatch
from iirnn_core.audio.jack_output import JackOutput
from iirnn_core.audio.null_output import NullOutput
from iirnn_core.audio import sound_server
from iirnn_core.audio.priority import raise_callback_priority, raise_stream_threads, thread_ids
from iirnn_core.errors import one_line
from iirnn_core.synth.block_processor import HANDOFF_TIMEOUT

log = logging.getLogger(__name__)

TICK_SECONDS = 0.2
"""How often the supervisor looks at the output."""
START_TIMEOUT = 5.0
"""Seconds a freshly opened stream may take to run steadily (PulseAudio's first open takes 1-2 s)."""
STALL_SECONDS = 5.0
"""A running device whose callback stays away this long is taken as lost. (PulseAudio through ALSA
takes about 2 s to recover from an underrun: that is a dropout, counted, not a lost device.)"""
RETRY_FIRST = 0.25
"""Seconds from losing a device to the first try to open it again; each failed try doubles the wait."""
RETRY_MAX = 1.0
"""The longest wait between tries (seconds) for :data:`RETRY_PATIENT_SECONDS` after the loss: a device that
comes back plays within about this plus its start-up time. A try costs about 35 ms of one core (PortAudio
re-scans the host), off every audio thread."""
RETRY_PATIENT_SECONDS = 120.0
"""After this long without the device, tries are :data:`RETRY_LATE` seconds apart."""
RETRY_LATE = 5.0
"""Seconds between tries once the device has been away for :data:`RETRY_PATIENT_SECONDS`."""
MAX_EVENTS = 20
"""Losses and returns remembered in :attr:`OutputSupervisor.events` (the oldest are dropped)."""

assert HANDOFF_TIMEOUT > max(START_TIMEOUT, STALL_SECONDS), "writers must outwait the supervisor"


class OutputSupervisor:
    """Opens, watches, replaces and follows the output of one engine.

    ``lock`` is the engine's; ``make_processor(cfg, channels, output_latency)`` returns the block processor
    for an output (the one in use when rate, block size and channels fit, so notes ring on; else a fresh,
    published one), called with ``lock`` held and no callback running;
    ``null_callback(outdata, frames, time_info, status)`` is what the null output calls. ``clock`` gives
    seconds (monotonic).
    """

    def __init__(self, lock, make_processor, null_callback, clock=time.monotonic):
        self._lock = lock
        self._switch = threading.RLock()
        self._make_processor = make_processor
        self._null_callback = null_callback
        self._clock = clock
        self._processor = None
        self._cfg = None
        self.output = None
        self.is_null = True
        self.device_name = ""
        self.path = ""
        """How the device is reached, in a few words ("PulseAudio", "PipeWire's JACK", ...)."""
        self.priority = "normal"
        self._default_sink = DefaultSinkWatch()  # used with _switch held
        self.wakeup = CpuWakeup()
        """The CPU wake-up latency request, open while a device plays (``cfg.cpus_awake``)."""
        self._steady = False
        self._watch: threading.Thread | None = None
        self._closing = threading.Event()
        self._started_at = clock()
        self._lost: tuple[float, str] | None = None  # (when, what) while following a lost device
        self._retry_at = math.inf
        self._retry_gap = RETRY_FIRST
        self._away_since = 0.0
        self.tries = 0
        """Tries to open the device again since it was lost (or failed at start)."""
        self.events: list[str] = []
        """One sentence per loss and return of the device, oldest first (at most :data:`MAX_EVENTS`)."""
        self.status_line = "Audio is not started."

    # ---- explicit changes (engine lock held by the caller's order: engine, then _switch) ----------------

    def start(self, cfg) -> None:
        """Open ``cfg`` once (the null output if it cannot be opened, then keep trying) and start watching."""
        with self._lock, self._switch:
            if self.output is None:
                self._closing.clear()
                self._started_at = self._clock()
                self._open(cfg, previous=None)
            if self._watch is None:
                self._watch = threading.Thread(target=self._supervise, name="iirnn-audio-supervisor", daemon=True)
                self._watch.start()

    def reopen(self, cfg, previous) -> bool:
        """Replace the output by ``cfg``, rolling back to ``previous`` (else the null output, trying ``cfg``
        again later) on failure; True if ``cfg`` is now in use."""
        with self._lock, self._switch:
            self._stop_output()
            self._lost = None
            return self._open(cfg, previous=previous)

    def close(self) -> None:
        """Stop the output and the watch."""
        self._closing.set()
        watch, self._watch = self._watch, None
        if watch is not None:
            watch.join(timeout=START_TIMEOUT + 2.0)
        with self._lock, self._switch:
            self._stop_output()
            self._retry_at = math.inf
            self._default_sink.close()
            self.status_line = "Audio is closed."

    def seconds(self) -> float:
        """Seconds since :meth:`start` (the times :attr:`events` give)."""
        return self._clock() - self._started_at

    # ---- opening ---------------------------------------------------------------------------------

    def _open(self, cfg, previous) -> bool:
        """Open ``cfg`` on a device; on failure roll back to ``previous`` or run the null output and keep trying."""
        try:
            self._open_device(cfg, self._make_processor)
            self._retry_at = math.inf
            return True
        except Exception as exc:  # noqa: BLE001 - device trouble becomes one status line
            reason = one_line(exc)
            log.info("could not open %s: %s", cfg, reason)
        if previous is not None and previous != cfg:
            try:
                self._open_device(previous, self._make_processor)
                self._retry_at = math.inf
                self.status_line = (f"Could not open {cfg.device or 'the default device'}: {reason}; "
                                    f"still playing on {self.device_name}.")
                return False
            except Exception as exc:  # noqa: BLE001
                log.info("could not reopen %s: %s", previous, one_line(exc))
        self._start_null(cfg, f"No audio device: {reason}; playing silently on a null output, "
                              "and trying again.")
        self._schedule_retry(first=True)
        return False

    @staticmethod
    def _find(cfg) -> dict:
        """The device ``cfg`` names (or the default) as PortAudio lists it now, or PipeWire's graph where that is the
        default's path (:mod:`iirnn_core.audio.sound_server`); LookupError if there is none."""
        if cfg.device is None and sound_server.prepare() == sound_server.PIPEWIRE_JACK:
            if not sound_server.pipewire_runs():
                raise LookupError("PipeWire does not answer")
            return {"name": "default", "hostapi_name": "PipeWire's JACK", "max_output_channels": 2, "jack": True}
        refresh_devices()
        return find_output_device(cfg.device)

    def _open_device(self, cfg, make_processor, info: dict | None = None) -> None:
        """Open, start and wait for ``cfg``'s device (``info``, else found now) with the processor ``make_processor``
        gives; raises on failure (nothing left open). Called with ``_switch`` held and no output running."""
        info = self._find(cfg) if info is None else info
        before = thread_ids()
        if info.get("jack"):
            stream, proc, cfg = self._open_jack(cfg, make_processor)
            latency = cfg.period  # until the ports are connected (start)
        else:
            channels = min(2, int(info["max_output_channels"]))
            proc = self._processor = make_processor(cfg, channels, cfg.period)
            stream = open_compiled_stream(info, cfg.samplerate, cfg.blocksize, channels, cfg.latency,
                                          proc.callback_address, proc.user_data)
            latency = float(stream.latency)
            if not 0.0 < latency < 1.0:
                latency = cfg.period  # a host that reports no usable latency: one block stands in
        self._cfg = cfg
        try:
            self._steady = False
            proc.output_latency = latency
            proc.drive()
            stream.start()
            if isinstance(stream, JackOutput):
                latency = proc.output_latency = stream.latency  # known once the ports are connected
            self._wait_steady(cfg)
            self.priority = raise_callback_priority(proc.callback_thread)
            raise_stream_threads(thread_ids() - before - {proc.callback_thread})
        except Exception:
            _close(stream)
            proc.stop_driving()
            raise
        self.output = stream
        self.is_null = False
        self.device_name = info["name"]
        if cfg.cpus_awake:
            self.wakeup.open()
        proc.acc.request_reset()
        self._steady = True
        latency = max(latency, proc.host_latency)  # what the server says it queues, where it says more
        self.path = sound_server.describe(info["name"], info["hostapi_name"])
        blocks = (f"a {stream.last_quantum}-frame quantum" if isinstance(stream, JackOutput)
                  else f"{cfg.blocksize}-frame blocks")
        self.status_line = (f"Playing on {info['name']} through {self.path} at {cfg.samplerate} Hz, "
                            f"{blocks}, {1000 * latency:.1f} ms output latency; "
                            f"audio thread {self.priority}.")

    def _open_jack(self, cfg, make_processor):
        """A client of PipeWire's graph playing the processor ``make_processor`` gives at the graph's rate; returns
        (output, processor, cfg at that rate). Nothing is left open on failure."""
        sound_server.set_quantum(cfg.blocksize, cfg.samplerate)
        output = JackOutput(sound_server.jack_library())
        try:
            output.open()
            if output.rate != cfg.samplerate:
                cfg = replace(cfg, samplerate=output.rate)
            proc = self._processor = make_processor(cfg, output.channels, cfg.period)
            output.attach(proc)
            output.sink = self._default_sink.poll()
        except Exception:
            output.close()
            raise
        return output, proc, cfg

    def _wait_steady(self, cfg) -> None:
        """Wait until callbacks arrive at the block rate (PulseAudio pauses 1-2 s after a first open)."""
        deadline = time.perf_counter() + START_TIMEOUT
        window = max(0.05, 8 * cfg.period)
        need = max(2, int(0.5 * window / cfg.period))
        good = 0
        while time.perf_counter() < deadline and not self._closing.is_set():
            before = self._processor.callbacks
            time.sleep(window)
            good = good + 1 if self._processor.callbacks - before >= need else 0
            if good >= 2:
                return
        raise RuntimeError(f"the stream did not run within {START_TIMEOUT:g} s")

    def _start_null(self, cfg, message: str) -> None:
        """Drive the processor in use (a fresh one if none fits ``cfg``) from a paced null output."""
        proc = self._processor
        if proc is None or proc.device_rate != cfg.samplerate or proc.blocksize != cfg.blocksize:
            proc = self._processor = self._make_processor(cfg, 2, cfg.period)
        self._cfg = cfg
        output = NullOutput(self._null_callback, cfg.samplerate, cfg.blocksize, proc.channels)
        self.output = output
        self.priority = "normal"
        self.status_line = message  # before is_null: whoever sees the null output reads why
        self.is_null = True
        self.device_name = "null output"
        self.path = ""
        proc.drive()
        proc.acc.request_reset()
        output.start()
        self._steady = True

    def _stop_output(self) -> None:
        """Stop the output (PortAudio joins the callback thread; the null output joins its own)."""
        output, self.output = self.output, None
        self._steady = False
        if output is not None:
            if isinstance(output, NullOutput):
                output.stop()
            else:
                _close(output)
        if self._processor is not None:
            self._processor.stop_driving()
        self.wakeup.close()

    # ---- watching and following ---------------------------------------------------------------------

    def _supervise(self) -> None:
        """Every TICK_SECONDS: let the CPUs sleep once quiet; move a lost device to the null output; try it again."""
        while not self._closing.wait(TICK_SECONDS):
            processor = self._processor
            self.wakeup.tick(processor is not None and processor.active_voices() > 0)
            try:
                self._check_device()
                if self.is_null and self._clock() >= self._retry_at:
                    self._try_again()
            except Exception:  # noqa: BLE001 - the watch must outlive any surprise; logged with its cause
                log.exception("the audio supervisor met an error; it goes on watching")

    def _check_device(self) -> None:
        """Replace a device that stopped or went silent by the null output (same processor: notes ring on)."""
        output = self.output
        if output is None or self.is_null or not self._steady:
            return
        if isinstance(output, JackOutput) and output.active:
            self._follow_sink(output)
        stalled = time.perf_counter() - self._processor.last_callback > max(STALL_SECONDS, 20 * self._cfg.period)
        try:
            inactive = not output.active
        except Exception as exc:  # noqa: BLE001 - a vanished device may fail to answer
            log.info("the output does not answer: %s", exc)
            inactive = True
        if not (stalled or inactive):
            return
        with self._switch:
            if self.output is not output:
                return
            name = self.device_name
            self._stop_output()
            what = f"it went silent for {STALL_SECONDS:g} s" if stalled else "it stopped"
            at = self.seconds()
            self._lost = (at, name)
            self._event(f"lost {name} at {at:.1f} s ({what})")
            log.warning("audio device %s lost (%s); playing on the null output and trying again", name, what)
            self._start_null(self._cfg, f"Lost {name} at {at:.1f} s ({what}); playing silently and trying "
                                        "again...")
            self._schedule_retry(first=True)

    def _follow_sink(self, output: JackOutput) -> None:
        """Keep a graph client on the default sink: move it when the default changes, and back onto a sink when
        its own went away (what the server does for a PulseAudio stream)."""
        with self._switch:
            if self.output is not output:
                return
            before = output.connected_to
            if output.follow(self._default_sink.poll()) and output.connected_to != before:
                self._event(f"moved to {output.connected_to[0].split(':')[0]} at {self.seconds():.1f} s")

    def _try_again(self) -> None:
        """One try to open the configured device again, with the processor in use (notes ring on)."""
        with self._switch:
            if not self.is_null or self.output is None or self._closing.is_set():
                return
            cfg, null, proc = self._cfg, self.output, self._processor
            self.tries += 1
            try:
                info = self._find(cfg)  # the null output plays on while PortAudio looks (about 35 ms)
            except Exception as exc:  # noqa: BLE001 - not there yet
                log.debug("audio device not back yet: %s", one_line(exc))
                self._schedule_retry(first=False)
                return
            null.stop()
            proc.stop_driving()
            try:
                self._open_device(cfg, self._same_processor, info)
            except Exception as exc:  # noqa: BLE001 - not back yet: the null output plays on
                log.debug("audio device not back yet: %s", one_line(exc))
                proc = self._processor  # the engine may have made a fresh one for the device's channels
                if proc.channels != null.channels:
                    null = NullOutput(self._null_callback, cfg.samplerate, cfg.blocksize, proc.channels)
                self.output = null
                proc.drive()
                null.start()
                self._schedule_retry(first=False)
                return
            self._retry_at = math.inf
            back = f"back on {self.device_name} at {self.seconds():.1f} s"
            if self._lost is not None:
                at, name = self._lost
                self._event(back)
                self.status_line = f"Lost {name} at {at:.1f} s; {back}. " + self.status_line
            else:
                self._event(f"{self.device_name} opened at {self.seconds():.1f} s")
            self._lost = None
            log.warning("audio %s", back)

    def _same_processor(self, cfg, channels: int, output_latency: float):
        """The processor in use when it fits the device (notes ring on), else a fresh one from the engine, made
        only if the engine's lock is free this moment (lock order: never wait for it while holding _switch)."""
        proc = self._processor
        if proc is not None and proc.channels == channels and proc.device_rate == cfg.samplerate:
            proc.output_latency = output_latency
            return proc
        if not self._lock.acquire(blocking=False):
            raise RuntimeError("the engine is busy; trying again later")
        try:
            return self._make_processor(cfg, channels, output_latency)
        finally:
            self._lock.release()

    def _schedule_retry(self, first: bool) -> None:
        """Set the time of the next try: RETRY_FIRST after a loss, doubling to RETRY_MAX, RETRY_LATE in the end."""
        now = self._clock()
        if first:
            self._away_since, self._retry_gap = now, RETRY_FIRST
        elif now - self._away_since > RETRY_PATIENT_SECONDS:
            self._retry_gap = RETRY_LATE
        else:
            self._retry_gap = min(RETRY_MAX, 2 * self._retry_gap)
        self._retry_at = now + self._retry_gap

    def _event(self, text: str) -> None:
        self.events.append(text)
        del self.events[:-MAX_EVENTS]


def _close(output) -> None:
    """Close a device output: a PipeWire graph client, or a PortAudio stream."""
    if isinstance(output, JackOutput):
        output.close()
    else:
        close_stream(output)
