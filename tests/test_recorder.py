"""Recording: the callback's record ring holds exactly the blocks it played; the writer thread makes a valid
32-bit float WAV at the device rate; a writer that falls behind loses frames, says so, and never stalls the audio; a
take in which the output stopped calling back says for how long."""

import time

import numpy as np
import pytest
import soundfile

from iirnn_core.synth import block_processor
from iirnn_core.audio.engine import AudioConfig, AudioEngine
from iirnn_core.audio.recorder import Recorder, RecordingError
from iirnn_core.synth.renderer import SynthSettings

NO_DEVICE = "iirnn-tests: no such device"
RATE, BLOCK = 48000, 128


def python_engine(**kw):
    """An engine whose callback the test calls from Python (no output started)."""
    return AudioEngine(AudioConfig(samplerate=RATE, blocksize=BLOCK), SynthSettings(q=0.999, channels=2), "iir", **kw)


def null_engine():
    """An engine playing on its paced null output (no device)."""
    engine = AudioEngine(AudioConfig(device=NO_DEVICE, samplerate=RATE, blocksize=BLOCK),
                         SynthSettings(q=0.999, channels=2), "iir")
    engine.start()
    assert engine.is_null_output
    return engine


def pitch(x, rate=RATE):
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x)), 1 << 19))
    return np.argmax(spectrum) * rate / (1 << 19)


def test_the_record_ring_holds_exactly_the_blocks_played():
    engine = python_engine()
    proc = engine.processor
    out = np.zeros((BLOCK, 2), dtype=np.float32)
    played = []
    engine.callback(out, BLOCK, None, None)  # not recording yet: not in the ring
    proc.record_start()
    assert proc.recording
    for i in range(300):
        if i in (3, 100):
            engine.note_on(69 if i == 3 else 76, 0.8, when=0.0)
        engine.callback(out, BLOCK, None, None)
        played.append(out.copy())
    proc.record_stop()
    engine.callback(out, BLOCK, None, None)  # after the stop: not in the ring
    dest = np.full((1 << 16, 2), np.nan, dtype=np.float32)
    n = proc.read_recorded(dest)
    expected = np.concatenate(played)
    assert n == len(expected) == 300 * BLOCK and proc.record_dropped == 0
    np.testing.assert_array_equal(dest[:n], expected)  # bit for bit
    assert np.abs(expected).max() > 0.1
    assert proc.read_recorded(dest) == 0  # read once


def test_a_full_ring_drops_whole_blocks_counts_them_and_keeps_the_oldest(monkeypatch):
    monkeypatch.setattr(block_processor, "RECORD_FRAMES", 1024)
    engine = python_engine()
    proc = engine.processor
    engine.note_on(69, when=0.0)
    proc.record_start()
    out = np.zeros((BLOCK, 2), dtype=np.float32)
    played = []
    for _ in range(12):  # 8 blocks fit
        engine.callback(out, BLOCK, None, None)
        played.append(out.copy())
    assert proc.record_dropped == 4 * BLOCK
    assert engine.processor.callbacks == 12  # every block was played
    dest = np.zeros((4096, 2), dtype=np.float32)
    assert proc.read_recorded(dest) == 1024
    np.testing.assert_array_equal(dest[:1024], np.concatenate(played[:8]))


