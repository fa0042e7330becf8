"""A recording on a disk that fills: it stops before the disk is full (one line), and when the system refuses a
write anyway it stops too; either way the file is a valid WAV whose header states exactly the frames on disk,
and those are the first frames the output played, bit for bit. The disk is a real small filesystem (a tmpfs,
where it can be mounted) or, where it cannot, a file size limit (RLIMIT_FSIZE) in a child process."""

import contextlib
import os
import time

import numpy as np
import pytest
import scipy.io.wavfile
import soundfile

from full_disk import BLOCK, RATE, played, record_in_child, record_until_it_stops, small_filesystem
from iirnn_core.audio import wav_writer
from iirnn_core.audio.recorder import Recorder, RecordingError
from iirnn_core.audio.wav_writer import HEADER_BYTES, FloatWavWriter, free_bytes

MIB = 1 << 20


def check_file(path, report):
    """The WAV at ``path`` opens (soundfile and scipy), has exactly the frames the result states and no byte more,
    and they are the first frames played."""
    frames = report["frames"]
    assert frames > 0 and report["dropped"] == 0
    info = soundfile.info(path)
    assert (info.samplerate, info.channels, info.subtype, info.format) == (RATE, 2, "FLOAT", "WAV")
    assert info.frames == frames
    assert os.path.getsize(path) == HEADER_BYTES + frames * 2 * 4  # no partial frame, nothing after the data
    rate, y = scipy.io.wavfile.read(path)
    assert rate == RATE and y.dtype == np.float32 and y.shape == (frames, 2)
    expected = played(-(-frames // BLOCK))[:frames]
    np.testing.assert_array_equal(y, expected)
    assert np.abs(expected).max() > 0.1
    assert "\n" not in report["error"] and "It ended early: " + report["error"] in report["summary"]
    assert report["warning"].startswith("Recording ended early: " + report["error"])


def test_a_recording_stops_before_the_disk_is_full(tmp_path, monkeypatch):
    folder = tmp_path / "disk"
    keep = 1 * MIB
    with small_filesystem(folder, 3 * MIB) as mounted:
        if not mounted:  # no tmpfs here: a 3 MiB filesystem holding only this file, as statvfs would say
            folder.mkdir()
            monkeypatch.setattr(FloatWavWriter, "free", lambda self: 3 * MIB - os.fstat(self._fd).st_size)
        path = folder / "take.wav"
        report = record_until_it_stops(path, keep_free=keep)
        free = free_bytes(str(folder)) if mounted else 3 * MIB - os.path.getsize(path)
        assert "disk is nearly full" in report["error"] and "leaves 1.0 MiB free" in report["error"]
        assert keep <= free < keep + 3 * 4096, free  # it filled the disk up to the margin, not into it
        check_file(path, report)


@pytest.mark.parametrize("disk", ["small filesystem", "file size limit"])
def test_a_recording_that_hits_a_full_disk_keeps_a_valid_wav_of_what_was_written(tmp_path, disk):
    folder = tmp_path / "disk"
    size = 2 * MIB + 5  # the last frame to fit is cut in two
    with small_filesystem(folder, 2 * MIB) if disk == "small filesystem" else contextlib.nullcontext(False) as mounted:
        path = folder / "full.wav"
        if mounted:  # keep_free 0: no margin, the recorder writes until the system says the disk is full
            report = record_until_it_stops(path, keep_free=0)
            assert "No space left on device" in report["error"], report
            assert free_bytes(str(folder)) < 4096
        else:  # no tmpfs here (or asked for the limit): files of this process may not grow past `size` bytes
            folder.mkdir(exist_ok=True)
            report = record_in_child(path, size)
            assert "File too large" in report["error"], report
            assert (size - HEADER_BYTES) // 8 == report["frames"]
        assert "the system refused the write after" in report["error"]
        check_file(path, report)


def test_a_disk_with_less_than_the_margin_free_is_refused_at_the_start(tmp_path):
    from full_disk import make_engine

    engine = make_engine()
    with pytest.raises(RecordingError) as err:
        Recorder(tmp_path / "x.wav", engine.processor, keep_free=1 << 60).start()  # more than any disk holds
    text = str(err.value)
    assert text.startswith(f"cannot record to {tmp_path / 'x.wav'}: the disk is nearly full") and "\n" not in text
    assert not engine.processor.recording and not (tmp_path / "x.wav").exists()  # refused: no file left behind
    (tmp_path / "old.wav").write_bytes(b"an earlier take")
    with pytest.raises(RecordingError):
        Recorder(tmp_path / "old.wav", engine.processor, keep_free=1 << 60).start()
    assert (tmp_path / "old.wav").read_bytes() == b"an earlier take"  # refused: the earlier file is left as it was


def test_a_recording_stops_at_its_length_limit_with_the_hint(tmp_path):
    from full_disk import make_engine, play_block

    engine = make_engine()
    path = tmp_path / "limit.wav"
    recorder = Recorder(path, engine.processor, poll=0.002, max_seconds=0.5, limit_hint=" (--max-seconds raises it)")
    recorder.start()
    out = np.zeros((BLOCK, 2), dtype=np.float32)
    for i in range(int(1.0 * RATE / BLOCK)):
        play_block(engine, i, out)
        if i % 32 == 0:
            while recorder.frames < i * BLOCK and not recorder.error:
                time.sleep(0.0005)
    result = recorder.stop()
    assert result.error == "it reached the limit of 0.5 s (--max-seconds raises it)"
    assert result.frames == soundfile.info(path).frames == RATE // 2


def test_the_writer_says_how_large_a_file_is_and_stops_at_the_formats_4_gib(tmp_path, monkeypatch):
    assert wav_writer.wav_bytes(48000, 2) == HEADER_BYTES + 384000
    monkeypatch.setattr(wav_writer, "MAX_DATA_BYTES", 8 * 1000)  # 1000 stereo frames
    writer = FloatWavWriter(tmp_path / "big.wav", RATE, 2, keep_free=0)
    with pytest.raises(wav_writer.WavFull) as err:
        writer.write(np.ones((1500, 2), dtype=np.float32))
    writer.close()
    assert "a WAV file holds at most 4 GiB" in str(err.value)
    assert writer.frames == soundfile.info(tmp_path / "big.wav").frames == 1000
