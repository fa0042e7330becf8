"""The audio engine's lifecycle for the window: made at start, opened once the training process is ready,
reopened with new settings off the GUI thread, and its figures shown in the status bar (2 Hz).

Nothing here touches samples: the engine (:class:`iirnn_core.audio.engine.AudioEngine`, or what a test's
``engine_factory`` makes) does. Status lines go out through :attr:`AudioController.message`.
"""

from __future__ import annotations

import math
import threading
import time
from typing import Callable

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QLabel, QWidget

from .audio_dialog import AudioDialog
from .settings import AppSettings, latency_for_stream
from .texts import one_line

STATUS_MS = 500
"""Status bar refresh period, ms (2 Hz)."""

POLYPHONY = 32
"""Voices per bank of the live engine."""

TRAINER_POLL_MS = 50
"""How often (ms) the controller looks whether the training process is ready (then the audio opens), and
whether a reopen has ended."""

TRAINER_WAIT_SECONDS = 20.0
"""The audio opens after this long (s) even if the training process is not ready."""


def default_engine_factory(config, settings, engine, model, polyphony):
    """The real audio engine (imported here so the window module loads without the audio stack)."""
    from iirnn_core.audio.engine import AudioEngine

    return AudioEngine(config, settings=settings, engine=engine, model=model, polyphony=polyphony)


def audio_config(s: AppSettings):
    """The AudioConfig for the saved audio settings (device "" means the system default)."""
    from iirnn_core.audio.engine import AudioConfig

    return AudioConfig(device=s.device or None, samplerate=s.samplerate, blocksize=s.blocksize,
                       latency=latency_for_stream(s.latency), cpus_awake=s.cpus_awake)


def list_devices() -> list[str]:
    """Output device names (empty when the audio stack cannot list them)."""
    try:
        from iirnn_core.audio.engine import list_output_devices

        return list(list_output_devices())
    except Exception:  # a broken audio stack must not stop the dialog from opening
        return []