def test_recorder_on_the_null_output_writes_a_float_wav_at_the_device_rate(tmp_path):
    engine = null_engine()
    path = tmp_path / "take.wav"
    try:
        recorder = Recorder(path, lambda: engine.processor).start()
        assert recorder.active
        engine.note_on(69, 1.0)
        time.sleep(0.5)
        engine.note_on(76, 1.0)
        time.sleep(0.5)
    finally:
        engine.close()  # the output stops first: the recording then holds every block it played
    result = recorder.stop()
    assert not recorder.active and result.dropped == 0 and result.error == ""
    info = soundfile.info(path)
    assert (info.samplerate, info.channels, info.subtype, info.format) == (RATE, 2, "FLOAT", "WAV")
    y, _ = soundfile.read(path, dtype="float32")
    assert len(y) == result.frames == info.frames
    assert 0.8 * RATE < len(y) < 1.4 * RATE  # about the second it played (the null thread can run late)
    scope = np.zeros(block_processor.SCOPE_SIZE)
    n = min(engine.read_scope(scope), len(y))  # the scope's newest samples, oldest first
    played = engine.read_scope(scope[:n])
    np.testing.assert_allclose(y[-played:].mean(axis=1), scope[:played], atol=1e-7)  # to the callback's last block
    onset = int(np.argmax(np.abs(y[:, 0]) > 0.01))
    assert abs(pitch(y[onset:onset + RATE // 4, 0]) - 440.0) < 2.0
    later = onset + int(0.6 * RATE)  # E5, struck 0.5 s after A4, which has decayed by 40 dB by then
    assert abs(pitch(y[later:later + RATE // 4, 0]) - 659.26) < 3.0
    assert "Recorded" in result.summary() and "48000 Hz" in result.summary()


def test_a_writer_that_falls_behind_loses_frames_says_so_and_never_stalls_the_audio(tmp_path, monkeypatch):
    monkeypatch.setattr(block_processor, "RECORD_FRAMES", 4096)  # 85 ms at 48 kHz
    engine = null_engine()
    recorder = Recorder(tmp_path / "slow.wav", lambda: engine.processor)
    try:
        recorder.start()
        real_write = recorder._file.write

        def slow_write(data):  # a disk that stalls for 0.3 s on every write
            time.sleep(0.3)
            return real_write(data)

        recorder._file.write = slow_write
        before, start = engine.processor.callbacks, time.perf_counter()
        engine.note_on(69)
        time.sleep(1.0)
        blocks = engine.processor.callbacks - before
        elapsed = time.perf_counter() - start
        assert blocks > 0.8 * elapsed * RATE / BLOCK, f"{blocks} blocks in {elapsed:.2f} s: the audio stalled"
        assert "could not keep up" in recorder.warning
    finally:
        engine.close()
    result = recorder.stop()
    assert result.dropped > RATE // 4
    assert "were lost" in result.summary()
    info = soundfile.info(tmp_path / "slow.wav")
    assert info.frames == result.frames > 0 and info.samplerate == RATE


def test_the_recording_follows_a_reopened_output_and_ends_when_the_rate_changes(tmp_path):
    engine = null_engine()
    path = tmp_path / "follow.wav"
    try:
        recorder = Recorder(path, lambda: engine.processor).start()
        time.sleep(0.2)
        first = engine.processor
        engine.reopen(AudioConfig(device=NO_DEVICE, samplerate=RATE, blocksize=256))  # same rate: followed
        assert engine.processor is not first
        time.sleep(0.3)
        assert recorder.error == "" and engine.processor.recording
        frames = recorder.frames
        assert frames > 0.3 * RATE
        engine.reopen(AudioConfig(device=NO_DEVICE, samplerate=44100))
        time.sleep(0.2)
        assert "44100 Hz" in recorder.error and not engine.processor.recording
    finally:
        engine.close()
    result = recorder.stop()
    assert result.error and soundfile.info(path).frames == result.frames >= frames


def test_a_file_that_cannot_be_written_is_one_line(tmp_path):
    engine = python_engine()
    with pytest.raises(RecordingError) as err:
        Recorder(tmp_path / "no" / "such" / "dir.wav", engine.processor).start()
    assert "cannot record to" in str(err.value) and "\n" not in str(err.value)
    assert not engine.processor.recording


# ---- a take shorter than the wall clock: the output stopped calling back --------------------------------------

def paced(engine, stop, pause_at=None, pause_for=0.0, ahead=8):
    """Play blocks (full_disk.play_block) at the block rate, ``ahead`` blocks ahead of the wall clock as a device's
    buffer runs, until ``stop``; from ``pause_at`` s on, call nothing for ``pause_for`` s, as a stalled sound server,
    then go on at the block rate (the blocks of the pause are never asked for)."""
    from full_disk import play_block

    out = np.zeros((BLOCK, 2), dtype=np.float32)
    start, i, skipped = time.perf_counter(), 0, 0.0
    while not stop.is_set():
        now = time.perf_counter() - start
        if pause_at is not None and now >= pause_at and not skipped:
            skipped = pause_for
            stop.wait(pause_for)
            continue
        while i < (now - skipped) * RATE / BLOCK + ahead:
            play_block(engine, i, out)
            i += 1
        time.sleep(0.001)


def record_paced(path, seconds, **pace):
    """Record ``seconds`` (wall clock) of :func:`paced` blocks (``pace``: its keywords); returns (result, warning
    after 0.75 s, warning at the end)."""
    import threading

    from full_disk import make_engine

    engine = make_engine()
    stop = threading.Event()
    recorder = Recorder(path, engine.processor).start()
    driver = threading.Thread(target=paced, args=(engine, stop), kwargs=pace, daemon=True)
    driver.start()
    try:
        time.sleep(0.75)
        during = recorder.warning
        time.sleep(seconds - 0.75)
        result = recorder.stop()
    finally:
        stop.set()
        driver.join()
    return result, during, recorder.warning


def test_a_take_the_output_stopped_calling_back_in_says_so_in_one_line(tmp_path):
    """The short take a user saw after a sound server restart: a few blocks, then no callback for the rest."""
    import re

    path = tmp_path / "short.wav"
    result, during, after = record_paced(path, 1.5, pause_at=0.02, pause_for=60.0)
    summary = result.summary()
    match = re.fullmatch(r"Recorded (\d+\.\d\d) s of a (\d+\.\d\d) s take \((\d+) frames, 48000 Hz, 2 ch, "
                         r"32-bit float\) to .*short\.wav: the output stopped calling back for (\d+\.\d\d) s\.",
                         summary)
    assert match, summary
    recorded, take, frames, gap = float(match[1]), float(match[2]), int(match[3]), float(match[4])
    assert frames == result.frames == soundfile.info(path).frames and recorded < 0.1
    assert abs(take - 1.5) < 0.05 and abs(recorded + gap - take) < 0.05
    assert result.missing > 1.3 * RATE and result.error == "" and result.dropped == 0
    assert re.fullmatch(r"Recorded 0\.\d\d s of a 0\.7\d s take: the output stopped calling back for 0\.\d\d s\.",
                        during), during  # said while it happens, too
    assert after.endswith(f"the output stopped calling back for {gap:.2f} s.") and "\n" not in after


def test_a_take_that_stalls_and_goes_on_counts_the_stall(tmp_path):
    result, during, _ = record_paced(tmp_path / "gap.wav", 1.5, pause_at=0.2, pause_for=0.4)
    assert 0.35 * RATE < result.missing < 0.45 * RATE, result.missing / RATE  # 0.4 s less the 8 blocks ahead
    assert 1.05 * RATE < result.frames < 1.2 * RATE
    assert result.summary().endswith(f"the output stopped calling back for {result.missing / RATE:.2f} s.")


def test_a_take_the_output_played_through_is_not_called_short(tmp_path):
    result, during, after = record_paced(tmp_path / "full.wav", 1.0, ahead=32)  # a late driver thread is no stall
    assert result.missing == 0 and during == after == "" and result.frames >= 0.99 * RATE
    assert " s take " not in result.summary() and "stopped calling back" not in result.summary()
