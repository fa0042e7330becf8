"""The audio settings dialog: output device (by name), sample rate, block size, latency, and whether the CPUs
are kept awake while notes sound."""

from __future__ import annotations

from PySide6.QtWidgets import QCheckBox, QComboBox, QDialog, QDialogButtonBox, QFormLayout, QLabel, QWidget

from .settings import BLOCK_SIZES, DEVICE_RATES, LATENCIES

DEFAULT_DEVICE_LABEL = "(system default)"


class AudioDialog(QDialog):
    """Pick the output: ``devices`` are names (from ``list_output_devices()``); ``device`` "" is the default.

    After ``exec()`` returns Accepted, :meth:`values` gives (device, samplerate, blocksize, latency, cpus_awake).
    """

    def __init__(self, devices: list[str], device: str, samplerate: int, blocksize: int, latency: str,
                 cpus_awake: bool = True, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Audio settings")
        self.device_box = QComboBox()
        self.device_box.addItem(DEFAULT_DEVICE_LABEL, "")
        for name in devices:
            self.device_box.addItem(name, name)
        if device and self.device_box.findData(device) < 0:
            self.device_box.addItem(f"{device} (not found)", device)
        self.device_box.setCurrentIndex(max(self.device_box.findData(device), 0))
        self.rate_box = QComboBox()
        for rate in sorted(set(DEVICE_RATES) | {int(samplerate)}):
            self.rate_box.addItem(f"{rate} Hz", rate)
        self.rate_box.setCurrentIndex(self.rate_box.findData(int(samplerate)))
        self.block_box = QComboBox()
        for block in sorted(set(BLOCK_SIZES) | {int(blocksize)}):
            self.block_box.addItem(f"{block} frames", block)
        self.block_box.setCurrentIndex(self.block_box.findData(int(blocksize)))
        self.latency_box = QComboBox()
        self.latency_box.addItems(LATENCIES)
        self.latency_box.setCurrentText(latency)
        self.awake_box = QCheckBox("Keep the CPUs awake while notes sound")
        self.awake_box.setChecked(bool(cpus_awake))
        self.awake_box.setToolTip("Idle cores that halt can wake too late for the next block (a dropout). Held "
                                  "only while notes sound; needs write access to /dev/cpu_dma_latency.")
        self.block_note = QLabel()
        self.rate_box.currentIndexChanged.connect(self._describe)
        self.block_box.currentIndexChanged.connect(self._describe)
        buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form = QFormLayout(self)
        form.addRow("Output device", self.device_box)
        form.addRow("Sample rate", self.rate_box)
        form.addRow("Block size", self.block_box)
        form.addRow("", self.block_note)
        form.addRow("Latency", self.latency_box)
        form.addRow("", self.awake_box)
        form.addRow(buttons)
        self._describe()

    def values(self) -> tuple[str, int, int, str, bool]:
        """(device name or "", sample rate Hz, block size frames, latency, keep the CPUs awake)."""
        return (self.device_box.currentData(), int(self.rate_box.currentData()), int(self.block_box.currentData()),
                self.latency_box.currentText(), self.awake_box.isChecked())

    def _describe(self, *_args) -> None:
        _, rate, block, _, _ = self.values()
        self.block_note.setText(f"one block = {1000.0 * block / rate:.1f} ms")
