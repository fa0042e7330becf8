"""pyqtgraph views: a live scope of the output, the last key's twins (responses and spectra), and a learned sound
against its recording (:class:`SoundView`).

Curves are created once and fed with ``setData`` (from the window's ~30 Hz timer); every plot
uses peak downsampling and clip-to-view, so a long response costs the same to draw as a short one.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QGraphicsItem, QHBoxLayout, QLabel, QVBoxLayout, QWidget  # PySide6 before pyqtgraph (picks the binding)
import pyqtgraph as pg

from .comparison import ONSET_SECONDS, ImpulseComparison, SoundComparison
from .texts import format_db

IIR_PEN = pg.mkPen((60, 140, 255), width=1, style=Qt.DashLine)  # dashed, drawn on top: the RNN shows through
RNN_PEN = pg.mkPen((255, 150, 40), width=1)
DIFF_PEN = pg.mkPen((220, 60, 60), width=1)
SCOPE_PEN = pg.mkPen((80, 220, 120), width=1)
RELEASE_PEN = pg.mkPen((150, 150, 150), width=1, style=Qt.DotLine)
RECORDING_PEN = pg.mkPen((235, 235, 235), width=1)
LINEAR_PEN = pg.mkPen((60, 140, 255), width=1, style=Qt.DashLine)

SCOPE_SAMPLES = 2048
"""Samples the scope shows (about 43 ms at 48 kHz)."""


def cache_axes(item: pg.PlotItem) -> None:
    """Keep each axis of ``item`` (its ticks, labels and grid lines) as a pixmap, redrawn only when the axis
    changes: replaying an axis's picture is slow under a software X server, and without the cache every
    repaint of the data behind it replays all four."""
    for name in ("left", "bottom", "right", "top"):
        item.getAxis(name).setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)


def _plot(title: str, x_label: str, y_label: str) -> pg.PlotWidget:
    """A plot widget with the project's common set-up."""
    widget = pg.PlotWidget()
    item = widget.getPlotItem()
    item.setTitle(title, size="9pt")
    item.setLabel("bottom", x_label)
    item.setLabel("left", y_label)
    item.showGrid(x=True, y=True, alpha=0.25)
    item.setDownsampling(auto=True, mode="peak")
    item.setClipToView(True)
    item.setMenuEnabled(False)
    cache_axes(item)
    widget.setMinimumHeight(120)
    return widget


def _pole_plot(title: str) -> tuple[pg.PlotWidget, np.ndarray]:
    """A z-plane plot (equal axes) with the unit circle drawn, and the circle's points (361,) complex."""
    widget = _plot(title, "real", "imaginary")
    widget.setAspectLocked(True)
    circle = np.exp(1j * np.linspace(0.0, 2.0 * np.pi, 361))
    widget.plot(circle.real, circle.imag, pen=DIFF_PEN)
    return widget, circle


class ScopeView(QWidget):
    """The newest output samples (mono, device rate), read by :meth:`refresh` into a fixed buffer."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.buffer = np.zeros(SCOPE_SAMPLES)
        self.plot = _plot("Output (scope)", "time", "level")
        self.plot.setYRange(-1.0, 1.0)
        self.plot.getPlotItem().getAxis("bottom").setLabel("time", units="s")
        self.curve = self.plot.plot(pen=SCOPE_PEN)
        self.rate = 48000.0
        self._time = np.arange(SCOPE_SAMPLES) / self.rate
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot)

    def refresh(self, engine) -> int:
        """Copy the engine's newest samples into the curve; returns how many were valid."""
        count = int(engine.read_scope(self.buffer))
        rate = float(engine.config.samplerate)
        if rate != self.rate:
            self.rate = rate
            self._time = np.arange(SCOPE_SAMPLES) / rate
        self.curve.setData(self._time, self.buffer)
        return count


