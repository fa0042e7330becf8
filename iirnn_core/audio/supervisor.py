"""Which output plays the engine: a device stream (found by name, rolled back on failure) or a paced null output.

:class:`OutputSupervisor` opens the configured device with the engine's compiled callback, waits
until it runs steadily, raises the callback thread's priority, and watches it every 0.2 s: it keeps
the CPUs awake while notes sound (:mod:`iirnn_core.audio.cpu_wakeup`, where ``cfg.cpus_awake`` asks), and a
device that stops or goes silent is replaced by a :class:`~iirnn_core.audio.null_output.NullOutput`
(the same compiled block, called from a paced thread), and :attr:`status_line` says so in one
sentence. A new output always gets a fresh block processor from the engine (``make_processor``),
created while no callback runs.
"""

from __future__ import annotations

import logging
import threading
import time

from iirnn_core.audio.cpu_wakeup import CpuWakeup
from iirnn_core.audio.devices import close_stream, find_output_device, open_compiled_stream, refresh_devices
from iirnn_core.errors import one_line
from iirnn_core.audio.null_output import NullOutput
from iirnn_core.audio.priority import raise_callback_priority, raise_stream_threads, thread_ids

log = logging.getLogger(__name__)

START_TIMEOUT = 5.0
"""Seconds a freshly opened stream may take to run steadily (PulseAudio's first open takes 1-2 s)."""
STALL_SECONDS = 5.0
"""A running device whose callback stays away this long is taken as lost. (PulseAudio through ALSA
takes about 2 s to recover from an underrun: that is a dropout, counted, not a lost device.)"""


