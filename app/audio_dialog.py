"""The audio settings dialog: output device (by name), sample rate, block size and latency."""

from __future__ import annotations

from PySide6.QtWidgets import QComboBox, QDialog, QDialogButtonBox, QFormLayout, QLabel, QWidget

from .settings import BLOCK_SIZES, DEVICE_RATES, LATENCIES

DEFAULT_DEVICE_LABEL = "(system default)"


class AudioDialog(QDialog):
    """Pick the output: ``devices`` are names (from ``list_output_devices()``); ``device`` "" is the default.

    After ``exec()`` returns Accepted, :meth:`values` gives (device, samplerate, blocksize, latency).
    """

    def __init__(self, devices: list[str], device: str, samplerate: int, blocksize: int, latency: str,
                 parent: QWidget | None = None):
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
        form.addRow(buttons)
        self._describe()

    def values(self) -> tuple[str, int, int, str]:
        """(device name or "", sample rate Hz, block size frames, latency)."""
        return (self.device_box.currentData(), int(self.rate_box.currentData()), int(self.block_box.currentData()),
                self.latency_box.currentText())

    def _describe(self, *_args) -> None:
        _, rate, block, _ = self.values()
        self.block_note.setText(f"one block = {1000.0 * block / rate:.1f} ms")