class TwinView(QWidget):
    """For the last key played: IIR and RNN impulse responses overlaid, their difference, the SNR in
    dB, and both log-magnitude spectra."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.caption = QLabel("Play a key to compare the IIR and its RNN twin.")
        self.caption.setWordWrap(True)
        self.response_plot = _plot("Impulse responses", "time", "amplitude")
        self.response_plot.getPlotItem().getAxis("bottom").setLabel("time", units="s")
        self.legend = self.response_plot.addLegend(offset=(-10, 10))
        self.iir_curve = self.response_plot.plot(pen=IIR_PEN, name="IIR")
        self.iir_curve.setZValue(2)
        self.rnn_curve = self.response_plot.plot(pen=RNN_PEN, name="RNN")
        self.diff_curve = self.response_plot.plot(pen=DIFF_PEN, name="RNN - IIR")
        self.diff_scale = 0
        legend = self.legend
        legend.setLabelTextSize("8pt")
        self.spectrum_plot = _plot("Spectra", "frequency", "magnitude (dB)")
        self.spectrum_plot.getPlotItem().getAxis("bottom").setLabel("frequency", units="Hz")
        self.iir_spectrum = self.spectrum_plot.plot(pen=IIR_PEN, name="IIR")
        self.rnn_spectrum = self.spectrum_plot.plot(pen=RNN_PEN, name="RNN")
        self.pole_plot, circle = _pole_plot("Poles (z-plane)")
        self.pole_plot.setToolTip("IIR: its two poles Q e^(+-jw). RNN: the eigenvalues of W_hh, the poles of the "
                                  "network linearised around zero (tanh(u) ~ u), h[n] = W_hh h[n-1] + w_ih x[n].")
        pole_legend = self.pole_plot.addLegend(offset=(-10, 10))
        self.iir_poles = self.pole_plot.plot(pen=None, symbol="x", symbolSize=12, symbolPen=IIR_PEN,
                                             name="IIR poles")
        self.rnn_poles = self.pole_plot.plot(pen=None, symbol="o", symbolSize=8, symbolPen=RNN_PEN, symbolBrush=None,
                                             name="RNN: eig(W_hh)")
        self.release_circle = self.pole_plot.plot(pen=RELEASE_PEN, name="released (dampers)")
        self.iir_released = self.pole_plot.plot(pen=None, symbol="x", symbolSize=7, symbolPen=RELEASE_PEN)
        self.rnn_released = self.pole_plot.plot(pen=None, symbol="o", symbolSize=5, symbolPen=RELEASE_PEN,
                                                symbolBrush=None)
        self._circle = circle
        pole_legend.setLabelTextSize("8pt")
        self.comparison: ImpulseComparison | None = None
        self._height, self._top, self._radius = 0.0, -np.inf, 0.0  # the plots' current ranges (see sticky)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.caption)
        layout.addWidget(self.response_plot, 3)
        bottom = QHBoxLayout()
        bottom.addWidget(self.spectrum_plot, 3)
        bottom.addWidget(self.pole_plot, 2)
        layout.addLayout(bottom, 2)

    def show_comparison(self, comparison: ImpulseComparison) -> None:
        """Draw ``comparison`` (replacing the previous key's)."""
        self.comparison = comparison
        c = comparison
        self.iir_curve.setData(c.time, c.iir)
        self.rnn_curve.setData(c.time, c.rnn)
        self.diff_scale = difference_scale(c.difference, c.iir)
        self.diff_curve.setData(c.time, c.difference * 10.0 ** self.diff_scale)
        label = "RNN - IIR" + (f" (x1e{self.diff_scale})" if self.diff_scale else "")
        for sample, text in self.legend.items:
            if sample.item is self.diff_curve:
                text.setText(label)
        self.iir_spectrum.setData(c.freqs, c.iir_db)
        self.rnn_spectrum.setData(c.freqs, c.rnn_db)
        self.iir_poles.setData(c.iir_poles.real, c.iir_poles.imag)
        self.rnn_poles.setData(c.rnn_poles.real, c.rnn_poles.imag)
        released = np.isfinite(c.release_radius)
        ring = c.release_radius * self._circle if released else np.zeros(0, dtype=complex)
        self.release_circle.setData(ring.real, ring.imag)
        self.iir_released.setData(c.iir_released.real, c.iir_released.imag)
        self.rnn_released.setData(c.rnn_released.real, c.rnn_released.imag)
        # Ranges move in coarse steps and grow at once but shrink only by a factor of ten (40 dB), so playing
        # key after key seldom redraws an axis (a costly redraw under a software X server) and the keys are
        # seen at their true relative levels.
        self.response_plot.setXRange(0.0, nice_ceiling(visible_span(c.time, c.iir)), padding=0.0)
        peak = max(float(np.max(np.abs(c.iir), initial=0.0)), float(np.max(np.abs(c.rnn), initial=0.0)))
        self._height = sticky(self._height, nice_ceiling(peak) if np.isfinite(peak) and peak > 0.0 else 1.0)
        self.response_plot.setYRange(-self._height, self._height)
        top = float(max(np.max(c.iir_db), np.max(c.rnn_db)))
        top = 10.0 * np.ceil(top / 10.0) if np.isfinite(top) else 0.0
        self._top = top if top > self._top or top < self._top - 40.0 else self._top  # sticky, in dB
        self.spectrum_plot.setYRange(self._top - 100.0, self._top + 5.0)
        poles = np.concatenate((c.iir_poles, c.rnn_poles))
        radius = float(np.max(np.abs(poles[np.isfinite(poles)]), initial=1.0))
        self._radius = sticky(self._radius, nice_ceiling(1.1 * radius) if radius > 1.1 else 1.2)
        self.pole_plot.setRange(xRange=(-self._radius, self._radius), yRange=(-self._radius, self._radius))
        twin = {"rnn-analytic": "analytic RNN", "rnn-trained": "trained RNN"}.get(c.twin, c.twin)
        text = f"{c.note}: IIR vs {twin}, SNR {format_db(c.snr)}"
        if released:
            text += f"; released, the dampers scale both twins' poles to radius {c.release_radius:.5f}"
        if c.note_text:
            text += f" ({c.note_text})"
        self.caption.setText(text)


def difference_scale(difference: np.ndarray, reference: np.ndarray, visible: float = 0.01) -> int:
    """k such that ``difference * 10**k`` can be seen beside ``reference``: 0 when its peak is at least
    ``visible`` of the reference's, else the power of ten that brings it to about a quarter of it (at most 12)."""
    peak, ref = float(np.max(np.abs(difference), initial=0.0)), float(np.max(np.abs(reference), initial=0.0))
    if peak <= 0.0 or ref <= 0.0 or peak >= visible * ref:
        return 0
    return int(min(12, np.floor(np.log10(0.25 * ref / peak))))


def sticky(current: float, needed: float, shrink: float = 0.1) -> float:
    """A plot range (> 0) that follows ``needed`` up at once, and down only once it is below ``shrink``
    times ``current`` (a small change from one key to the next leaves the axis as it is)."""
    return needed if needed > current or needed < shrink * current else current


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2 or 5 times a power of ten that is at least ``value`` (> 0)."""
    decade = 10.0 ** np.floor(np.log10(value))
    return float(next(m * decade for m in (1.0, 2.0, 5.0, 10.0) if m * decade >= value * (1.0 - 1e-12)))


def visible_span(time: np.ndarray, signal: np.ndarray, floor_db: float = -60.0) -> float:
    """Seconds until ``signal`` last exceeds ``floor_db`` below its peak (plus 10 %): the part worth seeing."""
    magnitude = np.abs(signal)
    peak = float(np.max(magnitude)) if len(magnitude) else 0.0
    if peak <= 0.0:
        return float(time[-1]) if len(time) else 1.0
    loud = np.nonzero(magnitude > peak * 10.0 ** (floor_db / 20.0))[0]
    return min(float(time[loud[-1]]) * 1.1, float(time[-1])) or float(time[-1])


class SoundView(QWidget):
    """A learned sound against its recording: the first :data:`~app.comparison.ONSET_SECONDS` and the whole note
    (recording, network, linear fit), their spectra in dB, and the network's poles (every block's radius
    e^(+-j angle)) on the unit circle."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.caption = QLabel("Learn a sound (File > Learn a sound...) to see it here.")
        self.caption.setWordWrap(True)
        self.comparison: SoundComparison | None = None
        self.onset_plot = _plot(f"First {ONSET_SECONDS:g} s", "time", "amplitude")
        self.whole_plot = _plot("Whole note", "time", "amplitude")
        self.spectrum_plot = _plot("Spectra", "frequency", "magnitude (dB)")
        for plot, unit in ((self.onset_plot, "s"), (self.whole_plot, "s"), (self.spectrum_plot, "Hz")):
            axis = plot.getPlotItem().getAxis("bottom")
            axis.setLabel(axis.labelText, units=unit)
        self.curves: dict[str, list] = {"target": [], "net": [], "linear": []}  # (onset, whole, spectrum) each
        for plot in (self.onset_plot, self.whole_plot, self.spectrum_plot):
            legend = plot.addLegend(offset=(-10, 10))
            legend.setLabelTextSize("8pt")
            for name, pen, label in (("target", RECORDING_PEN, "recording"), ("net", RNN_PEN, "network"),
                                     ("linear", LINEAR_PEN, "linear fit")):
                self.curves[name].append(plot.plot(pen=pen, name=label))
        self.pole_plot, _ = _pole_plot("Learned poles (z-plane)")
        self.pole_plot.setToolTip("Every block of the learned network: its radius e^(+-j angle), one partial each")
        self.pole_curve = self.pole_plot.plot(pen=None, symbol="o", symbolSize=8, symbolPen=RNN_PEN,
                                              symbolBrush=None)
        self.pole_plot.setRange(xRange=(-1.1, 1.1), yRange=(-1.1, 1.1))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.caption)
        top = QHBoxLayout()
        top.addWidget(self.onset_plot, 1)
        top.addWidget(self.whole_plot, 1)
        layout.addLayout(top, 3)
        bottom = QHBoxLayout()
        bottom.addWidget(self.spectrum_plot, 3)
        bottom.addWidget(self.pole_plot, 2)
        layout.addLayout(bottom, 2)

    def show_sound(self, comparison: SoundComparison) -> None:
        """Draw ``comparison`` (replacing the previous sound's)."""
        self.comparison = c = comparison
        onset = c.time < ONSET_SECONDS
        for name, signal, level in (("target", c.target, c.target_db), ("net", c.net, c.net_db),
                                    ("linear", c.linear, c.linear_db)):
            onset_curve, whole_curve, spectrum_curve = self.curves[name]
            shown = len(signal) == len(c.time)
            onset_curve.setData(c.time[onset] if shown else [], signal[onset] if shown else [])
            whole_curve.setData(c.time if shown else [], signal if shown else [])
            spectrum_curve.setData(c.freqs if shown else [], level if shown else [])
        self.pole_curve.setData(c.poles.real, c.poles.imag)
        top = float(np.max(c.target_db)) if len(c.target_db) else 0.0
        top = 10.0 * np.ceil(top / 10.0) if np.isfinite(top) else 0.0
        self.spectrum_plot.setYRange(top - 100.0, top + 5.0)
        self.spectrum_plot.setXRange(0.0, c.rate / 2.0, padding=0.0)
        self.caption.setText(f"{c.source}: {c.note} ({c.pitch:.1f} Hz), {len(c.poles) // 2} blocks at "
                             f"{c.rate:g} Hz; network vs recording SNR {format_db(c.snr)}")

    def clear(self) -> None:
        """No learned sound in use: empty plots."""
        self.comparison = None
        for curves in self.curves.values():
            for curve in curves:
                curve.setData([], [])
        self.pole_curve.setData([], [])
        self.caption.setText("Learn a sound (File > Learn a sound...) to see it here.")