class OutputSupervisor:
    """Opens, watches and replaces the output of one engine.

    ``lock`` is the engine's (device changes and patch changes never interleave);
    ``make_processor(cfg, channels, output_latency)`` returns a fresh, published block processor;
    ``null_callback(outdata, frames, time_info, status)`` is what the null output calls.
    """

    def __init__(self, lock, make_processor, null_callback):
        self._lock = lock
        self._make_processor = make_processor
        self._null_callback = null_callback
        self._processor = None
        self._cfg = None
        self.output = None
        self.is_null = True
        self.device_name = ""
        self.priority = "normal"
        self.wakeup = CpuWakeup()
        """The CPU wake-up latency request, open while a device plays (``cfg.cpus_awake``)."""
        self._steady = False
        self._watch: threading.Thread | None = None
        self._closing = threading.Event()
        self.status_line = "Audio is not started."

    def start(self, cfg) -> None:
        """Open ``cfg`` once (the null output if it cannot be opened) and start watching."""
        with self._lock:
            if self.output is None:
                self._closing.clear()
                self._open(cfg, previous=None)
            if self._watch is None:
                self._watch = threading.Thread(target=self._supervise, name="iirnn-audio-supervisor", daemon=True)
                self._watch.start()

    def reopen(self, cfg, previous) -> bool:
        """Replace the output by ``cfg``, rolling back to ``previous`` (else the null output) on failure;
        True if ``cfg`` is now in use."""
        with self._lock:
            self._stop_output()
            return self._open(cfg, previous=previous)

    def close(self) -> None:
        """Stop the output and the watch."""
        self._closing.set()
        watch, self._watch = self._watch, None
        if watch is not None:
            watch.join(timeout=2.0)
        with self._lock:
            self._stop_output()
            self.status_line = "Audio is closed."

    def _open(self, cfg, previous) -> bool:
        """Open ``cfg`` on a device; on failure roll back to ``previous`` or run the null output."""
        try:
            self._open_device(cfg)
            return True
        except Exception as exc:  # noqa: BLE001 - device trouble becomes one status line
            reason = one_line(exc)
            log.info("could not open %s: %s", cfg, reason)
        if previous is not None and previous != cfg:
            try:
                self._open_device(previous)
                self.status_line = (f"Could not open {cfg.device or 'the default device'}: {reason}; "
                                    f"still playing on {self.device_name}.")
                return False
            except Exception as exc:  # noqa: BLE001
                log.info("could not reopen %s: %s", previous, one_line(exc))
        self._start_null(cfg, f"No audio device: {reason}; playing silently on a null output.")
        return False

    def _open_device(self, cfg) -> None:
        refresh_devices()
        info = find_output_device(cfg.device)
        channels = min(2, int(info["max_output_channels"]))
        proc = self._processor = self._make_processor(cfg, channels, cfg.period)
        self._cfg = cfg
        before = thread_ids()
        stream = open_compiled_stream(info, cfg.samplerate, cfg.blocksize, channels, cfg.latency,
                                      proc.callback_address, proc.user_data)
        try:
            self._steady = False
            proc.output_latency = float(stream.latency)
            proc.running = True
            stream.start()
            self._wait_steady(cfg)
            self.priority = raise_callback_priority(proc.callback_thread)
            raise_stream_threads(thread_ids() - before - {proc.callback_thread})
        except Exception:
            proc.running = False
            close_stream(stream)
            raise
        self.output = stream
        self.is_null = False
        self.device_name = info["name"]
        if cfg.cpus_awake:
            self.wakeup.open()
        proc.acc.request_reset()
        self._steady = True
        self.status_line = (f"Playing on {info['name']} at {cfg.samplerate} Hz, {cfg.blocksize}-frame blocks, "
                            f"{1000 * stream.latency:.1f} ms output latency; audio thread {self.priority}.")

    def _wait_steady(self, cfg) -> None:
        """Wait until callbacks arrive at the block rate (PulseAudio pauses 1-2 s after a first open)."""
        deadline = time.perf_counter() + START_TIMEOUT
        window = max(0.05, 8 * cfg.period)
        need = max(2, int(0.5 * window / cfg.period))
        good = 0
        while time.perf_counter() < deadline:
            before = self._processor.callbacks
            time.sleep(window)
            good = good + 1 if self._processor.callbacks - before >= need else 0
            if good >= 2:
                return
        raise RuntimeError(f"the stream did not run within {START_TIMEOUT:g} s")

    def _start_null(self, cfg, message: str) -> None:
        self._processor = self._make_processor(cfg, 2, cfg.blocksize / cfg.samplerate)
        self._cfg = cfg
        output = NullOutput(self._null_callback, cfg.samplerate, cfg.blocksize, 2)
        self.output = output
        self.priority = "normal"
        self.is_null = True
        self.device_name = "null output"
        self._processor.running = True
        self._processor.acc.request_reset()
        output.start()
        self._steady = True
        self.status_line = message

    def _stop_output(self) -> None:
        output, self.output = self.output, None
        self._steady = False
        if output is not None:
            if isinstance(output, NullOutput):
                output.stop()
            else:
                close_stream(output)
        if self._processor is not None:
            self._processor.running = False
        self.wakeup.close()

    def _supervise(self) -> None:
        """Every 0.2 s: let the CPUs sleep once quiet; if the device stopped, move to the null output."""
        while not self._closing.wait(0.2):
            processor = self._processor
            self.wakeup.tick(processor is not None and processor.active_voices() > 0)
            output = self.output
            if output is None or self.is_null or not self._steady:
                continue
            stalled = time.perf_counter() - self._processor.last_callback > max(STALL_SECONDS, 20 * self._cfg.period)
            try:
                inactive = not output.active
            except Exception as exc:  # noqa: BLE001 - a vanished device may fail to answer
                log.info("the output does not answer: %s", exc)
                inactive = True
            if stalled or inactive:
                with self._lock:
                    if self.output is output:
                        name = self.device_name
                        self._stop_output()
                        what = f"went silent for {STALL_SECONDS:g} s" if stalled else "stopped (unplugged?)"
                        log.warning("audio device %s %s", name, what)
                        self._start_null(self._cfg, f"Audio device {name} {what}; "
                                                    "playing silently on a null output.")
