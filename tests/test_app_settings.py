"""Typed settings over QSettings: round trip, and unreadable values fall back to defaults."""

from PySide6.QtCore import QSettings

from app.settings import AppSettings, load_settings, save_settings


def _store(tmp_path):
    return QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat)


def test_round_trip(tmp_path):
    wanted = AppSettings(engine="ab", q=0.999, drive=0.03, velocity=77, master=0.5, model_rate=16000, octave=-1,
                         device="pulse", samplerate=44100, blocksize=256, latency="high", cpus_awake=False, train_keys="A4 C5",
                         optimizer="adam", init="warm", budget=12.0, hidden=24, geometry=b"\x01\x02")
    save_settings(_store(tmp_path), wanted)
    assert load_settings(_store(tmp_path)) == wanted
    text = (tmp_path / "settings.ini").read_text()
    assert "@ByteArray" in text and "PyObject" not in text  # no pickled Python objects in the file


def test_empty_store_gives_defaults(tmp_path):
    assert load_settings(_store(tmp_path)) == AppSettings()


def test_unreadable_values_fall_back_one_by_one(tmp_path):
    path = tmp_path / "settings.ini"
    path.write_text("[General]\nengine=banjo\nq=1.5\ndrive=nan\nvelocity=abc\nmaster=0.25\n"
                    "model_rate=16000\noctave=2.5\nblocksize=-3\nlatency=high\noptimizer=sgd\ncpus_awake=maybe\n")
    loaded = load_settings(QSettings(str(path), QSettings.IniFormat))
    defaults = AppSettings()
    assert (loaded.engine, loaded.q, loaded.drive, loaded.velocity) == (
        defaults.engine, defaults.q, defaults.drive, defaults.velocity)
    assert (loaded.octave, loaded.blocksize, loaded.optimizer) == (defaults.octave, defaults.blocksize,
                                                                    defaults.optimizer)
    assert loaded.cpus_awake is defaults.cpus_awake
    assert (loaded.master, loaded.model_rate, loaded.latency) == (0.25, 16000, "high")  # the good ones stay


def test_a_hidden_size_outside_2_to_64_falls_back_to_3(tmp_path):
    for text, wanted in (("64", 64), ("2", 2), ("65", 3), ("1", 3), ("8.5", 3), ("many", 3)):
        path = tmp_path / "settings.ini"
        path.write_text(f"[General]\nhidden={text}\ninit=pole\n")
        loaded = load_settings(QSettings(str(path), QSettings.IniFormat))
        assert (loaded.hidden, loaded.init) == (wanted, "pole"), text