class AudioController(QObject):
    """Makes, opens, reopens and closes the window's audio engine.

    ``trainer``: the training process (the audio opens once it has loaded torch, so no process start and no
    torch import overlap playing). ``settings``: the window's AppSettings (the audio fields change on a
    reopen). ``config_factory(settings)`` makes the AudioConfig. ``stats_label`` shows the engine's figures;
    ``release_keys()`` ends every held note before a reopen. ``parent``: the window (Audio > Settings' dialog
    opens over it). ``message(text)`` is for the status bar.
    """

    message = Signal(str)

    def __init__(self, trainer, settings: AppSettings, config_factory, stats_label: QLabel,
                 release_keys: Callable[[], None], parent: QWidget):
        super().__init__(parent)
        self.trainer = trainer
        self.settings = settings
        self.config_factory = config_factory
        self.stats_label = stats_label
        self.release_keys = release_keys
        self.engine = None
        self.midi = None
        self.started = False  # whether the stream has been opened
        self._shown_status = ""  # the engine's status line as last shown
        self._closed = False
        self._startup_message = ""
        self._trainer_deadline = math.inf
        self._reopening: threading.Thread | None = None
        self._reopen_timer = self._timer(TRAINER_POLL_MS, self._reopen_done)
        self._trainer_wait = self._timer(TRAINER_POLL_MS, self._open_when_trainer_ready)
        self.status_timer = self._timer(STATUS_MS, self.refresh_status)

    def _timer(self, interval_ms: int, slot) -> QTimer:
        """A repeating timer of this controller calling ``slot`` every ``interval_ms``, not started."""
        timer = QTimer(self)
        timer.setInterval(interval_ms)
        timer.timeout.connect(slot)
        return timer

    def make_engine(self, factory, synth_settings, engine: str, model):
        """The engine (not yet started) for the saved audio settings, made by ``factory(config, synth_settings,
        engine, model, POLYPHONY)``."""
        self.engine = factory(self.config_factory(self.settings), synth_settings, engine, model, POLYPHONY)
        return self.engine

    def open(self, midi, startup_message: str = "") -> None:
        """Open the stream once the trainer is ready (or after TRAINER_WAIT_SECONDS), then start ``midi``'s
        remembered port; ``startup_message`` follows the status line. The status figures refresh from now on."""
        self.midi = midi
        self._startup_message = startup_message
        self._trainer_deadline = time.monotonic() + TRAINER_WAIT_SECONDS
        self.message.emit("  ".join(m for m in ("Starting the trainer, then the audio...", startup_message) if m))
        self._open_when_trainer_ready()
        self.status_timer.start()
        self.refresh_status()

    def _open_when_trainer_ready(self) -> None:
        """Open the audio once the training process has loaded torch (or it takes too long)."""
        if self.started or self._closed:
            return
        self.trainer.take(0)  # reads its "ready"
        if not self.trainer.ready and self.trainer.alive and time.monotonic() < self._trainer_deadline:
            self._trainer_wait.start()
            return
        self._trainer_wait.stop()
        self.engine.start()
        self.started = True
        self.midi.start()  # the remembered MIDI port plays into the stream that now runs
        self._shown_status = str(self.engine.status_line or "")
        messages = [m for m in (self._shown_status, self._startup_message) if m]
        self.message.emit("  ".join(messages))

    def audio_settings_dialog(self) -> None:
        """Audio > Settings: pick device, rate, block size, latency and reopen the stream."""
        s = self.settings
        dialog = AudioDialog(list_devices(), s.device, s.samplerate, s.blocksize, s.latency, s.cpus_awake,
                             self.parent())
        if dialog.exec() == AudioDialog.Accepted:
            self.apply_audio(*dialog.values())

    def apply_audio(self, device: str, samplerate: int, blocksize: int, latency: str,
                    cpus_awake: bool | None = None) -> None:
        """Reopen the output with these settings (``samplerate`` Hz, ``blocksize`` frames; ``cpus_awake`` None:
        as it is), off the GUI thread (a device can take seconds to start); the engine reports trouble in its
        status line, shown when the reopen has ended."""
        from iirnn_core.dsp.resonator import SettingError

        if self._reopening is not None and self._reopening.is_alive():
            self.message.emit("Audio is still reopening; try again in a moment.")
            return
        self.release_keys()
        s = self.settings
        previous = (s.device, s.samplerate, s.blocksize, s.latency, s.cpus_awake)
        s.device, s.samplerate, s.blocksize, s.latency = device, samplerate, blocksize, latency
        s.cpus_awake = s.cpus_awake if cpus_awake is None else bool(cpus_awake)
        try:
            config = self.config_factory(s)
        except SettingError as exc:  # an impossible configuration: the output in use stays
            s.device, s.samplerate, s.blocksize, s.latency, s.cpus_awake = previous
            self.message.emit(f"Audio settings not applied: {one_line(exc)}")
            return
        self.message.emit("Reopening audio...")
        self._reopening = threading.Thread(target=self.engine.reopen, args=(config,), name="iirnn-reopen",
                                           daemon=True)
        self._reopening.start()
        self._reopen_timer.start()

    def _reopen_done(self) -> None:
        """Show how a reopen ended, once it has."""
        if self._reopening is None or self._reopening.is_alive():
            return
        self._reopen_timer.stop()
        self._reopening = None
        self._shown_status = str(self.engine.status_line or "")
        self.message.emit(self._shown_status)
        self.refresh_status()

    def wait_for_audio(self, timeout: float = 30.0) -> bool:
        """Wait up to ``timeout`` seconds until a reopen has ended (tests, shutdown); True if none is under way."""
        thread = self._reopening
        if thread is not None:
            thread.join(timeout)
            self._reopen_done()
        return self._reopening is None

    def reconnect_audio(self) -> None:
        """Reopen the configured output (the engine falls back to the null output when a device is missing,
        busy or goes silent; this tries it again)."""
        s = self.settings
        self.apply_audio(s.device, s.samplerate, s.blocksize, s.latency)

    def refresh_status(self) -> None:
        """Callback load, underruns and latency from the engine's stats; and the engine's status line whenever
        it changes by itself (the output lost, or back: the supervisor follows the device)."""
        self.stats_label.setText(stats_text(self.engine.stats()))
        line = str(self.engine.status_line or "")
        if self.started and self._reopening is None and line != self._shown_status:
            self._shown_status = line
            self.message.emit(line)

    def stop(self) -> None:
        """Window closing: no more status refreshes, the stream no longer waits to open, a reopen under way ends."""
        self._closed = True
        self.status_timer.stop()
        self._trainer_wait.stop()
        self.wait_for_audio()

    def close(self) -> None:
        """Close the engine (its stream and threads)."""
        self.engine.close()


def stats_text(stats) -> str:
    """The status bar's figures: callback load (mean, max), dropouts, key-to-sound latency, output, priority
    (and whether the CPUs are kept awake while notes sound), and any muted blocks, callback errors or dropped key events.

    Dropouts: the larger of the two estimates (callback timestamps, wall clock), which count the same
    dropouts two ways; adding them would count each twice; then their cause, where the engine sees one."""
    underruns = max(int(stats.underruns_timestamps), int(stats.underruns_wallclock))
    cause = getattr(stats, "dropout_cause", "")
    dropouts = f"{underruns} ({cause})" if cause else str(underruns)
    device = "no audio device" if stats.null_output else str(stats.device_name)
    # key-to-sound latency of the notes played; before the first note, the stream's output latency
    latency = stats.latency_ms_median
    if not math.isfinite(latency):
        latency = getattr(stats, "output_latency_ms", math.nan)
    latency_text = f"{latency:.1f} ms" if math.isfinite(latency) else "-"
    text = (f"load {100 * stats.callback_load_mean:.0f}% (max {100 * stats.callback_load_max:.0f}%) | "
            f"dropouts {dropouts} | latency {latency_text} | "
            f"{device} {stats.samplerate} Hz/{stats.blocksize}")
    if not stats.null_output:
        text += f" | audio thread {getattr(stats, 'priority', 'normal')}"
        cpus = getattr(stats, "cpu_wakeup", "off")
        if cpus == "awake":
            text += ", CPUs kept awake"
        elif cpus.startswith("refused"):
            text += f", CPU wake-up request {cpus}"
    troubles = [(getattr(stats, "muted_blocks", 0), "blocks muted (NaN)"),
                (getattr(stats, "callback_errors", 0), "callback errors"),
                (getattr(stats, "events_dropped", 0), "key events dropped")]
    return text + "".join(f" | {n} {what}" for n, what in troubles if n)
